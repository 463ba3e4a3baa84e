"""stack_set.py: template normalisation, validation, planning, and the API sequence (botocore Stubber)."""

import copy
import json
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import ANY, Stubber

from ansible_collections.orgops.ssm_automation.plugins.module_utils import stack_set
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

REPO = Path(__file__).resolve().parents[2]
EXEC_TEMPLATE = (REPO / "roles" / "execution_roles" / "files" / "execution-role.yml").read_text()
REGIONS = frozenset(["eu-west-1", "ap-northeast-1", "us-east-1"])
OU_A = "ou-ab12-aaaaaaaa"
OU_B = "ou-ab12-bbbbbbbb"
OU_C = "ou-ab12-cccccccc"
PARAMS = {"AdminAccountId": "111111111111", "OrganizationID": "o-abcdefghij"}
NAME = "AWS-SystemsManager-AutomationExecutionRole"


def spec(**overrides):
    params = {
        "name": NAME,
        "state": "present",
        "template_body": EXEC_TEMPLATE,
        "parameters": dict(PARAMS),
        "capabilities": ["CAPABILITY_NAMED_IAM"],
        "permission_model": "SERVICE_MANAGED",
        "auto_deployment": {"enabled": True, "retain_stacks_on_account_removal": False},
        "deployment_targets": {
            "organizational_unit_ids": [OU_A, OU_B],
            "accounts": None,
            "account_filter_type": "NONE",
        },
        "regions": ["ap-northeast-1"],
        "call_as": "SELF",
        "purge_instances": False,
        "wait": True,
        "wait_timeout": 600,
        "poll_interval": 5,
    }
    params.update(overrides)
    return stack_set.validate_spec(params, known_regions=REGIONS)


def current(**overrides):
    raw = {
        "StackSetName": NAME,
        "StackSetId": NAME + ":1234",
        "StackSetARN": "arn:aws:cloudformation:us-east-1:111111111111:stackset/" + NAME + ":1234",
        "Status": "ACTIVE",
        "TemplateBody": EXEC_TEMPLATE,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMS.items()],
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Tags": [],
        "PermissionModel": "SERVICE_MANAGED",
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
        "OrganizationalUnitIds": [OU_A, OU_B],
        "Regions": ["ap-northeast-1"],
    }
    raw.update(overrides)
    return raw


def instance(account, ou, region="ap-northeast-1", status="CURRENT"):
    return {
        "StackSetId": NAME + ":1234",
        "Account": account,
        "Region": region,
        "OrganizationalUnitId": ou,
        "Status": status,
        "StackInstanceStatus": {"DetailedStatus": "SUCCEEDED"},
    }


INSTANCES = [instance("222222222222", OU_A), instance("333333333333", OU_B), instance("444444444444", OU_B)]


# ---------------------------------------------------------------------------------------------------------------------
# templates


def test_yaml_and_json_forms_of_a_template_are_equal():
    as_yaml = stack_set.parse_template(EXEC_TEMPLATE)
    as_json = stack_set.parse_template(json.dumps(as_yaml, indent=4, sort_keys=True))
    assert as_yaml == as_json
    reordered = yaml.safe_dump(dict(reversed(list(as_yaml.items()))), default_flow_style=False)
    assert stack_set.parse_template(reordered) == as_yaml


def test_short_form_tags_and_unquoted_version_date():
    short = (
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Resources:\n  R:\n    Type: X\n    Properties:\n"
        "      A: !Ref P\n      B: !Sub 'x-${AWS::AccountId}'\n      C: !GetAtt R2.Arn\n"
    )
    long_form = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "R": {
                "Type": "X",
                "Properties": {
                    "A": {"Ref": "P"},
                    "B": {"Fn::Sub": "x-${AWS::AccountId}"},
                    "C": {"Fn::GetAtt": ["R2", "Arn"]},
                },
            }
        },
    }
    assert stack_set.parse_template(short) == long_form


@pytest.mark.parametrize("body", ["Resources: [unclosed", "just text", "{}", "Resources: 3"])
def test_bad_templates_name_the_option(body):
    with pytest.raises(InvalidInput) as err:
        stack_set.parse_template(body, "template")
    assert err.value.field == "template"


def test_template_parameters_defaults_and_no_echo():
    declared = stack_set.template_parameters(
        {
            "Parameters": {"A": {"Type": "String"}, "B": {"Default": 3}, "S": {"NoEcho": True, "Default": "x"}},
            "Resources": {},
        }
    )
    assert declared == {
        "A": {"default": None, "no_echo": False},
        "B": {"default": "3", "no_echo": False},
        "S": {"default": "x", "no_echo": True},
    }


# ---------------------------------------------------------------------------------------------------------------------
# validation: every bad option fails before any AWS call, naming the field


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "1-starts-with-digit"}, "name"),
        ({"name": "has_underscore"}, "name"),
        ({"execution_role_name": "AWSCloudFormationStackSetExecutionRole"}, "execution_role_name"),
        ({"administration_role_arn": "arn:aws:iam::111111111111:role/Admin"}, "administration_role_arn"),
        (
            {"parameters": {"AdminAccountId": "111111111111", "OrganizationID": "o-abcdefghij", "Extra": "1"}},
            "parameters.Extra",
        ),
        ({"parameters": {"AdminAccountId": "111111111111"}}, "parameters"),
        (
            {"deployment_targets": {"organizational_unit_ids": ["ou-bad"]}},
            "deployment_targets.organizational_unit_ids[0]",
        ),
        (
            {"deployment_targets": {"organizational_unit_ids": [OU_A, "o-abcdefghij"]}},
            "deployment_targets.organizational_unit_ids[1]",
        ),
        (
            {
                "deployment_targets": {
                    "organizational_unit_ids": [OU_A],
                    "accounts": ["12"],
                    "account_filter_type": "UNION",
                }
            },
            "deployment_targets.accounts[0]",
        ),
        (
            {"deployment_targets": {"organizational_unit_ids": [OU_A], "accounts": ["222222222222"]}},
            "deployment_targets.accounts",
        ),
        (
            {"deployment_targets": {"organizational_unit_ids": [OU_A], "account_filter_type": "DIFFERENCE"}},
            "deployment_targets.accounts",
        ),
        (
            {"deployment_targets": {"organizational_unit_ids": [OU_A], "account_filter_type": "SOME"}},
            "deployment_targets.account_filter_type",
        ),
        ({"regions": ["mars-north-1"]}, "regions[0]"),
        ({"regions": ["eu-west-1", "EU-WEST-1"]}, "regions[1]"),
        ({"regions": None}, "regions"),
        ({"deployment_targets": None}, "deployment_targets"),
        ({"capabilities": ["IAM"]}, "capabilities[0]"),
        ({"call_as": "ROOT"}, "call_as"),
        ({"permission_model": "SELF_MANAGED", "call_as": "DELEGATED_ADMIN"}, "call_as"),
        (
            {
                "permission_model": "SELF_MANAGED",
                "auto_deployment": {"enabled": True},
                "deployment_targets": None,
                "regions": None,
            },
            "auto_deployment",
        ),
        ({"permission_model": "SELF_MANAGED", "auto_deployment": None}, "deployment_targets.organizational_unit_ids"),
        (
            {"auto_deployment": {"enabled": False, "retain_stacks_on_account_removal": True}},
            "auto_deployment.retain_stacks_on_account_removal",
        ),
        (
            {"operation_preferences": {"failure_tolerance_count": 1, "failure_tolerance_percentage": 10}},
            "operation_preferences.failure_tolerance_count",
        ),
        (
            {"operation_preferences": {"max_concurrent_percentage": 0}},
            "operation_preferences.max_concurrent_percentage",
        ),
        (
            {"operation_preferences": {"max_concurrent_percentage": 101}},
            "operation_preferences.max_concurrent_percentage",
        ),
        ({"operation_preferences": {"max_concurrent_count": 0}}, "operation_preferences.max_concurrent_count"),
        ({"operation_preferences": {"failure_tolerance_count": -1}}, "operation_preferences.failure_tolerance_count"),
        (
            {"operation_preferences": {"region_order": ["ap-northeast-1", "nowhere"]}},
            "operation_preferences.region_order[1]",
        ),
        (
            {"operation_preferences": {"region_concurrency_type": "RANDOM"}},
            "operation_preferences.region_concurrency_type",
        ),
        ({"template_body": "Resources: [", "template_source": "template"}, "template"),
        ({"template_url": "http://bucket/template.yml"}, "template_url"),
        ({"wait_timeout": 0}, "wait_timeout"),
        ({"tags": {"aws:reserved": "x"}}, "tags"),
    ],
)
def test_bad_options_fail_naming_the_field(overrides, field):
    with pytest.raises(InvalidInput) as err:
        spec(**overrides)
    assert err.value.field == field, str(err.value)
    assert field.split("[")[0].split(".")[0] in str(err.value)


def test_service_managed_role_options_say_what_to_do():
    with pytest.raises(InvalidInput) as err:
        spec(execution_role_name="AWSCloudFormationStackSetExecutionRole")
    assert "SELF_MANAGED" in err.value.message


def test_self_managed_spec_is_accepted():
    s = spec(
        permission_model="SELF_MANAGED",
        auto_deployment=None,
        deployment_targets={"accounts": ["222222222222"]},
        administration_role_arn="arn:aws:iam::111111111111:role/AWSCloudFormationStackSetAdministrationRole",
        execution_role_name="AWSCloudFormationStackSetExecutionRole",
    )
    assert s["targets"]["accounts"] == ["222222222222"]
    assert s["execution_role_name"] == "AWSCloudFormationStackSetExecutionRole"


def test_parameter_values_become_text():
    s = spec(parameters={"AdminAccountId": 111111111111, "OrganizationID": "o-abcdefghij"})
    assert s["parameters"]["AdminAccountId"] == "111111111111"


# ---------------------------------------------------------------------------------------------------------------------
# planning


def cur(**overrides):
    return stack_set.stack_set_to_dict(current(**overrides))


def inst(raw=None):
    return [stack_set.instance_to_dict(i) for i in (INSTANCES if raw is None else raw)]


def test_nothing_to_do_when_everything_matches():
    assert stack_set.plan(spec(), cur(), inst()) == []


def test_formatting_of_the_template_does_not_count():
    reformatted = json.dumps(stack_set.parse_template(EXEC_TEMPLATE), sort_keys=True)
    assert stack_set.plan(spec(template_body=reformatted), cur(), inst()) == []


def test_create_when_absent():
    steps = stack_set.plan(spec(), None, [])
    assert [s["action"] for s in steps] == ["create_stack_set", "create_instances"]
    assert steps[1]["targets"] == [OU_A, OU_B]
    assert steps[1]["regions"] == ["ap-northeast-1"]


def test_creating_needs_a_template():
    with pytest.raises(InvalidInput) as err:
        stack_set.plan(spec(template_body=None, parameters=None), None, [])
    assert err.value.field == "template_body"


@pytest.mark.parametrize(
    ("overrides", "raw_overrides", "field"),
    [
        ({"parameters": {"AdminAccountId": "999999999999", "OrganizationID": "o-abcdefghij"}}, {}, "parameters"),
        ({"template_body": EXEC_TEMPLATE.replace("ec2:DescribeInstances", "ec2:DescribeTags")}, {}, "template"),
        ({"capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]}, {}, "capabilities"),
        ({"tags": {"team": "ops"}}, {}, "tags"),
        ({}, {"Tags": [{"Key": "stale", "Value": "x"}]}, None),
        ({"tags": {}}, {"Tags": [{"Key": "stale", "Value": "x"}]}, "tags"),
        ({"description": "new"}, {}, "description"),
        ({"auto_deployment": {"enabled": False}}, {}, "auto_deployment"),
        ({"auto_deployment": {"enabled": True, "retain_stacks_on_account_removal": True}}, {}, "auto_deployment"),
        ({"managed_execution": {"active": True}}, {}, "managed_execution"),
    ],
)
def test_update_only_on_real_differences(overrides, raw_overrides, field):
    steps = stack_set.plan(spec(**overrides), cur(**raw_overrides), inst())
    if field is None:
        assert steps == []
    else:
        assert steps == [{"action": "update_stack_set", "fields": [field]}]


def test_tags_without_purge_only_add():
    have = cur(Tags=[{"Key": "keep", "Value": "1"}])
    assert stack_set.plan(spec(tags={}, purge_tags=False), have, inst()) == []
    steps = stack_set.plan(spec(tags={"new": "2"}, purge_tags=False), have, inst())
    assert steps[0]["fields"] == ["tags"]
    request = stack_set._stack_set_request(spec(tags={"new": "2"}, purge_tags=False), have)
    assert request["Tags"] == [{"Key": "keep", "Value": "1"}, {"Key": "new", "Value": "2"}]


def test_parameter_left_at_its_default_is_no_difference():
    template = EXEC_TEMPLATE.replace("Parameters:\n", "Parameters:\n  Extra:\n    Type: String\n    Default: x\n", 1)
    have = cur(
        TemplateBody=template, Parameters=current()["Parameters"] + [{"ParameterKey": "Extra", "ParameterValue": "x"}]
    )
    assert stack_set.plan(spec(template_body=template), have, inst()) == []
    steps = stack_set.plan(spec(template_body=template, parameters=dict(PARAMS, Extra="y")), have, inst())
    assert steps == [{"action": "update_stack_set", "fields": ["parameters"]}]


def test_new_ou_gets_instances_and_old_ones_are_untouched():
    steps = stack_set.plan(spec(deployment_targets={"organizational_unit_ids": [OU_A, OU_B, OU_C]}), cur(), inst())
    assert steps == [{"action": "create_instances", "targets": [OU_C], "regions": ["ap-northeast-1"], "service": True}]


def test_new_region_for_every_ou_is_one_operation():
    steps = stack_set.plan(spec(regions=["ap-northeast-1", "eu-west-1"]), cur(), inst())
    assert steps == [{"action": "create_instances", "targets": [OU_A, OU_B], "regions": ["eu-west-1"], "service": True}]


def test_empty_ou_recorded_by_aws_is_not_redeployed():
    have = cur(OrganizationalUnitIds=[OU_A, OU_B, OU_C])
    assert stack_set.plan(spec(deployment_targets={"organizational_unit_ids": [OU_A, OU_B, OU_C]}), have, inst()) == []


def test_dropped_ou_is_kept_without_purge_and_deleted_by_ou_with_it():
    wanted = {"organizational_unit_ids": [OU_A]}
    assert stack_set.plan(spec(deployment_targets=wanted), cur(), inst()) == []
    steps = stack_set.plan(spec(deployment_targets=wanted, purge_instances=True), cur(), inst())
    assert steps == [{"action": "delete_instances", "targets": [OU_B], "regions": ["ap-northeast-1"], "service": True}]
    request = stack_set._deployment_targets(spec(), steps[0])
    assert request == {"DeploymentTargets": {"OrganizationalUnitIds": [OU_B]}}


def test_dropped_region_with_purge():
    two = inst(INSTANCES + [instance("222222222222", OU_A, "eu-west-1")])
    steps = stack_set.plan(spec(purge_instances=True), cur(Regions=["ap-northeast-1", "eu-west-1"]), two)
    deletes = [s for s in steps if s["action"] == "delete_instances"]
    assert deletes == [
        {"action": "delete_instances", "targets": [OU_A, OU_B], "regions": ["eu-west-1"], "service": True}
    ]


def test_no_targets_option_leaves_instances_alone():
    assert stack_set.plan(spec(deployment_targets=None, regions=None, purge_instances=True), cur(), inst()) == []


def test_absent_deletes_instances_by_ou_then_the_stack_set():
    steps = stack_set.plan(spec(state="absent"), cur(), inst())
    assert steps == [
        {"action": "delete_instances", "targets": [OU_A, OU_B], "regions": ["ap-northeast-1"], "service": True},
        {"action": "delete_stack_set"},
    ]
    assert stack_set.plan(spec(state="absent"), None, []) == []


def test_self_managed_targets_are_accounts():
    s = spec(
        permission_model="SELF_MANAGED",
        auto_deployment=None,
        deployment_targets={"accounts": ["222222222222", "555555555555"]},
    )
    have = cur(PermissionModel="SELF_MANAGED", AutoDeployment=None, OrganizationalUnitIds=[])
    steps = stack_set.plan(s, have, inst([instance("222222222222", None)]))
    assert steps == [
        {"action": "create_instances", "targets": ["555555555555"], "regions": ["ap-northeast-1"], "service": False}
    ]
    assert stack_set._deployment_targets(s, steps[0]) == {"Accounts": ["555555555555"]}


def test_diff_shows_template_parameters_and_targets():
    new = spec(
        template_body=EXEC_TEMPLATE.replace("ec2:DescribeInstances", "ec2:DescribeTags"),
        deployment_targets={"organizational_unit_ids": [OU_A, OU_C]},
        purge_instances=True,
    )
    steps = stack_set.plan(new, cur(), inst())
    diff = stack_set.build_diff(new, cur(), inst(), steps)
    assert "ec2:DescribeInstances" in diff["before"]["template"]
    assert "ec2:DescribeTags" in diff["after"]["template"]
    assert diff["before"]["targets"] == {OU_A: ["ap-northeast-1"], OU_B: ["ap-northeast-1"]}
    assert diff["after"]["targets"] == {OU_A: ["ap-northeast-1"], OU_C: ["ap-northeast-1"]}
    assert diff["after"]["parameters"] == PARAMS


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
