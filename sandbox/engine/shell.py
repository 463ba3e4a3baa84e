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
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

# A program runner: (command text with arguments, stdin) -> (stdout, stderr, exit code, delay) or None if unknown.
Runner = Callable[[str, str], "tuple[str, str, int, float] | None"]
# Where a program is: (name, or an absolute path) -> its absolute path on the instance, or None if it has no such program.
Which = Callable[[str], "str | None"]


@dataclass
class Outcome:
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    delay: float = 0.0


class ShellSyntaxError(Exception):
    pass


class _Exit(Exception):  # noqa: N818 - control flow
    def __init__(self, code: int):
        self.code = code


# ---------------------------------------------------------------------------------------------------------------
# bash
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Word:
    parts: list  # (kind, text): kind in {"lit", "sq", "dq", "sub"}
    line: int

    @property
    def raw(self) -> str:
        return "".join(t for _, t in self.parts)

    def is_plain(self, text: str) -> bool:
        return len(self.parts) == 1 and self.parts[0][0] == "lit" and self.parts[0][1] == text


@dataclass
class Op:
    op: str
    line: int


@dataclass
class Redir:
    """A redirection operator; the Word after it is its target.  ``fd`` is the explicit IO number (``2>``) or None."""

    fd: int | None
    op: str  # one of REDIR_OPS
    line: int

    @property
    def text(self) -> str:
        return ("" if self.fd is None else str(self.fd)) + self.op


OPERATORS = ("&&", "||", ";;", ";", "|", "&", "\n", "(", ")")
_OP_CHARS = frozenset("&|;\n()")
RESERVED = {"if", "then", "elif", "else", "fi", "!", "{", "}"}
# longest first: the tokenizer takes the first that matches
REDIR_OPS = ("&>>", "&>", ">>", ">&", ">|", ">", "<<<", "<<-", "<<", "<&", "<>", "<")
_UNSUPPORTED_REDIR = {"<<": "here-document", "<<-": "here-document", "<<<": "here-string", "<>": "read-write open"}


def tokenize(script: str) -> list:
    tokens: list = []
    i, n, line = 0, len(script), 1
    parts: list = []
    cur = ""
    in_test = False  # inside [[ ]]: && || < > are words

    def flush_lit():
        nonlocal cur
        if cur:
            parts.append(("lit", cur))
            cur = ""

    def end_word():
        nonlocal parts, in_test
        flush_lit()
        if parts:
            w = Word(parts, line)
            tokens.append(w)
            if w.is_plain("[["):
                in_test = True
            elif w.is_plain("]]"):
                in_test = False
            parts = []

    while i < n:
        c = script[i]
        if c == "\\" and i + 1 < n:
            if script[i + 1] == "\n":
                i += 2
                line += 1
                continue
            flush_lit()
            parts.append(("sq", script[i + 1]))
            i += 2
            continue
        if c == "'":
            j = script.find("'", i + 1)
            if j < 0:
                raise ShellSyntaxError(f"line {line}: unexpected EOF while looking for matching `''")
            flush_lit()
            parts.append(("sq", script[i + 1 : j]))
            line += script.count("\n", i, j)
            i = j + 1
            continue
        if c == '"':
            j = i + 1
            buf = ""
            while j < n and script[j] != '"':
                if script[j] == "\\" and j + 1 < n and script[j + 1] in '"\\$`\n':
                    buf += "\\" + script[j + 1] if script[j + 1] == "$" else script[j + 1]
                    j += 2
                    continue
                if script[j : j + 2] == "$(":
                    k = _matching_paren(script, j + 1)
                    buf += script[j : k + 1]
                    j = k + 1
                    continue
                buf += script[j]
                j += 1
            if j >= n:
                raise ShellSyntaxError(f"line {line}: unexpected EOF while looking for matching `\"'")
            flush_lit()
            parts.append(("dq", buf))
            line += script.count("\n", i, j)
            i = j + 1
            continue
        if c == "$" and script[i : i + 2] == "$(":
            k = _matching_paren(script, i + 1)
            flush_lit()
            parts.append(("sub", script[i + 2 : k]))
            i = k + 1
            continue
        if c == "#" and not cur and not parts:
            while i < n and script[i] != "\n":
                i += 1
            continue
        if c in " \t":
            end_word()
            i += 1
            continue
        if not in_test and (c in "<>" or script.startswith("&>", i)):
            op = next(o for o in REDIR_OPS if script.startswith(o, i))
            fd = None
            if cur.isdigit() and not parts and op[0] != "&":  # an IO number: 2> (but not a2> or "2">)
                fd, cur = int(cur), ""
            end_word()
            if op in _UNSUPPORTED_REDIR:
                raise ShellSyntaxError(
                    f"line {line}: `{op}' ({_UNSUPPORTED_REDIR[op]}) is not supported by the sandbox's shell"
                )
            if fd is not None and fd > 2:
                raise ShellSyntaxError(
                    f"line {line}: redirecting file descriptor {fd} is not supported by the sandbox's shell (0-2 are)"
                )
            tokens.append(Redir(fd, op, line))
            i += len(op)
            continue
        if c in _OP_CHARS and (not in_test or c in {"\n", ";"}):
            matched = next((op for op in OPERATORS if script.startswith(op, i)), None)
            if matched:
                end_word()
                tokens.append(Op(matched, line))
                if matched == "\n":
                    line += 1
                i += len(matched)
                continue
        cur += c
        i += 1
    end_word()
    return tokens


def _matching_paren(script: str, open_idx: int) -> int:
    depth = 0
    for k in range(open_idx, len(script)):
        if script[k] == "(":
            depth += 1
        elif script[k] == ")":
            depth -= 1
            if depth == 0:
                return k
    raise ShellSyntaxError("unexpected EOF while looking for matching `)'")


# AST: ("list", [(and_or, sep)]), ("andor", [pipeline, (op, pipeline)...]), ("pipe", negate, [cmd]),
#      ("if", [(cond, body)], else_body), ("simple", [Word], [(Redir, Word)]), ("redir", node, [(Redir, Word)])
class _Parser:
    def __init__(self, tokens):
        self.t = tokens
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def next(self):
        tok = self.peek()
        self.i += 1
        return tok

    def at_word(self, *words) -> bool:
        tok = self.peek()
        return isinstance(tok, Word) and any(tok.is_plain(w) for w in words)

    def at_op(self, *ops) -> bool:
        tok = self.peek()
        return isinstance(tok, Op) and tok.op in ops

    def skip_newlines(self):
        while self.at_op("\n", ";"):
            self.next()

    def parse_list(self, stop=()):
        items = []
        self.skip_newlines()
        while self.peek() is not None and not self.at_word(*stop) and not self.at_op(")"):
            node = self.parse_andor()
            sep = ";"
            if self.at_op(";", "\n", "&"):
                sep = self.next().op
            items.append((node, sep))
            self.skip_newlines()
        return ("list", items)

    def parse_andor(self):
        first = self.parse_pipeline()
        rest = []
        while self.at_op("&&", "||"):
            op = self.next().op
            while self.at_op("\n"):
                self.next()
            rest.append((op, self.parse_pipeline()))
        return ("andor", first, rest)

    def parse_pipeline(self):
        negate = False
        if self.at_word("!"):
            self.next()
            negate = True
        cmds = [self.parse_command()]
        while self.at_op("|"):
            self.next()
            while self.at_op("\n"):
                self.next()
            cmds.append(self.parse_command())
        return ("pipe", negate, cmds)

    def parse_command(self):
        tok = self.peek()
        if tok is None:
            raise ShellSyntaxError("syntax error: unexpected end of file")
        if self.at_word("if"):
            return self.with_redirections(self.parse_if())
        if self.at_word("for"):
            return self.with_redirections(self.parse_for())
        if self.at_word("while", "until", "case", "select", "function"):
            raise ShellSyntaxError(
                f"line {tok.line}: `{tok.raw}' is not supported by the sandbox's shell (if/for/&&/||/pipes are)"
            )
        if self.at_word("{"):
            self.next()
            body = self.parse_list(stop=("}",))
            self.expect_word("}")
            return self.with_redirections(("group", body))
        if self.at_op("("):
            self.next()
            body = self.parse_list()
            if not self.at_op(")"):
                raise ShellSyntaxError(f"line {tok.line}: syntax error: expected `)'")
            self.next()
            return self.with_redirections(("group", body))
        if isinstance(tok, Op):
            raise ShellSyntaxError(
                f"line {tok.line}: syntax error near unexpected token `{tok.op.strip() or 'newline'}'"
            )
        if isinstance(tok, Word) and tok.raw in ("then", "elif", "else", "fi", "}", "do", "done"):
            raise ShellSyntaxError(f"line {tok.line}: syntax error near unexpected token `{tok.raw}'")
        words, redirs = [], []
        while isinstance(self.peek(), (Word, Redir)):
            if isinstance(self.peek(), Redir):
                redirs.append(self.redirection())
            else:
                words.append(self.next())
        return ("simple", words, redirs)

    def redirection(self):
        redir = self.next()
        target = self.peek()
        if not isinstance(target, Word):
            near = "newline" if target is None or (isinstance(target, Op) and target.op == "\n") else None
            if near is None:
                near = target.op if isinstance(target, Op) else target.text
            raise ShellSyntaxError(f"line {redir.line}: syntax error near unexpected token `{near}'")
        self.next()
        if redir.op in (">&", "<&") and target.is_plain("-"):
            raise ShellSyntaxError(
                f"line {redir.line}: closing a file descriptor ({redir.text}-) is not supported by the sandbox's shell"
            )
        return (redir, target)

    def with_redirections(self, node):
        redirs = []
        while isinstance(self.peek(), Redir):
            redirs.append(self.redirection())
        return ("redir", node, redirs) if redirs else node

    def expect_word(self, word):
        tok = self.peek()
        if not self.at_word(word):
            where = tok.line if tok is not None else "EOF"
            got = tok.raw if isinstance(tok, Word) else (tok.op if tok else "end of file")
            raise ShellSyntaxError(f"line {where}: syntax error: expected `{word}' but found `{got.strip()}'")
        self.next()

    def parse_for(self):
        self.expect_word("for")
        name = self.next()
        if not isinstance(name, Word):
            raise ShellSyntaxError("syntax error: `for' needs a variable name")
        items = []
        if self.at_word("in"):
            self.next()
            while isinstance(self.peek(), Word) and not self.at_word("do"):
                items.append(self.next())
        self.skip_newlines()
        self.expect_word("do")
        body = self.parse_list(stop=("done",))
        self.expect_word("done")
        return ("for", name.raw, items, body)

    def parse_if(self):
        self.expect_word("if")
        branches = []
        cond = self.parse_list(stop=("then",))
        self.expect_word("then")
        body = self.parse_list(stop=("elif", "else", "fi"))
        branches.append((cond, body))
        else_body = None
        while True:
            if self.at_word("elif"):
                self.next()
                cond = self.parse_list(stop=("then",))
                self.expect_word("then")
                body = self.parse_list(stop=("elif", "else", "fi"))
                branches.append((cond, body))
                continue
            if self.at_word("else"):
                self.next()
                else_body = self.parse_list(stop=("fi",))
            self.expect_word("fi")
            break
        return ("if", branches, else_body)


@functools.lru_cache(maxsize=512)
def parse_bash(script: str):
    """The AST of a script; cached, since every instance of a run gets the same commands (ASTs are never mutated)."""
    return _Parser(tokenize(script)).parse_list()


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

    def expand(self, word: Word) -> str:
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
                    raise ShellSyntaxError(
                        f"line {redir.line}: `{redir.text}{target}' (stdin and an output fd) is not supported by the "
                        "sandbox's shell"
                    )
                if fd != 0:
                    fds[fd] = fds[src]
                continue
            if op == "<&" or (op == ">&" and redir.fd is not None):  # <&file, 2>&file
                raise _RedirectionError(f"{target}: ambiguous redirect")
            if op == "<":
                if fd != 0:
                    raise ShellSyntaxError(f"line {redir.line}: `{redir.text}' is not supported by the sandbox's shell")
                if target == DEV_NULL:
                    stdin = ""
                elif target in self.files:
                    stdin = self.files[target]
                else:
                    raise _RedirectionError(f"{target}: No such file or directory")
                continue
            if fd == 0:
                raise ShellSyntaxError(f"line {redir.line}: `{redir.text}' is not supported by the sandbox's shell")
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
        argv = [self.expand(w) for w in words]
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
        text = " ".join(argv)
        result = self.runner(text, stdin)
        if result is None:
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
