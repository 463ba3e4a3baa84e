"""Every response the layer itself produces is valid against botocore's output shape for its operation.

Each call is made through boto3; the raw HTTP body (JSON or XML, as sent) and botocore's parsed output are both
validated with sandbox.fidelity. Errors the layer renders are checked to parse into a code and a message.
"""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from sandbox.fidelity import assert_valid_output, validate_error, validate_output
from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

MGMT = "111122223333"
PAYMENTS = "222233334444"
TEMPLATE = """{"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/fidelity/p", "Type": "String", "Value": "v"}}}}"""


class Recorder:
    """Captures the raw body of every response a boto3 client receives (botocore's before-parse event)."""

    def __init__(self):
        self.raw: list[tuple[str, str, int, bytes]] = []

    def attach(self, client):
        service = client.meta.service_model.metadata.get("signingName") or client.meta.service_model.service_name
        client.meta.events.register(
            "before-parse.*.*",
            lambda operation_model, response_dict, **_: self.raw.append(
                (service, operation_model.name, response_dict["status_code"], response_dict["body"])
            ),
        )
        return client


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    with SandboxHandle(DEMO_WORLD, name="fidelity", workdir=tmp_path_factory.mktemp("fidelity")) as handle:
        yield handle


@pytest.fixture
def rec():
    return Recorder()


def client(sb, rec, service, region="eu-west-1", creds=None):
    kw = creds or {"aws_access_key_id": sb.access_key, "aws_secret_access_key": sb.secret_key}
    c = boto3.client(
        service, endpoint_url=sb.endpoint, region_name=region, config=Config(retries={"total_max_attempts": 1}), **kw
    )
    return rec.attach(c)


def check(rec: Recorder, service: str, operation: str, parsed: dict) -> None:
    bodies = [body for svc, op, status, body in rec.raw if op == operation and status == 200]
    assert bodies, f"no raw response recorded for {operation}"
    assert_valid_output(service, operation, bodies[-1])
    assert_valid_output(service, operation, parsed)


def test_the_validator_finds_problems():
    assert (
        validate_output("sts", "GetCallerIdentity", {"Account": MGMT, "Arn": "arn:aws:iam::1:root", "UserId": "x"})
        == []
    )
    assert validate_output("sts", "GetCallerIdentity", {"Account": MGMT, "Colour": "blue"}) == [
        "Colour: not a member of GetCallerIdentityResponse"
    ]
    problems = validate_output(
        "cloudformation", "DescribeStackSet", {"StackSet": {"Status": "HAPPY", "Capabilities": "x"}}
    )
    assert "StackSet.Status: 'HAPPY' is not one of ['ACTIVE', 'DELETED']" in problems
    assert "StackSet.Capabilities: expected a list, got str" in problems
    xml = (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
        "<Arn>arn:aws:iam::1:root</Arn><Extra>1</Extra></GetCallerIdentityResult></GetCallerIdentityResponse>"
    )
    assert validate_output("sts", "GetCallerIdentity", xml) == ["Extra: not a member of GetCallerIdentityResponse"]
    assert validate_output("ssm", "DescribeDocument", b'{"Document": {"Parameters": [{"Name": 1}]}}') == [
        "Document.Parameters[0].Name: expected a string, got int 1"
    ]
    assert validate_output("cloudformation", "ListStackInstances", "<Nope/>")[0].startswith(
        "(body): root element is <Nope>"
    )


def test_sts_responses(private, rec):
    sts = client(private, rec, "sts")
    check(rec, "sts", "GetCallerIdentity", sts.get_caller_identity())
    resp = sts.assume_role(
        RoleArn=f"arn:aws:iam::{PAYMENTS}:role/OrganizationAccountAccessRole",
        RoleSessionName="fidelity",
        DurationSeconds=900,
    )
    check(rec, "sts", "AssumeRole", resp)
    creds = resp["Credentials"]
    member = client(
        private,
        rec,
        "sts",
        creds={
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        },
    )
    check(rec, "sts", "GetCallerIdentity", member.get_caller_identity())


def test_aws_owned_document_responses(private, rec):
    ssm = client(private, rec, "ssm", creds=private.credentials(PAYMENTS))
    check(rec, "ssm", "DescribeDocument", ssm.describe_document(Name="AWS-RunPowerShellScript"))
    check(rec, "ssm", "GetDocument", ssm.get_document(Name="AWS-RunShellScript"))
    check(rec, "ssm", "GetDocument", ssm.get_document(Name="AWS-RunShellScript", DocumentFormat="YAML"))
    check(rec, "ssm", "ListDocuments", ssm.list_documents(Filters=[{"Key": "Owner", "Values": ["Amazon"]}]))
    check(rec, "ssm", "ListDocumentVersions", ssm.list_document_versions(Name="AWS-RunShellScript"))


def test_customer_document_versions_newest_first_and_paginated(private, rec):
    """ListDocumentVersions on an account's own document (moto 5.2 answers HTTP 500): newest first, paginated."""
    ssm = client(private, rec, "ssm", creds=private.credentials(PAYMENTS))
    body = {"schemaVersion": "0.3", "mainSteps": [{"name": "S", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}
    ssm.create_document(Name="fidelity-versions", Content=json.dumps(body), DocumentType="Automation")
    body["description"] = "v2"
    ssm.update_document(Name="fidelity-versions", Content=json.dumps(body), DocumentVersion="$LATEST")
    check(rec, "ssm", "DescribeDocument", ssm.describe_document(Name="fidelity-versions"))
    first = ssm.list_document_versions(Name="fidelity-versions", MaxResults=1)
    check(rec, "ssm", "ListDocumentVersions", first)
    assert [v["DocumentVersion"] for v in first["DocumentVersions"]] == ["2"]
    assert first["DocumentVersions"][0]["IsDefaultVersion"] is False
    second = ssm.list_document_versions(Name="fidelity-versions", MaxResults=1, NextToken=first["NextToken"])
    assert [(v["DocumentVersion"], v["IsDefaultVersion"]) for v in second["DocumentVersions"]] == [("1", True)]
    assert "NextToken" not in second
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ssm.list_document_versions(Name="no-such-document")
    assert err.value.response["Error"]["Code"] == "InvalidDocument"


def test_stackset_responses(private, rec):
    cfn = client(private, rec, "cloudformation")
    ops = []
    resp = cfn.create_stack_set(
        StackSetName="fidelity",
        Description="shape check",
        TemplateBody=TEMPLATE,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        Tags=[{"Key": "k", "Value": "v"}],
    )
    check(rec, "cloudformation", "CreateStackSet", resp)
    resp = cfn.create_stack_instances(
        StackSetName="fidelity",
        DeploymentTargets={"OrganizationalUnitIds": ["ou-o2pk-prod0001"]},
        Regions=["eu-west-1"],
    )
    check(rec, "cloudformation", "CreateStackInstances", resp)
    ops.append(resp["OperationId"])
    check(
        rec,
        "cloudformation",
        "DescribeStackSetOperation",
        cfn.describe_stack_set_operation(StackSetName="fidelity", OperationId=ops[0]),
    )
    _wait_idle(cfn, "fidelity")
    check(rec, "cloudformation", "DescribeStackSet", cfn.describe_stack_set(StackSetName="fidelity"))
    check(rec, "cloudformation", "ListStackSets", cfn.list_stack_sets())
    check(rec, "cloudformation", "ListStackSets", cfn.list_stack_sets(Status="ACTIVE", MaxResults=1))
    check(rec, "cloudformation", "ListStackInstances", cfn.list_stack_instances(StackSetName="fidelity"))
    check(
        rec,
        "cloudformation",
        "DescribeStackInstance",
        cfn.describe_stack_instance(
            StackSetName="fidelity", StackInstanceAccount="333344445555", StackInstanceRegion="eu-west-1"
        ),
    )
    check(rec, "cloudformation", "ListStackSetOperations", cfn.list_stack_set_operations(StackSetName="fidelity"))
    check(
        rec,
        "cloudformation",
        "ListStackSetOperationResults",
        cfn.list_stack_set_operation_results(StackSetName="fidelity", OperationId=ops[0]),
    )
    check(
        rec,
        "cloudformation",
        "ListStackSetAutoDeploymentTargets",
        cfn.list_stack_set_auto_deployment_targets(StackSetName="fidelity"),
    )
    resp = cfn.update_stack_set(StackSetName="fidelity", UsePreviousTemplate=True, Description="changed")
    check(rec, "cloudformation", "UpdateStackSet", resp)
    _wait_idle(cfn, "fidelity")
    private.set_faults({"service": "cloudformation", "stackset_operation_seconds": 100000})
    try:
        resp = cfn.delete_stack_instances(
            StackSetName="fidelity",
            DeploymentTargets={"OrganizationalUnitIds": ["ou-o2pk-prod0001"]},
            Regions=["eu-west-1"],
            RetainStacks=False,
        )
        check(rec, "cloudformation", "DeleteStackInstances", resp)
        check(
            rec,
            "cloudformation",
            "StopStackSetOperation",
            cfn.stop_stack_set_operation(StackSetName="fidelity", OperationId=resp["OperationId"]),
        )
    finally:
        private.clear_faults()
    # A self-managed stack set, whose description carries the administration and execution roles.
    cfn.create_stack_set(StackSetName="fidelity-self", TemplateBody=TEMPLATE)
    resp = cfn.create_stack_instances(StackSetName="fidelity-self", Accounts=[PAYMENTS], Regions=["eu-west-1"])
    _wait_idle(cfn, "fidelity-self")
    check(rec, "cloudformation", "DescribeStackSet", cfn.describe_stack_set(StackSetName="fidelity-self"))
    check(
        rec,
        "cloudformation",
        "DescribeStackSetOperation",
        cfn.describe_stack_set_operation(StackSetName="fidelity-self", OperationId=resp["OperationId"]),
    )
    resp = cfn.update_stack_instances(StackSetName="fidelity-self", Accounts=[PAYMENTS], Regions=["eu-west-1"])
    check(rec, "cloudformation", "UpdateStackInstances", resp)
    _wait_idle(cfn, "fidelity-self")
    resp = cfn.delete_stack_instances(
        StackSetName="fidelity-self", Accounts=[PAYMENTS], Regions=["eu-west-1"], RetainStacks=False
    )
    _wait_idle(cfn, "fidelity-self")
    check(rec, "cloudformation", "DeleteStackSet", cfn.delete_stack_set(StackSetName="fidelity-self"))


def _wait_idle(cfn, name, timeout=60.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ops = cfn.list_stack_set_operations(StackSetName=name)["Summaries"]
        if all(o["Status"] not in ("RUNNING", "QUEUED", "STOPPING") for o in ops):
            return True
        time.sleep(0.05)
    raise AssertionError(f"{name}: operations still running after {timeout}s")


def _error(call):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call()
    return err.value


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("sts", "InvalidClientTokenId"),
        ("ssm", "UnrecognizedClientException"),
        ("cloudformation", "InvalidClientTokenId"),
        ("organizations", "UnrecognizedClientException"),
    ],
)
def test_unknown_key_errors_parse(private, rec, service, expected):
    c = client(
        private, rec, service, creds={"aws_access_key_id": "AKIAUNKNOWNUNKNOWN00", "aws_secret_access_key": "x" * 20}
    )
    calls = {
        "sts": "get_caller_identity",
        "ssm": "list_documents",
        "cloudformation": "list_stack_sets",
        "organizations": "describe_organization",
    }
    err = _error(getattr(c, calls[service]))
    assert err.response["Error"]["Code"] == expected
    status, body = next((s, b) for svc, o, s, b in rec.raw if s >= 400)
    assert validate_error(service, body, status)[0] == expected


def test_layer_errors_parse(private, rec):
    sts = client(private, rec, "sts")
    err = _error(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{PAYMENTS}:role/Nope", RoleSessionName="x1"))
    assert err.response["Error"]["Code"] == "AccessDenied"
    org = client(private, rec, "organizations", creds=private.credentials(PAYMENTS))
    assert _error(org.list_roots).response["Error"]["Code"] == "AccessDeniedException"
    cfn = client(private, rec, "cloudformation")
    assert (
        _error(lambda: cfn.describe_stack_set(StackSetName="missing")).response["Error"]["Code"]
        == "StackSetNotFoundException"
    )
    private.set_faults({"throttle_rate": 1.0})
    try:
        assert (
            _error(lambda: client(private, rec, "ssm").list_documents()).response["Error"]["Code"]
            == "ThrottlingException"
        )
        assert (
            _error(lambda: client(private, rec, "cloudformation").list_stack_sets()).response["Error"]["Code"]
            == "Throttling"
        )
        assert (
            _error(lambda: client(private, rec, "ec2").describe_instances()).response["Error"]["Code"]
            == "RequestLimitExceeded"
        )
    finally:
        private.clear_faults()
    errors = [(svc, s, b) for svc, _op, s, b in rec.raw if s >= 400]
    assert len(errors) == 6
    for svc, status, body in errors:
        code, message = validate_error(svc, body, status)
        assert code and message
