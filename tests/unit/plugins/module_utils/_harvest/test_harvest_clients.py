"""_harvest.clients: clients and assumed-role credentials (moto answers STS)."""

import datetime
import threading

import boto3
import botocore.awsrequest
import botocore.endpoint
import botocore.exceptions
import pytest
from moto import mock_aws
from support.harvest_fakes import (
    MGMT,
)

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import clients
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput


@mock_aws
def test_client_factory_caches_and_renews_assumed_credentials():
    now = [datetime.datetime.now(datetime.UTC).timestamp()]
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    factory = clients.ClientFactory(
        session=session, role_name="Reader", clock=lambda: now[0], duration_seconds=900, refresh_margin=300
    )
    own = factory.caller_account
    assert factory.credentials(own) is None  # the caller's own account uses its own credentials
    first = factory.credentials("222222222222")
    assert factory.credentials("222222222222") is first
    assert factory.assume_calls == 1
    now[0] = first["expires"] - 299  # inside the refresh margin
    second = factory.credentials("222222222222")
    assert factory.assume_calls == 2
    assert second is not first
    factory.invalidate("222222222222")
    factory.credentials("222222222222")
    assert factory.assume_calls == 3
    client = factory.client("ssm", "eu-west-1", "222222222222")
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries["mode"] == "standard"


@mock_aws
def test_member_clients_sign_as_their_account_whatever_the_thread_and_order():
    """One client per thread and region serves every member account: each call is signed with its account's
    assumed-role credentials (moto answers GetCallerIdentity with the account the keys belong to)."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    factory = clients.ClientFactory(session=session, role_name="Reader")
    accounts = ["2222222222%02d" % n for n in range(12)]
    seen = {}
    errors = []
    gate = threading.Barrier(4)

    def read(offset):
        try:
            gate.wait(timeout=10)
            for n in range(3 * len(accounts)):
                account = accounts[(n + offset) % len(accounts)]
                region = ["eu-west-1", "ap-northeast-1"][n % 2]
                ident = factory.client("sts", region, account).get_caller_identity()
                seen.setdefault(account, set()).add(ident["Account"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert seen == {account: {account} for account in accounts}
    assert factory.assume_calls == len(accounts)  # one AssumeRole per account, whatever the threads
    # one member client per thread and region (plus the caller's STS client), not one per account and region
    assert factory.clients_created <= 1 + 4 * 2
    own = factory.client("sts", "eu-west-1", factory.caller_account)
    assert own.get_caller_identity()["Account"] == factory.caller_account


def test_account_client_offers_api_operations_only():
    session = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    factory = clients.ClientFactory(session=session)
    client = clients.AccountClient(factory, factory._member_client("ssm", "eu-west-1"), "222222222222")
    assert callable(client.get_automation_execution)
    with pytest.raises(AttributeError, match="get_paginator"):
        client.get_paginator("describe_automation_executions")


def test_caller_identity_is_asked_once_whatever_the_threads():
    factory = clients.ClientFactory(
        session=boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    )
    asked = []
    gate = threading.Barrier(8)

    class Sts:
        def get_caller_identity(self):
            asked.append(1)
            return {"Account": MGMT, "Arn": "arn:aws:iam::%s:user/x" % MGMT}

    factory._base_client = lambda service, region=None: Sts()

    def ask():
        gate.wait(timeout=10)
        return factory.caller_account

    threads = [threading.Thread(target=ask) for _n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert factory.caller_account == MGMT
    assert len(asked) == 1


def _factory(**kwargs):
    session = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    return clients.ClientFactory(session=session, **kwargs)


def test_endpoints_per_service_and_region_win_and_others_stay_aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_STS", "AWS_URL"):
        monkeypatch.delenv(name, raising=False)
    factory = _factory(endpoints={"ssm": {"eu-west-1": "https://vpce-1.ssm.eu-west-1.vpce.amazonaws.com"}})
    assert (
        factory._base_client("ssm", "eu-west-1").meta.endpoint_url == "https://vpce-1.ssm.eu-west-1.vpce.amazonaws.com"
    )
    # another region, another service: AWS's own endpoints, not the SSM VPC endpoint of eu-west-1
    assert (
        factory._member_client("ssm", "ap-northeast-1").meta.endpoint_url == "https://ssm.ap-northeast-1.amazonaws.com"
    )
    assert factory._base_client("sts", "eu-west-1").meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"


def test_without_endpoints_botocore_resolves_each_service_from_its_own_configuration(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://ssm.example.test:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://sts.example.test:4566")
    factory = _factory()
    assert factory._member_client("ssm", "eu-west-1").meta.endpoint_url == "http://ssm.example.test:4566"
    assert factory._base_client("sts", "eu-west-1").meta.endpoint_url == "http://sts.example.test:4566"


def test_the_single_endpoint_url_of_a_sandbox_still_applies_everywhere():
    factory = _factory(endpoint_url="http://127.0.0.1:5000", endpoints={"sts": "http://sts.example.test"})
    assert factory._member_client("ssm", "ap-northeast-1").meta.endpoint_url == "http://127.0.0.1:5000"
    assert factory._base_client("sts", "us-east-1").meta.endpoint_url == "http://sts.example.test"


@pytest.mark.parametrize(
    ("endpoints", "field"),
    [
        ({"ssm": "ssm.eu-west-1.amazonaws.com"}, "endpoints.ssm"),
        ({"ssm": {"eu-west-1": 5}}, "endpoints.ssm.eu-west-1"),
        (["https://x"], "endpoints"),
    ],
)
def test_bad_endpoints_name_the_entry(endpoints, field):
    with pytest.raises(InvalidInput) as caught:
        clients.check_endpoints(endpoints)
    assert caught.value.field == field


def test_max_attempts_counts_the_first_call(monkeypatch):
    """max_attempts is documented as attempts with the first call included: botocore's retries["max_attempts"]
    counts only the retries (N + 1 calls), its total_max_attempts the calls (botocore.config.Config's docstring)."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    factory = clients.ClientFactory(session=session, role_name="Reader", max_attempts=3)
    client = factory.client("ssm", "eu-west-1")
    sent = []

    def throttled(request, **_kwargs):
        sent.append(request.url)
        return botocore.awsrequest.AWSResponse(
            request.url, 400, {}, _Raw(b'{"__type":"ThrottlingException","message":"Rate exceeded"}')
        )

    client.meta.events.register("before-send", throttled)  # answers before anything leaves the process
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda _seconds: None)  # the backoff, not awaited here
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.describe_automation_executions()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(sent) == 3


class _Raw:
    def __init__(self, body):
        self.body = body

    def stream(self, **_kwargs):
        yield self.body
