"""The runbook lint, driven by the corpus in tests/unit/lint_corpus/cases.yml (good and bad runbooks with the exact
errors and warnings expected), plus the properties of the regex-strictness check behind the injection rule."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ansible_collections.orgops.ssm_automation.plugins.module_utils import runbook

REPO = Path(__file__).resolve().parents[5]
CORPUS = yaml.safe_load((REPO / "tests/unit/lint_corpus/cases.yml").read_text())["cases"]


def _key(finding):
    return (finding["severity"], finding["rule"], finding["step"], finding["path"])


def _doc(case):
    if "file" in case:
        return runbook.parse_content((REPO / case["file"]).read_text())
    return case["runbook"]


def test_corpus_is_big_enough_and_has_the_required_cases():
    ids = {c["id"] for c in CORPUS}
    assert len(CORPUS) >= 25
    assert len(ids) == len(CORPUS), "case ids must be unique"
    assert {"seed-check-os", "injection-free-message"} <= ids
    assert any(c["expect"] for c in CORPUS) and any(not c["expect"] for c in CORPUS), "good and bad cases"


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_lint_corpus(case):
    findings = runbook.lint(_doc(case), case.get("waivers"))
    got = Counter(_key(f) for f in findings if f["severity"] in ("error", "warning"))
    want = Counter(_key(e) for e in case["expect"])
    assert got == want, "\n".join(runbook.format_finding(f) for f in findings)
    for expected in case["expect"] + case.get("expect_info", []):
        matching = [f for f in findings if _key(f) == _key(expected)]
        assert matching, "missing %s in:\n%s" % (expected, "\n".join(runbook.format_finding(f) for f in findings))
        assert any(expected["message"] in f["message"] for f in matching), (expected["message"], matching)


def test_findings_carry_step_and_field_path():
    case = next(c for c in CORPUS if c["id"] == "injection-free-message")
    (finding,) = runbook.errors(runbook.lint(case["runbook"]))
    assert finding == {
        "severity": "error",
        "rule": "safety.command-injection",
        "step": "Echo",
        "path": "mainSteps[0].inputs.Parameters.commands[0]",
        "message": finding["message"],
    }
    assert "{{ Message }}" in finding["message"] and "allowedValues" in finding["message"]


def test_waivers_do_not_silence_errors_of_other_rules():
    case = next(c for c in CORPUS if c["id"] == "missing-next-step")
    findings = runbook.lint(case["runbook"], waivers=["rule:graph.missing-target", "InstanceId"])
    assert [f["rule"] for f in runbook.errors(findings)] == ["graph.missing-target"]


@pytest.mark.parametrize(
    "pattern",
    [
        "^[A-Za-z0-9_.-]{1,64}$",
        r"^i-[a-f0-9]{8,17}$",
        r"^\d+$",
        r"^(start|stop|status)$",
        r"^[a-z]+$|^[0-9]+$",
        r"\A[a-z]{1,8}\Z",
        r"^arn:aws:iam::\d{12}:role/[\w+=,.@-]+$",
    ],
)
def test_strict_patterns(pattern):
    assert runbook.is_strict_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        ".*",
        "^.*$",
        "^[a-z]+",  # not anchored at the end
        "[a-z]+$",
        r"^[\w\s]+$",  # \s admits newlines
        r"^[^;]+$",  # negated classes admit everything else
        r"^[a-z;]+$",
        r"^[ -~]+$",  # printable ASCII includes $ ` ; | & ...
        r"^\S+$",
        "^(a|.)$",
        "^[",  # not a regex at all
        12,
    ],
)
def test_loose_patterns(pattern):
    assert not runbook.is_strict_pattern(pattern)


def test_parse_errors_name_the_content_field():
    for bad in ("mainSteps: [\n", "- just\n- a list\n", "", 42):
        with pytest.raises(runbook.InvalidInput) as e:
            runbook.parse_content(bad)
        assert e.value.field == "content"
        assert "accepted" in e.value.message or "YAML" in e.value.message


def test_normalize_ignores_format_and_key_order():
    text = (REPO / "roles/check_os/files/check-os.yml").read_text()
    doc = runbook.parse_content(text)
    as_json = runbook.to_json(doc)
    reordered = dict(reversed(list(doc.items())))
    assert runbook.parse_content(as_json) == doc
    assert runbook.normalize(runbook.parse_content(as_json)) == runbook.normalize(doc) == runbook.normalize(reordered)
    assert runbook.content_hash(reordered) == runbook.content_hash(doc)
    changed = runbook.parse_content(text.replace("chronyc sources", "chronyc tracking"))
    assert runbook.content_hash(changed) != runbook.content_hash(doc)


def test_yaml_timestamps_stay_strings():
    doc = runbook.parse_content("schemaVersion: '0.3'\ndescription: 2024-01-31\nmainSteps: []\n")
    assert doc["description"] == "2024-01-31"
    assert runbook.normalize(doc)


def test_size_limit_is_64_kb():
    assert runbook.check_size("x" * 65536) == 65536
    with pytest.raises(runbook.InvalidInput) as e:
        runbook.check_size("x" * 65537)
    assert "64 KB" in e.value.message and e.value.field == "content"
    huge = {"schemaVersion": "0.3", "description": "x" * 70000, "mainSteps": []}
    assert "schema.too-large" in {f["rule"] for f in runbook.lint(huge)}


def test_every_rule_is_documented():
    source = "".join(p.read_text() for p in sorted((REPO / "plugins/module_utils/_runbook").glob("*.py")))
    rules = set(re.findall(r'"((?:schema|graph|ref|safety|operability)\.[a-z-]+)"', source))
    rules |= {
        "schema.maxAttempts",
        "schema.timeoutSeconds",
        "schema.isEnd",
        "schema.isCritical",
    }  # built as "schema.%s"
    docs = (REPO / "docs/runbooks.md").read_text()
    assert len(rules) > 30
    assert sorted(r for r in rules if "`%s`" % r not in docs) == []
