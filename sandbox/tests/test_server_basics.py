"""The sandbox serves the demo world's organization, instances and identities as AWS does."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

MGMT = "111122223333"
PAYMENTS = "222233334444"


def test_health_and_world(sandbox):
    health = sandbox.admin("GET", "health")
    assert health["status"] == "ok"
    world = sandbox.world
    assert world.management_account_id == MGMT
    assert world.organization_id == "o-o2pkexample"
    assert len(world.accounts) == 7
    assert len(world.instances) == 16
    assert all(i.instance_id.startswith("i-") for i in world.instances)


def test_organization_tree_via_boto3(sandbox):
    org = sandbox.client("organizations")
    assert org.describe_organization()["Organization"]["MasterAccountId"] == MGMT
    roots = org.list_roots()["Roots"]
    assert [r["Id"] for r in roots] == ["r-o2pk"]
    top = {
        ou["Name"]: ou["Id"]
        for ou in org.list_organizational_units_for_parent(ParentId="r-o2pk")["OrganizationalUnits"]
    }
    assert top == {"Workloads": "ou-o2pk-wrkloads", "Security": "ou-o2pk-security"}
    prod = org.list_organizational_units_for_parent(ParentId="ou-o2pk-wrkloads")["OrganizationalUnits"]
    assert {ou["Name"] for ou in prod} == {"Prod", "Staging"}
    payments = org.list_organizational_units_for_parent(ParentId="ou-o2pk-prod0001")["OrganizationalUnits"]
    assert [ou["Id"] for ou in payments] == ["ou-o2pk-paymnts1"]
    accounts = org.list_accounts_for_parent(ParentId="ou-o2pk-paymnts1")["Accounts"]
    assert [(a["Id"], a["Name"]) for a in accounts] == [(PAYMENTS, "payments-prod")]
    assert {a["Id"] for a in org.list_accounts()["Accounts"]} == set(sandbox.world.accounts)
    at_root = {a["Id"] for a in org.list_accounts_for_parent(ParentId="r-o2pk")["Accounts"]}
    assert at_root == {MGMT}  # the management account sits under the root; every member is in an OU
    assert org.list_parents(ChildId=MGMT)["Parents"] == [{"Id": "r-o2pk", "Type": "ROOT"}]
    mgmt = org.describe_account(AccountId=MGMT)["Account"]
    assert mgmt["Name"] == "management"


def test_instances_by_tag_in_the_management_account(sandbox):
    ec2 = sandbox.client("ec2", region="ap-northeast-1")
    resp = ec2.describe_instances(Filters=[{"Name": "tag:ssm-automation", "Values": ["true"]}])
    names = sorted(
        t["Value"] for r in resp["Reservations"] for i in r["Instances"] for t in i["Tags"] if t["Key"] == "Name"
    )
    assert names == ["mgmt-bastion"]


def test_instances_in_a_member_account_via_org_access_role(sandbox):
    ec2 = sandbox.client("ec2", region="ap-northeast-1", account="444455556666")
    resp = ec2.describe_instances()
    by_name = {
        next(t["Value"] for t in i["Tags"] if t["Key"] == "Name"): i
        for r in resp["Reservations"]
        for i in r["Instances"]
    }
    assert set(by_name) == {"stg-web", "stg-db"}
    assert by_name["stg-web"]["State"]["Name"] == "stopped"
    assert "ssm-automation" not in {t["Key"] for t in by_name["stg-db"]["Tags"]}
    expected = {i.instance_id for i in sandbox.world.instances_in("444455556666", "ap-northeast-1")}
    assert {i["InstanceId"] for i in by_name.values()} == expected


def test_windows_instance_reports_the_windows_platform(sandbox):
    ec2 = sandbox.client("ec2", region="ap-northeast-1", account="333344445555")
    resp = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["web-win-1"]}])
    (inst,) = [i for r in resp["Reservations"] for i in r["Instances"]]
    assert inst["Platform"] == "windows"


def test_caller_identity_management_and_assumed(sandbox):
    ident = sandbox.client("sts").get_caller_identity()
    assert ident["Account"] == MGMT
    assert ident["Arn"] == f"arn:aws:iam::{MGMT}:user/sandbox-admin"
    member = sandbox.client("sts", account=PAYMENTS).get_caller_identity()
    assert member["Account"] == PAYMENTS
    assert member["Arn"].startswith(f"arn:aws:sts::{PAYMENTS}:assumed-role/OrganizationAccountAccessRole/")


def test_assume_role_into_an_account_without_the_role_is_access_denied(sandbox):
    sts = sandbox.client("sts")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sts.assume_role(RoleArn=f"arn:aws:iam::{PAYMENTS}:role/NoSuchRole", RoleSessionName="t1")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{MGMT}:user/sandbox-admin is not authorized to perform: sts:AssumeRole "
        f"on resource: arn:aws:iam::{PAYMENTS}:role/NoSuchRole"
    )


def test_management_account_has_no_org_access_role(sandbox):
    # AWS creates OrganizationAccountAccessRole only in accounts created from the organization.
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sandbox.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{MGMT}:role/OrganizationAccountAccessRole", RoleSessionName="t1"
        )
    assert err.value.response["Error"]["Code"] == "AccessDenied"


def test_unknown_access_key_is_rejected_by_protocol(sandbox):
    import boto3

    kw = {
        "endpoint_url": sandbox.endpoint,
        "region_name": "eu-west-1",
        "aws_access_key_id": "AKIAUNKNOWN000000000",
        "aws_secret_access_key": "x" * 20,
    }
    with pytest.raises(botocore.exceptions.ClientError) as err:
        boto3.client("ssm", **kw).list_documents()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        boto3.client("sts", **kw).get_caller_identity()
    assert err.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_member_accounts_cannot_list_the_organization(sandbox):
    org = sandbox.client("organizations", account=PAYMENTS)
    assert org.describe_organization()["Organization"]["Id"] == "o-o2pkexample"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        org.list_accounts()
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"


def test_aws_owned_documents_exist_everywhere(sandbox):
    for account, region in ((MGMT, "eu-west-1"), (PAYMENTS, "ap-northeast-1")):
        ssm = sandbox.client("ssm", region=region, account=account)
        doc = ssm.describe_document(Name="AWS-RunShellScript")["Document"]
        assert doc["Owner"] == "Amazon"
        assert doc["DocumentType"] == "Command"
        assert [p["Name"] for p in doc["Parameters"]] == ["commands", "workingDirectory", "executionTimeout"]
        content = json.loads(ssm.get_document(Name="AWS-RunPowerShellScript")["Content"])
        assert "aws:runPowerShellScript" in content["runtimeConfig"]
        names = {
            d["Name"]
            for d in ssm.list_documents(Filters=[{"Key": "Owner", "Values": ["Amazon"]}])["DocumentIdentifiers"]
        }
        assert {"AWS-RunShellScript", "AWS-RunPowerShellScript"} <= names
        own = ssm.list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"]
        assert not [d for d in own if d["Name"].startswith("AWS-")]


def test_request_log_records_reads_and_writes(sandbox):
    seq = sandbox.last_seq()
    ssm = sandbox.client("ssm", region="eu-west-1")
    ssm.list_documents()
    ssm.put_parameter(Name="/sandbox-tests/request-log", Value="x", Type="String", Overwrite=True)
    entries = sandbox.requests(since=seq)
    (read,) = [e for e in entries if e["action"] == "ListDocuments"]
    assert (read["service"], read["account"], read["region"], read["status"], read["write"]) == (
        "ssm",
        MGMT,
        "eu-west-1",
        200,
        False,
    )
    writes = sandbox.write_calls(seq)
    assert [(w["service"], w["action"]) for w in writes] == [("ssm", "PutParameter")]
    assert all(e["seq"] > seq for e in entries)


def test_env_drives_amazon_aws_modules(sandbox, tmp_path):
    from support.ansible_run import run_module

    result = run_module(
        tmp_path,
        "amazon.aws.ec2_instance_info",
        {"region": "eu-west-1", "filters": {"tag:ssm-automation": "true"}},
        env=sandbox.env,
    )
    assert not result.get("failed"), result.get("msg")
    assert [i["tags"]["Name"] for i in result["instances"]] == ["mgmt-tools"]


def test_org_tree_via_the_aws_cli(sandbox):
    import os
    import subprocess
    import sys
    from pathlib import Path

    aws = str(Path(sys.executable).parent / "aws")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **sandbox.env}
    env.pop("AWS_SESSION_TOKEN")

    def cli(*args):
        out = subprocess.run(
            [aws, "--endpoint-url", sandbox.endpoint, "--output", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout)

    assert cli("organizations", "describe-organization")["Organization"]["Id"] == "o-o2pkexample"
    children = cli("organizations", "list-children", "--parent-id", "ou-o2pk-prod0001", "--child-type", "ACCOUNT")[
        "Children"
    ]
    assert sorted(c["Id"] for c in children) == ["333344445555", "777788889999"]
    ous = cli("organizations", "list-organizational-units-for-parent", "--parent-id", "ou-o2pk-prod0001")[
        "OrganizationalUnits"
    ]
    assert [o["Name"] for o in ous] == ["Payments"]


def _post(conn, body=b'{"Name": "x"}', headers=None):
    conn.request(
        "POST",
        "/",
        body=body,
        headers={"X-Amz-Target": "AmazonSSM.DescribeDocument", "Content-Type": "application/x-amz-json-1.1"}
        | (headers or {}),
    )
    response = conn.getresponse()
    return response, response.read()


def test_connections_are_kept_alive_as_aws_endpoints_keep_them(sandbox):
    """HTTP/1.1 persistent connections (RFC 9112 section 9.3): several requests on one connection, each answered whole
    and none with ``Connection: close``, the body of each request read without eating the next; a client that asks
    for ``Connection: close`` gets it."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(sandbox.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        answers = [_post(conn) for _ in range(3)]
        sock = conn.sock
        assert sock is not None  # http.client closes its socket when the server closes the connection
        answers.append(_post(conn, body=b'{"Name": "y", "padding": "' + b"z" * 5000 + b'"}'))
        assert conn.sock is sock  # the same connection served every request
        for response, payload in answers:
            assert response.status == 403  # unsigned: refused as AWS refuses it, a whole JSON error each time
            assert json.loads(payload)["__type"]
            assert response.getheader("Connection") != "close"
        response, _payload = _post(conn, headers={"Connection": "close"})
        assert response.getheader("Connection") == "close"
        assert conn.sock is None
    finally:
        conn.close()
