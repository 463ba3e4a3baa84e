"""_stack_set/apply.py and reads.py: the API sequence against botocore's Stubber."""

import copy

import boto3
import pytest
from botocore.stub import ANY, Stubber
from support.stack_sets import (
    EXEC_TEMPLATE,
    INSTANCES,
    NAME,
    OU_A,
    OU_B,
    OU_C,
    PARAMS,
    current,
    spec,
)

from ansible_collections.orgops.ssm_automation.plugins.module_utils import stack_set

# ---------------------------------------------------------------------------------------------------------------------
# applying, against botocore's Stubber (every call and its order are checked; an unexpected call fails)


class FakeClock:
    """Time that moves only when the code under test sleeps: no real waiting, deterministic timeouts."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def cfn():
    client = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def stub_reads(stubber, raw, instances):
    if raw is None:
        stubber.add_client_error(
            "describe_stack_set",
            "StackSetNotFoundException",
            "StackSet not found",
            404,
            expected_params={"StackSetName": NAME},
        )
        return
    stubber.add_response("describe_stack_set", {"StackSet": raw}, {"StackSetName": NAME})
    stubber.add_response("list_stack_instances", {"Summaries": instances}, {"StackSetName": NAME})


def stub_operation(stubber, op_id, statuses, action="CREATE"):
    for status in statuses:
        stubber.add_response(
            "describe_stack_set_operation",
            {"StackSetOperation": {"OperationId": op_id, "Action": action, "Status": status}},
            {"StackSetName": NAME, "OperationId": op_id},
        )


def test_up_to_date_makes_only_two_reads(cfn):
    client, stubber = cfn
    stub_reads(stubber, current(), INSTANCES)
    result = stack_set.ensure(client, spec())
    assert result["changed"] is False
    assert result["operations"] == []
    assert [i["organizational_unit_id"] for i in result["instances"]] == [OU_A, OU_B, OU_B]


def test_check_mode_reports_and_writes_nothing(cfn):
    client, stubber = cfn
    stub_reads(stubber, None, [])
    result = stack_set.ensure(client, spec(), check_mode=True)
    assert result["changed"] is True
    assert [(o["action"], o["status"]) for o in result["operations"]] == [
        ("CREATE_STACK_SET", "PLANNED"),
        ("CREATE", "PLANNED"),
    ]
    assert result["stack_set"] is None
    assert result["diff"]["after"]["targets"] == {OU_A: ["ap-northeast-1"], OU_B: ["ap-northeast-1"]}


def test_create_waits_for_the_instances_operation(cfn):
    client, stubber = cfn
    clock = FakeClock()
    stub_reads(stubber, None, [])
    stubber.add_response(
        "create_stack_set",
        {"StackSetId": NAME + ":1234"},
        {
            "StackSetName": NAME,
            "TemplateBody": EXEC_TEMPLATE,
            "Parameters": [
                {"ParameterKey": "AdminAccountId", "ParameterValue": "111111111111"},
                {"ParameterKey": "OrganizationID", "ParameterValue": "o-abcdefghij"},
            ],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "PermissionModel": "SERVICE_MANAGED",
            "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
            "ClientRequestToken": ANY,
        },
    )
    stubber.add_response(
        "create_stack_instances",
        {"OperationId": "op-1"},
        {
            "StackSetName": NAME,
            "DeploymentTargets": {"OrganizationalUnitIds": [OU_A, OU_B]},
            "Regions": ["ap-northeast-1"],
            "OperationId": ANY,
        },
    )
    stub_operation(stubber, "op-1", ["RUNNING", "RUNNING", "SUCCEEDED"])
    stub_reads(stubber, current(), INSTANCES)
    result = stack_set.ensure(client, spec(), sleep=clock.sleep, clock=clock)
    assert result["changed"] is True
    assert result["failed"] is False
    assert [(o["action"], o["status"]) for o in result["operations"]] == [
        ("CREATE_STACK_SET", "SUCCEEDED"),
        ("CREATE", "SUCCEEDED"),
    ]
    assert result["operations"][1]["operation_id"] == "op-1"
    assert result["operations"][1]["targets"] == [OU_A, OU_B]
    assert clock.sleeps == [5, 5]
    assert len(result["instances"]) == 3


def test_operation_in_progress_is_waited_for_then_retried(cfn):
    client, stubber = cfn
    clock = FakeClock()
    stub_reads(stubber, current(), INSTANCES)
    stubber.add_client_error("create_stack_instances", "OperationInProgressException", "Another operation runs", 409)
    stubber.add_response(
        "list_stack_set_operations",
        {
            "Summaries": [
                {"OperationId": "theirs", "Action": "UPDATE", "Status": "RUNNING"},
                {"OperationId": "old", "Status": "SUCCEEDED"},
            ]
        },
        {"StackSetName": NAME},
    )
    stub_operation(stubber, "theirs", ["RUNNING", "SUCCEEDED"], action="UPDATE")
    stubber.add_response("create_stack_instances", {"OperationId": "mine"}, None)
    stub_operation(stubber, "mine", ["SUCCEEDED"])
    stub_reads(stubber, current(OrganizationalUnitIds=[OU_A, OU_B, OU_C]), INSTANCES)
    result = stack_set.ensure(
        client, spec(deployment_targets={"organizational_unit_ids": [OU_A, OU_B, OU_C]}), sleep=clock.sleep, clock=clock
    )
    assert result["failed"] is False
    # only our operation is reported; theirs was waited for
    assert [(o["operation_id"], o["status"]) for o in result["operations"]] == [("mine", "SUCCEEDED")]


def test_failed_operation_reports_every_account_and_fails(cfn):
    client, stubber = cfn
    clock = FakeClock()
    stub_reads(stubber, current(), INSTANCES)
    stubber.add_response("create_stack_instances", {"OperationId": "op-2"}, None)
    stub_operation(stubber, "op-2", ["FAILED"])
    stubber.add_response(
        "list_stack_set_operation_results",
        {
            "Summaries": [
                {
                    "Account": "555555555555",
                    "Region": "ap-northeast-1",
                    "Status": "FAILED",
                    "StatusReason": "Role already exists",
                    "OrganizationalUnitId": OU_C,
                },
            ],
            "NextToken": "page2",
        },
        {"StackSetName": NAME, "OperationId": "op-2"},
    )
    stubber.add_response(
        "list_stack_set_operation_results",
        {
            "Summaries": [
                {
                    "Account": "666666666666",
                    "Region": "ap-northeast-1",
                    "Status": "SUCCEEDED",
                    "OrganizationalUnitId": OU_C,
                },
                {
                    "Account": "777777777777",
                    "Region": "ap-northeast-1",
                    "Status": "CANCELLED",
                    "StatusReason": "Cancelled since failure tolerance has exceeded",
                    "OrganizationalUnitId": OU_C,
                },
            ]
        },
        {"StackSetName": NAME, "OperationId": "op-2", "NextToken": "page2"},
    )
    stub_reads(stubber, current(), INSTANCES)
    result = stack_set.ensure(
        client, spec(deployment_targets={"organizational_unit_ids": [OU_A, OU_B, OU_C]}), sleep=clock.sleep, clock=clock
    )
    assert result["failed"] is True
    failures = result["operations"][0]["failures"]
    assert [(f["account"], f["status"]) for f in failures] == [
        ("555555555555", "FAILED"),
        ("777777777777", "CANCELLED"),
    ]
    assert "Role already exists" in result["msg"]


def test_timeout_stops_with_what_was_done(cfn):
    client, stubber = cfn
    clock = FakeClock()
    stub_reads(stubber, current(), INSTANCES)
    stubber.add_response("create_stack_instances", {"OperationId": "slow"}, None)
    stub_operation(stubber, "slow", ["RUNNING"] * 3)
    with pytest.raises(stack_set.StackSetError) as err:
        stack_set.ensure(
            client,
            spec(deployment_targets={"organizational_unit_ids": [OU_A, OU_B, OU_C]}, wait_timeout=10),
            sleep=clock.sleep,
            clock=clock,
        )
    assert "Timed out" in err.value.message
    assert err.value.operations[0]["operation_id"] == "slow"
    assert err.value.operations[0]["timed_out"] is True


def test_no_wait_returns_the_running_operation(cfn):
    client, stubber = cfn
    stub_reads(stubber, current(), INSTANCES)
    stubber.add_response("create_stack_instances", {"OperationId": "bg"}, None)
    stub_operation(stubber, "bg", ["RUNNING"])
    stub_reads(stubber, current(), INSTANCES)
    result = stack_set.ensure(
        client, spec(deployment_targets={"organizational_unit_ids": [OU_A, OU_B, OU_C]}, wait=False)
    )
    assert result["failed"] is False
    assert result["operations"][0]["status"] == "RUNNING"
    assert result["operations"][0]["timed_out"] is False


def test_update_then_purge_in_order(cfn):
    client, stubber = cfn
    clock = FakeClock()
    stub_reads(stubber, current(), INSTANCES)
    stubber.add_response(
        "update_stack_set",
        {"OperationId": "u1"},
        {
            "StackSetName": NAME,
            "TemplateBody": EXEC_TEMPLATE,
            "Parameters": [
                {"ParameterKey": "AdminAccountId", "ParameterValue": "999999999999"},
                {"ParameterKey": "OrganizationID", "ParameterValue": "o-abcdefghij"},
            ],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
            "OperationId": ANY,
        },
    )
    stub_operation(stubber, "u1", ["SUCCEEDED"], action="UPDATE")
    stubber.add_response(
        "delete_stack_instances",
        {"OperationId": "d1"},
        {
            "StackSetName": NAME,
            "DeploymentTargets": {"OrganizationalUnitIds": [OU_B]},
            "Regions": ["ap-northeast-1"],
            "RetainStacks": False,
            "OperationId": ANY,
        },
    )
    stub_operation(stubber, "d1", ["SUCCEEDED"], action="DELETE")
    stub_reads(stubber, current(OrganizationalUnitIds=[OU_A]), INSTANCES[:1])
    result = stack_set.ensure(
        client,
        spec(
            parameters={"AdminAccountId": "999999999999", "OrganizationID": "o-abcdefghij"},
            deployment_targets={"organizational_unit_ids": [OU_A]},
            purge_instances=True,
        ),
        sleep=clock.sleep,
        clock=clock,
    )
    assert [(o["action"], o["status"]) for o in result["operations"]] == [
        ("UPDATE", "SUCCEEDED"),
        ("DELETE", "SUCCEEDED"),
    ]
    assert result["operations"][0]["fields"] == ["parameters"]


def test_absent_deletes_everything(cfn):
    client, stubber = cfn
    clock = FakeClock()
    stub_reads(stubber, current(), INSTANCES)
    stubber.add_response("delete_stack_instances", {"OperationId": "d"}, None)
    stub_operation(stubber, "d", ["SUCCEEDED"], action="DELETE")
    stubber.add_response("delete_stack_set", {}, {"StackSetName": NAME})
    stub_reads(stubber, None, [])
    result = stack_set.ensure(client, spec(state="absent"), sleep=clock.sleep, clock=clock)
    assert result["changed"] is True
    assert result["stack_set"] is None
    assert [o["action"] for o in result["operations"]] == ["DELETE", "DELETE_STACK_SET"]


def test_delegated_admin_passes_call_as_everywhere(cfn):
    client, stubber = cfn
    stubber.add_response(
        "describe_stack_set", {"StackSet": current()}, {"StackSetName": NAME, "CallAs": "DELEGATED_ADMIN"}
    )
    stubber.add_response(
        "list_stack_instances", {"Summaries": INSTANCES}, {"StackSetName": NAME, "CallAs": "DELEGATED_ADMIN"}
    )
    result = stack_set.ensure(client, spec(call_as="DELEGATED_ADMIN"))
    assert result["changed"] is False


def test_list_stack_instances_paginates_and_is_snake_case(cfn):
    client, stubber = cfn
    stubber.add_response("list_stack_instances", {"Summaries": INSTANCES[:1], "NextToken": "t"}, {"StackSetName": NAME})
    stubber.add_response("list_stack_instances", {"Summaries": INSTANCES[1:]}, {"StackSetName": NAME, "NextToken": "t"})
    instances = stack_set.list_stack_instances(client, NAME)
    assert len(instances) == 3
    assert set(instances[0]) >= {
        "account",
        "region",
        "organizational_unit_id",
        "status",
        "status_reason",
        "detailed_status",
    }
    assert instances[0]["detailed_status"] == "SUCCEEDED"


def test_describe_stack_set_none_when_absent(cfn):
    client, stubber = cfn
    stub_reads(stubber, None, [])
    assert stack_set.describe_stack_set(client, NAME) is None


def test_describe_stack_set_is_snake_case():
    described = stack_set.stack_set_to_dict(copy.deepcopy(current(Tags=[{"Key": "a", "Value": "b"}])))
    assert described["parameters"] == PARAMS
    assert described["tags"] == {"a": "b"}
    assert described["auto_deployment"] == {"enabled": True, "retain_stacks_on_account_removal": False}
    assert described["organizational_unit_ids"] == [OU_A, OU_B]
