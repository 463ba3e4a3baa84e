"""What the harvest could not resolve or interpret, and why a location has the status it has, in every report.

The records use the harvest's own field names (``summary.unresolved_targets`` and ``summary.uninterpreted_steps``
from _harvest/harvest.py and expected.py; ``reason``, ``step_status``, ``member_road`` and ``member_candidates`` on a
location from _harvest/reading.py), fed through a result dict and through a JSON Lines file as the role writes it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils import report

PARENT = "0f6e2c1a-5b7d-4c3e-9a2f-1d0e9c8b7a65"
M_ROAD = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
CAND_1 = "11111111-1111-4111-8111-111111111111"
CAND_2 = "22222222-2222-4222-8222-222222222222"
NO_TARGETS_REASON = "no instance matched the targets in this account and region (member execution 9a9a)"
NEVER_REASON = "the automation ended (Failed) before this location was started"
AMBIGUOUS_REASON = (
    "ambiguous: 2 candidate member executions found by document_and_start_time (%s, %s); none was picked"
    % (CAND_1, CAND_2)
)
UNRESOLVED = [
    {
        "target_location": 0,
        "target": "ou-ab12-cdefgh34",
        "reason": "the organization could not be read: User is not authorized to perform organizations:ListRoots",
    }
]
UNINTERPRETED = [
    {
        "step_name": "Invoke-Remote-Runbook",
        "action": "aws:executeAutomation",
        "status": "Failed",
        "failure_message": "Step fails when it is executing",
        "output_keys": ["RunResult"],
        "member_execution_id": None,
        "reason": "the step names no TargetLocation account",
    }
]


def instance(account):
    return {
        "instance_id": "i-0%s00000000" % account[:4],
        "execution_id": "e-%s" % account,
        "status": "Success",
        "steps": [{"step_name": "CheckHostname", "action": "aws:runCommand", "status": "Success", "outputs": {}}],
    }


def harvest(unresolved=True):
    return {
        "execution": {"automation_execution_id": PARENT, "document_name": "check-os", "status": "Failed"},
        "locations": [
            {  # found by road 2 (the parent step named no member execution)
                "account": "111111111111",
                "region": "eu-west-1",
                "status": "Success",
                "member_execution_id": M_ROAD,
                "member_road": "parent_execution_filter",
                "read_status": "ok",
                "read_error": None,
                "instances": [instance("111111111111")],
            },
            {  # ambiguous: two candidates, none picked
                "account": "222222222222",
                "region": "eu-west-1",
                "status": "NotReported",
                "step_status": "Success",
                "member_execution_id": None,
                "member_road": "document_and_start_time",
                "member_candidates": [
                    {"automation_execution_id": CAND_1, "document_name": "check-os", "status": "Success"},
                    {"automation_execution_id": CAND_2, "document_name": "check-os", "status": "InProgress"},
                ],
                "reason": AMBIGUOUS_REASON,
                "read_status": "skipped",
                "read_error": {"code": "AmbiguousMemberExecution", "message": AMBIGUOUS_REASON},
                "instances": [],
            },
            {  # the member execution ran and matched nothing
                "account": "333333333333",
                "region": "eu-west-1",
                "status": "NoTargets",
                "step_status": "Success",
                "member_execution_id": "9a9a",
                "member_road": "step_output",
                "reason": NO_TARGETS_REASON,
                "read_status": "ok",
                "read_error": None,
                "instances": [],
            },
            {  # targeted, never started
                "account": "444444444444",
                "region": "eu-west-1",
                "status": "NeverStarted",
                "step_status": "Pending",
                "step_present": True,
                "member_execution_id": None,
                "member_road": None,
                "reason": NEVER_REASON,
                "read_status": "skipped",
                "read_error": {"code": "NeverStarted", "message": NEVER_REASON},
                "instances": [],
            },
        ],
        "summary": {
            "instances": 1,
            "unresolved_targets": UNRESOLVED if unresolved else [],
            "uninterpreted_steps": UNINTERPRETED if unresolved else [],
        },
    }


def streamed(tmp_path, data):
    """The same harvest as automation_execution_info with dest writes it (results.jsonl)."""
    path = tmp_path / "results.jsonl"
    writer = report.JsonLinesWriter(str(path)).open()
    writer.header(data["execution"])
    for loc in reversed(data["locations"]):
        writer.location(loc)
    writer.summary(data["summary"])
    writer.close()
    return report.Source(path=str(path))


@pytest.fixture(params=["result", "jsonl"])
def source(request, tmp_path):
    data = harvest()
    return report.Source(data=data) if request.param == "result" else streamed(tmp_path, data)


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text = []

    def handle_data(self, data):
        self.text.append(data)


def html_text(source):
    parser = _Text()
    parser.feed(report.render(source, "html"))
    return " ".join(" ".join(parser.text).split())


def test_the_summary_of_every_format_carries_what_was_not_resolved(source):
    s = source.summary()
    assert s["unresolved_targets"] == UNRESOLVED
    assert s["uninterpreted_steps"] == UNINTERPRETED
    assert json.loads(report.render(source, "json"))["summary"]["unresolved_targets"] == UNRESOLVED


def test_html_has_a_not_resolved_section_naming_each_target_and_step_with_its_raw_name_and_status(source):
    page = report.render(source, "html")
    text = html_text(source)
    assert 'id="not-resolved"' in page and "Not resolved / not interpreted" in text
    section = text[text.index("Not resolved / not interpreted") :]
    assert "target ou-ab12-cdefgh34 Unresolved target location 0: the organization could not be read" in section
    assert "parent step Invoke-Remote-Runbook Failed the step names no TargetLocation account" in section
    assert "action aws:executeAutomation; outputs RunResult; Step fails when it is executing" in section
    # before the per-location details
    assert page.index('id="not-resolved"') < page.index('id="loc-111111111111-eu-west-1"')


def test_html_says_per_location_why_and_how_its_member_execution_was_found(source):
    text = html_text(source)
    assert "Member execution %s (found by parent_execution_filter)" % M_ROAD in text
    assert NO_TARGETS_REASON in text
    assert NEVER_REASON in text
    assert AMBIGUOUS_REASON in text
    assert (
        "Candidate member executions (found by document_and_start_time; none was picked): %s (Success) , %s (InProgress)"
        % (CAND_1, CAND_2)
        in text
    )
    assert "Parent step Pending" in text  # the NeverStarted location's own step status
    assert text.count(NEVER_REASON) == 1  # the reason once, not again as "Not read"


def test_markdown_has_the_section_and_a_location_table_with_the_reasons(source):
    md = report.render(source, "markdown")
    assert md.index("## Summary") < md.index("## Not resolved / not interpreted") < md.index("## Results")
    section = md[md.index("## Not resolved / not interpreted") : md.index("## Fleet")]
    assert "| target | ou-ab12-cdefgh34 | Unresolved | target location 0: the organization could not be read" in section
    assert "| parent step | Invoke-Remote-Runbook | Failed | the step names no TargetLocation account" in section
    locations = md[md.index("## Locations") : md.index("## Results")].splitlines()
    rows = {line[2:14]: line for line in locations if line[2:14].isdigit()}
    assert sorted(rows) == ["111111111111", "222222222222", "333333333333", "444444444444"]
    assert "member execution found by parent\\_execution\\_filter" in rows["111111111111"]
    assert (
        "candidates found by document\\_and\\_start\\_time: %s (Success), %s (InProgress)" % (CAND_1, CAND_2)
        in (rows["222222222222"])
    )
    assert "| NoTargets | 9a9a | no instance matched the targets" in rows["333333333333"]
    assert (
        "| NeverStarted |  | the automation ended (Failed) before this location was started; parent step Pending"
        in (rows["444444444444"])
    )
    for line in locations[2:]:
        if line:
            assert line.count("|") - line.count("\\|") == 6, line


def test_junit_fails_one_test_case_per_unresolved_target_and_uninterpreted_step(source):
    root = ET.fromstring(report.render(source, "junit").encode())
    suite = [s for s in root.findall("testsuite") if s.get("name") == "not resolved / not interpreted"]
    assert len(suite) == 1
    cases = suite[0].findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("unresolved_target", "ou-ab12-cdefgh34"),
        ("uninterpreted_step", "Invoke-Remote-Runbook"),
    ]
    assert all(c.find("failure") is not None for c in cases)
    assert "Invoke-Remote-Runbook (Failed)" in cases[1].find("failure").get("message")
    assert suite[0].get("failures") == "2"
    assert int(root.get("failures")) == sum(int(s.get("failures")) for s in root.findall("testsuite"))
    # per location: the reason and the candidates, and a NoTargets skip says why
    ambiguous = [s for s in root.findall("testsuite") if s.get("name") == "222222222222/eu-west-1"][0]
    props = {p.get("name"): p.get("value") for p in ambiguous.find("properties")}
    assert props["member_candidates"] == "%s,%s" % (CAND_1, CAND_2)
    assert props["member_road"] == "document_and_start_time"
    assert props["reason"] == AMBIGUOUS_REASON
    no_targets = [s for s in root.findall("testsuite") if s.get("name") == "333333333333/eu-west-1"][0]
    assert no_targets.find("testcase/skipped").get("message") == "location NoTargets: " + NO_TARGETS_REASON


def test_nothing_unresolved_adds_no_section_and_no_test_case(tmp_path):
    source = report.Source(data=harvest(unresolved=False))
    assert "Not resolved" not in report.render(source, "markdown")
    assert 'id="not-resolved"' not in report.render(source, "html")
    root = ET.fromstring(report.render(source, "junit").encode())
    assert "not resolved / not interpreted" not in [s.get("name") for s in root.findall("testsuite")]
    # a harvest without a summary (an older results file) reports the same
    data = harvest(unresolved=False)
    del data["summary"]
    assert report.Source(data=data).summary()["unresolved_targets"] == []
