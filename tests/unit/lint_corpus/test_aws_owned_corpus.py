"""AWS's own Automation runbooks (and public samples) pass our lint: no error except the reviewed safety.* findings
listed in tests/corpus/aws_owned/confirmed_findings.yml, each confirmed by a witness value or explained by a note.

Also: the seed runbook and the rendered runbooks stay clean."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.orgops.ssm_automation.plugins.module_utils import java_regex, runbook

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO / "tests/corpus"
AWS_OWNED = sorted((CORPUS / "aws_owned").glob("*.json"))
SAMPLES = sorted(p for p in (CORPUS / "samples").iterdir() if p.suffix in (".json", ".yml", ".yaml"))
CONFIRMED = yaml.safe_load((CORPUS / "aws_owned/confirmed_findings.yml").read_text())["findings"]
MANIFEST = yaml.safe_load((CORPUS / "MANIFEST.yml").read_text())
SHELL_META = set(";|&$`\n<>#\\(){}'\"*")


def _key(finding):
    return (finding["rule"], finding["step"], finding["path"])


def _lint(path):
    return runbook.lint(runbook.parse_content(path.read_text()))


def test_corpus_is_big_and_recorded():
    assert len(AWS_OWNED) >= 60
    recorded = {e["file"]: e for e in MANIFEST["aws_owned"]}
    assert sorted(recorded) == [p.name for p in AWS_OWNED], "every file has its origin in MANIFEST.yml"
    for p in AWS_OWNED:
        assert hashlib.sha256(p.read_bytes()).hexdigest() == recorded[p.name]["sha256"], p.name
    assert MANIFEST["aws_owned_source"].startswith("https://github.com/ceshihao/ssm-public-documents/blob/")
    assert sorted(e["file"] for e in MANIFEST["samples"]) == sorted(p.name for p in SAMPLES)


def test_corpus_covers_loops_branches_and_string_properties():
    text = "\n".join(p.read_text() for p in AWS_OWNED)
    for construct in ('"aws:loop"', '"LoopCondition"', '"Iterators"', '"aws:branch"', '"isEnd": "true"', "\\\\p{L}"):
        assert construct in text, construct


@pytest.mark.parametrize("path", AWS_OWNED, ids=[p.stem for p in AWS_OWNED])
def test_aws_owned_runbook_has_no_error_but_confirmed_safety_findings(path):
    findings = _lint(path)
    errors = runbook.errors(findings)
    expected = {_key(c) for c in CONFIRMED if c["file"] == path.name}
    got = {_key(f) for f in errors}
    unexpected = [runbook.format_finding(f) for f in errors if _key(f) not in expected]
    assert unexpected == [], "false-positive errors on an AWS-owned runbook"
    assert got == expected, "a confirmed finding is no longer found: update confirmed_findings.yml"
    assert all(f["rule"].startswith("safety.") for f in errors)


@pytest.mark.parametrize("entry", CONFIRMED, ids=["%s:%s" % (c["file"], c["parameter"]) for c in CONFIRMED])
def test_each_confirmed_finding_has_a_witness_or_a_note(entry):
    doc = runbook.parse_content((CORPUS / "aws_owned" / entry["file"]).read_text())
    spec = doc["parameters"][entry["parameter"]]
    assert entry["note"]
    witness = entry["witness"]
    if witness is None:
        assert entry["note"].startswith("not exploitable")
        return
    assert set(witness) & SHELL_META, "the witness carries a shell metacharacter"
    if "allowedValues" in spec:
        assert witness in spec["allowedValues"]
    elif "allowedPattern" in spec:
        assert java_regex.java_search(spec["allowedPattern"], witness), "the witness passes the allowedPattern"
    # the witness is a value AWS accepts for the parameter, so the finding is real
    assert re.search(r"\{\{ ?%s ?\}\}" % re.escape(entry["parameter"]), str(doc["mainSteps"]))


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_public_samples_have_no_error(path):
    doc = runbook.parse_content(path.read_text())
    if str(doc.get("schemaVersion")) != "0.3":
        pytest.skip("%s is not an Automation runbook (schemaVersion %s)" % (path.name, doc.get("schemaVersion")))
    assert [runbook.format_finding(f) for f in runbook.errors(runbook.lint(doc))] == []


@pytest.mark.parametrize(
    "path",
    [
        Path("/work/shared/seed/check-os.yml"),
        *sorted(p for p in (REPO / "roles/check_os/files").glob("check-os*.yml") if not p.name.endswith(".checks.yml")),
    ],
    ids=lambda p: p.name,
)
def test_seed_and_rendered_runbooks_stay_clean(path):
    if not path.exists():
        pytest.skip("%s is not on this machine" % path)
    findings = _lint(path)
    assert [runbook.format_finding(f) for f in findings if f["severity"] != "info"] == []
