"""The expected set and the roads to a member execution: parent and member shapes that differ from the sandbox's.

No public example shows a cross-account parent's steps, so how AWS fills them is inferred (issue 15). Each test
builds another plausible shape (steps without TargetLocation, several accounts per step, member ids under other
output keys, members whose ParentAutomationExecutionId is the parent or absent) and asserts that every targeted
account x region is in the report, with a status and a reason.
"""

import datetime

import boto3
import pytest
from botocore.stub import Stubber
from support.harvest_fakes import MGMT, OK_STEPS, PARENT, T0, FakeFactory, uid

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import expected, harvest, roads
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.common import pages

A, B = "222222222222", "333333333333"
REGIONS = ["eu-west-1", "ap-northeast-1"]
DOC = "check-os"


def parent(factory, steps, status="Success", target_locations=None):
    factory.ssm(MGMT, "eu-west-1").executions[PARENT] = {
        "AutomationExecutionId": PARENT,
        "AutomationExecutionStatus": status,
        "DocumentName": DOC,
        "AutomationType": "CrossAccount",
        "ExecutionStartTime": T0,
        "TargetParameterName": "InstanceId",
        "Targets": [{"Key": "tag:ssm-automation", "Values": ["true"]}],
        "TargetLocations": target_locations
        if target_locations is not None
        else [
            {"Accounts": [A, B], "Regions": REGIONS, "ExecutionRoleName": "AWS-SystemsManager-AutomationExecutionRole"}
        ],
        "StepExecutions": steps,
    }


def member(factory, account, region, parent_field=PARENT, instances=1, document=DOC, started=None):
    """A member execution with ``instances`` instance executions; ``parent_field`` is its ParentAutomationExecutionId
    (None: absent). Returns its id."""
    ssm = factory.ssm(account, region)
    member_id = uid("member", account, region, str(started))
    ex = {
        "AutomationExecutionId": member_id,
        "AutomationExecutionStatus": "Success",
        "DocumentName": document,
        "ExecutionStartTime": started or T0 + datetime.timedelta(seconds=2),
        "Targets": [{"Key": "tag:ssm-automation", "Values": ["true"]}],
    }
    if parent_field is not None:
        ex["ParentAutomationExecutionId"] = parent_field
        ssm.children.setdefault(parent_field, []).append(member_id)
    ssm.executions[member_id] = ex
    kids = []
    for n in range(instances):
        child = uid("instance", account, region, str(n), str(started))
        ssm.executions[child] = {
            "AutomationExecutionId": child,
            "AutomationExecutionStatus": "Success",
            "DocumentName": document,
            "ParentAutomationExecutionId": member_id,
            "Target": "i-%s%04d" % (account[:8], n),
            "ExecutionStartTime": T0 + datetime.timedelta(seconds=3),
            "StepExecutions": OK_STEPS,
        }
        kids.append(child)
    ssm.children[member_id] = kids
    return member_id


def targeted(result):
    return sorted((r["account"], r["region"]) for r in result["locations"])


EVERY = sorted((a, r) for a in (A, B) for r in REGIONS)


def test_steps_without_target_location_members_found_by_their_parent_id():
    factory = FakeFactory()
    steps = []
    for account in (A, B):
        for region in REGIONS:
            member(factory, account, region, parent_field=PARENT)
            steps.append(
                {
                    "StepName": "Step-%s-%s" % (account, region),
                    "Action": "aws:executeAutomation",
                    "StepStatus": "Success",
                }
            )
    parent(factory, steps)
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    assert targeted(result) == EVERY
    assert {r["member_road"] for r in result["locations"]} == {roads.PARENT_FILTER}
    assert all(len(r["instances"]) == 1 for r in result["locations"])
    # the steps the harvest could not map are reported raw, not skipped
    assert sorted(s["step_name"] for s in result["summary"]["uninterpreted_steps"]) == sorted(
        s["StepName"] for s in steps
    )
    assert result["summary"]["expected_locations"] == 4
    assert result["summary"]["no_instance_matched"] is None


def test_one_step_for_several_accounts_members_without_parent_found_by_document_and_time():
    factory = FakeFactory()
    for account in (A, B):
        for region in REGIONS:
            member(factory, account, region, parent_field=None)
    # an older run of the same runbook, before the parent started: not a candidate
    member(factory, A, "eu-west-1", parent_field=None, started=T0 - datetime.timedelta(hours=1))
    step = {
        "StepName": "ExecuteAutomation",
        "Action": "aws:executeAutomation",
        "StepStatus": "Success",
        "TargetLocation": {"Accounts": [A, B], "Regions": REGIONS},
        "Outputs": {"RunIds": ["not-a-uuid"]},
    }
    parent(factory, [step])
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    assert targeted(result) == EVERY
    for record in result["locations"]:
        assert record["member_road"] == roads.DOCUMENT_AND_TIME, record
        assert record["step_name"] == "ExecuteAutomation"
        assert len(record["instances"]) == 1


def test_member_id_under_another_output_key_is_taken_from_the_step():
    factory = FakeFactory()
    steps = []
    for account in (A, B):
        for region in REGIONS:
            member_id = member(factory, account, region, parent_field=None)
            steps.append(
                {
                    "StepName": "%s-%s" % (account, region),
                    "Action": "aws:executeAutomation",
                    "StepStatus": "Success",
                    "TargetLocation": {"Accounts": [account], "Regions": [region]},
                    "Outputs": {"ExecuteChild.ChildExecutionIds": [member_id]},
                }
            )
    parent(factory, steps)
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    assert targeted(result) == EVERY
    assert {r["member_road"] for r in result["locations"]} == {roads.STEP_OUTPUT}
    # the step named it: no other road was taken, no search call was made
    assert factory.calls("describe_automation_executions") == 4


def test_two_candidates_are_reported_as_ambiguous_never_picked():
    factory = FakeFactory()
    first = member(factory, A, "eu-west-1", parent_field=None, started=T0 + datetime.timedelta(seconds=2))
    second = member(factory, A, "eu-west-1", parent_field=None, started=T0 + datetime.timedelta(seconds=5))
    parent(
        factory,
        [{"StepName": "loc", "Action": "aws:executeAutomation", "StepStatus": "Success"}],
        target_locations=[{"Accounts": [A], "Regions": ["eu-west-1"]}],
    )
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    (record,) = result["locations"]
    assert record["status"] == expected.NOT_REPORTED
    assert record["member_execution_id"] is None
    assert record["member_road"] == roads.DOCUMENT_AND_TIME
    assert sorted(c["automation_execution_id"] for c in record["member_candidates"]) == sorted([first, second])
    assert "ambiguous" in record["reason"]
    assert result["summary"]["failures_total"] == 1


@pytest.mark.parametrize(
    ("parent_status", "step_status", "want"),
    [
        ("Success", "Pending", expected.NO_TARGETS),
        ("Success", "Success", expected.NO_TARGETS),
        ("Failed", "Pending", expected.NEVER_STARTED),
        ("Cancelled", "Pending", expected.NEVER_STARTED),
        ("TimedOut", "Pending", expected.NEVER_STARTED),
        ("Failed", "InProgress", expected.NOT_REPORTED),
    ],
)
def test_unexplained_location_status_by_the_table(parent_status, step_status, want):
    factory = FakeFactory()
    steps = [
        {
            "StepName": "%s-%s" % (a, r),
            "Action": "aws:executeAutomation",
            "StepStatus": step_status,
            "TargetLocation": {"Accounts": [a], "Regions": [r]},
        }
        for a in (A, B)
        for r in REGIONS
    ]
    parent(factory, steps, status=parent_status)
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    assert targeted(result) == EVERY
    assert {r["status"] for r in result["locations"]} == {want}
    assert all(r["reason"] for r in result["locations"])
    assert all(r["step_status"] == step_status for r in result["locations"])
    assert result["summary"]["locations_by_status"] == {want: 4}
    assert result["summary"]["failures_total"] == (0 if want == expected.NO_TARGETS else 4)
    # no location matched any instance: the run as a whole is not a pass, whatever each location says
    assert result["summary"]["no_instance_matched"].startswith(
        "no instance matched the targets: tag:ssm-automation=true"
    )
    assert A in result["summary"]["no_instance_matched"]


def test_targeted_locations_without_any_step_are_not_reported_and_fail():
    factory = FakeFactory()
    member(factory, A, "eu-west-1", parent_field=PARENT)
    parent(
        factory,
        [
            {
                "StepName": "only-one",
                "Action": "aws:executeAutomation",
                "StepStatus": "Success",
                "TargetLocation": {"Accounts": [A], "Regions": ["eu-west-1"]},
                "Outputs": {"ExecutionId": [uid("member", A, "eu-west-1", "None")]},
            }
        ],
    )
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    assert targeted(result) == EVERY
    by = {(r["account"], r["region"]): r for r in result["locations"]}
    assert len(by[(A, "eu-west-1")]["instances"]) == 1
    missing = [r for k, r in by.items() if k != (A, "eu-west-1")]
    assert {r["status"] for r in missing} == {expected.NOT_REPORTED}
    assert all(r["step_present"] is False and r["targeted_by"] for r in missing)
    assert result["summary"]["failures_total"] == 3


def test_a_member_execution_that_matched_no_instance_is_no_targets():
    factory = FakeFactory()
    member_id = member(factory, A, "eu-west-1", instances=0)
    parent(
        factory,
        [
            {
                "StepName": "loc",
                "Action": "aws:executeAutomation",
                "StepStatus": "Success",
                "TargetLocation": {"Accounts": [A], "Regions": ["eu-west-1"]},
                "Outputs": {"ExecutionId": [member_id]},
            }
        ],
        target_locations=[{"Accounts": [A], "Regions": ["eu-west-1"]}],
    )
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    (record,) = result["locations"]
    assert record["status"] == expected.NO_TARGETS and record["step_status"] == "Success"
    assert result["summary"]["failures_total"] == 0


def test_a_kept_expected_set_wins_over_recomputing():
    factory = FakeFactory()
    parent(factory, [], target_locations=[{"Accounts": [A], "Regions": ["eu-west-1"]}])
    kept = expected.resolve([{"Accounts": [A, B], "Regions": ["eu-west-1"]}], source="start")
    seen = []
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0, expected=kept, on_expected=seen.append)
    assert targeted(result) == [(A, "eu-west-1"), (B, "eu-west-1")]
    assert seen == []  # nothing recomputed
    assert result["summary"]["expected_source"] == "start"


TREE = {
    "root_id": "r-abcd",
    "ous": {
        "ou-abcd-aaaaaaaa": {"name": "Prod", "parent_id": "r-abcd"},
        "ou-abcd-bbbbbbbb": {"name": "Prod/Web", "parent_id": "ou-abcd-aaaaaaaa"},
    },
    "accounts": {
        MGMT: {"parent_id": "r-abcd", "status": "ACTIVE"},
        A: {"parent_id": "ou-abcd-aaaaaaaa", "status": "ACTIVE"},
        B: {"parent_id": "ou-abcd-bbbbbbbb", "status": "ACTIVE"},
        "444444444444": {"parent_id": "ou-abcd-bbbbbbbb", "status": "ACTIVE"},
    },
}


def test_resolve_expands_ous_with_children_removes_exclusions_and_says_where_each_came_from():
    out = expected.resolve(
        [
            {
                "Accounts": ["ou-abcd-aaaaaaaa", MGMT],
                "Regions": ["eu-west-1", "us-east-1"],
                "IncludeChildOrganizationUnits": True,
                "ExcludeAccounts": ["444444444444"],
            }
        ],
        TREE,
    )
    assert [(e["account"], e["region"]) for e in out["locations"]] == [
        (MGMT, "eu-west-1"),
        (MGMT, "us-east-1"),
        (A, "eu-west-1"),
        (A, "us-east-1"),
        (B, "eu-west-1"),
        (B, "us-east-1"),
    ]
    by = {e["account"]: e["from"] for e in out["locations"]}
    assert by[B] == [{"target_location": 0, "target": "ou-abcd-aaaaaaaa", "kind": "ou"}]
    assert by[MGMT] == [{"target_location": 0, "target": MGMT, "kind": "account"}]
    assert out["excluded"] == [{"account": "444444444444", "target_location": 0, "excluded_by": "444444444444"}]


def test_resolve_without_children_by_default_and_an_excluded_ou_removes_everything_below():
    out = expected.resolve([{"Accounts": ["ou-abcd-aaaaaaaa"], "Regions": ["eu-west-1"]}], TREE)
    assert [e["account"] for e in out["locations"]] == [A]  # IncludeChildOrganizationUnits defaults to false
    out = expected.resolve(
        [
            {
                "Accounts": ["r-abcd"],
                "Regions": ["eu-west-1"],
                "IncludeChildOrganizationUnits": True,
                "ExcludeAccounts": ["ou-abcd-bbbbbbbb"],
            }
        ],
        TREE,
    )
    assert sorted(e["account"] for e in out["locations"]) == sorted([MGMT, A])


def test_resolve_never_drops_a_target_it_cannot_expand():
    out = expected.resolve([{"Accounts": ["ou-abcd-zzzzzzzz", A], "Regions": ["eu-west-1"]}], None)
    assert [e["account"] for e in out["locations"]] == [A]
    assert out["unresolved"] == [
        {"target_location": 0, "target": "ou-abcd-zzzzzzzz", "reason": "the organization could not be read"}
    ]


def test_targets_file_round_trip(tmp_path):
    path = tmp_path / "run" / "targets.json"
    data = expected.resolve([{"Accounts": [A], "Regions": ["eu-west-1"]}])
    expected.write_file(str(path), data)
    assert expected.read_file(str(path)) == data
    assert expected.read_file(str(tmp_path / "none.json")) is None
    (tmp_path / "bad.json").write_text('{"accounts": []}')
    with pytest.raises(ValueError, match="no locations list"):
        expected.read_file(str(tmp_path / "bad.json"))


def test_roads_send_what_the_ssm_model_accepts():
    """Roads 2 and 3 against botocore's Stubber: the request parameters are validated against the service model."""
    client = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    member_id = uid("m")
    with Stubber(client) as stub:
        stub.add_response(
            "describe_automation_executions",
            {"AutomationExecutionMetadataList": []},
            {"Filters": [{"Key": "ParentExecutionId", "Values": [PARENT]}], "MaxResults": 50},
        )
        stub.add_response(
            "describe_automation_executions",
            {
                "AutomationExecutionMetadataList": [
                    {
                        "AutomationExecutionId": member_id,
                        "DocumentName": "arn:aws:ssm:eu-west-1:%s:document/%s" % (MGMT, DOC),
                    },
                    {
                        "AutomationExecutionId": uid("child"),
                        "DocumentName": DOC,
                        "ParentAutomationExecutionId": member_id,
                    },
                    {"AutomationExecutionId": uid("other"), "DocumentName": "another-runbook"},
                ]
            },
            {"Filters": [{"Key": "StartTimeAfter", "Values": ["2025-01-01T11:59:59Z"]}], "MaxResults": 50},
        )

        def paged(operation, key, **kwargs):
            return pages(getattr(client, operation), key, **kwargs)

        found = roads.find(
            paged, {"automation_execution_id": PARENT, "document_name": DOC, "start_time": T0.isoformat()}
        )
        stub.assert_no_pending_responses()
    assert found["road"] == roads.DOCUMENT_AND_TIME
    assert found["member_execution_id"] == member_id
    assert found["tried"] == [roads.PARENT_FILTER, roads.DOCUMENT_AND_TIME]


def _header(max_errors, total=4, failed=0, cancelled=0, timed_out=0):
    return {
        "target_locations": [{"accounts": [A], "regions": REGIONS, "max_errors": max_errors}],
        "location_progress": {"total": total, "failed": failed, "cancelled": cancelled, "timed_out": timed_out},
    }


@pytest.mark.parametrize(
    ("header", "want"),
    [
        (_header("100%", failed=2), False),  # the collection's default: never exceeded
        (_header("0", failed=0), False),
        (_header("0", failed=1), True),  # AWS's default: one failed location may have stopped the queue
        (_header("1", failed=1), False),  # AWS stops when errors *exceed* the value
        (_header("25%", total=4, failed=2), True),
        (_header("50%", total=4, failed=2), False),
        (_header(None), None),  # not told: no guess
        (_header("ten"), None),
        ({}, None),
    ],
)
def test_max_errors_exceeded_reads_target_location_max_errors(header, want):
    assert expected.max_errors_exceeded(header) is want


@pytest.mark.parametrize(
    ("exceeded", "want"),
    [(False, expected.NO_TARGETS), (True, expected.NEVER_STARTED), (None, expected.NEVER_STARTED)],
)
def test_a_pending_location_of_a_failed_run_is_no_targets_only_within_max_errors(exceeded, want):
    code, reason = expected.unexplained("Failed", "Pending", max_errors_exceeded=exceeded)
    assert code == want
    assert reason


@pytest.mark.parametrize("parent_status", ["Cancelled", "TimedOut"])
def test_a_pending_location_of_a_cancelled_or_timed_out_run_never_started_whatever_max_errors(parent_status):
    assert expected.unexplained(parent_status, "Pending", max_errors_exceeded=False)[0] == expected.NEVER_STARTED
