"""Service-managed StackSets: any OU depth, never the management account, auto-deployment, overlap, failures."""

from __future__ import annotations

import time

import botocore.exceptions
import pytest
import yaml

from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD, REPO_ROOT

MGMT = "111122223333"
MEMBERS = ["222233334444", "333344445555", "444455556666", "555566667777", "666677778888", "777788889999"]
SECURITY = "555566667777"
EXEC_ROLE = "AWS-SystemsManager-AutomationExecutionRole"
ROLE_TEMPLATE = (REPO_ROOT / "roles" / "execution_roles" / "files" / "execution-role.yml").read_text()
TINY = """AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Tag:
    Type: String
    Default: one
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /stackset-test/{name}
      Type: String
      Value: !Ref Tag
"""


def tiny(name: str) -> str:
    """A small template whose stack writes the SSM parameter /stackset-test/<name>."""
    return TINY.replace("{name}", name)


BROKEN_REASON = "ResourceLogicalId:AWSSystemsManagerAutomationExecutionRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:denied by an SCP (sandbox world option)."


def wait_operation(cfn, name, op_id, timeout=60):
    """Poll (bounded) until the StackSet operation is terminal; return its description."""
    deadline = time.monotonic() + timeout
    while True:
        op = cfn.describe_stack_set_operation(StackSetName=name, OperationId=op_id)["StackSetOperation"]
        if op["Status"] not in ("RUNNING", "QUEUED", "STOPPING"):
            return op
        if time.monotonic() > deadline:
            raise AssertionError(f"operation {op_id} still {op['Status']} after {timeout}s")
        time.sleep(0.05)


def deploy(cfn, name: str, targets: dict, region: str, auto_deployment: dict | None = None, **preferences) -> dict:
    """A SERVICE_MANAGED stack set ``name`` (the tiny template) with instances for ``targets`` (DeploymentTargets) in
    ``region``; returns the create operation, ended."""
    extra = {"AutoDeployment": auto_deployment} if auto_deployment else {}
    cfn.create_stack_set(StackSetName=name, TemplateBody=tiny(name), PermissionModel="SERVICE_MANAGED", **extra)
    op = cfn.create_stack_instances(StackSetName=name, DeploymentTargets=targets, Regions=[region], **preferences)
    return wait_operation(cfn, name, op["OperationId"])


def role_exists(sb, account, name=EXEC_ROLE) -> bool:
    try:
        sb.client("iam", account=account).get_role(RoleName=name)
        return True
    except botocore.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchEntity"
        return False


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    """The demo world with a deliberately broken account; this module mutates it freely."""
    world = yaml.safe_load(DEMO_WORLD.read_text())
    world["stacksets"] = {"operation_seconds": 0, "broken_accounts": {SECURITY: BROKEN_REASON}}
    world["automation_roles"]["missing_execution_role"] = ["333344445555"]
    with SandboxHandle(world, name="stacksets", workdir=tmp_path_factory.mktemp("stacksets")) as handle:
        yield handle


def test_demo_execution_role_stackset_reaches_every_depth_but_not_management(sandbox):
    cfn = sandbox.client("cloudformation", region="ap-northeast-1")
    ss = cfn.describe_stack_set(StackSetName=EXEC_ROLE)["StackSet"]
    assert ss["PermissionModel"] == "SERVICE_MANAGED"
    assert ss["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert ss["OrganizationalUnitIds"] == ["r-o2pk"]
    instances = cfn.list_stack_instances(StackSetName=EXEC_ROLE)["Summaries"]
    assert sorted(i["Account"] for i in instances) == MEMBERS
    assert {(i["Region"], i["Status"], i["StackInstanceStatus"]["DetailedStatus"]) for i in instances} == {
        ("ap-northeast-1", "CURRENT", "SUCCEEDED")
    }
    # The role exists in the account three OUs down (Workloads -> Prod -> Payments), and not in management.
    assert role_exists(sandbox, "222233334444")
    assert not role_exists(sandbox, MGMT)
    # The instance is a real stack in the member account.
    stacks = sandbox.client("cloudformation", region="ap-northeast-1", account="222233334444").describe_stacks()[
        "Stacks"
    ]
    assert [s["StackName"] for s in stacks if s["StackName"].startswith(f"StackSet-{EXEC_ROLE}-")]


def test_deploy_to_a_nested_ou_reaches_all_depths(private):
    cfn = private.client("cloudformation", region="eu-west-1")
    no_auto = {"Enabled": False, "RetainStacksOnAccountRemoval": False}
    done = deploy(cfn, "nested", {"OrganizationalUnitIds": ["ou-o2pk-wrkloads"]}, "eu-west-1", no_auto)
    assert done["Status"] == "SUCCEEDED"
    instances = cfn.list_stack_instances(StackSetName="nested")["Summaries"]
    # Workloads (dev-sandbox), Workloads/Prod (web-prod, data-prod), Workloads/Prod/Payments, Workloads/Staging.
    assert sorted(i["Account"] for i in instances) == [
        "222233334444",
        "333344445555",
        "444455556666",
        "666677778888",
        "777788889999",
    ]
    assert {i["OrganizationalUnitId"] for i in instances} == {"ou-o2pk-wrkloads"}
    value = private.client("ssm", region="eu-west-1", account="222233334444").get_parameter(
        Name="/stackset-test/nested"
    )["Parameter"]["Value"]
    assert value == "one"
    results = cfn.list_stack_set_operation_results(StackSetName="nested", OperationId=done["OperationId"])["Summaries"]
    assert {r["Status"] for r in results} == {"SUCCEEDED"}
    # Delete by OU: the instances and their stacks go.
    op = cfn.delete_stack_instances(
        StackSetName="nested",
        DeploymentTargets={"OrganizationalUnitIds": ["ou-o2pk-wrkloads"]},
        Regions=["eu-west-1"],
        RetainStacks=False,
    )
    assert wait_operation(cfn, "nested", op["OperationId"])["Status"] == "SUCCEEDED"
    assert cfn.list_stack_instances(StackSetName="nested")["Summaries"] == []
    with pytest.raises(botocore.exceptions.ClientError):
        private.client("ssm", region="eu-west-1", account="222233334444").get_parameter(Name="/stackset-test/nested")
    cfn.delete_stack_set(StackSetName="nested")


def test_root_target_never_includes_management_even_when_listed(private):
    cfn = private.client("cloudformation", region="eu-west-1")
    deploy(
        cfn,
        "union",
        {"OrganizationalUnitIds": ["ou-o2pk-security"], "Accounts": [MGMT], "AccountFilterType": "UNION"},
        "eu-west-1",
        OperationPreferences={"FailureTolerancePercentage": 100},
    )
    assert [i["Account"] for i in cfn.list_stack_instances(StackSetName="union")["Summaries"]] == [SECURITY]


def test_service_managed_rejects_account_targets(private):
    cfn = private.client("cloudformation", region="eu-west-1")
    cfn.create_stack_set(
        StackSetName="accounts-only", TemplateBody=tiny("accounts-only"), PermissionModel="SERVICE_MANAGED"
    )
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cfn.create_stack_instances(StackSetName="accounts-only", Accounts=["222233334444"], Regions=["eu-west-1"])
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_broken_account_ends_outdated_failed_with_reason(private):
    cfn = private.client("cloudformation", region="ap-northeast-1")
    instances = {i["Account"]: i for i in cfn.list_stack_instances(StackSetName=EXEC_ROLE)["Summaries"]}
    broken = instances[SECURITY]
    assert broken["Status"] == "OUTDATED"
    assert broken["StackInstanceStatus"]["DetailedStatus"] == "FAILED"
    assert broken["StatusReason"] == BROKEN_REASON
    assert not role_exists(private, SECURITY)
    assert all(i["Status"] == "CURRENT" for a, i in instances.items() if a != SECURITY)
    detail = cfn.describe_stack_instance(
        StackSetName=EXEC_ROLE, StackInstanceAccount=SECURITY, StackInstanceRegion="ap-northeast-1"
    )
    assert detail["StackInstance"]["StatusReason"] == BROKEN_REASON


def test_missing_execution_role_world_option(private):
    # The StackSet deployed fine, then the role was taken away: the instance still says CURRENT (drift), the role is
    # gone, and the reader role next to it is untouched.
    cfn = private.client("cloudformation", region="ap-northeast-1")
    instance = cfn.describe_stack_instance(
        StackSetName=EXEC_ROLE, StackInstanceAccount="333344445555", StackInstanceRegion="ap-northeast-1"
    )
    assert instance["StackInstance"]["Status"] == "CURRENT"
    assert not role_exists(private, "333344445555")
    assert role_exists(private, "333344445555", "AWS-SystemsManager-AutomationResultsReaderRole")
    assert role_exists(private, "777788889999")


def test_failure_tolerance_zero_fails_the_operation_and_cancels_the_rest(private):
    cfn = private.client("cloudformation", region="ap-northeast-1")
    done = deploy(
        cfn,
        "strict",
        {"OrganizationalUnitIds": ["r-o2pk"]},
        "ap-northeast-1",
        OperationPreferences={"FailureToleranceCount": 0, "MaxConcurrentCount": 1},
    )
    assert done["Status"] == "FAILED"
    results = {
        r["Account"]: r
        for r in cfn.list_stack_set_operation_results(StackSetName="strict", OperationId=done["OperationId"])[
            "Summaries"
        ]
    }
    assert results[SECURITY]["Status"] == "FAILED"
    assert results[SECURITY]["StatusReason"] == BROKEN_REASON
    after = [a for a in MEMBERS if a > SECURITY]  # processed after the failure, in organization order
    assert all(results[a]["Status"] == "CANCELLED" for a in after)
    instances = {i["Account"]: i for i in cfn.list_stack_instances(StackSetName="strict")["Summaries"]}
    assert all(instances[a]["StackInstanceStatus"]["DetailedStatus"] == "CANCELLED" for a in after)


def test_auto_deployment_follows_move_account(private):
    org = private.client("organizations")
    cfn = private.client("cloudformation", region="ap-northeast-1")
    auto = {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    deploy(cfn, "follow", {"OrganizationalUnitIds": ["ou-o2pk-staging1"]}, "ap-northeast-1", auto)
    assert [i["Account"] for i in cfn.list_stack_instances(StackSetName="follow")["Summaries"]] == ["444455556666"]

    # dev-sandbox moves into Staging: it gets the instance and the stack.
    org.move_account(
        AccountId="666677778888", SourceParentId="ou-o2pk-wrkloads", DestinationParentId="ou-o2pk-staging1"
    )
    instances = {i["Account"]: i for i in cfn.list_stack_instances(StackSetName="follow")["Summaries"]}
    assert set(instances) == {"444455556666", "666677778888"}
    assert instances["666677778888"]["Status"] == "CURRENT"
    assert instances["666677778888"]["OrganizationalUnitId"] == "ou-o2pk-staging1"
    member = private.client("ssm", region="ap-northeast-1", account="666677778888")
    assert member.get_parameter(Name="/stackset-test/follow")["Parameter"]["Value"] == "one"

    # ...and moves back out: RetainStacksOnAccountRemoval is false, so the instance and the stack go.
    org.move_account(
        AccountId="666677778888", SourceParentId="ou-o2pk-staging1", DestinationParentId="ou-o2pk-wrkloads"
    )
    assert [i["Account"] for i in cfn.list_stack_instances(StackSetName="follow")["Summaries"]] == ["444455556666"]
    with pytest.raises(botocore.exceptions.ClientError):
        member.get_parameter(Name="/stackset-test/follow")


def test_retain_stacks_on_account_removal_keeps_the_stack(private):
    org = private.client("organizations")
    cfn = private.client("cloudformation", region="eu-west-1")
    auto = {"Enabled": True, "RetainStacksOnAccountRemoval": True}
    deploy(cfn, "retain", {"OrganizationalUnitIds": ["ou-o2pk-prod0001"]}, "eu-west-1", auto)
    assert "777788889999" in {i["Account"] for i in cfn.list_stack_instances(StackSetName="retain")["Summaries"]}
    org.move_account(
        AccountId="777788889999", SourceParentId="ou-o2pk-prod0001", DestinationParentId="ou-o2pk-security"
    )
    assert "777788889999" not in {i["Account"] for i in cfn.list_stack_instances(StackSetName="retain")["Summaries"]}
    member = private.client("ssm", region="eu-west-1", account="777788889999")
    assert member.get_parameter(Name="/stackset-test/retain")["Parameter"]["Value"] == "one"
    org.move_account(
        AccountId="777788889999", SourceParentId="ou-o2pk-security", DestinationParentId="ou-o2pk-prod0001"
    )


def test_auto_deployment_on_create_account(private):
    org = private.client("organizations")
    cfn = private.client("cloudformation", region="ap-northeast-1")
    before = {i["Account"] for i in cfn.list_stack_instances(StackSetName=EXEC_ROLE)["Summaries"]}
    status = org.create_account(Email="new-member@example.com", AccountName="new-member")["CreateAccountStatus"]
    new = status["AccountId"]
    after = {i["Account"]: i for i in cfn.list_stack_instances(StackSetName=EXEC_ROLE)["Summaries"]}
    assert set(after) == before | {new}
    assert after[new]["Status"] == "CURRENT"
    assert role_exists(private, new)


def test_overlapping_operations_raise_operation_in_progress(private):
    cfn = private.client("cloudformation", region="eu-west-1")
    cfn.create_stack_set(StackSetName="overlap", TemplateBody=tiny("overlap"), PermissionModel="SERVICE_MANAGED")
    private.set_faults({"service": "cloudformation", "stackset_operation_seconds": 100000})
    try:
        first = cfn.create_stack_instances(
            StackSetName="overlap",
            DeploymentTargets={"OrganizationalUnitIds": ["ou-o2pk-security"]},
            Regions=["eu-west-1"],
        )
        running = cfn.describe_stack_set_operation(StackSetName="overlap", OperationId=first["OperationId"])[
            "StackSetOperation"
        ]
        assert running["Status"] == "RUNNING"
        with pytest.raises(botocore.exceptions.ClientError) as err:
            cfn.create_stack_instances(
                StackSetName="overlap",
                DeploymentTargets={"OrganizationalUnitIds": ["ou-o2pk-prod0001"]},
                Regions=["eu-west-1"],
            )
        arn = cfn.describe_stack_set(StackSetName="overlap")["StackSet"]["StackSetARN"]
        assert err.value.response["Error"]["Code"] == "OperationInProgressException"
        assert err.value.response["Error"]["Message"] == f"Another Operation on StackSet {arn} is in progress"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        with pytest.raises(botocore.exceptions.ClientError) as err:
            cfn.update_stack_set(StackSetName="overlap", TemplateBody=tiny("overlap").replace("one", "two"))
        assert err.value.response["Error"]["Code"] == "OperationInProgressException"
        cfn.stop_stack_set_operation(StackSetName="overlap", OperationId=first["OperationId"])
        assert wait_operation(cfn, "overlap", first["OperationId"])["Status"] == "STOPPED"
    finally:
        private.clear_faults()
    op = cfn.create_stack_instances(
        StackSetName="overlap", DeploymentTargets={"OrganizationalUnitIds": ["ou-o2pk-prod0001"]}, Regions=["eu-west-1"]
    )
    assert wait_operation(cfn, "overlap", op["OperationId"])["Status"] == "SUCCEEDED"


def test_managed_execution_queues_instead_of_failing(private):
    cfn = private.client("cloudformation", region="eu-west-1")
    cfn.create_stack_set(
        StackSetName="queued",
        TemplateBody=tiny("queued"),
        PermissionModel="SERVICE_MANAGED",
        ManagedExecution={"Active": True},
    )
    private.set_faults({"service": "cloudformation", "stackset_operation_seconds": 20})
    try:
        first = cfn.create_stack_instances(
            StackSetName="queued",
            DeploymentTargets={"OrganizationalUnitIds": ["ou-o2pk-paymnts1"]},
            Regions=["eu-west-1"],
        )
        second = cfn.create_stack_instances(
            StackSetName="queued",
            DeploymentTargets={"OrganizationalUnitIds": ["ou-o2pk-staging1"]},
            Regions=["eu-west-1"],
        )
        queued = cfn.describe_stack_set_operation(StackSetName="queued", OperationId=second["OperationId"])[
            "StackSetOperation"
        ]
        assert queued["Status"] == "QUEUED"
    finally:
        private.clear_faults()
    assert wait_operation(cfn, "queued", first["OperationId"])["Status"] == "SUCCEEDED"
    assert wait_operation(cfn, "queued", second["OperationId"])["Status"] == "SUCCEEDED"


def test_update_stack_set_updates_every_instance(private):
    cfn = private.client("cloudformation", region="eu-west-1")
    deploy(cfn, "updated", {"OrganizationalUnitIds": ["ou-o2pk-prod0001"]}, "eu-west-1")
    op = cfn.update_stack_set(
        StackSetName="updated", UsePreviousTemplate=True, Parameters=[{"ParameterKey": "Tag", "ParameterValue": "two"}]
    )
    assert wait_operation(cfn, "updated", op["OperationId"])["Action"] == "UPDATE"
    ssm = private.client("ssm", region="eu-west-1", account="333344445555")
    assert ssm.get_parameter(Name="/stackset-test/updated")["Parameter"]["Value"] == "two"
    ops = cfn.list_stack_set_operations(StackSetName="updated")["Summaries"]
    assert [o["Action"] for o in ops] == ["UPDATE", "CREATE"]


def test_named_iam_template_needs_the_capability(private):
    cfn = private.client("cloudformation", region="eu-west-1")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cfn.create_stack_set(StackSetName="no-caps", TemplateBody=ROLE_TEMPLATE, PermissionModel="SERVICE_MANAGED")
    assert err.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"


TWICE_ROLE = "orgops-test-fixed-name"
FIXED_NAME_ROLE = f"""AWSTemplateFormatVersion: '2010-09-09'
Resources:
  FixedNameRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: {TWICE_ROLE}
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {{Service: ssm.amazonaws.com}}
            Action: sts:AssumeRole
"""


def test_a_fixed_name_iam_role_in_a_second_region_fails_already_exists(private):
    # IAM is global: the first region's stack creates the role, the second region's stack of the same account fails
    # with the resource handler's "already exists" (HandlerErrorCode AlreadyExists), as on AWS.
    cfn = private.client("cloudformation", region="ap-northeast-1")
    name = "fixed-name-twice"
    cfn.create_stack_set(
        StackSetName=name,
        TemplateBody=FIXED_NAME_ROLE,
        PermissionModel="SERVICE_MANAGED",
        Capabilities=["CAPABILITY_NAMED_IAM"],
        AutoDeployment={"Enabled": False, "RetainStacksOnAccountRemoval": False},
    )
    op = cfn.create_stack_instances(
        StackSetName=name,
        DeploymentTargets={"OrganizationalUnitIds": ["ou-o2pk-wrkloads"]},
        Regions=["ap-northeast-1", "eu-west-1"],
        OperationPreferences={"FailureTolerancePercentage": 100, "RegionConcurrencyType": "SEQUENTIAL"},
    )
    wait_operation(cfn, name, op["OperationId"])
    instances = {(i["Account"], i["Region"]): i for i in cfn.list_stack_instances(StackSetName=name)["Summaries"]}
    account = "222233334444"
    assert instances[(account, "ap-northeast-1")]["Status"] == "CURRENT"
    second = instances[(account, "eu-west-1")]
    assert (second["Status"], second["StackInstanceStatus"]["DetailedStatus"]) == ("OUTDATED", "FAILED")
    assert second["StatusReason"] == (
        "ResourceLogicalId:FixedNameRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:Resource of type "
        f"'AWS::IAM::Role' with identifier '{TWICE_ROLE}' already exists."
    )
    assert role_exists(private, account, TWICE_ROLE)
