"""The sandbox's PowerShell, for AWS-RunPowerShellScript on simulated Windows instances.

It runs a small language faithfully and refuses the rest; it never guesses.  What it runs:

- statements separated by newlines or ``;``; ``# comments`` and ``<# block comments #>``; a backtick at the end of a
  line continues the statement;
- ``if (...) { } elseif (...) { } else { }`` with conditions over literals, ``$true``/``$false``/``$null``,
  ``$LASTEXITCODE``, ``$?`` and ``-eq -ne -gt -ge -lt -le -like -notlike -match -notmatch -ceq -cne``,
  ``-and``/``-or``/``-not``;
- ``try { } catch [Type] { } finally { }`` and ``throw``: a ``throw``, a command that is not found, a ``Write-Error``
  under ``$ErrorActionPreference = 'Stop'`` are terminating errors; inside ``try`` the first ``catch`` runs (with
  ``$_``), outside they end the script with exit code 1 and PowerShell's error record on stderr, as
  ``powershell -File`` does (about_Try_Catch_Finally, about_Throw, about_Preference_Variables);
- ``exit [N|$LASTEXITCODE]``, ``Write-Output``/``Write-Host``/``echo``, ``Write-Error``,
  ``$ErrorActionPreference = 'Stop'|'Continue'|'SilentlyContinue'``;
- every other statement goes to the OS profile (``Get-TimeZone``, ``w32tm /query /status``...).  A native program
  (one of the profile's ``programs``) sets ``$LASTEXITCODE``; cmdlets do not.

What it refuses, failing the command with "not supported by the sandbox: <construct>" (exit code 1): functions,
loops, ``switch``, script blocks (``ForEach-Object { }``, ``& { }``), variables other than the ones above, pipelines
and expressions the profile has no answer for, and a Verb-Noun cmdlet the profile does not know (it exists on a real
Windows host, so "not recognized" would be a false answer).  A name that is neither a cmdlet form nor a program of the
profile is not found, as on a real host: ``CommandNotFoundException``, and the script carries on (outside ``try``).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field

from .shparse import Outcome, Runner, ShellSyntaxError, Which, _Exit

UNSUPPORTED_KEYWORDS = {
    "function": "function definitions",
    "filter": "filter definitions",
    "workflow": "workflows",
    "configuration": "DSC configurations",
    "foreach": "foreach loops",
    "for": "for loops",
    "while": "while loops",
    "do": "do loops",
    "until": "until loops",
    "switch": "switch statements",
    "param": "param blocks",
    "begin": "begin/process/end blocks",
    "process": "begin/process/end blocks",
    "end": "begin/process/end blocks",
    "return": "return",
    "break": "break",
    "continue": "continue",
    "trap": "trap statements",
    "class": "class definitions",
    "enum": "enum definitions",
    "using": "using statements",
    "data": "data sections",
    "dynamicparam": "dynamicparam blocks",
}
_CMDLET = re.compile(r"^[A-Za-z]+-[A-Za-z0-9]+$")
_NAME = re.compile(r"^[A-Za-z_][\w.\\:-]*$")
_SIMPLE_ARG = re.compile(r"^(?:-[A-Za-z][\w]*:?|'[^']*'|\"[^\"$`]*\"|[^\s$@(){}\[\]|;&=`'\"]+)$")


class Unsupported(ShellSyntaxError):
    def __init__(self, construct: str, line: int | None = None):
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}not supported by the sandbox: {construct}")


class _Terminating(Exception):  # noqa: N818 - control flow: a PowerShell terminating error
    def __init__(self, message: str, record: str):
        super().__init__(message)
        self.message = message
        self.record = record  # what powershell -File prints on stderr when nothing catches it


@dataclass
class PowerShell:
    runner: Runner
    script_path: str
    which: Which | None = None
    out: list = field(default_factory=list)
    err: list = field(default_factory=list)
    delay: float = 0.0
    last_failed: bool = False
    last_exit: int | None = None  # $LASTEXITCODE: $null until a native program ran
    stop_on_error: bool = False  # $ErrorActionPreference = 'Stop'
    current_error: str | None = None  # $_ inside catch
    try_depth: int = 0

    _NOT_FOUND = (
        "{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct and try "
        "again.\nAt {path}:{line} char:1\n+ {text}\n+ {tilde}\n    + CategoryInfo          : ObjectNotFound: "
        "({name}:String) [], CommandNotFoundException\n    + FullyQualifiedErrorId : CommandNotFoundException\n \n"
    )
    _THROWN = (
        "{message}\nAt {path}:{line} char:1\n+ {text}\n+ {tilde}\n    + CategoryInfo          : OperationStopped: "
        "({message}:String) [], RuntimeException\n    + FullyQualifiedErrorId : {message}\n \n"
    )
    _WRITE_ERROR = (
        "{path} : {message}\n    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException\n"
        "    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorException,{script}\n \n"
    )

    def run(self, script: str) -> Outcome:
        try:
            nodes = _ps_parse_cached(script)
            self._block(nodes)
            code = 1 if self.last_failed else (self.last_exit or 0)
        except _Exit as e:
            code = e.code
        except _Terminating as t:
            self.err.append(t.record)
            code = 1
        except ShellSyntaxError as exc:
            self.err.append(f"{self.script_path}: {exc}\n")
            code = 1
        return Outcome("".join(self.out), "".join(self.err), code, self.delay)

    # -- blocks --------------------------------------------------------------------------------------------------
    def _block(self, nodes: list) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "if":
                for cond, body, line in node[1]:
                    if self._cond(cond, line):
                        self._block(body)
                        break
                else:
                    if node[2] is not None:
                        self._block(node[2])
            elif kind == "try":
                self._try(node)
            else:
                self._statement(node[1], node[2])

    def _try(self, node) -> None:
        _, body, catches, finally_body = node
        try:
            try:
                self.try_depth += 1
                try:
                    self._block(body)
                finally:
                    self.try_depth -= 1
            except _Terminating as t:
                if not catches:
                    raise
                saved, self.current_error = self.current_error, t.message
                try:
                    self._block(catches[0])  # catch [Type]: every error in the sandbox is a RuntimeException
                finally:
                    self.current_error = saved
        finally:
            if finally_body is not None:
                self._block(finally_body)

    # -- values and conditions -----------------------------------------------------------------------------------
    def _value(self, text: str, line: int):
        text = text.strip()
        low = text.lower()
        if low in ("$true", "$false"):
            return low == "$true"
        if low == "$null":
            return None
        if low == "$lastexitcode":
            return self.last_exit
        if low == "$?":
            return not self.last_failed
        if self.current_error is not None and low in ("$_", "$_.exception.message", "$($_.exception.message)"):
            return self.current_error
        if len(text) >= 2 and text[0] == text[-1] == "'":
            return text[1:-1].replace("''", "'")
        if len(text) >= 2 and text[0] == text[-1] == '"':
            return self._interpolate(text[1:-1], line)
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if re.fullmatch(r"[^\s$@(){}\[\]|;&=`'\"]+", text):
            return text  # a bareword argument
        raise Unsupported(f"the expression {text}", line)

    def _interpolate(self, text: str, line: int) -> str:
        if "`" in text:
            raise Unsupported(f'escape sequences in "{text}"', line)

        def repl(m: re.Match) -> str:
            value = self._value(m.group(0), line)
            return "" if value is None else _ps_str(value)

        pattern = r"\$\(\$_\.Exception\.Message\)|\$_\.Exception\.Message|\$_|\$LASTEXITCODE|\$\?"
        rest = re.sub(pattern, "", text, flags=re.I)
        if "$" in rest:
            raise Unsupported(f'variables in "{text}"', line)
        return re.sub(pattern, repl, text, flags=re.I)

    def _cond(self, expr: str, line: int) -> bool:
        expr = expr.strip()
        for op in ("-or", "-and"):
            parts = re.split(rf"(?i)\s{op}\s", expr, maxsplit=1)
            if len(parts) == 2:
                left, right = self._cond(parts[0], line), self._cond(parts[1], line)
                return (left or right) if op == "-or" else (left and right)
        m = re.match(r"(?i)^(?:-not\s+|!)(.*)$", expr)
        if m:
            return not self._cond(m.group(1), line)
        if expr.startswith("(") and expr.endswith(")"):
            return self._cond(expr[1:-1], line)
        m = re.match(
            r"(?is)^(.*?)\s+(-eq|-ne|-gt|-ge|-lt|-le|-like|-notlike|-match|-notmatch|-ceq|-cne|-ieq|-ine)\s+(.*)$", expr
        )
        if not m:
            value = self._value(expr, line)
            return bool(value)
        a, op, b = self._value(m.group(1), line), m.group(2).lower(), self._value(m.group(3), line)
        if op in ("-gt", "-ge", "-lt", "-le") or (
            isinstance(a, int) and not isinstance(a, bool) and op in ("-eq", "-ne")
        ):
            try:
                x, y = float(a), float(b)  # the left operand's type decides, as in PowerShell
            except (TypeError, ValueError):
                if a is None or b is None:
                    return op in ("-ne",) if op in ("-eq", "-ne") else False
                raise Unsupported(f"comparing {m.group(1).strip()} {op} {m.group(3).strip()}", line) from None
            return {"-eq": x == y, "-ne": x != y, "-gt": x > y, "-ge": x >= y, "-lt": x < y, "-le": x <= y}[op]
        if a is None or b is None:
            same = a is None and b is None
            return same if op in ("-eq", "-ceq", "-ieq") else (not same if op in ("-ne", "-cne", "-ine") else False)
        sa, sb = _ps_str(a), _ps_str(b)
        if op in ("-eq", "-ieq"):
            return sa.lower() == sb.lower()
        if op in ("-ne", "-ine"):
            return sa.lower() != sb.lower()
        if op == "-ceq":
            return sa == sb
        if op == "-cne":
            return sa != sb
        if op in ("-like", "-notlike"):
            hit = fnmatch.fnmatchcase(sa.lower(), sb.lower())
            return hit if op == "-like" else not hit
        try:
            hit = re.search(sb, sa, re.IGNORECASE) is not None
        except re.error:
            raise Unsupported(f"the regular expression {sb}", line) from None
        return hit if op == "-match" else not hit

    # -- statements ----------------------------------------------------------------------------------------------
    def _terminate(self, message: str, record: str) -> None:
        raise _Terminating(message, record)

    def _statement(self, text: str, line: int) -> None:
        m = re.match(r"(?i)^exit(?:\s+(.+?))?\s*$", text)
        if m:
            value = self._value(m.group(1), line) if m.group(1) else 0
            if value is None:
                value = 0
            if not isinstance(value, int) or isinstance(value, bool):
                raise Unsupported(f"exit {m.group(1)}", line)
            raise _Exit(value & 0xFF)
        m = re.match(r"(?i)^throw(?:\s+(.*))?$", text)
        if m:
            message = _ps_str(self._value(m.group(1), line)) if m.group(1) else "ScriptHalted"
            self._terminate(
                message,
                self._THROWN.format(
                    message=message, path=self.script_path, line=line, text=text, tilde="~" * len(text)
                ),
            )
        m = re.match(r"(?i)^\$ErrorActionPreference\s*=\s*(.+)$", text)
        if m:
            value = str(self._value(m.group(1), line)).lower()
            if value not in ("stop", "continue", "silentlycontinue"):
                raise Unsupported(f"$ErrorActionPreference = {m.group(1)}", line)
            self.stop_on_error = value == "stop"
            return
        m = re.match(r"(?is)^(Write-Output|Write-Host|echo|Write-Error)(?:\s+(.*))?$", text)
        if m:
            args = self._arguments(m.group(2) or "", line)
            text_out = " ".join(_ps_str(v) for v in args)
            if m.group(1).lower() == "write-error":
                record = self._WRITE_ERROR.format(
                    path=self.script_path, message=text_out, script=self.script_path.rsplit("\\", 1)[-1]
                )
                if self.stop_on_error:
                    self._terminate(text_out, record)
                self.err.append(record)
                self.last_failed = True
                return
            self.out.append(text_out + "\n")
            self.last_failed = False
            return
        result = self.runner(text, "")
        if result is not None:
            out, err, code, delay = result
            self.out.append(out)
            self.err.append(err)
            self.delay += delay
            name = text.split(maxsplit=1)[0]
            if self.which is not None and self.which(name):  # a native program: $LASTEXITCODE, $? from its code
                self.last_exit = code
                self.last_failed = code != 0
            else:
                self.last_failed = False
            return
        self._not_found_or_unsupported(text, line)

    def _arguments(self, text: str, line: int) -> list:
        tokens = re.findall(r"'(?:[^']|'')*'|\"[^\"]*\"|\$\(\$_\.Exception\.Message\)|\S+", text)
        return [v for v in (self._value(t, line) for t in tokens) if v is not None]

    def _not_found_or_unsupported(self, text: str, line: int) -> None:
        first = text.split(maxsplit=1)[0]
        keyword = UNSUPPORTED_KEYWORDS.get(re.split(r"[\s({]", first, maxsplit=1)[0].lower())
        if keyword:
            raise Unsupported(keyword, line)
        if any(c in text for c in "{}"):
            raise Unsupported(f"script blocks ({text})", line)
        if self.which is not None and self.which(first):
            raise Unsupported(f"{text} (the OS profile has {first} but no answer for this command line)", line)
        args = text.split()[1:]
        simple = _NAME.match(first) and all(_SIMPLE_ARG.match(a) for a in args)
        if not simple:
            raise Unsupported(text, line)
        if _CMDLET.match(first):
            raise Unsupported(f"{text} (a cmdlet the OS profile has no answer for)", line)
        record = self._NOT_FOUND.format(name=first, path=self.script_path, line=line, text=text, tilde="~" * len(first))
        message = (
            f"The term '{first}' is not recognized as the name of a cmdlet, function, script file, or operable program."
        )
        if self.stop_on_error or self.try_depth:
            # CommandNotFoundException ends its statement: try/catch catches it, and 'Stop' makes it end the script.
            self._terminate(message, record)
        self.err.append(record)  # outside try, the script carries on, as powershell -File does
        self.last_failed = True


def _ps_str(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return "" if value is None else str(value)


# -- parsing ---------------------------------------------------------------------------------------------------
def _strip_comments(text: str) -> str:
    """The script without ``# comments`` and ``<# #>`` blocks (outside quotes), newlines kept for line numbers;
    backtick line continuations joined (the line count is kept by padding with a newline after the statement)."""
    out, i, n, quote = [], 0, len(text), None
    while i < n:
        c = text[i]
        if quote:
            out.append(c)
            if c == quote:
                quote = None
            i += 1
            continue
        if c in "'\"":
            quote = c
            out.append(c)
            i += 1
            continue
        if text.startswith("<#", i):
            end = text.find("#>", i + 2)
            if end < 0:
                raise ShellSyntaxError("missing the end of a <# block comment #>")
            out.append("\n" * text.count("\n", i, end))
            i = end + 2
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == "`" and i + 1 < n and text[i + 1] in "\r\n":
            out.append(" ")
            i += 2 if text[i + 1] == "\n" else 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _ps_match(text: str, pos: int, open_c: str, close_c: str) -> int:
    """Index of the delimiter closing the one at ``pos`` (quotes respected)."""
    depth, quote = 0, None
    for k in range(pos, len(text)):
        c = text[k]
        if quote:
            if c == quote:
                quote = None
            continue
        if c in "'\"":
            quote = c
        elif c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return k
    raise ShellSyntaxError(f"missing closing '{close_c}'")


@functools.lru_cache(maxsize=512)
def _ps_parse_cached(text: str) -> list:
    return _ps_parse(_strip_comments(text))


_IF = re.compile(r"(?i)if\s*\(")
_ELSEIF = re.compile(r"(?i)elseif\s*\(")
_ELSE = re.compile(r"(?i)else\s*\{")
_TRY = re.compile(r"(?i)try\s*\{")
_CATCH = re.compile(r"(?i)catch\s*(\[[^\]]*\]\s*(?:,\s*\[[^\]]*\]\s*)*)?\{")
_FINALLY = re.compile(r"(?i)finally\s*\{")


def _ps_parse(text: str, first_line: int = 1) -> list:
    """("if", [(cond, body, line)], else_body) | ("try", body, [catch bodies], finally_body) | ("stmt", text, line)."""
    nodes, pos, n = [], 0, len(text)

    def line_at(p: int) -> int:
        return first_line + text.count("\n", 0, p)

    def skip(p: int, newlines: bool = True) -> int:
        while p < n and (text[p] in " \t\r" or (newlines and text[p] in "\n;")):
            p += 1
        return p

    def block(p: int) -> tuple[list, int]:
        """The statements of the ``{ ... }`` opening at ``p``, and the position after it."""
        end = _ps_match(text, p, "{", "}")
        return _ps_parse(text[p + 1 : end], line_at(p)), end + 1

    while True:
        pos = skip(pos)
        if pos >= n:
            return nodes
        m = _IF.match(text, pos)
        if m:
            branches, else_body = [], None
            p = m.end() - 1
            while True:
                close = _ps_match(text, p, "(", ")")
                cond, cond_line = text[p + 1 : close], line_at(p)
                p = skip(close + 1)
                if p >= n or text[p] != "{":
                    raise ShellSyntaxError(f"line {line_at(p)}: missing '{{' after if condition")
                body, p = block(p)
                branches.append((cond, body, cond_line))
                p = skip(p)
                m2 = _ELSEIF.match(text, p)
                if m2:
                    p = m2.end() - 1
                    continue
                m3 = _ELSE.match(text, p)
                if m3:
                    else_body, p = block(m3.end() - 1)
                break
            nodes.append(("if", branches, else_body))
            pos = p
            continue
        m = _TRY.match(text, pos)
        if m:
            body, p = block(m.end() - 1)
            catches, finally_body = [], None
            while True:
                p = skip(p)
                mc = _CATCH.match(text, p)
                if mc:
                    catch_body, p = block(mc.end() - 1)
                    catches.append(catch_body)
                    continue
                mf = _FINALLY.match(text, p)
                if mf:
                    finally_body, p = block(mf.end() - 1)
                break
            if not catches and finally_body is None:
                raise ShellSyntaxError(f"line {line_at(pos)}: the try statement is missing its catch or finally block")
            nodes.append(("try", body, catches, finally_body))
            pos = p
            continue
        # a plain statement: up to a newline or ';' outside quotes/braces/parens
        depth, quote, p = 0, None, pos
        while p < n:
            c = text[p]
            if quote:
                if c == quote:
                    quote = None
            elif c in "'\"":
                quote = c
            elif c in "{(":
                depth += 1
            elif c in "})":
                depth -= 1
            elif c in "\n;" and depth <= 0:
                break
            p += 1
        if quote:
            raise ShellSyntaxError(f"line {line_at(pos)}: missing closing quote")
        stmt = text[pos:p].strip()
        if stmt:
            nodes.append(("stmt", stmt, line_at(pos)))
        pos = p


def run_powershell(
    script: str, runner: Runner, script_path: str = "_script.ps1", which: Which | None = None
) -> Outcome:
    return PowerShell(runner, script_path, which).run(script)
