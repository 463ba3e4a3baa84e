"""_harvest.clients: what the member clients leave out to spend less CPU per call, and that nothing else changes.

The member clients parse timestamps with ``clients.local_timestamp`` (the same instant in the same local time as
botocore's default parser, cheaper), skip botocore's client-side parameter validation (AWS still validates), and
keep their session, with its loaded models, across worker-process forks. The answers here go through botocore's
real parser: a ``before-send`` handler (botocore's public event system) returns a canned HTTP answer.
"""

import datetime
import json
import os
import time

import boto3
import botocore.awsrequest
import botocore.exceptions
import botocore.loaders
import botocore.utils
import pytest
from moto import mock_aws

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import clients

# Every 15 minutes (and 1 s either side) over the days of the 2026 DST changes in Europe (29 March, 25 October),
# North America (8 March, 1 November) and Lord Howe Island (5 April, 4 October: a 30-minute change); a leap day,
# the epoch, sub-second values and now.
_CHANGES = [1774742400, 1792886400, 1772928000, 1793491200, 1775347200, 1791072000]
EPOCHS = sorted(
    {day - 86400 + step * 900 + jitter for day in _CHANGES for step in range(2 * 96) for jitter in (-1, 0, 1)}
    | {0, 951782400, 1774746000.5, 1788415200.123456, 1796614658.519427, int(time.time())}
)
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Sao_Paulo"]


@pytest.fixture
def zone(request):
    """Run the test in the time zone ``request.param`` (TZ and time.tzset), restored after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.parametrize("zone", ZONES, indirect=True)
def test_local_timestamp_is_botocores_answer(zone):
    for value in EPOCHS:
        ours, theirs = clients.local_timestamp(value), botocore.utils.parse_timestamp(value)
        # (== between zones is False for an ambiguous wall time, by PEP 495: the instant and the text are compared)
        assert ours.timestamp() == theirs.timestamp(), (zone, value)
        assert ours.isoformat() == theirs.isoformat(), (zone, value)
        assert ours.utcoffset() == theirs.utcoffset(), (zone, value)


def test_local_timestamp_hands_strings_to_botocore():
    for value in ["2026-03-29T01:00:00Z", "Sun, 29 Mar 2026 01:00:00 GMT", "1774746000"]:
        assert clients.local_timestamp(value) == botocore.utils.parse_timestamp(value)


class _Raw:
    def __init__(self, body):
        self._body = body if isinstance(body, bytes) else json.dumps(body).encode()

    def stream(self, **kwargs):
        yield self._body


_STS = {
    "GetCallerIdentity": b"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::111111111111:user/t"
    b"</Arn><UserId>AIDAT</UserId><Account>111111111111</Account></GetCallerIdentityResult>"
    b"</GetCallerIdentityResponse>",
    "AssumeRole": b"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAT</AccessKeyId>"
    b"<SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z"
    b"</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>",
}


def _factory(ssm_answer, **kwargs):
    """A factory whose every HTTP answer is canned (botocore's public before-send event): STS answers the caller's
    identity and AssumeRole, SSM ``ssm_answer`` (status, JSON body) on every client, the member ones included."""

    def before_send(request, **kw):
        operation = kw["event_name"].rsplit(".", 1)[-1]
        if operation in _STS:
            return botocore.awsrequest.AWSResponse(request.url, 200, {}, _Raw(_STS[operation]))
        status, body = ssm_answer
        return botocore.awsrequest.AWSResponse(request.url, status, {"x-amzn-requestid": "r"}, _Raw(body))

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    session.events.register("before-send", before_send)
    factory = clients.ClientFactory(session=session, role_name="Reader", **kwargs)
    member = factory.client("ssm", "eu-west-1", "222222222222")
    member.meta.events.register("before-send", before_send)
    return factory, member


@pytest.mark.parametrize("zone", ["Europe/Paris", "UTC"], indirect=True)
def test_member_clients_parse_timestamps_as_botocore_would(zone):
    start, end = 1774745999.25, 1774746061
    execution = {
        "AutomationExecutionId": "11111111-2222-3333-4444-555555555555",
        "AutomationExecutionStatus": "Success",
        "ExecutionStartTime": start,
        "ExecutionEndTime": end,
        "StepExecutions": [{"StepName": "Uptime", "ExecutionStartTime": start, "ExecutionEndTime": end}],
    }
    factory, member = _factory((200, {"AutomationExecution": execution}))
    got = member.get_automation_execution(AutomationExecutionId=execution["AutomationExecutionId"])
    got = got["AutomationExecution"]
    for value, parsed in [
        (start, got["ExecutionStartTime"]),
        (end, got["ExecutionEndTime"]),
        (start, got["StepExecutions"][0]["ExecutionStartTime"]),
        (end, got["StepExecutions"][0]["ExecutionEndTime"]),
    ]:
        assert isinstance(parsed.tzinfo, datetime.timezone)  # local_timestamp parsed it
        assert parsed.isoformat() == botocore.utils.parse_timestamp(value).isoformat()
        assert parsed.timestamp() == value
    # the caller's own clients keep botocore's defaults
    got = factory.client("ssm", "eu-west-1").get_automation_execution(
        AutomationExecutionId=execution["AutomationExecutionId"]
    )
    assert got["AutomationExecution"]["ExecutionStartTime"] == botocore.utils.parse_timestamp(start)
    assert not isinstance(got["AutomationExecution"]["ExecutionStartTime"].tzinfo, datetime.timezone)


def test_member_clients_skip_client_side_validation_only():
    bad = (400, {"__type": "ValidationException", "message": "1 validation error detected"})
    factory, member = _factory(bad, max_attempts=7)
    assert member.meta.config.retries["mode"] == "standard"
    with pytest.raises(botocore.exceptions.ParamValidationError):  # the caller's own clients validate
        factory.client("ssm", "eu-west-1").get_automation_execution(AutomationExecutionId="")
    # A member client sends it: AWS still answers a bad request with its own error (the harvest records it)
    with pytest.raises(botocore.exceptions.ClientError, match="ValidationException"):
        member.get_automation_execution(AutomationExecutionId="")  # botocore alone would refuse it (length 36)


@mock_aws
def test_member_session_and_its_models_survive_a_fork():
    """after_fork drops the clients and locks (they belong to the parent) but keeps the member session, so the
    child's first client is made from the models the parent loaded; the child's thread signs as no account until
    it chooses one."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    factory = clients.ClientFactory(session=session, role_name="Reader")
    factory.prepare_member_clients("ssm", {"eu-west-1", "us-east-1"})
    before = factory._member_boto3_session()
    parent_client = factory.client("sts", "eu-west-1", "222222222222")
    factory.after_fork()
    assert factory._member_boto3_session() is before
    child_client = factory.client("sts", "eu-west-1", "222222222222")
    assert child_client._client is not parent_client._client
    assert child_client.get_caller_identity()["Account"] == "222222222222"
    factory.thread_credentials.use(None)
    with pytest.raises(botocore.exceptions.NoCredentialsError):
        child_client._client.get_caller_identity()


@mock_aws
def test_the_caller_and_the_member_clients_read_a_service_model_once(monkeypatch):
    """The member session serves its clients from the caller session's loaded models: SSM's model file (about 50 ms
    of CPU to read and parse) is read once per process, not once for the caller's client and again for the members'."""
    reads = []
    load_file = botocore.loaders.JSONFileLoader.load_file

    def counting(self, file_path, *args, **kwargs):
        reads.append(str(file_path))
        return load_file(self, file_path, *args, **kwargs)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", counting)  # every loader's file reads
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    factory = clients.ClientFactory(session=session, role_name="Reader")
    factory.client("ssm", "eu-west-1")  # the caller's own client (the parent execution's reads)
    member = factory.client("ssm", "eu-west-1", "222222222222")
    assert member.meta.service_model.service_name == "ssm"
    ssm_models = [path for path in reads if "/ssm/" in path and path.endswith("/service-2")]
    assert len(ssm_models) == 1, ssm_models
