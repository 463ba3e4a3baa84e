# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Java regular expressions (``java.util.regex.Pattern``) translated to Python's ``re``.

SSM document parameters' ``allowedPattern`` is a Java regular expression: AWS's own runbooks use ``\\p{L}``,
``[\\w-\\/]`` (a ``-`` next to a class escape is a literal in Java, a bad range in Python), surrogate pairs such as
``\\uD800\\uDC00`` in classes, and so on. This module is the one translator used by the linter, by the collection's
start-parameter checks and by the sandbox. The semantics follow the ``java.util.regex.Pattern`` documentation
(https://docs.oracle.com/javase/8/docs/api/java/util/regex/Pattern.html):

- ``\\d \\w \\s \\b`` and ``(?i)`` are ASCII-only in Java unless UNICODE_CHARACTER_CLASS is set: compiled with
  ``re.ASCII``; ``\\p{...}`` classes are expanded explicitly, so they keep their Unicode meaning.
- POSIX classes ``\\p{Lower} \\p{Upper} \\p{ASCII} \\p{Alpha} \\p{Digit} \\p{Alnum} \\p{Punct} \\p{Graph} \\p{Print}
  \\p{Blank} \\p{Cntrl} \\p{XDigit} \\p{Space}`` (US-ASCII), Unicode general categories ``\\p{L} \\p{Lu} \\pN
  \\p{IsL} \\p{gc=Nd}``..., ``\\p{IsAlphabetic}``, ``\\p{javaLowerCase}``..., and their negations ``\\P{...}``.
- ``.`` does not match a line terminator (``\\n \\r \\u0085 \\u2028 \\u2029``); ``\\z``, ``\\Z``, ``\\h``, ``\\H``,
  ``\\v``, ``\\R``, ``\\e``, ``\\a``, ``\\cX``, ``\\0ooo``, ``\\x{h...h}``, ``\\Q...\\E``, ``(?<name>...)`` and
  ``\\k<name>`` are translated; a nested class ``[a-z[0-9]]`` is a union.

What cannot be translated faithfully (class intersection ``&&``, Unicode scripts and blocks such as ``\\p{IsLatin}``,
``\\G``, embedded flags other than ``i m s x u U d``) raises :class:`Unsupported`: the caller then cannot check the
pattern, and says so, but still checks everything else (length, counts, allowed values).
A pattern that Java itself rejects (unbalanced brackets or parentheses, a dangling escape) raises :class:`Invalid`.

Matching is ``search`` (Java ``Matcher.find``), the lenient reading: a value that fails it fails ``matches`` too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import sys
import unicodedata

LINE_TERMINATORS = "\n\r\u0085\u2028\u2029"


class JavaRegexError(ValueError):
    """The pattern cannot be used as a Python regular expression."""


class Invalid(JavaRegexError):
    """Java rejects the pattern too."""


class Unsupported(JavaRegexError):
    """A Java construct this translator does not model; the pattern may well be valid on AWS."""


_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}
_CATEGORIES = "Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co Cn".split()
_JAVA_PROPERTIES = {
    "javaLowerCase": ("Ll",),
    "javaUpperCase": ("Lu",),
    "javaWhitespace": None,  # computed from str.isspace below, minus non-breaking spaces
    "javaMirrored": None,
    "IsAlphabetic": ("Lu", "Ll", "Lt", "Lm", "Lo", "Nl"),
    "IsLetter": ("Lu", "Ll", "Lt", "Lm", "Lo"),
    "IsDigit": ("Nd",),
    "IsUppercase": ("Lu",),
    "IsLowercase": ("Ll",),
    "IsWhite_Space": None,
    "IsPunctuation": ("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"),
    "IsControl": ("Cc",),
}
_RANGES_CACHE = {}
_CATEGORY_RUNS = []


# Planes 4-13 are unassigned, 15-16 private use (Unicode 14-17): only planes 0-3 and the start of plane 14 are read.
_SCANNED = ((0, 0x3FFFF), (0xE0000, 0xE0FFF))
_FIXED = (
    (0x40000, 0xDFFFF, "Cn"),
    (0xE1000, 0xEFFFF, "Cn"),
    (0xF0000, 0xFFFFD, "Co"),
    (0xFFFFE, 0xFFFFF, "Cn"),
    (0x100000, 0x10FFFD, "Co"),
    (0x10FFFE, 0x10FFFF, "Cn"),
)


def _category_runs():
    """[(lo, hi, category)] over every code point, computed once (a fraction of a second)."""
    if not _CATEGORY_RUNS:
        runs = list(_FIXED)
        for first, last in _SCANNED:
            lo = first
            cat = unicodedata.category(chr(first))
            for cp in range(first + 1, last + 1):
                c = unicodedata.category(chr(cp))
                if c != cat:
                    runs.append((lo, cp - 1, cat))
                    lo, cat = cp, c
            runs.append((lo, last, cat))
        _CATEGORY_RUNS.extend(sorted(runs))
    return _CATEGORY_RUNS


def _category_ranges(categories):
    """[(lo, hi)] of code points whose Unicode general category is in ``categories`` (cached)."""
    key = tuple(sorted(categories))
    if key not in _RANGES_CACHE:
        wanted = set(key)
        ranges = []
        for lo, hi, cat in _category_runs():
            if cat in wanted:
                if ranges and ranges[-1][1] == lo - 1:
                    ranges[-1] = (ranges[-1][0], hi)
                else:
                    ranges.append((lo, hi))
        _RANGES_CACHE[key] = ranges
    return _RANGES_CACHE[key]


def _white_space_ranges():
    return [(cp, cp) for cp in range(sys.maxunicode + 1) if chr(cp).isspace()]


def _complement(ranges):
    out = []
    prev = 0
    for lo, hi in ranges:
        if lo > prev:
            out.append((prev, lo - 1))
        prev = hi + 1
    if prev <= sys.maxunicode:
        out.append((prev, sys.maxunicode))
    return out


def _esc(cp):
    return "\\U%08x" % cp


def _ranges_text(ranges):
    return "".join(_esc(lo) if lo == hi else "%s-%s" % (_esc(lo), _esc(hi)) for lo, hi in ranges)


def _property_class(name, negated):
    """The body of a character class (no brackets) for ``\\p{name}`` (``negated``: ``\\P{name}``)."""
    raw = name
    if name.startswith("Is") and name[2:] in _POSIX:
        name = name[2:]
    if name in _POSIX:
        body = _POSIX[name]
        if not negated:
            return body
        return _ranges_text(_complement(_parse_simple_ranges(body)))
    for prefix in ("gc=", "general_category=", "Is"):
        if name.startswith(prefix) and (name[len(prefix) :] in _CATEGORIES or len(name) - len(prefix) == 1):
            name = name[len(prefix) :]
            break
    if name == "LC":
        cats = ("Lu", "Ll", "Lt")
    elif name in _CATEGORIES:
        cats = (name,)
    elif len(name) == 1 and any(c[0] == name for c in _CATEGORIES):
        cats = tuple(c for c in _CATEGORIES if c[0] == name)
    elif raw in _JAVA_PROPERTIES:
        cats = _JAVA_PROPERTIES[raw]
        if cats is None:
            if raw in ("javaWhitespace", "IsWhite_Space"):
                ranges = _white_space_ranges()
                return _ranges_text(_complement(ranges) if negated else ranges)
            raise Unsupported("\\p{%s} is not modelled" % raw)
    else:
        raise Unsupported("\\p{%s} (a Unicode script, block or property) is not modelled" % raw)
    ranges = _category_ranges(cats)
    return _ranges_text(_complement(ranges) if negated else ranges)


def _parse_simple_ranges(body):
    """Sorted ranges of a POSIX class body written with literal characters, ``a-z`` ranges and ``\\xHH``/``\\t``..."""
    simple = {"t": 9, "n": 10, "f": 12, "r": 13}
    cps = []
    i = 0
    while i < len(body):
        if body[i] == "\\":
            nxt = body[i + 1]
            if nxt == "x":
                cps.append(int(body[i + 2 : i + 4], 16))
                i += 4
            else:
                cps.append(simple.get(nxt, ord(nxt)))
                i += 2
        elif body[i] == "-" and cps and i + 1 < len(body):
            cps.append(None)  # a range operator
            i += 1
        else:
            cps.append(ord(body[i]))
            i += 1
    ranges = []
    k = 0
    while k < len(cps):
        if k + 2 < len(cps) and cps[k + 1] is None:
            ranges.append((cps[k], cps[k + 2]))
            k += 3
        else:
            ranges.append((cps[k], cps[k]))
            k += 1
    return sorted(ranges)


class _Translator:
    def __init__(self, pattern, plain_anchors=False):
        self.plain_anchors = plain_anchors
        self.p = pattern
        self.i = 0
        self.out = []
        self.depth = 0

    def error(self, cls, message):
        raise cls("%s at position %d of %r" % (message, self.i, self.p))

    def peek(self, k=0):
        j = self.i + k
        return self.p[j] if j < len(self.p) else ""

    def run(self):
        while self.i < len(self.p):
            ch = self.p[self.i]
            if ch == "\\":
                self.out.append(self.escape(in_class=False))
            elif ch == "[":
                self.out.append("[" + self.char_class() + "]")
            elif ch == "(":
                self.group()
            elif ch == ")":
                if self.depth == 0:
                    self.error(Invalid, "unmatched closing ')'")
                self.depth -= 1
                self.out.append(")")
                self.i += 1
            elif ch == ".":
                self.out.append("[^%s]" % "".join(_esc(ord(c)) for c in LINE_TERMINATORS))
                self.i += 1
            elif ch == "$" and self.plain_anchors:
                self.out.append("$")
                self.i += 1
            elif ch == "$":
                self.out.append("(?=(?:\\r\\n|[%s])?\\Z)" % "".join(_esc(ord(c)) for c in LINE_TERMINATORS))
                self.i += 1
            else:
                self.out.append(ch)
                self.i += 1
        if self.depth:
            self.error(Invalid, "unclosed group")
        return "".join(self.out)

    def group(self):
        self.depth += 1
        rest = self.p[self.i :]
        m = re.match(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", rest)
        if m:
            self.out.append("(?P<%s>" % m.group(1))
            self.i += len(m.group(0))
            return
        m = re.match(r"\(\?([imsxuUd]*)(?:-([imsxuUd]*))?([:)])", rest)
        if m and (m.group(1) or m.group(2) is not None):
            on = "".join(f for f in m.group(1) if f in "imsx")
            off = "".join(f for f in (m.group(2) or "") if f in "imsx")
            if m.group(3) == ")":
                self.depth -= 1
                if "m" in on or "s" in on or "x" in on or off:
                    raise Unsupported("embedded flags %r" % m.group(0))
                self.out.append("(?%s)" % on if on else "")
                self.i += len(m.group(0))
                return
            flags = on + ("-" + off if off else "")
            self.out.append("(?%s:" % flags if flags else "(?:")
            self.i += len(m.group(0))
            return
        for prefix in ("(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>"):
            if rest.startswith(prefix):
                self.out.append(prefix)
                self.i += len(prefix)
                return
        if rest.startswith("(?"):
            raise Unsupported("group construct %r" % rest[:4])
        self.out.append("(")
        self.i += 1

    def escape(self, in_class):
        """Translate the escape at self.i; return Python text (inside a class: a class body fragment)."""
        p = self.p
        if self.i + 1 >= len(p):
            self.error(Invalid, "dangling backslash")
        c = p[self.i + 1]
        self.i += 2
        if c in "pP":
            if self.peek() == "{":
                end = p.find("}", self.i)
                if end < 0:
                    self.error(Invalid, "unclosed \\%s{" % c)
                name = p[self.i + 1 : end]
                self.i = end + 1
            else:
                name = self.peek()
                self.i += 1
            body = _property_class(name, c == "P")
            return body if in_class else "[" + body + "]"
        if c == "Q":
            end = p.find("\\E", self.i)
            text = p[self.i :] if end < 0 else p[self.i : end]
            self.i = len(p) if end < 0 else end + 2
            return "".join(_esc(ord(ch)) for ch in text) if in_class else re.escape(text)
        if c == "u":
            hexa = p[self.i : self.i + 4]
            if not re.match(r"^[0-9a-fA-F]{4}$", hexa):
                self.error(Invalid, "bad \\u escape")
            self.i += 4
            cp = int(hexa, 16)
            if 0xD800 <= cp <= 0xDBFF and p[self.i : self.i + 2] == "\\u":
                low = p[self.i + 2 : self.i + 6]
                if re.match(r"^[dD][c-fC-F][0-9a-fA-F]{2}$", low):
                    self.i += 6
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (int(low, 16) - 0xDC00)
            return _esc(cp)
        if c == "x":
            if self.peek() == "{":
                end = p.find("}", self.i)
                if end < 0:
                    self.error(Invalid, "unclosed \\x{")
                cp = int(p[self.i + 1 : end], 16)
                self.i = end + 1
                return _esc(cp)
            hexa = p[self.i : self.i + 2]
            if not re.match(r"^[0-9a-fA-F]{2}$", hexa):
                self.error(Invalid, "bad \\x escape")
            self.i += 2
            return _esc(int(hexa, 16))
        if c == "0":
            m = re.match(r"[0-3]?[0-7]{1,2}", p[self.i :])
            if not m:
                self.error(Invalid, "bad octal escape")
            self.i += len(m.group(0))
            return _esc(int(m.group(0), 8))
        if c == "c":
            ch = self.peek()
            self.i += 1
            return _esc(ord(ch) ^ 64)
        simple = {"t": 9, "n": 10, "r": 13, "f": 12, "a": 7, "e": 27}
        if c in simple:
            return _esc(simple[c])
        if c in "dDwWsS":
            return "\\" + c
        if c == "h":
            body = "\\x09\\x20\\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000"
            return body if in_class else "[" + body + "]"
        if c == "H":
            if in_class:
                raise Unsupported("\\H inside a character class")
            return "[^\\x09\\x20\\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000]"
        if c == "v":
            body = "\\x0a-\\x0d\\x85\\u2028\\u2029"
            return body if in_class else "[" + body + "]"
        if in_class:
            if c.isalnum():
                if c.isdigit():
                    self.error(Invalid, "back-reference inside a class")
                raise Unsupported("\\%s inside a character class" % c)
            return _esc(ord(c))
        if c == "z":
            return "\\Z"
        if c == "Z" and self.plain_anchors:
            return "\\Z"
        if c == "Z":
            return "(?=(?:\\r\\n|[%s])?\\Z)" % "".join(_esc(ord(x)) for x in LINE_TERMINATORS)
        if c in "AbB":
            return "\\" + c
        if c == "R":
            return "(?:\\r\\n|[\\n\\x0b\\f\\r\\x85\\u2028\\u2029])"
        if c == "k":
            m = re.match(r"<([A-Za-z][A-Za-z0-9]*)>", p[self.i :])
            if not m:
                self.error(Invalid, "bad \\k")
            self.i += len(m.group(0))
            return "(?P=%s)" % m.group(1)
        if c.isdigit():
            return "\\" + c
        if c.isalpha():
            raise Unsupported("escape \\%s" % c)
        return re.escape(c)

    def char_class(self):
        """Translate a class starting at self.i ('['); return its body (without the outer brackets)."""
        start = self.i
        self.i += 1
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        items = []  # (kind, text): kind 'char' (single code point escape), 'set' (class fragment), 'dash'
        first = True
        while True:
            if self.i >= len(self.p):
                self.i = start
                self.error(Invalid, "unclosed character class")
            ch = self.p[self.i]
            if ch == "]" and not first:
                self.i += 1
                break
            first = False
            if ch == "[":
                inner_start = self.i
                body = self.char_class()
                if self.p[inner_start + 1 : inner_start + 2] == "^":
                    raise Unsupported("a negated class nested in a class")
                items.append(("set", body))
            elif ch == "&" and self.peek(1) == "&":
                raise Unsupported("class intersection &&")
            elif ch == "\\":
                c = self.peek(1)
                text = self.escape(in_class=True)
                kind = "set" if c in "dDwWsSpPhvQ" else "char"
                items.append((kind, text))
            elif ch == "-":
                items.append(("dash", "-"))
                self.i += 1
            else:
                items.append(("char", _esc(ord(ch))))
                self.i += 1
        out = []
        k = 0
        while k < len(items):
            kind, text = items[k]
            if kind == "char" and k + 2 < len(items) and items[k + 1][0] == "dash" and items[k + 2][0] == "char":
                lo, hi = _code_point(text), _code_point(items[k + 2][1])
                if lo > hi:
                    self.i = start
                    self.error(Invalid, "illegal character range")
                out.append("%s-%s" % (text, items[k + 2][1]))
                k += 3
                continue
            out.append("\\-" if kind == "dash" else text)
            k += 1
        body = "".join(out)
        if not body:
            self.error(Invalid, "empty character class")
        return ("^" if negated else "") + body


def _code_point(text):
    return int(text[2:], 16)


_CACHE = {}


def translate(pattern, plain_anchors=False):
    """The Python ``re`` source for a Java ``pattern`` (compile it with ``re.ASCII``).

    ``plain_anchors``: ``$`` and ``\\Z`` stay Python's own (end, or before a final newline), which a structural
    analysis of the parsed pattern reads more easily; otherwise they also allow Java's other line terminators.
    Raises :class:`Invalid` or :class:`Unsupported`.
    """
    if not isinstance(pattern, str):
        raise Invalid("the pattern is a %s, not a string" % type(pattern).__name__)
    return _Translator(pattern, plain_anchors).run()


def compile_java(pattern):
    """A compiled Python regex equivalent to the Java ``pattern`` (cached). Raises :class:`JavaRegexError`."""
    if pattern in _CACHE:
        result = _CACHE[pattern]
        if isinstance(result, Exception):
            raise result
        return result
    try:
        source = translate(pattern)
        try:
            result = re.compile(source, re.ASCII)
        except (re.error, OverflowError, RecursionError) as e:
            raise Unsupported("the translation does not compile in Python (%s)" % e) from None
    except JavaRegexError as e:
        _CACHE[pattern] = e
        raise
    _CACHE[pattern] = result
    return result


def java_search(pattern, value):
    """True when ``value`` matches the Java ``pattern`` (``Matcher.find``); raises :class:`JavaRegexError`."""
    return compile_java(pattern).search(value) is not None
