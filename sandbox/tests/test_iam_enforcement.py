"""The caller's identity policies are enforced, for the action AND the resource ARN, as AWS does.

Sources: IAM User Guide, "Policy evaluation logic" (explicit deny wins, an allow must match, else implicit deny);
the Service Authorization Reference's resource types (the ARNs of ``sandbox.iam_enforcement.resources``); STS API
reference, GetCallerIdentity ("No permissions are required").
"""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from sandbox import iam_enforcement as enf
from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

MGMT = "111122223333"
PAYMENTS = "222233334444"
STACK = f"arn:aws:cloudformation:ap-northeast-1:{MGMT}:stack/AWS-SystemsManager-AutomationAdministrationRole/*"


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


# -- the evaluator ----------------------------------------------------------------------------------------------------
def test_resource_scoped_statement_allows_only_its_resources():
    pol = [("p", doc(allow("cloudformation:DescribeStacks", f"arn:aws:cloudformation:*:{MGMT}:stack/AWS-*/*")))]
    assert enf.evaluate(pol, "cloudformation:DescribeStacks", [STACK], {}).allowed
    other = STACK.replace("AWS-SystemsManager-AutomationAdministrationRole", "mine")
    assert not enf.evaluate(pol, "cloudformation:DescribeStacks", [other], {}).allowed
    # moto's own enforcement would judge against "*", which this statement does not grant
    assert not enf.evaluate(pol, "cloudformation:DescribeStacks", ["*"], {}).allowed


def test_explicit_deny_wins_and_actions_are_case_insensitive():
    pol = [("a", doc(allow("SSM:get*"))), ("d", doc({"Effect": "Deny", "Action": "ssm:GetDocument", "Resource": "*"}))]
    assert enf.evaluate(pol, "ssm:GetAutomationExecution", ["*"], {}).allowed
    decision = enf.evaluate(pol, "ssm:GetDocument", ["*"], {})
    assert not decision.allowed and "explicitly denied by d/" in decision.reason


def test_every_resource_of_a_request_must_be_allowed():
    pol = [("p", doc(allow("iam:PassRole", f"arn:aws:iam::{MGMT}:role/A")))]
    assert enf.evaluate(pol, "iam:PassRole", [f"arn:aws:iam::{MGMT}:role/A"], {}).allowed
    assert not enf.evaluate(
        pol, "iam:PassRole", [f"arn:aws:iam::{MGMT}:role/A", f"arn:aws:iam::{MGMT}:role/B"], {}
    ).allowed


def test_not_action_not_resource_and_conditions():
    pol = [("p", doc({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:ssm:*:*:document/secret"}))]
    assert enf.evaluate(pol, "ssm:GetDocument", ["arn:aws:ssm:r:1:document/x"], {}).allowed
    assert not enf.evaluate(pol, "ssm:GetDocument", ["arn:aws:ssm:r:1:document/secret"], {}).allowed
    assert not enf.evaluate(pol, "iam:GetRole", ["*"], {}).allowed
    cond = [("c", doc(allow("ssm:*", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})))]
    assert enf.evaluate(cond, "ssm:GetDocument", ["*"], {"aws:requestedregion": "eu-west-1"}).allowed
    assert not enf.evaluate(cond, "ssm:GetDocument", ["*"], {"aws:requestedregion": "us-east-1"}).allowed


@pytest.mark.parametrize(
    ("service", "action", "params", "expected"),
    [
        ("cloudformation", "DescribeStacks", {"StackName": "S"}, f"arn:aws:cloudformation:eu-west-1:{MGMT}:stack/S/*"),
        ("cloudformation", "DescribeStacks", {}, "*"),
        (
            "cloudformation",
            "ListStackInstances",
            {"StackSetName": "SS"},
            f"arn:aws:cloudformation:eu-west-1:{MGMT}:stackset/SS:*",
        ),
        ("iam", "GetRole", {"RoleName": "R"}, f"arn:aws:iam::{MGMT}:role/R"),
        ("sts", "AssumeRole", {"RoleArn": f"arn:aws:iam::{PAYMENTS}:role/R"}, f"arn:aws:iam::{PAYMENTS}:role/R"),
        ("ssm", "GetDocument", {"Name": "AWS-RunShellScript"}, "arn:aws:ssm:eu-west-1::document/AWS-RunShellScript"),
        ("ssm", "UpdateDocumentDefaultVersion", {"Name": "Mine"}, f"arn:aws:ssm:eu-west-1:{MGMT}:document/Mine"),
        (
            "ssm",
            "AddTagsToResource",
            {"ResourceType": "Document", "ResourceId": "Mine"},
            f"arn:aws:ssm:eu-west-1:{MGMT}:document/Mine",
        ),
        (
            "ssm",
            "GetAutomationExecution",
            {"AutomationExecutionId": "e-1"},
            f"arn:aws:ssm:eu-west-1:{MGMT}:automation-execution/e-1",
        ),
        (
            "ssm",
            "StartAutomationExecution",
            {"DocumentName": "Mine"},
            f"arn:aws:ssm:eu-west-1:{MGMT}:automation-definition/Mine:$DEFAULT",
        ),
        ("organizations", "ListRoots", {}, "*"),
        ("ssm", "DescribeAutomationExecutions", {}, "*"),
    ],
)
def test_resource_arns(service, action, params, expected):
    assert enf.resources(service, action, params, MGMT, "eu-west-1") == [expected]


def test_start_automation_needs_pass_role_on_the_assume_role():
    role = f"arn:aws:iam::{MGMT}:role/AWS-SystemsManager-AutomationAdministrationRole"
    params = {"DocumentName": "D", "Parameters": {"AutomationAssumeRole": [role]}}
    assert enf.extra_checks("ssm", "StartAutomationExecution", params) == [("iam:PassRole", [role])]


# -- on the wire ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    with SandboxHandle(DEMO_WORLD, name="iam-enf", workdir=tmp_path_factory.mktemp("iam-enf")) as handle:
        yield handle


def _client(sb, service, creds, region=None):
    return boto3.client(
        service,
        endpoint_url=sb.endpoint,
        region_name=region or sb.region,
        config=Config(retries={"total_max_attempts": 1}),
        **creds,
    )


def _user(sb, name, *statements):
    iam = sb.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps(doc(*statements)))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _code(exc: botocore.exceptions.ClientError) -> tuple[str, int, str]:
    err = exc.response["Error"]
    return err["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Message", "")


def test_a_user_created_in_the_sandbox_works_with_its_own_policies(sb):
    creds = _user(
        sb,
        "restricted",
        allow("organizations:ListRoots"),
        allow(
            "cloudformation:DescribeStacks", f"arn:aws:cloudformation:*:{MGMT}:stack/AWS-SystemsManager-Automation*/*"
        ),
    )
    me = _client(sb, "sts", creds).get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{MGMT}:user/restricted" and me["Account"] == MGMT
    org = _client(sb, "organizations", creds)
    assert org.list_roots()["Roots"][0]["Id"] == "r-o2pk"
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        org.list_accounts()
    code, status, message = _code(denied.value)
    assert code == "AccessDeniedException" and status == 400
    assert message == (
        f"User: arn:aws:iam::{MGMT}:user/restricted is not authorized to perform: organizations:ListAccounts on "
        "resource: * because no identity-based policy allows the organizations:ListAccounts action"
    )
    cfn = _client(sb, "cloudformation", creds)
    assert cfn.describe_stacks(StackName="AWS-SystemsManager-AutomationAdministrationRole")["Stacks"]
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        cfn.describe_stacks(StackName="someone-elses-stack")
    code, status, message = _code(denied.value)
    assert (code, status) == ("AccessDenied", 403)
    assert "stack/someone-elses-stack/*" in message
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        cfn.describe_stacks()  # all stacks: resource "*", which the statement does not grant
    assert _code(denied.value)[0] == "AccessDenied"


def test_a_deleted_or_inactive_key_stops_working(sb):
    creds = _user(sb, "shortlived", allow("sts:*"))
    sts = _client(sb, "sts", creds)
    assert sts.get_caller_identity()["Arn"].endswith(":user/shortlived")
    iam = sb.client("iam")
    iam.update_access_key(UserName="shortlived", AccessKeyId=creds["aws_access_key_id"], Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as bad:
        sts.get_caller_identity()
    assert _code(bad.value)[0] == "InvalidClientTokenId"
    iam.update_access_key(UserName="shortlived", AccessKeyId=creds["aws_access_key_id"], Status="Active")
    assert sts.get_caller_identity()["Account"] == MGMT
    iam.delete_access_key(UserName="shortlived", AccessKeyId=creds["aws_access_key_id"])
    with pytest.raises(botocore.exceptions.ClientError) as bad:
        sts.get_caller_identity()
    assert _code(bad.value)[0] == "InvalidClientTokenId"


def test_an_assumed_role_is_judged_by_the_role_policies(sb):
    iam = sb.client("iam")
    iam.create_role(
        RoleName="DocReader",
        AssumeRolePolicyDocument=json.dumps(
            doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MGMT}:root"}, "Action": "sts:AssumeRole"})
        ),
    )
    iam.put_role_policy(
        RoleName="DocReader",
        PolicyName="one-document",
        PolicyDocument=json.dumps(doc(allow("ssm:GetDocument", "arn:aws:ssm:*::document/AWS-RunShellScript"))),
    )
    c = sb.client("sts").assume_role(RoleArn=f"arn:aws:iam::{MGMT}:role/DocReader", RoleSessionName="tt")["Credentials"]
    creds = {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }
    ssm = _client(sb, "ssm", creds)
    assert ssm.get_document(Name="AWS-RunShellScript")["Name"] == "AWS-RunShellScript"
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        ssm.get_document(Name="AWS-RunPowerShellScript")
    code, _status, message = _code(denied.value)
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: arn:aws:sts::{MGMT}:assumed-role/DocReader/tt is not authorized")
    # a policy change takes effect at once, for the session already issued
    iam.delete_role_policy(RoleName="DocReader", PolicyName="one-document")
    with pytest.raises(botocore.exceptions.ClientError):
        ssm.get_document(Name="AWS-RunShellScript")


def test_default_identities_keep_full_rights(sb):
    # the world's administrator, and OrganizationAccountAccessRole (AdministratorAccess on AWS) in a member account
    assert sb.client("organizations").list_accounts()["Accounts"]
    ec2 = sb.client("ec2", account=PAYMENTS)
    assert ec2.describe_instances()["Reservations"]
    iam = sb.client("iam", account=PAYMENTS)
    assert iam.get_role_policy(RoleName="OrganizationAccountAccessRole", PolicyName="AdministratorAccess")
