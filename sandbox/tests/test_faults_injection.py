"""Fault injection: seeded throttling, token-bucket TPS, 5xx, AccessDenied, credential expiry, latency."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.exceptions
import pytest
import yaml
from botocore.config import Config

from sandbox.testing import SandboxError, SandboxHandle
from sandbox.world import DEMO_WORLD

MGMT = "111122223333"
PAYMENTS = "222233334444"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    with SandboxHandle(DEMO_WORLD, name="faults", workdir=tmp_path_factory.mktemp("faults")) as handle:
        yield handle


@pytest.fixture
def faulty(private):
    yield private
    private.clear_faults()


def raw_client(sb, service, region="eu-west-1", creds=None):
    kw = creds or {"aws_access_key_id": sb.access_key, "aws_secret_access_key": sb.secret_key}
    return boto3.client(service, endpoint_url=sb.endpoint, region_name=region, config=NO_RETRY, **kw)


def outcomes(client, n):
    out = []
    for _ in range(n):
        try:
            client.describe_instance_information()
            out.append("ok")
        except botocore.exceptions.ClientError as exc:
            out.append(exc.response["Error"]["Code"])
    return out


def test_seeded_throttling_is_reproducible(faulty):
    rule = {"service": "ssm", "action": "DescribeInstanceInformation", "throttle_rate": 0.5}
    ssm = raw_client(faulty, "ssm")
    faulty.set_faults(rule)
    first = outcomes(ssm, 40)
    faulty.set_faults(rule)  # same rules again: the seeded generator starts over
    second = outcomes(ssm, 40)
    assert first == second
    assert set(first) == {"ok", "ThrottlingException"}
    assert 5 <= first.count("ThrottlingException") <= 35
    # Another action is not matched by the rule.
    assert raw_client(faulty, "ssm").list_documents()["DocumentIdentifiers"]


def test_throttling_error_shape_by_protocol(faulty):
    faulty.set_faults({"throttle_rate": 1.0})
    with pytest.raises(botocore.exceptions.ClientError) as err:
        raw_client(faulty, "ssm").list_documents()
    assert err.value.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as err:
        raw_client(faulty, "cloudformation").list_stack_sets()
    assert (err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]) == (
        "Throttling",
        "Rate exceeded",
    )
    with pytest.raises(botocore.exceptions.ClientError) as err:
        raw_client(faulty, "ec2").describe_instances()
    assert err.value.response["Error"]["Code"] == "RequestLimitExceeded"


def test_tps_token_bucket_per_account_and_region(faulty):
    # A bucket of 3 that refills once every 1000 s: exactly 3 calls pass per account and region.
    faulty.set_faults({"service": "ssm", "tps": 0.001, "burst": 3})
    assert outcomes(raw_client(faulty, "ssm", "eu-west-1"), 6) == ["ok"] * 3 + ["ThrottlingException"] * 3
    assert outcomes(raw_client(faulty, "ssm", "ap-northeast-1"), 4) == ["ok"] * 3 + ["ThrottlingException"]
    member = raw_client(faulty, "ssm", "eu-west-1", creds=faulty.credentials(PAYMENTS))
    assert outcomes(member, 4) == ["ok"] * 3 + ["ThrottlingException"]
    # Other services are not limited by the rule.
    assert raw_client(faulty, "ec2").describe_instances()["Reservations"] is not None


def test_5xx_errors(faulty):
    faulty.set_faults({"service": "ssm", "error_5xx_rate": 1.0})
    seen = set()
    for _ in range(12):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            raw_client(faulty, "ssm").list_documents()
        seen.add((err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert seen <= {("InternalServerError", 500), ("ServiceUnavailable", 503)}
    assert len(seen) == 2  # both kinds, drawn from the seeded generator
    log = [r for r in faulty.requests(faulty.last_seq() - 12) if r["action"] == "ListDocuments"]
    assert {r["status"] for r in log} <= {500, 503}


def test_access_denied_for_chosen_accounts(faulty):
    faulty.set_faults({"account": PAYMENTS, "service": "ssm", "access_denied": True})
    member = raw_client(faulty, "ssm", creds=faulty.credentials(PAYMENTS))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        member.list_documents()
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert (
        f"arn:aws:sts::{PAYMENTS}:assumed-role/OrganizationAccountAccessRole/" in err.value.response["Error"]["Message"]
    )
    assert "ssm:ListDocuments" in err.value.response["Error"]["Message"]
    assert raw_client(faulty, "ssm").list_documents()  # the management account is not affected
    other = raw_client(faulty, "ssm", creds=faulty.credentials("333344445555"))
    assert other.list_documents()
    faulty.set_faults({"account": PAYMENTS, "service": "sts", "access_denied": True})
    with pytest.raises(botocore.exceptions.ClientError) as err:
        raw_client(faulty, "sts", creds=faulty.credentials(PAYMENTS)).get_caller_identity()
    assert (err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDenied",
        403,
    )


def test_assumed_credentials_expire_early(faulty):
    """Credentials whose fault lifetime is over are refused at once, while AssumeRole still reported the Expiration
    that was asked for (no wall-clock wait: a lifetime of 0 seconds is over from the start)."""
    faulty.set_faults({"service": "sts", "action": "AssumeRole", "account": PAYMENTS, "credential_expiry_seconds": 0})
    sts = raw_client(faulty, "sts")
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{PAYMENTS}:role/OrganizationAccountAccessRole", RoleSessionName="short"
    )["Credentials"]
    assert (creds["Expiration"].timestamp() - time.time()) > 3000  # the reported Expiration is unchanged
    kw = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    with pytest.raises(botocore.exceptions.ClientError) as err:
        raw_client(faulty, "ssm", creds=kw).list_documents()
    assert err.value.response["Error"]["Code"] == "ExpiredTokenException"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        raw_client(faulty, "sts", creds=kw).get_caller_identity()
    assert err.value.response["Error"]["Code"] == "ExpiredToken"
    # Other accounts' credentials are unaffected by the rule, and work.
    other = sts.assume_role(
        RoleArn="arn:aws:iam::333344445555:role/OrganizationAccountAccessRole", RoleSessionName="long"
    )["Credentials"]
    assert (other["Expiration"].timestamp() - time.time()) > 3000
    other_kw = {
        "aws_access_key_id": other["AccessKeyId"],
        "aws_secret_access_key": other["SecretAccessKey"],
        "aws_session_token": other["SessionToken"],
    }
    assert raw_client(faulty, "ssm", creds=other_kw).list_documents()["DocumentIdentifiers"]
    # The same account's credentials without the rule work: the refusal came from the fault, not the account.
    faulty.clear_faults()
    fresh = sts.assume_role(
        RoleArn=f"arn:aws:iam::{PAYMENTS}:role/OrganizationAccountAccessRole", RoleSessionName="fresh"
    )["Credentials"]
    fresh_kw = {
        "aws_access_key_id": fresh["AccessKeyId"],
        "aws_secret_access_key": fresh["SecretAccessKey"],
        "aws_session_token": fresh["SessionToken"],
    }
    assert raw_client(faulty, "ssm", creds=fresh_kw).list_documents()["DocumentIdentifiers"]


def test_latency_is_added_before_serving(faulty):
    faulty.set_faults({"service": "organizations", "latency_ms": 300})
    seq = faulty.last_seq()
    raw_client(faulty, "organizations", "us-east-1").describe_organization()
    (entry,) = [r for r in faulty.requests(seq) if r["action"] == "DescribeOrganization"]
    assert entry["duration_ms"] >= 300
    assert faulty.faults()["stats"]["delayed"] >= 1


def test_bad_fault_spec_is_refused(faulty):
    with pytest.raises(SandboxError, match="unknown keys"):
        faulty.set_faults({"service": "ssm", "throttle": 1})
    with pytest.raises(SandboxError, match="between 0 and 1"):
        faulty.set_faults({"throttle_rate": 2})


def test_faults_from_the_world_file(sandbox_factory):
    world = yaml.safe_load(DEMO_WORLD.read_text())
    world["faults"] = [{"name": "deny-payments", "account": PAYMENTS, "service": "ec2", "access_denied": True}]
    sb = sandbox_factory(world, name="worldfaults")
    assert sb.faults()["faults"][0]["name"] == "deny-payments"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        raw_client(sb, "ec2", creds=sb.credentials(PAYMENTS)).describe_instances()
    assert err.value.response["Error"]["Code"] == "UnauthorizedOperation"
    # A reset rebuilds the world with its own faults.
    sb.clear_faults()
    assert raw_client(sb, "ec2", creds=sb.credentials(PAYMENTS)).describe_instances()
    sb.reset()
    assert sb.faults()["faults"][0]["name"] == "deny-payments"


# -- barrier -------------------------------------------------------------------------------------------------------
SLEEP_RUNBOOK = json.dumps(
    {
        "schemaVersion": "0.3",
        "mainSteps": [{"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "isEnd": True}],
    }
)


def concurrently(*calls):
    """Run each call on its own thread; each result is its return value or the ClientError it raised."""

    def attempt(call):
        try:
            return call()
        except botocore.exceptions.ClientError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(attempt, c) for c in calls]]


def test_barrier_holds_a_request_until_its_partner_arrives_and_times_out_alone(faulty):
    """A lone request is held and, at the timeout, answered with an error that says how many arrived; two requests
    together are released together (the first one ends only after the second one began); a request that timed out
    left its round, so the next pair is not released early by it."""
    faulty.set_faults(
        {"service": "ssm", "action": "DescribeInstanceInformation", "barrier": 2, "barrier_timeout_seconds": 3}
    )
    ssm = raw_client(faulty, "ssm")
    seq, before = faulty.last_seq(), faulty.faults()["stats"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ssm.describe_instance_information()
    assert err.value.response["Error"]["Code"] == "SandboxBarrierTimeout"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "1 of the 2 requests it waits for arrived within 3 s" in err.value.response["Error"]["Message"]
    assert raw_client(faulty, "ssm").list_documents()["DocumentIdentifiers"]  # another action is not held

    pair = concurrently(
        raw_client(faulty, "ssm").describe_instance_information, raw_client(faulty, "ssm").describe_instance_information
    )
    assert [type(r) for r in pair] == [dict, dict], pair
    first, second = [r for r in faulty.requests(seq) if r["action"] == "DescribeInstanceInformation"][1:]
    assert (first["status"], second["status"]) == (200, 200)
    # The request log's ts is when a call ended: the first to arrive ended only after the second one arrived.
    assert first["ts"] >= second["ts"] - second["duration_ms"] / 1000
    stats = faulty.faults()["stats"]
    assert (stats["held"] - before["held"], stats["barrier_timeouts"] - before["barrier_timeouts"]) == (2, 1)


@pytest.mark.parametrize("refused", [False, True], ids=["aws-replays-the-first-id", "aws-refuses-the-reused-token"])
def test_barrier_releases_two_starts_with_one_token_onto_one_execution(faulty, refused):
    """Two StartAutomationExecution calls with the same ClientToken, held until both are in flight: the engine serves
    one first; the other gets its id (the default) or IdempotentParameterMismatch (client_token_reuse_refused)."""
    ssm = raw_client(faulty, "ssm", "ap-northeast-1")
    name = f"barrier-nap-{uuid.uuid4().hex[:8]}"
    ssm.create_document(Content=SLEEP_RUNBOOK, Name=name, DocumentType="Automation", DocumentFormat="JSON")
    barrier = {"service": "ssm", "action": "StartAutomationExecution", "barrier": 2}
    faulty.set_faults({**barrier, "client_token_reuse_refused": 1} if refused else barrier)
    token = str(uuid.uuid4())
    seq, held = faulty.last_seq(), faulty.faults()["stats"]["held"]

    def start():
        client = raw_client(faulty, "ssm", "ap-northeast-1")
        return client.start_automation_execution(DocumentName=name, ClientToken=token)["AutomationExecutionId"]

    outcome = concurrently(start, start)
    ids = [r for r in outcome if isinstance(r, str)]
    listed = ssm.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": [name]}])
    assert [m["AutomationExecutionId"] for m in listed["AutomationExecutionMetadataList"]] == ids[:1]
    if refused:
        assert len(ids) == 1
        (refusal,) = [r for r in outcome if not isinstance(r, str)]
        assert refusal.response["Error"]["Code"] == "IdempotentParameterMismatch"
    else:
        assert len(ids) == 2
        assert ids[0] == ids[1]
    starts = [r for r in faulty.requests(seq) if r["action"] == "StartAutomationExecution"]
    assert sorted(r["status"] for r in starts) == ([200, 400] if refused else [200, 200])
    assert faulty.faults()["stats"]["held"] - held == 2


def test_bad_barrier_spec_is_refused(faulty):
    with pytest.raises(SandboxError, match="barrier: must be a whole number of requests, 2 or more"):
        faulty.set_faults({"service": "ssm", "action": "StartAutomationExecution", "barrier": 1})
    with pytest.raises(SandboxError, match="the rule must name the action"):
        faulty.set_faults({"service": "ssm", "barrier": 2})
    with pytest.raises(SandboxError, match="barrier_timeout_seconds: only with barrier"):
        faulty.set_faults({"service": "ssm", "action": "StartAutomationExecution", "barrier_timeout_seconds": 1})
