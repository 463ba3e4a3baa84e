"""_automation/execution.py: find by token, wait, progress, the execution summary."""

import boto3
from botocore.stub import Stubber
from support.automation import MGMT

from ansible_collections.orgops.ssm_automation.plugins.module_utils import automation

# --- find, wait, progress --------------------------------------------------------------------------------


def ssm_client():
    return boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")


def test_find_by_token_uses_the_tag_filter_and_ignores_children():
    ssm = ssm_client()
    token = "3f2b8c1e-8d4a-4b2e-9c1d-0a1b2c3d4e5f"
    expected = {"Filters": [{"Key": "TagKey", "Values": [automation.TOKEN_TAG_PREFIX + token]}], "MaxResults": 50}
    parent = "11111111-2222-3333-4444-555555555555"
    with Stubber(ssm) as stub:
        stub.add_response(
            "describe_automation_executions",
            {"AutomationExecutionMetadataList": [{"AutomationExecutionId": parent}], "NextToken": "n"},
            expected,
        )
        stub.add_response(
            "describe_automation_executions",
            {
                "AutomationExecutionMetadataList": [
                    {"AutomationExecutionId": "x" * 36, "ParentAutomationExecutionId": parent}
                ]
            },
            dict(expected, NextToken="n"),
        )
        stub.add_response("describe_automation_executions", {"AutomationExecutionMetadataList": []}, expected)
        assert automation.find_by_token(ssm, token)["AutomationExecutionId"] == parent
        assert automation.find_by_token(ssm, token) is None


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_returns_at_terminal_status():
    ssm = ssm_client()
    clock = FakeClock()
    with Stubber(ssm) as stub:
        for status in ("InProgress", "InProgress", "Success"):
            stub.add_response(
                "get_automation_execution",
                {"AutomationExecution": {"AutomationExecutionId": "e" * 36, "AutomationExecutionStatus": status}},
            )
        execution, timed_out = automation.wait(ssm, "e" * 36, 100, 5, clock=clock.clock, sleep=clock.sleep)
    assert execution["AutomationExecutionStatus"] == "Success"
    assert timed_out is False
    assert clock.sleeps == [5, 5]


def test_wait_times_out_without_raising():
    ssm = ssm_client()
    clock = FakeClock()
    polls = []
    with Stubber(ssm) as stub:
        for _poll in range(4):
            stub.add_response(
                "get_automation_execution", {"AutomationExecution": {"AutomationExecutionStatus": "InProgress"}}
            )
        execution, timed_out = automation.wait(
            ssm, "e" * 36, 12, 5, on_poll=polls.append, clock=clock.clock, sleep=clock.sleep
        )
    assert timed_out is True
    assert execution["AutomationExecutionStatus"] == "InProgress"
    assert clock.sleeps == [5, 5, 2]
    assert len(polls) == 4


def test_progress_line():
    counts = automation.count_statuses(["Success"] * 30 + ["Failed"] * 5 + ["TimedOut"] * 2 + ["InProgress"] * 83)
    assert counts["done"] == 37
    assert counts["total"] == 120
    assert automation.progress_line(counts) == "37/120 instances done: 30 Success, 5 Failed, 2 TimedOut (83 InProgress)"
    assert automation.progress_line({"done": 0, "total": 0, "by_status": {}}) == "0/0 instances done"
    assert (
        automation.progress_line({"by_status": {"Success": 1}, "unreadable_locations": 2})
        == "1/1 instances done: 1 Success; 2 locations unreadable"
    )


def test_summarize_execution_has_no_secrets_and_counts():
    execution = {
        "AutomationExecutionId": "e" * 36,
        "AutomationExecutionStatus": "Failed",
        "Parameters": {"AutomationAssumeRole": ["arn:aws:iam::111111111111:role/x"]},
        "ProgressCounters": {"TotalSteps": 3, "SuccessSteps": 2, "FailedSteps": 1},
        "StepExecutions": [
            {
                "StepName": "s",
                "StepStatus": "Failed",
                "FailureMessage": "no",
                "TargetLocation": {"Accounts": [MGMT], "Regions": ["eu-west-1"]},
            }
        ],
    }
    out = automation.summarize_execution(execution)
    assert out["location_progress"] == {"total": 3, "success": 2, "failed": 1, "cancelled": 0, "timed_out": 0}
    assert out["location_steps"] == [
        {"step_name": "s", "accounts": [MGMT], "regions": ["eu-west-1"], "status": "Failed", "failure_message": "no"}
    ]
    assert "Parameters" not in str(out)
