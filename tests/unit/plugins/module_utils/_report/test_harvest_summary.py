"""Failures are never under-reported by the gather's accounting (plugins/module_utils/_harvest/reading.py, _report/summary.py).

Found by the fault scenarios (tests/integration/test_faults.py, docs/reliability.md): locations that a finished
automation never started were reported as "not started yet" and not counted as failures, and the policy counted
lost locations from the failures list, which is capped.
"""

from __future__ import annotations

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import reading
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report import summary as harvest_summary


def location(account, status, member=None, message=None):
    return {
        "account": account,
        "region": "eu-west-1",
        "step_name": "%s-eu-west-1" % account,
        "status": status,
        "failure_message": message,
        "member_execution_id": member,
    }


class NoCalls:
    """A client factory that must not be used: locations without a member execution need no call."""

    caller_account = "111111111111"

    def client(self, *args, **kwargs):
        raise AssertionError("no AWS call expected")


def test_a_pending_location_of_a_finished_automation_never_started_and_counts():
    record = reading.LocationReader(NoCalls(), location("222222222222", "Pending"), parent_status="Failed").read()
    assert record["read_status"] == "skipped"
    assert record["read_error"]["code"] == "NeverStarted"
    assert "before this location was started" in record["read_error"]["message"]
    assert record["status"] == "NeverStarted" and record["step_status"] == "Pending"
    summary = harvest_summary.Summary()
    summary.add(record)
    out = summary.as_dict()
    # counted by its status, which the verdict weighs as a failure (plugins/module_utils/policy.py), not twice
    assert out["locations_by_status"] == {"NeverStarted": 1}
    assert out["unexplained_locations"] == {"NeverStarted": 1}
    assert out["lost_locations"] == 0
    assert summary.failures_total == 1 and summary.failures[0]["instance_id"] is None


def test_a_pending_location_of_a_running_automation_is_not_a_failure_yet():
    record = reading.LocationReader(NoCalls(), location("222222222222", "Pending"), parent_status="InProgress").read()
    assert record["read_error"]["code"] == "NotStarted"
    summary = harvest_summary.Summary()
    summary.add(record)
    assert summary.lost_locations == 0 and summary.failures_total == 0


def test_lost_locations_are_counted_beyond_the_failures_cap():
    summary = harvest_summary.Summary(max_failures=2)
    # three instance failures first fill the capped list...
    summary.add(
        dict(
            location("333333333333", "Failed", member="m"),
            read_status="ok",
            read_error=None,
            instances=[
                {"instance_id": "i-%d" % n, "status": "Failed", "failure_message": "boom", "steps": []}
                for n in range(3)
            ],
        )
    )
    # ...then two locations that could not run, and one that could not be read
    for account in ("444444444444", "555555555555"):
        summary.add(
            dict(
                location(account, "Failed", message="The provided role ... can't be assumed."),
                read_status="skipped",
                read_error={"code": "NoMemberExecution", "message": "x"},
                instances=[],
            )
        )
    summary.add(
        dict(
            location("666666666666", "Success", member="m2"),
            read_status="failed",
            read_error={"code": "AccessDenied", "message": "denied"},
            instances=[],
        )
    )
    out = summary.as_dict()
    assert out["failures_truncated"] is True
    assert [f for f in out["failures"] if f["instance_id"] is None] == []  # the capped list shows none of them
    assert out["lost_locations"] == 3
    assert out["failures_total"] == 6
