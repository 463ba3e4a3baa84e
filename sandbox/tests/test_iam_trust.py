"""STS AssumeRole is judged against the role's real trust policy: each principal pattern, conditions, denial."""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest

from sandbox import trust

MGMT = "111122223333"
ORG = "o-o2pkexample"
PAYMENTS = "222233334444"
WEB = "333344445555"
USER = f"arn:aws:iam::{MGMT}:user/sandbox-admin"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal, condition=None, action="sts:AssumeRole"):
    stmt = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        stmt["Condition"] = condition
    return stmt


def req(principal_arn=USER, account=MGMT, org_id=ORG, **kw):
    return trust.Request(principal_arn=principal_arn, account=account, org_id=org_id, **kw)


# -- the evaluator, pattern by pattern --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("principal", "caller", "expected"),
    [
        ({"AWS": f"arn:aws:iam::{MGMT}:root"}, USER, True),
        ({"AWS": MGMT}, USER, True),
        ({"AWS": f"arn:aws:iam::{WEB}:root"}, USER, False),
        ({"AWS": USER}, USER, True),
        ({"AWS": f"arn:aws:iam::{MGMT}:user/someone-else"}, USER, False),
        ({"AWS": f"arn:aws:iam::{MGMT}:role/Admin"}, f"arn:aws:sts::{MGMT}:assumed-role/Admin/s1", True),
        ({"AWS": f"arn:aws:iam::{MGMT}:role/path/Admin"}, f"arn:aws:sts::{MGMT}:assumed-role/Admin/s1", True),
        ({"AWS": f"arn:aws:iam::{MGMT}:role/Admin"}, f"arn:aws:sts::{MGMT}:assumed-role/Other/s1", False),
        ({"AWS": f"arn:aws:iam::{MGMT}:role/Admin"}, USER, False),
        ({"AWS": "*"}, USER, True),
        ({"Service": "ssm.amazonaws.com"}, USER, False),
        ({"Federated": "cognito-identity.amazonaws.com"}, USER, False),
    ],
)
def test_aws_principal_patterns(principal, caller, expected):
    account = caller.split(":")[4]
    allowed, reason = trust.evaluate(policy(allow(principal)), req(caller, account))
    assert allowed is expected, reason


def test_principal_org_id_condition():
    doc = policy(allow({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": ORG}}))
    assert trust.evaluate(doc, req())[0]
    assert not trust.evaluate(doc, req(org_id="o-otherorg000"))[0]
    assert not trust.evaluate(doc, req(org_id=None))[0]  # an account outside any organization


def test_service_principal_with_source_conditions():
    doc = policy(
        allow(
            {"Service": "ssm.amazonaws.com"},
            {
                "StringEquals": {"aws:SourceAccount": PAYMENTS},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ssm:*:{PAYMENTS}:automation-execution/*"},
            },
        )
    )
    good = {
        "aws:SourceAccount": PAYMENTS,
        "aws:SourceArn": f"arn:aws:ssm:eu-west-1:{PAYMENTS}:automation-execution/abc",
    }
    assert trust.evaluate(doc, trust.Request(service="ssm.amazonaws.com", context=good))[0]
    assert not trust.evaluate(doc, trust.Request(service="ec2.amazonaws.com", context=good))[0]
    assert not trust.evaluate(
        doc, trust.Request(service="ssm.amazonaws.com", context={**good, "aws:SourceAccount": WEB})
    )[0]
    wrong_arn = {**good, "aws:SourceArn": f"arn:aws:ssm:eu-west-1:{WEB}:automation-execution/abc"}
    assert not trust.evaluate(doc, trust.Request(service="ssm.amazonaws.com", context=wrong_arn))[0]
    assert not trust.evaluate(doc, trust.Request(service="ssm.amazonaws.com"))[0]  # no source context at all
    # A service principal never matches an AWS caller.
    assert not trust.evaluate(doc, req())[0]


def test_explicit_deny_wins_and_unknowns_never_admit():
    doc = policy(allow({"AWS": MGMT}), {"Effect": "Deny", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"})
    allowed, reason = trust.evaluate(doc, req())
    assert not allowed
    assert "denied" in reason
    assert not trust.evaluate(policy(allow({"AWS": MGMT}, {"NumericMagic": {"aws:PrincipalOrgID": ORG}})), req())[0]
    assert not trust.evaluate(
        policy({"Effect": "Allow", "NotPrincipal": {"AWS": WEB}, "Action": "sts:AssumeRole"}), req()
    )[0]
    assert not trust.evaluate(policy(allow({"AWS": MGMT}, action="sts:TagSession")), req())[0]
    assert trust.evaluate(policy(allow({"AWS": MGMT}, action="sts:*")), req())[0]
    assert not trust.evaluate("not json", req())[0]


def test_if_exists_and_negated_operators():
    doc = policy(allow({"AWS": MGMT}, {"StringEqualsIfExists": {"sts:ExternalId": "abc"}}))
    assert trust.evaluate(doc, req())[0]
    assert not trust.evaluate(doc, req(context={"sts:ExternalId": "xyz"}))[0]
    doc = policy(allow({"AWS": MGMT}, {"StringNotEquals": {"aws:PrincipalAccount": WEB}}))
    assert trust.evaluate(doc, req())[0]


# -- through STS, against the demo world's real roles -----------------------------------------------------------------
def sts_as(sandbox, creds=None):
    kw = creds or {"aws_access_key_id": sandbox.access_key, "aws_secret_access_key": sandbox.secret_key}
    return boto3.client("sts", endpoint_url=sandbox.endpoint, region_name="eu-west-1", **kw)


def as_kw(creds):
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def test_reader_role_admits_the_management_account_with_principal_org_id(sandbox):
    reader = f"arn:aws:iam::{PAYMENTS}:role/AWS-SystemsManager-AutomationResultsReaderRole"
    creds = sts_as(sandbox).assume_role(RoleArn=reader, RoleSessionName="reader")["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    ident = sts_as(sandbox, as_kw(creds)).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{PAYMENTS}:assumed-role/AWS-SystemsManager-AutomationResultsReaderRole/reader"


def test_execution_role_admits_only_the_admin_role_and_ssm(sandbox):
    # The execution role trusts the management account's AutomationAdministrationRole (and ssm.amazonaws.com),
    # so neither the management user nor another account's role session may assume it.
    target = f"arn:aws:iam::{PAYMENTS}:role/AWS-SystemsManager-AutomationExecutionRole"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sts_as(sandbox).assume_role(RoleArn=target, RoleSessionName="nope")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    member = sts_as(sandbox, sandbox.credentials(WEB))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        member.assume_role(RoleArn=target, RoleSessionName="nope")
    assert err.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:sts::{WEB}:assumed-role/OrganizationAccountAccessRole/"
    )
    # The admin role itself trusts only the SSM service.
    with pytest.raises(botocore.exceptions.ClientError):
        sts_as(sandbox).assume_role(
            RoleArn=f"arn:aws:iam::{MGMT}:role/AWS-SystemsManager-AutomationAdministrationRole", RoleSessionName="nope"
        )


def test_role_arn_principal_and_chaining(sandbox_factory):
    sb = sandbox_factory(name="trust")
    iam_mgmt = sb.client("iam")
    iam_mgmt.create_role(
        RoleName="Hop", AssumeRolePolicyDocument=json.dumps(policy(allow({"AWS": f"arn:aws:iam::{MGMT}:root"})))
    )
    iam_mgmt.create_role(
        RoleName="Stranger", AssumeRolePolicyDocument=json.dumps(policy(allow({"AWS": f"arn:aws:iam::{MGMT}:root"})))
    )
    # a cross-account assume needs the caller's own permission too (sandbox/iam_enforcement.py): both may try
    may_assume = json.dumps(policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
    for name in ("Hop", "Stranger"):
        iam_mgmt.put_role_policy(RoleName=name, PolicyName="may-assume", PolicyDocument=may_assume)
    member_iam = sb.client("iam", account=PAYMENTS)
    member_iam.create_role(
        RoleName="OnlyHop",
        AssumeRolePolicyDocument=json.dumps(
            policy(allow({"AWS": f"arn:aws:iam::{MGMT}:role/Hop"}, {"StringEquals": {"aws:PrincipalOrgID": ORG}}))
        ),
    )
    member_iam.create_role(
        RoleName="OtherOrg",
        AssumeRolePolicyDocument=json.dumps(
            policy(
                allow(
                    {"AWS": f"arn:aws:iam::{MGMT}:role/Hop"}, {"StringEquals": {"aws:PrincipalOrgID": "o-elsewhere00"}}
                )
            )
        ),
    )
    hop = as_kw(sts_as(sb).assume_role(RoleArn=f"arn:aws:iam::{MGMT}:role/Hop", RoleSessionName="hop")["Credentials"])
    stranger = as_kw(
        sts_as(sb).assume_role(RoleArn=f"arn:aws:iam::{MGMT}:role/Stranger", RoleSessionName="s1")["Credentials"]
    )
    creds = sts_as(sb, hop).assume_role(RoleArn=f"arn:aws:iam::{PAYMENTS}:role/OnlyHop", RoleSessionName="chain")[
        "Credentials"
    ]
    assert sts_as(sb, as_kw(creds)).get_caller_identity()["Account"] == PAYMENTS
    for who, role in ((stranger, "OnlyHop"), (hop, "OtherOrg"), (hop, "Missing")):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            sts_as(sb, who).assume_role(RoleArn=f"arn:aws:iam::{PAYMENTS}:role/{role}", RoleSessionName="x1")
        assert err.value.response["Error"]["Code"] == "AccessDenied"
    # Role chaining is limited to one hour.
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sts_as(sb, hop).assume_role(
            RoleArn=f"arn:aws:iam::{PAYMENTS}:role/OnlyHop", RoleSessionName="long", DurationSeconds=7200
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_tampered_session_token_is_rejected(sandbox):
    creds = sandbox.credentials(PAYMENTS)
    bad = {**creds, "aws_session_token": creds["aws_session_token"][:-4] + "AAAA"}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sts_as(sandbox, bad).get_caller_identity()
    assert err.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_can_assume_for_the_ssm_service_in_process():
    """Sandbox.can_assume, as the engine calls it: service principal with aws:SourceArn / aws:SourceAccount."""
    from sandbox.server import Sandbox
    from sandbox.world import DEMO_WORLD, load_world

    sb = Sandbox(load_world(DEMO_WORLD))
    try:
        sb.build()
        role = f"arn:aws:iam::{PAYMENTS}:role/AWS-SystemsManager-AutomationExecutionRole"
        admin_session = f"arn:aws:sts::{MGMT}:assumed-role/AWS-SystemsManager-AutomationAdministrationRole/exec-1"
        assert sb.can_assume(role, admin_session)[0]
        assert not sb.can_assume(
            role, f"arn:aws:sts::{WEB}:assumed-role/AWS-SystemsManager-AutomationAdministrationRole/x"
        )[0]
        src = f"arn:aws:ssm:ap-northeast-1:{PAYMENTS}:automation-execution/abc"
        assert sb.can_assume(role, service="ssm.amazonaws.com", source_arn=src, source_account=PAYMENTS)[0]
        assert not sb.can_assume(role, service="ssm.amazonaws.com", source_arn=src, source_account=WEB)[0]
        admin = f"arn:aws:iam::{MGMT}:role/AWS-SystemsManager-AutomationAdministrationRole"
        assert sb.can_assume(
            admin, service="ssm.amazonaws.com", source_arn=f"arn:aws:ssm:eu-west-1:{MGMT}:automation-execution/x"
        )[0]
        # No execution role in the management account in the demo world: the seed's "can't be assumed" case.
        ok, reason = sb.can_assume(
            f"arn:aws:iam::{MGMT}:role/AWS-SystemsManager-AutomationExecutionRole", admin_session
        )
        assert not ok
        assert "does not exist" in reason
    finally:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        sb.stacksets.reset()


def test_a_cross_account_assume_needs_the_callers_permission_too(sandbox_factory):
    """AWS: a cross-account AssumeRole needs the trust policy AND the caller's identity policy (IAM User Guide,
    "Cross-account policy evaluation logic"); trust alone is not enough."""
    sb = sandbox_factory(name="trust-and-identity")
    iam_mgmt = sb.client("iam")
    iam_mgmt.create_role(
        RoleName="Caller", AssumeRolePolicyDocument=json.dumps(policy(allow({"AWS": f"arn:aws:iam::{MGMT}:root"})))
    )
    caller = as_kw(
        sts_as(sb).assume_role(RoleArn=f"arn:aws:iam::{MGMT}:role/Caller", RoleSessionName="cc")["Credentials"]
    )
    target = f"arn:aws:iam::{PAYMENTS}:role/OrganizationAccountAccessRole"
    sb.client("iam", account=PAYMENTS).update_assume_role_policy(
        RoleName="OrganizationAccountAccessRole",
        PolicyDocument=json.dumps(policy(allow({"AWS": f"arn:aws:iam::{MGMT}:role/Caller"}))),
    )
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        sts_as(sb, caller).assume_role(RoleArn=target, RoleSessionName="x1")
    assert "because no identity-based policy allows the sts:AssumeRole action" in str(denied.value)
    iam_mgmt.put_role_policy(
        RoleName="Caller",
        PolicyName="assume-one",
        PolicyDocument=json.dumps(policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": target})),
    )
    assert sts_as(sb, caller).assume_role(RoleArn=target, RoleSessionName="x2")["AssumedRoleUser"]
    # the custom execution-role case of issue 14: permission on one role name does not cover another, even when
    # that role trusts the caller
    sb.client("iam", account=PAYMENTS).create_role(
        RoleName="Other",
        AssumeRolePolicyDocument=json.dumps(policy(allow({"AWS": f"arn:aws:iam::{MGMT}:role/Caller"}))),
    )
    with pytest.raises(botocore.exceptions.ClientError, match="no identity-based policy allows"):
        sts_as(sb, caller).assume_role(RoleArn=f"arn:aws:iam::{PAYMENTS}:role/Other", RoleSessionName="x3")
