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
from support.harvest_fakes import MGMT, OK_STEPS, PARENT, T0, FakeFactory, client_error, uid

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


# ---------------------------------------------------------------------------------------------------------
# The reviewer's gaps (issue 15): failed steps, parents without TargetLocations, TargetLocations without Regions,
# a road's error
# ---------------------------------------------------------------------------------------------------------


def bare_parent(factory, steps, status="Failed", **fields):
    """A parent as botocore's model of GetAutomationExecution shapes it: no ``AutomationType`` (only
    DescribeAutomationExecutions' metadata has it); ``fields`` adds TargetLocations, TargetLocationsURL..."""
    ex = {
        "AutomationExecutionId": PARENT,
        "AutomationExecutionStatus": status,
        "DocumentName": DOC,
        "ExecutionStartTime": T0,
        "TargetParameterName": "InstanceId",
        "Targets": [{"Key": "tag:ssm-automation", "Values": ["true"]}],
        "StepExecutions": steps,
    }
    ex.update(fields)
    factory.ssm(MGMT, "eu-west-1").executions[PARENT] = ex
    return ex


def fail_member(factory, account, region, member_id):
    """Turn ``member_id`` and its instance executions Failed."""
    ssm = factory.ssm(account, region)
    ssm.executions[member_id]["AutomationExecutionStatus"] = "Failed"
    ssm.executions[member_id]["FailureMessage"] = "Step fails when it is Poll action."
    for child in ssm.children[member_id]:
        ssm.executions[child]["AutomationExecutionStatus"] = "Failed"


STEP_FAILURE = "Step fails: 1 of 2 target locations failed"


def test_a_failed_step_for_several_accounts_still_reads_their_member_executions():
    factory = FakeFactory()
    member_a = member(factory, A, "eu-west-1", parent_field=PARENT)
    member_b = member(factory, B, "eu-west-1", parent_field=PARENT)
    fail_member(factory, B, "eu-west-1", member_b)
    parent(
        factory,
        [
            {
                "StepName": "ExecuteAutomation",
                "Action": "aws:executeAutomation",
                "StepStatus": "Failed",
                "FailureMessage": STEP_FAILURE,
                "TargetLocation": {"Accounts": [A, B], "Regions": ["eu-west-1"]},
            }
        ],
        status="Failed",
        target_locations=[{"Accounts": [A, B], "Regions": ["eu-west-1"]}],
    )
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    by = {r["account"]: r for r in result["locations"]}
    assert targeted(result) == [(A, "eu-west-1"), (B, "eu-west-1")]
    assert by[A]["member_execution_id"] == member_a and by[B]["member_execution_id"] == member_b
    assert [i["instance_id"] for i in by[A]["instances"]] == ["i-%s0000" % A[:8]]
    assert by[A]["instances"][0]["status"] == "Success" and by[A]["member_status"] == "Success"
    assert [i["status"] for i in by[B]["instances"]] == ["Failed"] and by[B]["member_status"] == "Failed"
    for record in by.values():
        assert record["member_road"] == roads.PARENT_FILTER
        assert record["failure_message"] == STEP_FAILURE  # the step's failure stays in the record
        assert record["read_status"] == "ok" and record["read_error"] is None
    assert result["summary"]["instances"] == 2


def test_a_failed_step_with_its_member_id_under_an_unexpected_output_key_is_read():
    factory = FakeFactory()
    member_id = member(factory, A, "eu-west-1", parent_field=None)
    fail_member(factory, A, "eu-west-1", member_id)
    parent(
        factory,
        [
            {
                "StepName": "%s-eu-west-1" % A,
                "Action": "aws:executeAutomation",
                "StepStatus": "Failed",
                "FailureMessage": STEP_FAILURE,
                "TargetLocation": {"Accounts": [A], "Regions": ["eu-west-1"]},
                "Outputs": {"Exec.Output": [member_id]},
            }
        ],
        status="Failed",
        target_locations=[{"Accounts": [A], "Regions": ["eu-west-1"]}],
    )
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    (record,) = result["locations"]
    assert record["member_execution_id"] == member_id
    assert record["member_road"] == roads.DOCUMENT_AND_TIME
    assert [i["instance_id"] for i in record["instances"]] == ["i-%s0000" % A[:8]]
    assert record["failure_message"] == STEP_FAILURE


def test_a_failed_step_whose_member_no_road_finds_keeps_no_member_execution_with_the_roads_tried():
    factory = FakeFactory()
    role_failure = "The provided role: arn:aws:iam::%s:role/X can't be assumed." % A
    parent(
        factory,
        [
            {
                "StepName": "%s-eu-west-1" % A,
                "Action": "aws:executeAutomation",
                "StepStatus": "Failed",
                "FailureMessage": role_failure,
                "TargetLocation": {"Accounts": [A], "Regions": ["eu-west-1"]},
            }
        ],
        status="Failed",
        target_locations=[{"Accounts": [A], "Regions": ["eu-west-1"]}],
    )
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    (record,) = result["locations"]
    assert record["read_status"] == "skipped" and record["status"] == "Failed"
    assert record["read_error"] == {"code": "NoMemberExecution", "message": role_failure}
    assert record["member_roads_tried"] == [roads.PARENT_FILTER, roads.DOCUMENT_AND_TIME]
    assert record["instances"] == []


def kept_members(factory):
    ids = {}
    for account in (A, B):
        ids[account] = member(factory, account, "eu-west-1", parent_field=PARENT)
    return ids


STEPS_WITHOUT_LOCATION = [
    {"StepName": "Step-%d" % n, "Action": "aws:executeAutomation", "StepStatus": "Success"} for n in (1, 2)
]


@pytest.mark.parametrize("url", ["s3://bucket/targets.json", None])
def test_a_parent_without_target_locations_is_cross_account_with_a_kept_expected_set(url):
    factory = FakeFactory()
    ids = kept_members(factory)
    fields = {"TargetLocationsURL": url} if url else {}
    bare_parent(factory, STEPS_WITHOUT_LOCATION, status="Success", **fields)
    kept = expected.resolve([{"Accounts": [A, B], "Regions": ["eu-west-1"]}], source="start")
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0, expected=kept)
    assert targeted(result) == [(A, "eu-west-1"), (B, "eu-west-1")]
    assert all(r["account"] != MGMT for r in result["locations"])  # nothing counted as the management account's
    for record in result["locations"]:
        assert record["member_execution_id"] == ids[record["account"]]
        assert len(record["instances"]) == 1 and record["targeted_by"]
    assert result["summary"]["instances"] == 2
    assert result["summary"]["execution_kind"] == ("TargetLocationsURL" if url else "expected set")
    # the kind was clear: no lookup of the parent's AutomationType
    assert factory.ssm(MGMT, "eu-west-1").calls == ["get_automation_execution"]


def test_a_target_locations_url_run_without_a_kept_set_says_its_targets_were_not_read():
    factory = FakeFactory()
    member_id = member(factory, A, "eu-west-1", parent_field=PARENT)
    bare_parent(
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
        status="Success",
        TargetLocationsURL="s3://bucket/targets.json",
    )
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    assert targeted(result) == [(A, "eu-west-1")]
    (unresolved,) = result["summary"]["unresolved_targets"]
    assert unresolved["target"] == "s3://bucket/targets.json" and "not read" in unresolved["reason"]


@pytest.mark.parametrize(("automation_type", "cross"), [("CrossAccount", True), ("Local", False)])
def test_the_parent_kind_is_looked_up_once_only_when_nothing_else_tells(automation_type, cross):
    factory = FakeFactory()
    kept_members(factory)
    ex = bare_parent(factory, STEPS_WITHOUT_LOCATION, status="Success")
    ex["AutomationType"] = automation_type  # answered by DescribeAutomationExecutions' metadata only ...
    mgmt = factory.ssm(MGMT, "eu-west-1")
    real_get = mgmt.get_automation_execution

    def get_without_type(AutomationExecutionId):  # ... not by GetAutomationExecution (botocore's model)
        out = real_get(AutomationExecutionId)
        out["AutomationExecution"].pop("AutomationType", None)
        return out

    mgmt.get_automation_execution = get_without_type
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    assert mgmt.calls.count("describe_automation_executions") == (1 if cross else 2)
    assert result["summary"]["execution_kind"] == "DescribeAutomationExecutions AutomationType"
    if cross:
        # no expected set and no TargetLocation: the steps are reported raw, not read as the management account's
        assert result["locations"] == []
        assert len(result["summary"]["uninterpreted_steps"]) == 2
        assert result["summary"]["instances"] == 0
    else:
        assert targeted(result) == [(MGMT, "eu-west-1")]


def test_the_parent_kind_lookup_sends_what_the_ssm_model_accepts():
    client = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(client) as stub:
        stub.add_response(
            "describe_automation_executions",
            {"AutomationExecutionMetadataList": [{"AutomationExecutionId": PARENT, "AutomationType": "CrossAccount"}]},
            {"Filters": [{"Key": "ExecutionId", "Values": [PARENT]}]},
        )
        kind = harvest.execution_kind(client, {"AutomationExecutionId": PARENT}, [])
        stub.assert_no_pending_responses()
    assert kind == {"cross_account": True, "because": "DescribeAutomationExecutions AutomationType", "calls": 1}


def test_a_target_location_without_regions_targets_the_automation_region():
    out = expected.resolve([{"Accounts": [A, B]}], default_region="eu-west-1")
    assert [(e["account"], e["region"]) for e in out["locations"]] == [(A, "eu-west-1"), (B, "eu-west-1")]
    assert out["locations"][0]["from"] == [
        {"target_location": 0, "target": A, "kind": "account", "region_defaulted": True}
    ]
    assert out["unresolved"] == []
    # the region is never dropped silently: without the automation's region the location is unresolved
    out = expected.resolve([{"Accounts": [A]}])
    assert out["locations"] == []
    assert out["unresolved"][0]["reason"] == "no Regions, and the automation's region is not known"
    # with Regions, nothing is defaulted
    out = expected.resolve([{"Accounts": [A], "Regions": ["us-east-1"]}], default_region="eu-west-1")
    assert out["locations"] == [
        {"account": A, "region": "us-east-1", "from": [{"target_location": 0, "target": A, "kind": "account"}]}
    ]


def test_a_recomputed_target_location_without_regions_is_in_the_report():
    factory = FakeFactory()
    parent(factory, [], status="Success", target_locations=[{"Accounts": [A]}])
    seen = []
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0, on_expected=seen.append)
    (record,) = result["locations"]
    assert (record["account"], record["region"]) == (A, "eu-west-1")
    assert record["targeted_by"][0]["region_defaulted"] is True
    assert seen[0]["locations"][0]["region"] == "eu-west-1"


def test_an_error_on_road_2_does_not_stop_road_3():
    factory = FakeFactory()
    member_id = member(factory, A, "eu-west-1", parent_field=None)
    factory.ssm(A, "eu-west-1").fail["describe_automation_executions"] = [
        client_error("ValidationException", "Filter ParentExecutionId not accepted")
    ]
    parent(
        factory,
        [{"StepName": "loc", "Action": "aws:executeAutomation", "StepStatus": "Success"}],
        target_locations=[{"Accounts": [A], "Regions": ["eu-west-1"]}],
    )
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    (record,) = result["locations"]
    assert record["member_execution_id"] == member_id
    assert record["member_road"] == roads.DOCUMENT_AND_TIME
    assert len(record["instances"]) == 1
    assert record["read_status"] == "ok" and record["read_error"] is None and "search_error" not in record
    assert record["member_roads_tried"] == [roads.PARENT_FILTER, roads.DOCUMENT_AND_TIME]
    (error,) = record["member_road_errors"]
    assert error["road"] == roads.PARENT_FILTER and error["error"]["code"] == "ValidationException"


def test_errors_on_every_road_are_reported_when_no_road_finds_the_member():
    factory = FakeFactory()
    factory.ssm(A, "eu-west-1").fail["describe_automation_executions"] = [
        client_error("AccessDeniedException", "not authorized 1"),
        client_error("AccessDeniedException", "not authorized 2"),
    ]
    parent(
        factory,
        [{"StepName": "loc", "Action": "aws:executeAutomation", "StepStatus": "Success"}],
        status="Failed",
        target_locations=[{"Accounts": [A], "Regions": ["eu-west-1"]}],
    )
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    (record,) = result["locations"]
    assert record["status"] == expected.NOT_REPORTED
    assert record["search_error"]["code"] == "AccessDeniedException"
    assert "parent_execution_filter: not authorized 1" in record["reason"]
    assert "document_and_start_time: not authorized 2" in record["reason"]
    assert [e["road"] for e in record["member_road_errors"]] == [roads.PARENT_FILTER, roads.DOCUMENT_AND_TIME]
