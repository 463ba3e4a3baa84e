"""The Java regex translator (allowedPattern is a java.util.regex.Pattern on AWS), and its use by the start-parameter
checks: Java constructs AWS's own runbooks use are understood, and a pattern that cannot be checked never skips the
length and count checks."""

from __future__ import annotations

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils import java_regex, runbook


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"^\p{Alnum}+$", "abc1", True),
        (r"^\p{Alnum}+$", "a;b", False),
        (r"^\p{Alpha}+$", "é", False),  # POSIX classes are US-ASCII in Java
        (r"^\P{Alpha}$", "1", True),
        (r"^\p{Punct}$", ";", True),
        (r"^\p{L}+$", "日本語", True),
        (r"^\pL+$", "abc", True),
        (r"^\p{IsAlphabetic}+$", "Ωmega", True),
        (r"^[\p{L}\p{N}+=,.@\-_/]{1,64}$", "héllo-1", True),
        (r"^[\p{L}\p{N}+=,.@\-_/]{1,64}$", "a b", False),
        (r"^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w-\/.@+=,]{1,1017}$", "arn:aws:iam::123456789012:role/a-b/c", True),
        (r"^[\w-.]+$", "a-b.c", True),  # a '-' after a class escape is a literal in Java
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*$", "😀 ok", True),  # surrogate pair range
        (r"^\d+$", "١٢٣", False),  # \d is ASCII-only in Java
        (r"^\w+$", "é", False),
        (r"^a.b$", "a\rb", False),  # '.' excludes every Java line terminator
        (r"\Qa.b\E", "a.b", True),
        (r"^\Qa.b\E$", "axb", False),
        (r"^[a-z[0-9]]+$", "a1", True),  # a nested class is a union
        (r"(?i)^abc$", "ABC", True),
        (r"^(?<x>a)\k<x>$", "aa", True),
        (r"^a\z", "a", True),
        (r"^\x{41}\x42\0101$", "ABA", True),
        (r"^a$", "a\n", True),  # Java's $ also matches before a final line terminator
        (r"^a$", "a\u2028", True),
    ],
)
def test_java_semantics(pattern, value, matches):
    assert java_regex.java_search(pattern, value) is matches


@pytest.mark.parametrize("pattern", ["^[a-", "(a", "a)", "\\", "[z-a]", "[]"])
def test_patterns_java_rejects_are_invalid(pattern):
    with pytest.raises(java_regex.Invalid):
        java_regex.compile_java(pattern)


@pytest.mark.parametrize("pattern", [r"^\p{IsLatin}+$", r"^[a-z&&[^e]]+$", r"\Ga"])
def test_constructs_not_modelled_are_unsupported_not_invalid(pattern):
    with pytest.raises(java_regex.Unsupported):
        java_regex.compile_java(pattern)


def test_strictness_analysis_reads_java_patterns():
    assert runbook.is_strict_pattern(r"^\p{Alnum}{1,32}$")
    assert runbook.is_strict_pattern(r"^[\w-\/]+$")
    assert not runbook.is_strict_pattern(r"^\p{Punct}+$")
    assert not runbook.is_strict_pattern(r"^e-[a-zA-z0-9]{10}$")  # A-z holds ` and \


def _doc(**spec):
    return {"schemaVersion": "0.3", "parameters": {"P": dict({"type": "String"}, **spec)}, "mainSteps": []}


def test_start_parameters_use_java_semantics():
    doc = _doc(allowedPattern=r"^[\w-\/]{1,20}$")
    assert runbook.check_parameters(doc, {"P": "a-b/c"}) == {"P": ["a-b/c"]}
    with pytest.raises(runbook.InvalidInput) as e:
        runbook.check_parameters(doc, {"P": "a;b"})
    assert e.value.field == "parameters.P" and "allowedPattern" in e.value.message


def test_unchecked_pattern_never_skips_length_and_count_checks():
    doc = _doc(allowedPattern=r"^\p{IsLatin}+$", maxChars=3, minChars=2)
    assert runbook.check_parameters(doc, {"P": "abc"}) == {"P": ["abc"]}
    with pytest.raises(runbook.InvalidInput, match="at most 3"):
        runbook.check_parameters(doc, {"P": "abcd"})
    with pytest.raises(runbook.InvalidInput, match="at least 2"):
        runbook.check_parameters(doc, {"P": "a"})
    lists = {
        "schemaVersion": "0.3",
        "parameters": {"L": {"type": "StringList", "allowedPattern": "[a-z&&[b]]", "maxItems": "2"}},
    }
    with pytest.raises(runbook.InvalidInput, match="at most 2"):
        runbook.check_parameters(lists, {"L": ["a", "b", "c"]})
