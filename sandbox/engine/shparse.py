"""Shared by the sandbox's shells: the outcome of a script, the errors, and the bash tokenizer and parser.

The interpreters are in :mod:`.shell` (bash) and :mod:`.powershell`; see :mod:`.shell` for what the bash subset
covers and how unsupported constructs are reported.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

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


class Unsupported(ShellSyntaxError):
    """A construct the sandbox's shells do not run faithfully: the command fails with this message, never skips it."""

    def __init__(self, construct: str, line: int | None = None):
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}not supported by the sandbox: {construct}")


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
                raise Unsupported(f"`{op}' ({_UNSUPPORTED_REDIR[op]})", line)
            if fd is not None and fd > 2:
                raise Unsupported(f"redirecting file descriptor {fd} (0-2 are)", line)
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
            raise Unsupported(f"`{tok.raw}' (if/for/&&/||/pipes are)", tok.line)
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
            raise Unsupported(f"closing a file descriptor ({redir.text}-)", redir.line)
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


# bash builtins and keywords this interpreter does not implement: a script that uses one fails with "not supported
# by the sandbox" (on a real host they exist, so "command not found" would be a false answer).
UNSUPPORTED_BUILTINS = frozenset(
    "local read source . eval trap shift return declare typeset unset wait exec readonly let getopts pushd popd dirs "
    "umask ulimit alias unalias hash type shopt pwd kill jobs fg bg disown times enable help history logout mapfile "
    "readarray caller complete compgen compopt bind builtin suspend coproc".split()
)
# What the tokenizer leaves in a word that bash would expand and this interpreter does not.
_LIT_UNSUPPORTED = (
    (re.compile(r"`"), "`...` command substitution"),
    (re.compile(r"\$\(\("), "$((...)) arithmetic expansion"),
    (re.compile(r"\$\{(?![A-Za-z_][A-Za-z0-9_]*\})"), "${...} parameter expansion beyond ${NAME}"),
    (re.compile(r"\$[0-9@*#$!-]"), "positional and special parameters ($1, $@, $#, $$, $!, $-)"),
    (re.compile(r"\$'"), "$'...' quoting"),
    (re.compile(r"\$\["), "$[...] arithmetic"),
)
_GLOB = re.compile(r"(?<!\$)[*?]|\[[^\]]*\]")
_BRACE = re.compile(r"\{[^{}\s]*(?:,|\.\.)[^{}\s]*\}")
