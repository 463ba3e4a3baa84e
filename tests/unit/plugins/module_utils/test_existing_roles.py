"""existing_roles: the roles execution_roles would create that exist already under another owner (issue 14, item 7).

The AWS clients here are fakes that answer with AWS's documented shapes and errors (IAM GetRole, CloudFormation
DescribeStackResources, ListStackSets, DescribeStackSet, ListStackInstances); the collection's code is real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from ansible_collections.orgops.ssm_automation.plugins.module_utils import existing_roles, validation

REPO = Path(__file__).resolve().parents[4]
FILES = REPO / "roles" / "execution_roles" / "files"
ADMIN_T = (FILES / "admin-role.yml").read_text()
EXEC_T = (FILES / "execution-role.yml").read_text()
READER_T = (FILES / "reader-role.yml").read_text()
MGMT = "111122223333"
ADMIN = "AWS-SystemsManager-AutomationAdministrationRole"
EXEC = "AWS-SystemsManager-AutomationExecutionRole"
READER = "AWS-SystemsManager-AutomationResultsReaderRole"
VARS = {
    "region": "execution_roles_region",
    "regions": "execution_roles_regions",
    "on_existing": "execution_roles_existing_roles",
    "skip": "check_os_deploy_roles: false",
}


def _error(code, message, op):
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


class FakeIam:
    def __init__(self, roles=None, denied=False):
        self.roles = roles or {}
        self.denied = denied

    def get_role(self, RoleName):  # noqa: N803 - boto3's argument names
        if self.denied:
            raise _error("AccessDenied", "not authorized to perform: iam:GetRole", "GetRole")
        if RoleName not in self.roles:
            raise _error("NoSuchEntity", "The role with name %s cannot be found." % RoleName, "GetRole")
        return {
            "Role": dict(
                {"RoleName": RoleName, "Arn": "arn:aws:iam::%s:role/%s" % (MGMT, RoleName)}, **self.roles[RoleName]
            )
        }


class FakeCfn:
    """One region's CloudFormation: ``stacks`` {name: {physical ids}}, ``sets`` {name: (template, params, instances)}."""

    def __init__(self, region, stacks=None, sets=None, denied=False):
        self.region, self.stacks, self.sets, self.denied = region, stacks or {}, sets or {}, denied
        self.calls = []

    def describe_stack_resources(self, PhysicalResourceId):  # noqa: N803
        self.calls.append("DescribeStackResources")
        if self.denied:
            raise _error("AccessDenied", "denied", "DescribeStackResources")
        for name, physical in self.stacks.items():
            if PhysicalResourceId in physical:
                return {
                    "StackResources": [
                        {
                            "StackName": name,
                            "StackId": "arn:aws:cloudformation:%s:%s:stack/%s/1" % (self.region, MGMT, name),
                            "LogicalResourceId": "Role",
                            "PhysicalResourceId": p,
                            "ResourceType": "AWS::IAM::Role",
                            "ResourceStatus": "CREATE_COMPLETE",
                        }
                        for p in physical
                    ]
                }
        raise _error("ValidationError", "Stack for %s does not exist" % PhysicalResourceId, "DescribeStackResources")

    def list_stack_sets(self, **kwargs):
        self.calls.append("ListStackSets")
        if self.denied:
            raise _error("AccessDenied", "denied", "ListStackSets")
        return {"Summaries": [{"StackSetName": n, "Status": "ACTIVE"} for n in self.sets]}

    def describe_stack_set(self, StackSetName, **kwargs):  # noqa: N803
        template, params, _instances, ous = self.sets[StackSetName]
        return {
            "StackSet": {
                "StackSetName": StackSetName,
                "Status": "ACTIVE",
                "TemplateBody": template,
                "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
                "PermissionModel": "SERVICE_MANAGED",
                "OrganizationalUnitIds": ous,
            }
        }

    def list_stack_instances(self, StackSetName, **kwargs):  # noqa: N803
        return {"Summaries": [{"Account": a, "Region": r, "Status": "CURRENT"} for a, r in self.sets[StackSetName][2]]}


def _clients(*fakes):
    by_region = {f.region: f for f in fakes}
    return by_region.__getitem__


STACKS = [{"name": ADMIN, "roles": [ADMIN], "name_variable": "execution_roles_admin_stack_name"}]
SETS = [{"name": EXEC, "roles": [EXEC], "name_variable": "execution_roles_execution_stack_set_name"}]
REGIONS = ["ap-northeast-1", "eu-west-1"]
PARAMS = {"AdminAccountId": MGMT, "OrganizationID": "o-o2pkexample"}


# --- the templates' fixed role names ------------------------------------------------------------------------------
def test_the_role_templates_name_their_roles():
    assert existing_roles.fixed_role_names(ADMIN_T) == [ADMIN]
    assert existing_roles.fixed_role_names(EXEC_T, PARAMS) == [EXEC]
    assert existing_roles.fixed_role_names(READER_T) == [READER]  # RoleName: !Ref RoleName, its Default
    assert existing_roles.fixed_role_names(READER_T, {"RoleName": "MyReader"}) == ["MyReader"]


def test_json_templates_and_region_dependent_or_unnamed_roles():
    template = {
        "Resources": {
            "Fixed": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "fixed"}},
            "PerRegion": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Fn::Sub": "r-${AWS::Region}"}}},
            "Generated": {"Type": "AWS::IAM::Role", "Properties": {}},
            "User": {"Type": "AWS::IAM::User", "Properties": {"UserName": "u"}},
        }
    }
    assert existing_roles.fixed_role_names(json.dumps(template)) == ["fixed"]
    with pytest.raises(validation.InvalidInput) as info:
        existing_roles.fixed_role_names("[1, 2", field="stacks[0].template_body")
    assert info.value.field == "stacks[0].template_body"


# --- management account --------------------------------------------------------------------------------------------
def test_absent_role_or_our_own_stack_is_no_conflict():
    tokyo = FakeCfn("ap-northeast-1", stacks={ADMIN: {ADMIN}})
    assert existing_roles.management_conflicts(FakeIam(), _clients(tokyo), STACKS, "ap-northeast-1", REGIONS) == (
        [],
        {},
    )
    assert tokyo.calls == []  # no role: no owner to look for
    found, _unread = existing_roles.management_conflicts(
        FakeIam({ADMIN: {}}), _clients(tokyo), STACKS, "ap-northeast-1", REGIONS
    )
    assert found == [] and tokyo.calls == ["DescribeStackResources"]


def test_our_stack_name_in_another_region_is_found_there_and_named():
    tokyo, ireland = FakeCfn("ap-northeast-1"), FakeCfn("eu-west-1", stacks={ADMIN: {ADMIN}})
    [conflict], unreadable = existing_roles.management_conflicts(
        FakeIam({ADMIN: {}}), _clients(tokyo, ireland), STACKS, "ap-northeast-1", REGIONS
    )
    assert unreadable == {}
    assert conflict["owner"]["stack_name"] == ADMIN and conflict["owner"]["region"] == "eu-west-1"
    assert conflict["accounts"] == [MGMT]
    verdict = existing_roles.decide([conflict], "fail", VARS)
    assert not verdict["ok"]
    message = verdict["message"]
    assert message.startswith("1 existing role conflict before any change: the IAM role %s already exists" % ADMIN)
    assert "made by the stack %s in eu-west-1" % ADMIN in message
    assert "EntityAlreadyExists" in message
    assert verdict["conflicts"][0]["fixes"][0] == "execution_roles_region: eu-west-1 (manage that stack where it is)"
    assert "execution_roles_existing_roles: use" in message and "check_os_deploy_roles: false" in message


def test_another_stack_in_the_same_or_another_region():
    tokyo = FakeCfn("ap-northeast-1", stacks={"seed-admin": {ADMIN}})
    [same], _unread = existing_roles.management_conflicts(
        FakeIam({ADMIN: {}}), _clients(tokyo), STACKS, "ap-northeast-1", ["ap-northeast-1"]
    )
    assert existing_roles.fixes(same, VARS)[0] == "execution_roles_admin_stack_name: seed-admin (manage that stack)"
    ireland = FakeCfn("eu-west-1", stacks={"seed-admin": {ADMIN}})
    [other], _unread = existing_roles.management_conflicts(
        FakeIam({ADMIN: {}}), _clients(FakeCfn("ap-northeast-1"), ireland), STACKS, "ap-northeast-1", REGIONS
    )
    assert existing_roles.fixes(other, VARS)[0] == (
        "execution_roles_region: eu-west-1 and execution_roles_admin_stack_name: seed-admin (manage that stack)"
    )


def test_a_role_made_by_hand_and_an_unreadable_region():
    denied = FakeCfn("eu-west-1", denied=True)
    [conflict], unreadable = existing_roles.management_conflicts(
        FakeIam({ADMIN: {}}), _clients(FakeCfn("ap-northeast-1"), denied), STACKS, "ap-northeast-1", REGIONS
    )
    assert conflict["owner"] == {"kind": "none"}
    assert unreadable["eu-west-1"]["code"] == "AccessDenied"
    verdict = existing_roles.decide([conflict], "fail", VARS, unreadable)
    assert "made outside CloudFormation" in verdict["message"]
    assert verdict["warnings"] == ["eu-west-1 could not be read (AccessDenied): a role made there was not looked for"]


def test_the_stack_id_tag_names_the_owner_without_a_search_when_present():
    # AWS documents the tag, but does not put it on IAM roles (cloudformation-coverage-roadmap#277): both readings
    tag = {"Key": "aws:cloudformation:stack-id", "Value": "arn:aws:cloudformation:eu-west-1:%s:stack/x/9" % MGMT}
    tokyo = FakeCfn("ap-northeast-1")
    [conflict], _unread = existing_roles.management_conflicts(
        FakeIam({ADMIN: {"Tags": [tag]}}), _clients(tokyo), STACKS, "ap-northeast-1", REGIONS
    )
    assert conflict["owner"]["stack_name"] == "x" and conflict["owner"]["region"] == "eu-west-1"
    assert tokyo.calls == []


def test_get_role_denied_is_a_warning_not_a_guess():
    conflicts, unreadable = existing_roles.management_conflicts(
        FakeIam(denied=True), _clients(FakeCfn("ap-northeast-1")), STACKS, "ap-northeast-1", REGIONS
    )
    assert conflicts == [] and list(unreadable) == ["iam:GetRole %s" % ADMIN]


# --- member accounts -----------------------------------------------------------------------------------------------
def test_another_stack_set_reaching_our_accounts():
    ireland = FakeCfn(
        "eu-west-1",
        sets={
            "my-exec": (
                EXEC_T,
                PARAMS,
                [("222233334444", "ap-northeast-1"), ("555566667777", "ap-northeast-1")],
                ["ou-o2pk-wrkloads"],
            )
        },
    )
    cfn_for = _clients(FakeCfn("ap-northeast-1"), ireland)
    [conflict], unreadable, notes = existing_roles.member_conflicts(
        cfn_for, SETS, "ap-northeast-1", ["ap-northeast-1"], REGIONS, target_accounts=["222233334444", "333344445555"]
    )
    assert (unreadable, notes) == ({}, [])
    assert conflict["accounts"] == ["222233334444"]  # only the accounts we target
    assert conflict["owner"]["name"] == "my-exec" and conflict["owner"]["organizational_unit_ids"] == [
        "ou-o2pk-wrkloads"
    ]
    verdict = existing_roles.decide([conflict], "fail", VARS)
    assert (
        "in 1 member account (222233334444), made by the StackSet my-exec (administration region eu-west-1"
        in (verdict["message"])
    )
    assert verdict["conflicts"][0]["fixes"][0] == (
        "execution_roles_region: eu-west-1 and execution_roles_execution_stack_set_name: my-exec (manage that StackSet)"
    )
    # reaching none of our accounts: nothing
    assert (
        existing_roles.member_conflicts(
            cfn_for, SETS, "ap-northeast-1", ["ap-northeast-1"], REGIONS, target_accounts=["333344445555"]
        )[0]
        == []
    )


def test_our_stack_set_with_instances_outside_the_regions_asked_for():
    tokyo = FakeCfn("ap-northeast-1", sets={EXEC: (EXEC_T, PARAMS, [("222233334444", "eu-west-1")], [])})
    [conflict], _unread, _notes = existing_roles.member_conflicts(
        _clients(tokyo), SETS, "ap-northeast-1", ["ap-northeast-1"], ["ap-northeast-1"]
    )
    assert existing_roles.fixes(conflict, VARS)[0] == "execution_roles_regions: [eu-west-1] (where its instances are)"
    # already in the region asked for: an update, not a conflict
    tokyo.sets[EXEC] = (EXEC_T, PARAMS, [("222233334444", "ap-northeast-1")], [])
    assert (
        existing_roles.member_conflicts(
            _clients(tokyo), SETS, "ap-northeast-1", ["ap-northeast-1"], ["ap-northeast-1"]
        )[0]
        == []
    )


def test_unrelated_or_unreadable_stack_sets():
    tokyo = FakeCfn(
        "ap-northeast-1",
        sets={
            "tiny": (
                "Resources:\n  P: {Type: AWS::SSM::Parameter, Properties: {Type: String, Value: x}}\n",
                {},
                [("222233334444", "ap-northeast-1")],
                [],
            ),
            "broken": ("not: [a, template", {}, [("222233334444", "ap-northeast-1")], []),
        },
    )
    conflicts, unreadable, notes = existing_roles.member_conflicts(
        _clients(tokyo, FakeCfn("eu-west-1", denied=True)), SETS, "ap-northeast-1", ["ap-northeast-1"], REGIONS
    )
    assert conflicts == []
    assert list(unreadable) == ["eu-west-1"]
    assert len(notes) == 1 and notes[0].startswith("StackSet broken in ap-northeast-1: its template could not be read")


# --- the verdict ---------------------------------------------------------------------------------------------------
def test_use_leaves_out_what_would_create_the_roles():
    stack = {
        "role_name": ADMIN,
        "scope": "management_account",
        "accounts": [MGMT],
        "role_arn": None,
        "wanted_by": {"kind": "stack", "name": ADMIN, "region": "ap-northeast-1", "name_variable": "v"},
        "owner": {"kind": "none"},
    }
    stack_set = dict(
        stack,
        scope="member_accounts",
        accounts=["222233334444"],
        wanted_by={"kind": "stack_set", "name": EXEC, "region": "ap-northeast-1", "name_variable": "w"},
        owner={"kind": "stack_set", "name": "x", "region": "eu-west-1", "regions": ["eu-west-1"]},
    )
    verdict = existing_roles.decide([stack, stack_set], "use", VARS)
    assert verdict["ok"] and verdict["skip_stacks"] == [ADMIN] and verdict["skip_stack_sets"] == [EXEC]
    assert verdict["used_stack_sets"] == {EXEC: "x"}
    assert [c["decision"] for c in verdict["conflicts"]] == ["use", "use"]
    assert verdict["message"].startswith("used as they are, not deployed: %s (made outside CloudFormation" % ADMIN)
    assert existing_roles.decide([], "fail", VARS)["ok"]
    with pytest.raises(validation.InvalidInput) as info:
        existing_roles.decide([], "adopt", VARS)
    assert info.value.field == "execution_roles_existing_roles"


def test_target_accounts_never_include_the_management_account():
    tree = {
        "root_id": "r-ab12",
        "ous": {"ou-ab12-aaaaaaaa": {"name": "A", "parent_id": "r-ab12"}},
        "accounts": {
            MGMT: {"name": "m", "status": "ACTIVE", "parent_id": "r-ab12"},
            "222233334444": {"name": "a", "status": "ACTIVE", "parent_id": "ou-ab12-aaaaaaaa"},
        },
    }
    assert existing_roles.target_accounts_of(tree, ["r-ab12"], MGMT) == ["222233334444"]
    assert existing_roles.target_accounts_of(None, ["r-ab12"], MGMT) is None


def test_regions_not_enabled_are_skipped_quietly_unless_named():
    unreadable = {
        "af-south-1": {
            "code": "InvalidClientTokenId",
            "message": "The security token included in the request is invalid",
        },
        "ap-northeast-1": {
            "code": "InvalidClientTokenId",
            "message": "The security token included in the request is invalid",
        },
        "eu-west-1": {"code": "AccessDenied", "message": "denied"},
    }
    verdict = existing_roles.decide([], "fail", VARS, unreadable, named_regions=["ap-northeast-1"])
    assert verdict["not_enabled_regions"] == ["af-south-1"]
    assert [w.split(" ")[0] for w in verdict["warnings"]] == ["ap-northeast-1", "eu-west-1"]


def test_a_region_without_an_endpoint_is_skipped_and_named():
    from botocore.exceptions import EndpointConnectionError

    class NoEndpoint(FakeCfn):
        def list_stack_sets(self, **kwargs):
            raise EndpointConnectionError(endpoint_url="https://cloudformation.xx-east-1.amazonaws.com/")

        def describe_stack_resources(self, PhysicalResourceId):  # noqa: N803
            raise EndpointConnectionError(endpoint_url="https://cloudformation.xx-east-1.amazonaws.com/")

    cfn_for = _clients(FakeCfn("ap-northeast-1"), NoEndpoint("xx-east-1"))
    _c, unreadable, _n = existing_roles.member_conflicts(
        cfn_for, SETS, "ap-northeast-1", ["ap-northeast-1"], ["ap-northeast-1", "xx-east-1"]
    )
    assert list(unreadable) == ["xx-east-1"]
    [conflict], unreadable = existing_roles.management_conflicts(
        FakeIam({ADMIN: {}}), cfn_for, STACKS, "ap-northeast-1", ["ap-northeast-1", "xx-east-1"]
    )
    assert conflict["owner"] == {"kind": "none"} and list(unreadable) == ["xx-east-1"]
