"""Small interpreters for the scripts AWS-RunShellScript and AWS-RunPowerShellScript hand to an instance.

Runbook commands are rarely a single program: the seed's are ``if [[ "check" == "check" ]]; then hostname; else
echo "Skipping hostname check"; fi``.  Simulated instances therefore run the *shell* for real -- control flow,
``[[ ]]``/``test``, ``&&``/``||``, pipes into grep/head/tail/wc/sort, ``$VAR``/``$(...)``, ``exit``, ``set -e`` --
and hand only the programs (``hostname``, ``yum check-update``, ``Get-TimeZone``...) to the OS profile.  A program
the profile does not know fails the way bash (127, "command not found") or PowerShell (CommandNotFoundException)
fails.  Anything the interpreter cannot parse is reported as a shell syntax error, never silently skipped.

Redirections (bash semantics, applied left to right after the words are expanded), on simple commands, builtins and
compound commands (``{ ...; }``, ``( ... )``, ``if``, ``for``):

- ``>F`` ``1>F`` ``>|F`` (truncate), ``>>F`` (append), ``2>F`` ``2>>F``, ``&>F`` ``>&F`` ``&>>F`` (stdout and
  stderr), ``N>&M`` (``2>&1``, ``>&2``: fd N becomes a copy of what fd M points to *now*, so ``>/dev/null 2>&1``
  silences both while ``2>&1 >/dev/null`` sends stderr to the old stdout), ``<F`` and ``0<&0``;
- ``/dev/null`` discards (and reads empty); ``/dev/stdout`` and ``/dev/stderr`` are the current fd 1 and 2;
- any other path: the simulated instance has no filesystem the sandbox knows about, so the script gets a private,
  in-memory one for the duration of the run: ``>``/``>>`` create or extend the file, ``<F`` and ``cat F`` read it
  back and ``[ -e F ]``/``[ -f F ]``/``[ -s F ]`` see it; nothing persists to the next command invocation, and a
  file the script did not write does not exist (``<F``: "No such file or directory", status 1, command not run);
- when stdout and stderr end up in the same place (``2>&1``) the program's stdout comes first, then its stderr:
  the sandbox does not model how a real program interleaves the two streams;
- not supported, reported as a syntax error: file descriptors above 2 (``3>F``), closing (``>&-``), here-documents
  (``<<``, ``<<<``) and ``<>``.

``command -v NAME...`` prints how each NAME would run and exits 0 when at least one is found, 1 (no output) when
none is (bash's status; dash, Ubuntu's /bin/sh, says 127 and looks at the first NAME only, so portable scripts test
it with ``if``, not against a number): a shell keyword or builtin prints its name, a utility the interpreter implements itself (``cat``,
``grep``, ``head``...) or a program the OS profile has prints its path (``/usr/bin/yum``).  Which programs a
profile has is the profile's explicit ``programs`` list (see profiles.py), never guessed from its command patterns.
``command -V`` describes them in words, ``command NAME ARGS`` runs NAME like a simple command.
"""

from __future__ import annotations

import fnmatch
import re

from .powershell import run_powershell
from .shparse import (
    _BRACE,
    _GLOB,
    _LIT_UNSUPPORTED,
    UNSUPPORTED_BUILTINS,
    Outcome,
    Runner,
    ShellSyntaxError,
    Unsupported,
    Which,
    Word,
    _Exit,
    _matching_paren,
    parse_bash,
)

__all__ = ["Outcome", "ShellSyntaxError", "Unsupported", "run_bash", "run_powershell"]


# ``command -v`` answers: bash's keywords and the builtins this interpreter implements print their name; the
# utilities it implements itself (real programs on a Linux host) print their path.
KEYWORDS = frozenset(
    "if then else elif fi case esac for select while until do done in function time { } ! [[ ]]".split()
)
BUILTINS = frozenset(["echo", "printf", "true", "false", ":", "exit", "set", "export", "cd", "test", "[", "command"])
UTILITIES = {name: "/usr/bin/" + name for name in ("cat", "grep", "head", "tail", "wc", "sort", "uniq", "cut", "sleep")}
DEV_NULL = "/dev/null"


class _RedirectionError(Exception):
    pass


class Bash:
    def __init__(
        self,
        runner: Runner,
        script_path: str,
        env: dict | None = None,
        which: Which | None = None,
        files: dict[str, str] | None = None,
    ):
        self.runner = runner
        self.script_path = script_path
        self.which = which  # program name or path -> its path on the instance, or None (the OS profile's programs)
        self.files: dict[str, str] = {} if files is None else files  # the script's in-memory files (module doc)
        self.env: dict[str, str] = dict(env or {})
        self.out: list[str] = []
        self.err: list[str] = []
        self.status = 0
        self.delay = 0.0
        self.errexit = False
        self.line = 0  # line of the simple command running (for error messages of builtins)

    # -- expansion ---------------------------------------------------------------------------------------------
    _VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(\?))")

    def _expand_vars(self, text: str) -> str:
        def repl(m):
            if m.group(3):
                return str(self.status)
            return self.env.get(m.group(1) or m.group(2), "")

        # \$ (kept escaped by the tokenizer inside double quotes) stays a literal dollar
        pieces = text.split("\\$")
        return "$".join(self._VAR.sub(repl, p) for p in pieces)

    def _expand_dq(self, text: str) -> str:
        out, i = "", 0
        while i < len(text):
            if text.startswith("$(", i):
                k = _matching_paren(text, i + 1)
                out += self._command_substitution(text[i + 2 : k])
                i = k + 1
                continue
            j = text.find("$(", i)
            j = len(text) if j < 0 else j
            out += self._expand_vars(text[i:j])
            i = j
        return out

    def _command_substitution(self, script: str) -> str:
        sub = Bash(self.runner, self.script_path, self.env, self.which, self.files)
        try:
            sub.run_ast(parse_bash(script))
        except _Exit:
            pass
        self.delay += sub.delay
        self.err.extend(sub.err)
        return "".join(sub.out).rstrip("\n")

    def _check(self, word: Word, patterns_ok: bool) -> None:
        """Refuse what bash would expand in ``word`` and this interpreter cannot (``patterns_ok``: inside ``[[ ]]``,
        where * ? [ are patterns, not file names)."""
        for index, (kind, text) in enumerate(word.parts):
            if kind == "sub" and text.startswith("("):
                raise Unsupported(f"$((...)) arithmetic expansion: {word.raw}", word.line)
            if kind not in ("lit", "dq"):
                continue
            for pattern, what in _LIT_UNSUPPORTED:
                if pattern.search(text.replace("\\$", "")):
                    raise Unsupported(f"{what}: {word.raw}", word.line)
            if kind != "lit":
                continue
            if not patterns_ok and _GLOB.search(text) and word.raw not in ("[", "]"):
                raise Unsupported(f"pathname expansion (globbing): {word.raw}", word.line)
            if _BRACE.search(text):
                raise Unsupported(f"brace expansion: {word.raw}", word.line)
            if index == 0 and text.startswith("~"):
                raise Unsupported(f"tilde expansion: {word.raw}", word.line)

    def expand(self, word: Word, patterns_ok: bool = False) -> str:
        self._check(word, patterns_ok)
        out = ""
        for kind, text in word.parts:
            if kind == "sq":
                out += text
            elif kind == "dq":
                out += self._expand_dq(text)
            elif kind == "sub":
                out += self._command_substitution(text)
            else:
                out += self._expand_vars(text)
        return out

    # -- evaluation ----------------------------------------------------------------------------------------------
    def run(self, script: str) -> Outcome:
        try:
            ast = parse_bash(script)
            try:
                self.run_ast(ast)
            except _Exit as e:
                self.status = e.code
        except ShellSyntaxError as exc:
            self.err.append(f"{self.script_path}: {exc}\n")
            self.status = 2
        return Outcome("".join(self.out), "".join(self.err), self.status & 0xFF, self.delay)

    def run_ast(self, node, checked: bool = False) -> int:
        kind = node[0]
        if kind == "list":
            for item, _sep in node[1]:
                self.run_ast(item, checked)
            return self.status
        if kind == "andor":
            status = self.run_ast(node[1], checked=checked or bool(node[2]))
            for i, (op, pipe) in enumerate(node[2]):
                last = i == len(node[2]) - 1
                if (op == "&&" and status == 0) or (op == "||" and status != 0):
                    status = self.run_ast(pipe, checked=checked or not last)
            return status
        if kind == "pipe":
            status = self._pipeline(node[2])
            if node[1]:
                status = 0 if status else 1
            self.status = status
            if self.errexit and status != 0 and not checked and not node[1]:
                raise _Exit(status)
            return status
        if kind == "if":
            for cond, body in node[1]:
                if self.run_ast(cond, checked=True) == 0:
                    return self.run_ast(body, checked)
            if node[2] is not None:
                return self.run_ast(node[2], checked)
            self.status = 0
            return 0
        if kind == "group":
            return self.run_ast(node[1], checked)
        if kind == "redir":
            return self._redirected(node, checked)
        if kind == "for":
            self.status = 0
            for word in node[2]:
                for value in self.expand(word).split():
                    self.env[node[1]] = value
                    self.run_ast(node[3], checked)
            return self.status
        raise ShellSyntaxError(f"unknown node {kind}")

    def _pipeline(self, cmds) -> int:
        stdin = ""
        status = 0
        for idx, cmd in enumerate(cmds):
            last = idx == len(cmds) - 1
            if cmd[0] != "simple":
                saved_out, self.out = self.out, []
                status = self.run_ast(cmd, checked=True)
                produced, self.out = "".join(self.out), saved_out
            else:
                produced, status = self._simple(cmd[1], stdin, cmd[2])
            if last:
                self.out.append(produced)
            else:
                stdin = produced
        return status

    # -- redirections ------------------------------------------------------------------------------------------
    def _open(self, redirs: list) -> tuple[dict[int, str], str | None]:
        """The fd table ({1: sink, 2: sink}) and stdin (None: unchanged) after ``redirs``, applied left to right.

        A sink is "out" (the current stdout: the pipe, or the command's output), "err" (the current stderr), "null",
        or "file:PATH" (the in-memory file).  Raises _RedirectionError with bash's message when one cannot be made.
        """
        fds: dict[int, str] = {1: "out", 2: "err"}
        stdin = None
        for redir, word in redirs:
            target = self.expand(word)
            if target == "":
                raise _RedirectionError(f"{word.raw}: ambiguous redirect")
            op = redir.op
            fd = redir.fd if redir.fd is not None else (0 if op.startswith("<") else 1)
            if op in ("<&", ">&") and target.isdigit():  # N>&M: fd N becomes a copy of what fd M points to now
                src = int(target)
                if src > 2:
                    raise _RedirectionError(f"{target}: Bad file descriptor")
                if (fd == 0) != (src == 0):
                    raise Unsupported(f"`{redir.text}{target}' (stdin and an output fd)", redir.line)
                if fd != 0:
                    fds[fd] = fds[src]
                continue
            if op == "<&" or (op == ">&" and redir.fd is not None):  # <&file, 2>&file
                raise _RedirectionError(f"{target}: ambiguous redirect")
            if op == "<":
                if fd != 0:
                    raise Unsupported(f"`{redir.text}'", redir.line)
                if target == DEV_NULL:
                    stdin = ""
                elif target in self.files:
                    stdin = self.files[target]
                else:
                    raise _RedirectionError(f"{target}: No such file or directory")
                continue
            if fd == 0:
                raise Unsupported(f"`{redir.text}'", redir.line)
            both = op in ("&>", "&>>", ">&")
            sink = self._sink(target, fds, append=op in (">>", "&>>"))
            for out_fd in (1, 2) if both else (fd,):
                fds[out_fd] = sink
        return fds, stdin

    def _sink(self, target: str, fds: dict[int, str], append: bool) -> str:
        if target == DEV_NULL:
            return "null"
        if target in ("/dev/stdout", "/dev/fd/1"):
            return fds[1]
        if target in ("/dev/stderr", "/dev/fd/2"):
            return fds[2]
        if target.endswith("/") or target in ("/", "."):
            raise _RedirectionError(f"{target}: Is a directory")
        if not append or target not in self.files:
            self.files[target] = ""
        return "file:" + target

    def _route(self, fds: dict[int, str], stdout: str, stderr: str) -> str:
        """Write a command's output where its fds point; returns what goes to the current stdout."""
        to_out = []
        for fd, text in ((1, stdout), (2, stderr)):
            if not text:
                continue
            sink = fds[fd]
            if sink == "out":
                to_out.append(text)
            elif sink == "err":
                self.err.append(text)
            elif sink.startswith("file:"):
                self.files[sink[5:]] += text
        return "".join(to_out)

    def _redirected(self, node, checked: bool) -> int:
        """A compound command with redirections: its whole output goes where they point."""
        try:
            fds, _stdin = self._open(node[2])
        except _RedirectionError as exc:
            self.err.append(f"{self.script_path}: line {node[2][0][0].line}: {exc}\n")
            self.status = 1
            return 1
        saved_out, saved_err = self.out, self.err
        self.out, self.err = [], []
        try:
            return self.run_ast(node[1], checked)
        finally:
            produced, errors = "".join(self.out), "".join(self.err)
            self.out, self.err = saved_out, saved_err
            self.out.append(self._route(fds, produced, errors))

    # -- simple commands -----------------------------------------------------------------------------------------
    def _simple(self, words: list[Word], stdin: str, redirs: list = ()) -> tuple[str, int]:
        line = words[0].line if words else (redirs[0][0].line if redirs else 0)
        in_test = bool(words) and words[0].is_plain("[[")
        argv = [self.expand(w, patterns_ok=in_test) for w in words]
        fds = None
        if redirs:
            try:
                fds, new_stdin = self._open(redirs)
            except _RedirectionError as exc:
                self.err.append(f"{self.script_path}: line {line}: {exc}\n")
                return "", 1
            stdin = stdin if new_stdin is None else new_stdin
        if fds is None:
            return self._run_words(words, argv, stdin, line)
        saved_err, self.err = self.err, []
        produced = ""
        try:
            produced, status = self._run_words(words, argv, stdin, line)
        finally:
            errors, self.err = "".join(self.err), saved_err
            produced = self._route(fds, produced, errors)
        return produced, status

    def _run_words(self, words: list[Word], argv: list[str], stdin: str, line: int) -> tuple[str, int]:
        # leading assignments: NAME=value
        while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]) and words[0].parts[0][0] == "lit":
            name, _, value = argv[0].partition("=")
            self.env[name] = value
            argv, words = argv[1:], words[1:]
        if not argv:
            return "", 0
        if words[0].is_plain("[["):
            if argv[-1] != "]]":
                raise ShellSyntaxError(f"line {line}: syntax error: expected `]]'")
            return "", 0 if _test(argv[1:-1], double=True, files=self.files) else 1
        return self._run_argv(argv, stdin, line)

    def _run_argv(self, argv: list[str], stdin: str, line: int) -> tuple[str, int]:
        """A builtin or a program, by name (no keywords, no assignments: what ``command NAME ARGS`` runs too)."""
        name = argv[0]
        builtin = getattr(self, "_b_" + name.replace("-", "_").replace("[", "lbracket").replace(":", "colon"), None)
        if builtin is not None and re.fullmatch(r"[\w:\[-]+", name):
            self.line = line
            return builtin(argv, stdin)
        if name in UNSUPPORTED_BUILTINS:
            raise Unsupported(f"the bash builtin {name}", line)
        text = " ".join(argv)
        result = self.runner(text, stdin)
        if result is None and name.startswith("/") and self.which is not None and self.which(name):
            result = self.runner(" ".join([name.rsplit("/", 1)[-1], *argv[1:]]), stdin)  # /usr/bin/x is x
        if result is None:
            if self.which is not None and self.which(name):
                raise Unsupported(f"{text} (the OS profile has {name} but no answer for this command line)", line)
            self.err.append(f"{self.script_path}: line {line}: {name}: command not found\n")
            return "", 127
        out, err, code, delay = result
        self.err.append(err)
        self.delay += delay
        return out, code

    def lookup(self, name: str) -> tuple[str, str] | None:
        """How ``name`` would run: ("keyword" | "builtin", name) or ("file", path); None when there is no such."""
        if name in KEYWORDS:
            return "keyword", name
        if name in BUILTINS:
            return "builtin", name
        if name in UTILITIES or name in UTILITIES.values():
            return "file", UTILITIES.get(name, name)
        path = self.which(name) if self.which is not None and name else None
        return ("file", path) if path else None

    # -- builtins --------------------------------------------------------------------------------------------
    def _b_command(self, argv, stdin):
        args = argv[1:]
        mode = None
        while args and args[0].startswith("-") and len(args[0]) > 1:
            if args[0] == "--":
                args = args[1:]
                break
            if not set(args[0][1:]) <= set("pvV"):
                self.err.append(
                    f"{self.script_path}: line {self.line}: command: {args[0][:2]}: invalid option\n"
                    "command: usage: command [-pVv] command [arg ...]\n"
                )
                return "", 2
            for flag in args[0][1:]:
                mode = flag if flag in "vV" else mode
            args = args[1:]
        if not args:
            return "", 0
        if mode is None:  # run it, bypassing functions (the sandbox has none) and keywords
            return self._run_argv(args, stdin, self.line)
        out, found = [], False
        for name in args:
            hit = self.lookup(name)
            if hit is None:
                if mode == "V":
                    self.err.append(f"{self.script_path}: line {self.line}: command: {name}: not found\n")
                continue
            found = True
            kind, where = hit
            if mode == "v":
                out.append(where + "\n")
            elif kind == "file":
                out.append(f"{name} is {where}\n")
            else:
                out.append(f"{name} is a shell {kind}\n")
        return "".join(out), 0 if found else 1

    def _b_echo(self, argv, stdin):
        args = argv[1:]
        newline, escapes = True, False
        while args and re.fullmatch(r"-[neE]+", args[0]):
            newline = newline and "n" not in args[0]
            escapes = "e" in args[0]
            args = args[1:]
        text = " ".join(args)
        if escapes:
            text = text.encode().decode("unicode_escape")
        return text + ("\n" if newline else ""), 0

    def _b_printf(self, argv, stdin):
        if len(argv) < 2:
            return "", 1
        fmt = argv[1].replace("\\n", "\n").replace("\\t", "\t")
        args = argv[2:]
        try:
            count = max(1, fmt.count("%s") + fmt.count("%d"))
            out = ""
            for k in range(0, max(1, len(args)), count):
                chunk = args[k : k + count] + [""] * (count - len(args[k : k + count]))
                out += fmt.replace("%d", "%s") % tuple(chunk) if "%" in fmt else fmt
                if not args:
                    break
            return out, 0
        except (TypeError, ValueError):
            return fmt, 0

    def _b_true(self, argv, stdin):
        return "", 0

    def _b_false(self, argv, stdin):
        return "", 1

    def _b_colon(self, argv, stdin):
        return "", 0

    def _b_exit(self, argv, stdin):
        code = int(argv[1]) if len(argv) > 1 and argv[1].lstrip("-").isdigit() else self.status
        raise _Exit(code & 0xFF)

    def _b_set(self, argv, stdin):
        for arg in argv[1:]:
            if arg.startswith("-") and "e" in arg:
                self.errexit = True
            if arg.startswith("+") and "e" in arg:
                self.errexit = False
        return "", 0

    def _b_export(self, argv, stdin):
        for arg in argv[1:]:
            if "=" in arg:
                k, _, v = arg.partition("=")
                self.env[k] = v
        return "", 0

    def _b_cd(self, argv, stdin):
        return "", 0

    def _b_sleep(self, argv, stdin):
        try:
            self.delay += float(argv[1]) if len(argv) > 1 else 0.0
        except ValueError:
            self.err.append(f"sleep: invalid time interval '{argv[1]}'\n")
            return "", 1
        return "", 0

    def _b_test(self, argv, stdin):
        return "", 0 if _test(argv[1:], double=False, files=self.files) else 1

    def _b_lbracket(self, argv, stdin):
        if argv[-1] != "]":
            self.err.append(f"{self.script_path}: [: missing `]'\n")
            return "", 2
        return "", 0 if _test(argv[1:-1], double=False, files=self.files) else 1

    def _b_cat(self, argv, stdin):
        if len(argv) == 1 or argv[1:] == ["-"]:
            return stdin, 0
        if all(a == DEV_NULL or a in self.files for a in argv[1:]):  # what the script wrote itself
            return "".join(self.files.get(a, "") for a in argv[1:]), 0
        result = self.runner(" ".join(argv), stdin)
        if result is None:
            self.err.append("".join(f"cat: {a}: No such file or directory\n" for a in argv[1:]))
            return "", 1
        out, err, code, delay = result
        self.err.append(err)
        self.delay += delay
        return out, code

    def _b_grep(self, argv, stdin):
        flags, args = _split_flags(argv[1:])
        if not args:
            self.err.append("Usage: grep [OPTION]... PATTERNS [FILE]...\n")
            return "", 2
        pattern = args[0]
        rx = re.compile(
            pattern if "E" in flags or "P" in flags else _bre(pattern), re.IGNORECASE if "i" in flags else 0
        )
        lines = stdin.splitlines()
        hits = [ln for ln in lines if bool(rx.search(ln)) != ("v" in flags)]
        if "q" in flags:
            return "", 0 if hits else 1
        if "c" in flags:
            return f"{len(hits)}\n", 0 if hits else 1
        return "".join(h + "\n" for h in hits), 0 if hits else 1

    def _b_head(self, argv, stdin):
        n = _count_arg(argv[1:], 10)
        return "".join(ln + "\n" for ln in stdin.splitlines()[:n]), 0

    def _b_tail(self, argv, stdin):
        n = _count_arg(argv[1:], 10)
        lines = stdin.splitlines()
        return "".join(ln + "\n" for ln in (lines[-n:] if n else [])), 0

    def _b_wc(self, argv, stdin):
        flags, _ = _split_flags(argv[1:])
        lines, words, chars = stdin.count("\n"), len(stdin.split()), len(stdin.encode())
        if "l" in flags:
            return f"{lines}\n", 0
        if "w" in flags:
            return f"{words}\n", 0
        if "c" in flags:
            return f"{chars}\n", 0
        return f"{lines:>7} {words:>7} {chars:>7}\n", 0

    def _b_sort(self, argv, stdin):
        flags, _ = _split_flags(argv[1:])
        lines = sorted(stdin.splitlines(), reverse="r" in flags)
        if "u" in flags:
            lines = list(dict.fromkeys(lines))
        return "".join(ln + "\n" for ln in lines), 0

    def _b_uniq(self, argv, stdin):
        out, prev = [], None
        for ln in stdin.splitlines():
            if ln != prev:
                out.append(ln)
            prev = ln
        return "".join(ln + "\n" for ln in out), 0

    def _b_cut(self, argv, stdin):
        delim, fields = "\t", None
        args = argv[1:]
        i = 0
        while i < len(args):
            a = args[i]
            if a.startswith("-d"):
                delim = a[2:] or args[i + 1]
                i += 1 if a[2:] else 2
                continue
            if a.startswith("-f"):
                spec = a[2:] or args[i + 1]
                fields = [int(x) for x in spec.split(",") if x.isdigit()]
                i += 1 if a[2:] else 2
                continue
            i += 1
        if not fields:
            self.err.append("cut: you must specify a list of bytes, characters, or fields\n")
            return "", 1
        out = []
        for ln in stdin.splitlines():
            cols = ln.split(delim)
            out.append(delim.join(cols[f - 1] for f in fields if f - 1 < len(cols)))
        return "".join(ln + "\n" for ln in out), 0


def _bre(pattern: str) -> str:
    # basic regular expressions: \| \( \) \+ are operators, bare | ( ) + are literals
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "|()+?{}":
            out += pattern[i + 1]
            i += 2
            continue
        out += "\\" + c if c in "|()+?{}" else c
        i += 1
    return out


def _split_flags(args):
    flags, rest = set(), []
    for a in args:
        if a.startswith("-") and len(a) > 1 and not a[1:].isdigit() and not rest:
            flags.update(a[1:])
        else:
            rest.append(a)
    return flags, rest


def _count_arg(args, default: int) -> int:
    for i, a in enumerate(args):
        if a == "-n" and i + 1 < len(args) and args[i + 1].lstrip("+").isdigit():
            return int(args[i + 1].lstrip("+"))
        if a.startswith("-n") and a[2:].isdigit():
            return int(a[2:])
        if a.startswith("-") and a[1:].isdigit():
            return int(a[1:])
    return default


def _test(args: list[str], double: bool, files: dict[str, str] | None = None) -> bool:
    files = files or {}
    if not args:
        return False
    # || and && (inside [[ ]]), -o and -a (inside [ ])
    for ors in ("||", "-o"):
        if ors in args and (double or ors == "-o"):
            k = args.index(ors)
            return _test(args[:k], double, files) or _test(args[k + 1 :], double, files)
    for ands in ("&&", "-a"):
        if ands in args and (double or ands == "-a"):
            k = args.index(ands)
            return _test(args[:k], double, files) and _test(args[k + 1 :], double, files)
    if args[0] == "!":
        return not _test(args[1:], double, files)
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, val = args
        if op == "-z":
            return val == ""
        if op == "-n":
            return val != ""
        if op in ("-f", "-e", "-r"):  # only the files the script wrote (module doc): no filesystem otherwise
            return val in files
        if op == "-s":
            return bool(files.get(val))
        if op in ("-d", "-x"):
            return False
        return False
    a, op, b = args[0], args[1], " ".join(args[2:])
    if op in ("==", "="):
        return fnmatch.fnmatchcase(a, b) if double else a == b
    if op == "!=":
        return not fnmatch.fnmatchcase(a, b) if double else a != b
    if op == "=~":
        return re.search(b, a) is not None
    if op in ("<", ">"):
        return a < b if op == "<" else a > b
    nums = {"-eq": "==", "-ne": "!=", "-lt": "<", "-le": "<=", "-gt": ">", "-ge": ">="}
    if op in nums:
        try:
            x, y = int(a), int(b)
        except ValueError:
            return False
        return {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[nums[op]]
    return False


def run_bash(
    script: str, runner: Runner, script_path: str = "_script.sh", env: dict | None = None, which: Which | None = None
) -> Outcome:
    """Run ``script``; ``which`` answers where a program is (``command -v``): the OS profile's ``which``."""
    return Bash(runner, script_path, env, which).run(script)
