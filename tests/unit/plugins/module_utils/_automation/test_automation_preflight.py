"""_automation/preflight.py: which accounts each location reaches, and which lack the execution role."""

import datetime

import boto3
import yaml
from botocore.stub import Stubber
from moto import mock_aws
from support.automation import MGMT, REPO

from ansible_collections.orgops.ssm_automation.plugins.module_utils import automation, organization

# --- preflight -------------------------------------------------------------------------------------------

TREE = {
    "root_id": "r-ab12",
    "ous": {
        "ou-ab12-workload": {"name": "Workloads", "parent_id": "r-ab12"},
        "ou-ab12-prod0000": {"name": "Prod", "parent_id": "ou-ab12-workload"},
        "ou-ab12-payments": {"name": "Payments", "parent_id": "ou-ab12-prod0000"},
    },
    "accounts": {
        MGMT: {"name": "mgmt", "status": "ACTIVE", "parent_id": "r-ab12"},
        "222222222222": {"name": "a", "status": "ACTIVE", "parent_id": "ou-ab12-workload"},
        "333333333333": {"name": "b", "status": "ACTIVE", "parent_id": "ou-ab12-prod0000"},
        "444444444444": {"name": "c", "status": "ACTIVE", "parent_id": "ou-ab12-payments"},
        "555555555555": {"name": "d", "status": "SUSPENDED", "parent_id": "ou-ab12-payments"},
    },
}
INSTANCES = [
    {"account": a, "region": "ap-northeast-1", "status": "CURRENT"}
    for a in ("222222222222", "333333333333", "444444444444", "555555555555")
]


def loc(targets, include=True, exclude=()):
    return {
        "accounts": list(targets),
        "regions": ["ap-northeast-1"],
        "include_child_ous": include,
        "exclude_accounts": list(exclude),
        "execution_role_name": automation.DEFAULT_EXECUTION_ROLE,
    }


def evaluate(locations, instances=INSTANCES, mgmt_stack=False):
    return automation.evaluate_preflight(TREE, locations, instances, MGMT, mgmt_stack, organization.resolve_accounts)


def test_preflight_resolves_nested_ous_and_excludes():
    result = evaluate([loc(["ou-ab12-workload"], exclude=["555555555555"])])
    assert result["ok"], result["message"]
    assert result["locations"][0]["accounts"] == ["222222222222", "333333333333", "444444444444"]


def test_preflight_without_children():
    result = evaluate([loc(["ou-ab12-workload"], include=False)])
    assert result["accounts"] == ["222222222222"]


def test_preflight_root_without_management_stack_lists_the_management_account():
    result = evaluate([loc(["r-ab12"], exclude=["555555555555"])])
    assert not result["ok"]
    assert result["missing_role"] == [MGMT]
    assert result["message"].startswith(
        "accounts without AWS-SystemsManager-AutomationExecutionRole: 111111111111 (the management account: the role is "
        "not there; deploy it with include_management_account"
    )
    assert evaluate([loc(["r-ab12"], exclude=["555555555555"])], mgmt_stack=True)["ok"]


def test_preflight_lists_member_accounts_without_a_current_instance():
    instances = [dict(i, status="OUTDATED") if i["account"] == "333333333333" else i for i in INSTANCES]
    result = evaluate([loc(["ou-ab12-workload"], exclude=["555555555555"])], instances=instances)
    assert result["missing_role"] == ["333333333333"]
    assert (
        "333333333333 (no CURRENT instance of StackSet AWS-SystemsManager-AutomationExecutionRole)" in result["message"]
    )


def test_preflight_unknown_targets_and_inactive_accounts():
    result = evaluate([loc(["ou-ab12-zzzzzzzz", "999999999999", "ou-ab12-payments"])])
    assert not result["ok"]
    assert {u["value"] for u in result["unknown_targets"]} == {"ou-ab12-zzzzzzzz", "999999999999"}
    assert result["inactive_accounts"] == ["555555555555"]
    assert "target_locations[0].accounts[0]" in result["message"]


def test_stack_exists():
    cfn = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {"StackName": "s", "CreationTime": datetime.datetime(2024, 1, 1), "StackStatus": "UPDATE_COMPLETE"}
                ]
            },
        )
        stub.add_client_error(
            "describe_stacks", service_error_code="ValidationError", service_message="Stack with id s does not exist"
        )
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "s",
                        "CreationTime": datetime.datetime(2024, 1, 1),
                        "StackStatus": "ROLLBACK_COMPLETE",
                    }
                ]
            },
        )
        assert automation.stack_exists(cfn, "s") is True
        assert automation.stack_exists(cfn, "s") is False
        assert automation.stack_exists(cfn, "s") is False


# --- where the roles are (IAM is global; a StackSet lives in the region it was created in) ---------------------


class _Cfn:
    """A CloudFormation client of one region holding (or not) the StackSet, as botocore answers."""

    def __init__(self, region, instances=None, unreadable=False):
        self.region, self.instances, self.unreadable, self.calls = region, instances, unreadable, []

    def _error(self, code, message):
        from botocore.exceptions import ClientError

        return ClientError({"Error": {"Code": code, "Message": message}}, "ListStackInstances")

    def list_stack_instances(self, **kwargs):
        self.calls.append("list_stack_instances")
        if self.unreadable:
            raise self._error("InvalidClientTokenId", "The security token included in the request is invalid.")
        if self.instances is None:
            raise self._error("StackSetNotFoundException", "StackSet %s not found" % kwargs["StackSetName"])
        return {
            "Summaries": [{"Account": a, "Region": r, "Status": "CURRENT"} for a, r in self.instances],
        }


def test_the_stack_set_is_found_in_another_region_than_the_runs():
    # the roles were deployed from eu-west-1; the run starts in ap-northeast-1
    clients = {
        "ap-northeast-1": _Cfn("ap-northeast-1"),
        "eu-west-1": _Cfn("eu-west-1", [(a, "eu-west-1") for a in ("222222222222", "333333333333")]),
        "me-south-1": _Cfn("me-south-1", unreadable=True),
        "us-east-1": _Cfn("us-east-1"),
    }
    regions = [["ap-northeast-1"], ["eu-west-1", "me-south-1", "us-east-1"]]
    found = automation.find_stack_set(clients.__getitem__, regions, automation.DEFAULT_EXECUTION_STACK_SET)
    assert found["regions"] == ["eu-west-1"]
    assert sorted(i["account"] for i in found["instances"]) == ["222222222222", "333333333333"]
    assert found["unreadable"]["me-south-1"]["code"] == "InvalidClientTokenId"
    result = evaluate(
        [loc(["ou-ab12-workload"], exclude=["444444444444", "555555555555"])], instances=found["instances"]
    )
    assert result["ok"], result["message"]


def test_the_others_are_searched_only_when_the_preferred_regions_have_no_stack_set():
    here = _Cfn("ap-northeast-1", [("222222222222", "ap-northeast-1")])
    elsewhere = _Cfn("eu-west-1", [("333333333333", "eu-west-1")])
    clients = {"ap-northeast-1": here, "eu-west-1": elsewhere}
    found = automation.find_stack_set(clients.__getitem__, [["ap-northeast-1"], ["eu-west-1"]], "X")
    assert found["regions"] == ["ap-northeast-1"] and elsewhere.calls == []


def test_search_regions_puts_the_run_and_location_regions_first():
    preferred, others = automation.search_regions("ap-northeast-1", [{"regions": ["eu-west-1", "ap-northeast-1"]}])
    assert preferred == ["ap-northeast-1", "eu-west-1"]
    assert "us-east-1" in others and not set(preferred) & set(others)


def test_a_missing_stack_set_is_named_as_found_nowhere():
    result = automation.evaluate_preflight(
        TREE, [loc(["ou-ab12-payments"])], [], MGMT, False, organization.resolve_accounts, stack_set_regions=[]
    )
    assert "StackSet AWS-SystemsManager-AutomationExecutionRole was found in no region" in result["message"]


# --- the assume role may assume each location's execution role (issue 14 item 5) ---------------------------------


ADMIN_TEMPLATE = (REPO / "roles" / "execution_roles" / "files" / "admin-role.yml").read_text()


def _admin_role_as_the_template_makes_it(iam, execution_role_name=None):
    """The admin role with the inline policy admin-role.yml creates (its Fn::Sub resolved as CloudFormation does);
    ``execution_role_name`` stands for an admin role whose policy was changed to allow another name."""
    import json

    template = yaml.safe_load(ADMIN_TEMPLATE.replace("Fn::Sub:", "Sub:"))
    role = template["Resources"]["MasterAccountRole"]["Properties"]
    policy = role["Policies"][0]
    for statement in policy["PolicyDocument"]["Statement"]:
        if isinstance(statement["Resource"], dict):
            statement["Resource"] = statement["Resource"]["Sub"].replace("${AWS::Partition}", "aws")
            if execution_role_name:
                statement["Resource"] = statement["Resource"].replace(
                    automation.DEFAULT_EXECUTION_ROLE, execution_role_name
                )
    iam.create_role(RoleName=role["RoleName"], AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}))
    iam.put_role_policy(
        RoleName=role["RoleName"], PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
    )
    return "arn:aws:iam::123456789012:role/%s" % role["RoleName"]


def _custom(name):
    return dict(loc(["ou-ab12-payments"]), execution_role_name=name)


def test_a_custom_execution_role_name_the_admin_role_may_not_assume_is_refused():
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        admin = _admin_role_as_the_template_makes_it(iam)
        assert automation.check_assume_role(iam, admin, [loc(["ou-ab12-payments"])], {0: ["444444444444"]}) == []
        problems = automation.check_assume_role(iam, admin, [_custom("MyExecRole")], {0: ["444444444444"]})
        assert len(problems) == 1
        assert problems[0].startswith("target_locations[0].execution_role_name: MyExecRole may not be assumed by")
        assert "allows sts:AssumeRole on role/MyExecRole" in problems[0]


def test_an_admin_role_allowed_the_custom_name_may_assume_it():
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        admin = _admin_role_as_the_template_makes_it(iam, "MyExecRole")
        assert automation.check_assume_role(iam, admin, [_custom("MyExecRole")], {0: ["444444444444"]}) == []
        missing = automation.check_assume_role(iam, admin.replace("Administration", "Nope"), [_custom("X")], {})
        assert "does not exist in the management account" in missing[0]


def test_the_management_accounts_role_is_read_from_iam():
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        assert automation.find_role(iam, automation.DEFAULT_EXECUTION_ROLE) is None
        iam.create_role(
            RoleName=automation.DEFAULT_EXECUTION_ROLE,
            AssumeRolePolicyDocument="{}",
            Tags=[{"Key": "aws:cloudformation:stack-name", "Value": "seed-exec-role"}],
        )
        found = automation.find_role(iam, automation.DEFAULT_EXECUTION_ROLE)
        assert found["stack"] == "seed-exec-role" and found["arn"].endswith(
            ":role/" + automation.DEFAULT_EXECUTION_ROLE
        )
