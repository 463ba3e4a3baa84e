"""The sandbox's PowerShell, for AWS-RunPowerShellScript on simulated Windows instances."""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field

from .shparse import Outcome, Runner, ShellSyntaxError, _Exit


# ---------------------------------------------------------------------------------------------------------------
# PowerShell (the small subset runbooks use: statements, if/elseif/else, Write-Output, exit, chcp)
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class PowerShell:
    runner: Runner
    script_path: str
    out: list = field(default_factory=list)
    err: list = field(default_factory=list)
    delay: float = 0.0
    last_failed: bool = False
    last_exit: int = 0

    _NOT_FOUND = (
        "{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct and try "
        "again.\nAt {path}:{line} char:1\n+ {text}\n+ {tilde}\n    + CategoryInfo          : ObjectNotFound: "
        "({name}:String) [], CommandNotFoundException\n    + FullyQualifiedErrorId : CommandNotFoundException\n \n"
    )

    def run(self, script: str) -> Outcome:
        try:
            nodes = _ps_parse_cached(script)
            self._block(nodes)
            code = 1 if self.last_failed else self.last_exit
        except _Exit as e:
            code = e.code
        except ShellSyntaxError as exc:
            self.err.append(f"{self.script_path}: {exc}\n")
            code = 1
        return Outcome("".join(self.out), "".join(self.err), code, self.delay)

    def _block(self, nodes: list) -> None:
        for node in nodes:
            if node[0] == "if":
                for cond, body in node[1]:
                    if self._cond(cond):
                        self._block(body)
                        break
                else:
                    if node[2] is not None:
                        self._block(node[2])
            else:
                self._statement(node[1], node[2])

    def _value(self, text: str):
        text = text.strip()
        if text.lower() in ("$true", "$false"):
            return text.lower() == "$true"
        m = re.fullmatch(r"'(.*)'|\"(.*)\"", text, re.S)
        if m:
            return m.group(1) if m.group(1) is not None else m.group(2)
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        return text

    def _cond(self, expr: str) -> bool:
        expr = expr.strip()
        for op in ("-or", "-and"):
            parts = re.split(rf"(?i)\s{op}\s", expr, maxsplit=1)
            if len(parts) == 2:
                left, right = self._cond(parts[0]), self._cond(parts[1])
                return (left or right) if op == "-or" else (left and right)
        if re.match(r"(?i)^-not\s", expr):
            return not self._cond(expr[4:])
        m = re.match(r"(?is)^(.*?)\s+(-eq|-ne|-like|-notlike|-match|-notmatch|-ceq|-cne)\s+(.*)$", expr)
        if not m:
            return bool(self._value(expr))
        a, op, b = str(self._value(m.group(1))), m.group(2).lower(), str(self._value(m.group(3)))
        if op == "-eq":
            return a.lower() == b.lower()
        if op == "-ne":
            return a.lower() != b.lower()
        if op == "-ceq":
            return a == b
        if op == "-cne":
            return a != b
        if op in ("-like", "-notlike"):
            hit = fnmatch.fnmatch(a.lower(), b.lower())
            return hit if op == "-like" else not hit
        hit = re.search(b, a, re.IGNORECASE) is not None
        return hit if op == "-match" else not hit

    def _statement(self, text: str, line: int) -> None:
        m = re.match(r"(?i)^exit(?:\s+(-?\d+))?\s*$", text)
        if m:
            raise _Exit(int(m.group(1) or 0) & 0xFF)
        m = re.match(r"(?is)^(Write-Output|Write-Host|echo)\s*(.*)$", text)
        if m:
            args = m.group(2).strip()
            values = [str(self._value(v)) for v in re.findall(r"'[^']*'|\"[^\"]*\"|\S+", args)] if args else []
            self.out.append(" ".join(values) + "\n")
            self.last_failed = False
            return
        result = self.runner(text, "")
        if result is None:
            name = text.split(maxsplit=1)[0]
            self.err.append(
                self._NOT_FOUND.format(name=name, path=self.script_path, line=line, text=text, tilde="~" * len(name))
            )
            self.last_failed = True
            return
        out, err, code, delay = result
        self.out.append(out)
        self.err.append(err)
        self.delay += delay
        self.last_exit = code
        self.last_failed = False


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
    return _ps_parse(text)


def _ps_parse(text: str, first_line: int = 1) -> list:
    """Statements and if/elseif/else chains: ("if", [(cond, body)], else_body) | ("stmt", text, line)."""
    nodes, pos, n = [], 0, len(text)

    def line_at(p: int) -> int:
        return first_line + text.count("\n", 0, p)

    def skip(p: int, newlines: bool = True) -> int:
        while p < n and (text[p] in " \t\r" or (newlines and text[p] in "\n;")):
            p += 1
        return p

    while True:
        pos = skip(pos)
        if pos >= n:
            return nodes
        m = re.compile(r"(?i)if\s*\(").match(text, pos)
        if m:
            branches, else_body = [], None
            p = m.end() - 1
            while True:
                close = _ps_match(text, p, "(", ")")
                cond = text[p + 1 : close]
                p = skip(close + 1)
                if p >= n or text[p] != "{":
                    raise ShellSyntaxError(f"line {line_at(p)}: missing '{{' after if condition")
                end = _ps_match(text, p, "{", "}")
                branches.append((cond, _ps_parse(text[p + 1 : end], line_at(p))))
                p = skip(end + 1)
                m2 = re.compile(r"(?i)elseif\s*\(").match(text, p)
                if m2:
                    p = m2.end() - 1
                    continue
                m3 = re.compile(r"(?i)else\s*\{").match(text, p)
                if m3:
                    q = m3.end() - 1
                    end = _ps_match(text, q, "{", "}")
                    else_body = _ps_parse(text[q + 1 : end], line_at(q))
                    p = end + 1
                break
            nodes.append(("if", branches, else_body))
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


def run_powershell(script: str, runner: Runner, script_path: str = "_script.ps1") -> Outcome:
    return PowerShell(runner, script_path).run(script)
