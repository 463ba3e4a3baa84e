"""The compliance policy verdict (compliance.policy) and the "changed since" comparison (_report/changes.py)."""

import json

import pytest
from test_compliance import harvest, instance

from ansible_collections.orgops.ssm_automation.plugins.module_utils import compliance as C
from ansible_collections.orgops.ssm_automation.plugins.module_utils import report
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report import changes
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

COUNTS = {"instances": {"compliant": 12, "noncompliant": 2, "unknown": 1}}


def test_default_only_reports():
    verdict = C.policy(COUNTS)
    assert verdict["reason"] == "" and verdict["percent"] == pytest.approx(13.3)


def test_noncompliant_over_the_limit_fails_naming_the_variable():
    verdict = C.policy(COUNTS, 10)
    assert verdict["failing"] == 2
    assert verdict["reason"] == (
        "2 of 15 instance(s) are noncompliant (1 unknown not counted): 13.3% > check_os_max_noncompliant_percent 10%"
    )
    assert C.policy(COUNTS, 14)["reason"] == ""


def test_unknown_counts_when_told():
    assert C.policy(COUNTS, 14, fail_on_unknown=False)["reason"] == ""
    verdict = C.policy(COUNTS, 14, fail_on_unknown="true")
    assert verdict["failing"] == 3 and verdict["percent"] == 20.0
    assert (
        "check_os_fail_on_unknown" in verdict["reason"]
        and "20.0% > check_os_max_noncompliant_percent 14%" in verdict["reason"]
    )


def test_no_judged_instance_passes():
    assert C.policy({}, 0)["reason"] == ""


@pytest.mark.parametrize(
    ("value", "field"), [(101, "check_os_max_noncompliant_percent"), ("ten", "check_os_max_noncompliant_percent")]
)
def test_bad_policy_inputs(value, field):
    with pytest.raises(InvalidInput) as err:
        C.policy({}, value)
    assert err.value.field == field
    with pytest.raises(InvalidInput) as err:
        C.policy({}, 10, "sometimes")
    assert err.value.field == "check_os_fail_on_unknown"


def _write(tmp_path, name, data, expect):
    run = tmp_path / name
    run.mkdir()
    report.write_reports(report.Source(data=data, expect=expect), str(run), formats=["json"])
    return run


def test_changed_since_the_previous_report(tmp_path):
    expect = {"timezone": "Asia/Tokyo"}
    first = harvest()
    first["execution"].update({"automation_execution_id": "run-1", "end_time": "2025-01-01T12:00:00+00:00"})
    _write(tmp_path, "run-1", first, expect)
    second = harvest()
    second["execution"].update({"automation_execution_id": "run-2", "end_time": "2025-01-02T12:00:00+00:00"})
    locs = second["locations"]
    locs[0]["instances"][0] = instance("i-1", "UTC")  # timezone changed: compliant -> noncompliant
    locs[0]["instances"][1] = instance("i-4", "Asia/Tokyo")  # i-2 gone, i-4 added
    current = tmp_path / "run-2"
    current.mkdir()
    found = changes.find_previous(str(current), "automation-report", "run-2")
    assert found == str(tmp_path / "run-1" / "automation-report.json")
    source = report.Source(data=second, expect=expect)
    diff = changes.compare(source, found, expect)
    assert diff["since_execution"] == "run-1"
    assert diff["added"] == [{"account": "111111111111", "region": "ap-northeast-1", "instance_id": "i-4"}]
    assert diff["gone"] == [{"account": "111111111111", "region": "ap-northeast-1", "instance_id": "i-2"}]
    assert {(c["instance_id"], c["fact"], c["before"], c["after"]) for c in diff["facts_changed"]} == {
        ("i-1", "timezone", "Asia/Tokyo", "UTC")
    }
    assert diff["compliance_changed"] == [
        {
            "account": "111111111111",
            "region": "ap-northeast-1",
            "instance_id": "i-1",
            "before": "compliant",
            "after": "noncompliant",
        }
    ]
    # an unfinished earlier run is not "previous"; this execution's own directory never is
    data = json.loads((tmp_path / "run-1" / "automation-report.json").read_text())
    data["execution"]["status"] = "InProgress"
    (tmp_path / "run-1" / "automation-report.json").write_text(json.dumps(data))
    assert changes.find_previous(str(current), "automation-report", "run-2") is None


def test_compare_to_a_missing_file_names_the_option(tmp_path):
    with pytest.raises(InvalidInput) as err:
        changes.compare(report.Source(data=harvest()), str(tmp_path / "nope.json"), {})
    assert err.value.field == "compare_to"


def test_the_run_verdict_has_the_compliance_rule():
    """policy.verdict (run_policy): the compliance rule reads the report's counts from the settings, off at 100."""
    from ansible_collections.orgops.ssm_automation.plugins.module_utils import policy

    summary = {"instances": 15, "instances_by_status": {"Success": 15}}
    passed = policy.verdict(summary, {"compliance": COUNTS})
    assert passed["passed"] is True
    settings = {
        "compliance": COUNTS,
        "max_noncompliant_percent": 10,
        "field_aliases": {"run_automation_max_noncompliant_percent": "check_os_max_noncompliant_percent"},
    }
    failed = policy.verdict(summary, settings)
    assert failed["passed"] is False and "noncompliant_percent" in failed["broken_rules"]
    assert "13.3% > check_os_max_noncompliant_percent 10%" in failed["msg"]
