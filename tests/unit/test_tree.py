"""tree.py: harvesting the execution tree, against small in-memory fakes of the SSM API (not of our code)."""

import datetime
import os
import threading

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ansible_collections.orgops.ssm_automation.plugins.module_utils import tree

MGMT = "111111111111"
PARENT = "00000000-0000-4000-8000-000000000000"
T0 = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def uid(*parts):
    n = abs(hash(parts)) % (16**12)
    return "%08x-0000-4000-8000-%012x" % (len(parts), n)


def client_error(code, message="", op="Op"):
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"RetryAttempts": 2}}, op)


def step(name, status, output=None, command_id=None, failure=None):
    s = {
        "StepName": name,
        "Action": "aws:runCommand",
        "StepStatus": status,
        "ExecutionStartTime": T0,
        "ExecutionEndTime": T0,
    }
    outputs = {}
    if output is not None:
        outputs["%s.Output" % name] = [output]
    if command_id:
        outputs["CommandId"] = [command_id]
    if outputs:
        s["Outputs"] = outputs
    if failure:
        s["FailureMessage"] = failure
    return s


class FakeSSM:
    """One account-region's SSM Automation data, answering like the API (pagination at 50, errors as ClientError)."""

    def __init__(self, account, region):
        self.account = account
        self.region = region
        self.executions = {}
        self.children = {}
        self.invocations = {}
        self.calls = []
        self.fail = {}  # operation -> list of exceptions to raise, in order
        self.barrier = None

    def _record(self, op):
        self.calls.append(op)
        if self.barrier is not None:
            barrier, self.barrier = self.barrier, None
            barrier.wait(timeout=10)
        queue = self.fail.get(op)
        if queue:
            exc = queue.pop(0)
            if exc is not None:
                raise exc

    def describe_automation_executions(self, Filters, MaxResults=50, NextToken=None):
        self._record("describe_automation_executions")
        parent = [f for f in Filters if f["Key"] == "ParentExecutionId"][0]["Values"][0]
        kids = self.children.get(parent, [])
        start = int(NextToken or 0)
        page = kids[start : start + MaxResults]
        out = {
            "AutomationExecutionMetadataList": [self._meta(self.executions[k]) for k in page],
            "ResponseMetadata": {"RetryAttempts": 0},
        }
        if start + MaxResults < len(kids):
            out["NextToken"] = str(start + MaxResults)
        return out

    def _meta(self, ex):
        keys = (
            "AutomationExecutionId",
            "AutomationExecutionStatus",
            "ExecutionStartTime",
            "ExecutionEndTime",
            "ParentAutomationExecutionId",
            "Target",
            "FailureMessage",
        )
        return {k: ex[k] for k in keys if k in ex}

    def get_automation_execution(self, AutomationExecutionId):
        self._record("get_automation_execution")
        if AutomationExecutionId not in self.executions:
            raise client_error("AutomationExecutionNotFoundException", "not found", "GetAutomationExecution")
        return {
            "AutomationExecution": dict(self.executions[AutomationExecutionId]),
            "ResponseMetadata": {"RetryAttempts": 0},
        }

    def describe_automation_step_executions(self, AutomationExecutionId, MaxResults=50, NextToken=None):
        self._record("describe_automation_step_executions")
        steps = self.executions[AutomationExecutionId]["_all_steps"]
        start = int(NextToken or 0)
        out = {"StepExecutions": steps[start : start + MaxResults]}
        if start + MaxResults < len(steps):
            out["NextToken"] = str(start + MaxResults)
        return out

    def get_command_invocation(self, CommandId, InstanceId):
        self._record("get_command_invocation")
        return self.invocations[(CommandId, InstanceId)]

    def get_paginator(self, name):
        raise AssertionError("the fake only pages by hand")


class FakeFactory:
    """Stands in for ClientFactory: one FakeSSM per account and region; some accounts refuse the reader role."""

    def __init__(self):
        self.caller_account = MGMT
        self.clients = {}
        self.denied = {}
        self.invalidated = []
        self.lock = threading.Lock()

    def ssm(self, account, region):
        key = (account, region)
        if key not in self.clients:
            self.clients[key] = FakeSSM(account, region)
        return self.clients[key]

    def client(self, service, region, account=None):
        assert service == "ssm"
        account = account or MGMT
        if account in self.denied:
            raise self.denied[account]
        return self.ssm(account, region)

    def invalidate(self, account):
        with self.lock:
            self.invalidated.append(account)

    def calls(self, op=None):
        return sum(len([c for c in s.calls if op is None or c == op]) for s in self.clients.values())


def build_world(factory, layout, parent_region="eu-west-1", truncated=False):
    """layout: {(account, region): [instance spec]} where an instance spec is (instance_id, status, steps)."""
    parent_steps = []
    for (account, region), instances in sorted(layout.items()):
        member = uid(account, region)
        ssm = factory.ssm(account, region)
        step_out = {
            "StepName": "%s-%s" % (account, region),
            "Action": "aws:executeAutomation",
            "StepStatus": "Success",
            "TargetLocation": {
                "Accounts": [account],
                "Regions": [region],
                "ExecutionRoleName": "AWS-SystemsManager-AutomationExecutionRole",
            },
        }
        if instances is None:  # the location failed before starting anything
            step_out.update(
                StepStatus="Failed",
                FailureMessage="The provided role: arn:aws:iam::%s:role/AWS-SystemsManager-AutomationExecutionRole can't be assumed."
                % account,
            )
            parent_steps.append(step_out)
            continue
        step_out["Outputs"] = {"ExecutionId": [member]}
        ssm.executions[member] = {
            "AutomationExecutionId": member,
            "AutomationExecutionStatus": "Success",
            "Targets": [{"Key": "tag:a", "Values": ["b"]}],
        }
        kids = []
        for instance_id, status, steps in instances:
            ex_id = uid(account, region, instance_id)
            ssm.executions[ex_id] = {
                "AutomationExecutionId": ex_id,
                "AutomationExecutionStatus": status,
                "ParentAutomationExecutionId": member,
                "Target": instance_id,
                "ExecutionStartTime": T0,
                "ExecutionEndTime": T0 + datetime.timedelta(seconds=3),
                "StepExecutions": steps,
                "TargetParameterName": "InstanceId",
                "Parameters": {"InstanceId": [instance_id], "AutomationAssumeRole": ["arn:aws:iam::1:role/x"]},
            }
            kids.append(ex_id)
        ssm.children[member] = kids
        if any(status != "Success" for _iid, status, _steps in instances):
            step_out["StepStatus"] = ssm.executions[member]["AutomationExecutionStatus"] = "Failed"
        parent_steps.append(step_out)
    mgmt = factory.ssm(MGMT, parent_region)
    parent = {
        "AutomationExecutionId": PARENT,
        "AutomationExecutionStatus": "Failed",
        "DocumentName": "check-os",
        "DocumentVersion": "1",
        "AutomationType": "CrossAccount",
        "TargetParameterName": "InstanceId",
        "ProgressCounters": {"TotalSteps": len(parent_steps)},
    }
    if truncated:
        parent["StepExecutions"] = parent_steps[:1]
        parent["StepExecutionsTruncated"] = True
        parent["_all_steps"] = parent_steps
    else:
        parent["StepExecutions"] = parent_steps
    mgmt.executions[PARENT] = parent


OK_STEPS = [step("CheckHostname", "Success", "host-1"), step("CheckNTP", "Success", "^* 169.254.169.123")]
UPDATES_STEPS = [
    step("CheckHostname", "Success", "host-2"),
    step("CheckUpdate", "Failed", failure="Step fails when it is Poll action. exit code 100"),
    step("CheckNTP", "Pending"),
]


def demo_layout():
    return {
        (MGMT, "eu-west-1"): [("i-mgmt000000000001", "Success", OK_STEPS)],
        ("222222222222", "eu-west-1"): [
            ("i-aaaa000000000001", "Success", OK_STEPS),
            ("i-aaaa000000000002", "Failed", UPDATES_STEPS),
        ],
        ("222222222222", "ap-northeast-1"): [
            ("i-aaaa000000000003", "TimedOut", [step("CheckHostname", "TimedOut", failure="Step timed out")])
        ],
        ("333333333333", "ap-northeast-1"): None,
    }


def test_gather_returns_every_location_instance_and_step():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    result = tree.gather(factory, PARENT, "eu-west-1", concurrency=3, rate=0)
    locs = result["locations"]
    assert [(r["account"], r["region"]) for r in locs] == [
        (MGMT, "eu-west-1"),
        ("222222222222", "ap-northeast-1"),
        ("222222222222", "eu-west-1"),
        ("333333333333", "ap-northeast-1"),
    ]
    by = {(r["account"], r["region"]): r for r in locs}
    failed = by[("333333333333", "ap-northeast-1")]
    assert failed["status"] == "Failed"
    assert "can't be assumed" in failed["failure_message"]
    assert failed["instances"] == []
    member = by[("222222222222", "eu-west-1")]
    assert member["member_execution_id"] == uid("222222222222", "eu-west-1")
    assert [i["instance_id"] for i in member["instances"]] == ["i-aaaa000000000001", "i-aaaa000000000002"]
    pending = member["instances"][1]
    assert [(s["step_name"], s["status"]) for s in pending["steps"]] == [
        ("CheckHostname", "Success"),
        ("CheckUpdate", "Failed"),
        ("CheckNTP", "Pending"),
    ]
    assert member["instances"][0]["steps"][0]["outputs"] == {"CheckHostname.Output": ["host-1"]}
    assert pending["start_time"] == T0.isoformat()
    assert "AutomationAssumeRole" not in str(result)
    s = result["summary"]
    assert s["locations"] == 4
    assert s["instances"] == 4
    assert s["instances_by_status"] == {"Success": 2, "Failed": 1, "TimedOut": 1}
    assert s["step_failures"] == {"CheckUpdate": {"Failed": 1}, "CheckHostname": {"TimedOut": 1}}
    kinds = sorted((f["account"], f["region"], f["instance_id"], f["step_name"], f["status"]) for f in s["failures"])
    assert kinds == [
        ("222222222222", "ap-northeast-1", "i-aaaa000000000003", "CheckHostname", "TimedOut"),
        ("222222222222", "eu-west-1", "i-aaaa000000000002", "CheckUpdate", "Failed"),
        ("333333333333", "ap-northeast-1", None, None, "Failed"),
    ]
    assert result["progress"] == {
        "done": 4,
        "total": 4,
        "by_status": {"Success": 2, "Failed": 1, "TimedOut": 1},
        "unreadable_locations": 0,
    }
    assert result["execution"]["automation_execution_id"] == PARENT


def test_no_redundant_calls_one_page_per_50_children_and_one_get_per_instance():
    factory = FakeFactory()
    build_world(factory, {("222222222222", "eu-west-1"): [("i-%017d" % n, "Success", OK_STEPS) for n in range(120)]})
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0)
    member = factory.ssm("222222222222", "eu-west-1")
    assert member.calls.count("describe_automation_executions") == 3
    assert member.calls.count("get_automation_execution") == 120  # each instance; the location succeeded
    assert len(member.calls) == 123
    assert factory.ssm(MGMT, "eu-west-1").calls == ["get_automation_execution"]
    assert result["summary"]["instances"] == 120
    assert result["summary"]["api_calls"] == 124


def test_a_failed_location_also_reads_its_member_execution_once():
    factory = FakeFactory()
    build_world(
        factory,
        {
            ("222222222222", "eu-west-1"): [
                ("i-%017d" % n, "Failed" if n == 7 else "Success", OK_STEPS) for n in range(60)
            ]
        },
    )
    tree.gather(factory, PARENT, "eu-west-1", rate=0)
    member = factory.ssm("222222222222", "eu-west-1")
    assert member.calls.count("describe_automation_executions") == 2
    assert member.calls.count("get_automation_execution") == 1 + 60


def test_summary_only_counts_without_reading_instances():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    result = tree.progress(factory, PARENT, "eu-west-1")
    # the parent, and the member executions of the two locations that did not succeed (for targets never started)
    assert factory.calls("get_automation_execution") == 1 + 2
    assert result["progress"]["by_status"] == {"Success": 2, "Failed": 1, "TimedOut": 1}


def test_reader_role_missing_is_recorded_and_others_keep_outputs():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    factory.denied["222222222222"] = client_error(
        "AccessDenied",
        "User: arn:aws:sts::111111111111:assumed-role/x is not authorized to perform: sts:AssumeRole",
        "AssumeRole",
    )
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0)
    by = {(r["account"], r["region"]): r for r in result["locations"]}
    for region in ("eu-west-1", "ap-northeast-1"):
        loc = by[("222222222222", region)]
        assert loc["read_status"] == "failed"
        assert loc["read_error"]["code"] == "AccessDenied"
        assert "sts:AssumeRole" in loc["read_error"]["message"]
    assert by[(MGMT, "eu-west-1")]["instances"][0]["steps"][0]["outputs"]
    assert result["summary"]["unreadable_locations"] == 2
    assert sum(1 for f in result["summary"]["failures"] if f["status"] == "ReadFailed") == 2
    assert result["progress"]["unreadable_locations"] == 2


def test_expired_credentials_are_renewed_once_and_the_call_retried():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    member = factory.ssm("222222222222", "eu-west-1")
    member.fail["describe_automation_executions"] = [
        client_error("ExpiredTokenException", "The security token included in the request is expired")
    ]
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0)
    loc = [r for r in result["locations"] if r["account"] == "222222222222" and r["region"] == "eu-west-1"][0]
    assert loc["read_status"] == "ok"
    assert len(loc["instances"]) == 2
    assert factory.invalidated == ["222222222222"]
    assert result["summary"]["credential_renewals"] == 1


def test_credentials_renewed_a_bounded_number_of_times():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    member = factory.ssm("222222222222", "eu-west-1")
    member.fail["describe_automation_executions"] = [
        client_error("ExpiredTokenException", "expired") for _n in range(10)
    ]
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0)
    loc = [r for r in result["locations"] if r["account"] == "222222222222" and r["region"] == "eu-west-1"][0]
    assert loc["read_status"] == "failed"
    assert loc["read_error"]["code"] == "ExpiredTokenException"
    assert member.calls.count("describe_automation_executions") == 1 + tree.RENEWALS


def test_an_instance_that_cannot_be_read_keeps_its_status_and_reason():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    member = factory.ssm("222222222222", "eu-west-1")
    member.fail["get_automation_execution"] = [None, client_error("AccessDeniedException", "not allowed")]
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0)
    loc = [r for r in result["locations"] if r["account"] == "222222222222" and r["region"] == "eu-west-1"][0]
    assert loc["read_status"] == "partial"
    first, second = loc["instances"]
    assert first["read_error"] == {"code": "AccessDeniedException", "message": "not allowed"}
    assert first["status"] == "Success"  # from DescribeAutomationExecutions, still reported
    assert second["steps"]
    assert result["summary"]["read_errors"] == 1
    assert result["summary"]["retries"] >= 2


def member_reader(factory, rate=10.0):
    """A LocationReader on 222222222222/eu-west-1 whose pacer records its sleeps instead of sleeping."""
    slept = []
    now = [0.0]

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    location = {
        "account": "222222222222",
        "region": "eu-west-1",
        "status": "Success",
        "member_execution_id": uid("222222222222", "eu-west-1"),
    }
    pacer = tree.Pacer(rate, clock=lambda: now[0], sleep=sleep)
    return tree.LocationReader(factory, location, pacer=pacer), slept


def test_a_throttle_botocore_gave_up_on_slows_the_location_and_is_retried():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    member = factory.ssm("222222222222", "eu-west-1")
    member.fail["get_automation_execution"] = [client_error("ThrottlingException", "Rate exceeded")] * 2
    reader, slept = member_reader(factory)
    record = reader.read()
    assert record["read_status"] == "ok"
    assert [i["read_error"] for i in record["instances"]] == [None, None]
    assert all(i["steps"] for i in record["instances"])
    # two backoffs, jittered within [0.5, 1] x THROTTLE_BACKOFF x 2^round
    backoffs = [s for s in slept if s >= tree.THROTTLE_BACKOFF / 2]
    assert len(backoffs) == 2
    assert tree.THROTTLE_BACKOFF / 2 <= backoffs[0] <= tree.THROTTLE_BACKOFF
    assert tree.THROTTLE_BACKOFF <= backoffs[1] <= 2 * tree.THROTTLE_BACKOFF
    assert reader.retries == 2 + 2 * 2  # botocore's attempts reported by each error, plus our two rounds
    assert member.calls.count("get_automation_execution") == 2 + 2


def test_a_location_throttled_past_the_rounds_records_the_reason():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    member = factory.ssm("222222222222", "eu-west-1")
    member.fail["describe_automation_executions"] = [client_error("ThrottlingException", "Rate exceeded")] * 20
    reader, _slept = member_reader(factory)
    record = reader.read()
    assert record["read_status"] == "failed"
    assert record["read_error"]["code"] == "ThrottlingException"
    assert member.calls.count("describe_automation_executions") == 1 + tree.THROTTLE_ROUNDS
    assert reader.pacer.rate >= tree.MIN_RATE


def test_pacer_slows_down_and_comes_back():
    pacer = tree.Pacer(10, clock=lambda: 0.0, sleep=lambda s: None)
    pacer.slow_down()
    assert pacer.rate == 5
    pacer.slow_down()
    assert pacer.rate == 2.5
    for _n in range(100):
        pacer.recover()
    assert pacer.rate == 10 and pacer.target is None
    unpaced = tree.Pacer(0, clock=lambda: 0.0, sleep=lambda s: None)
    unpaced.slow_down()
    assert unpaced.rate == 5.0  # a throttled unpaced location gets paced...
    for _n in range(100):
        unpaced.recover()
    assert unpaced.rate == 0  # ...and unpaced again once calls go through
    floor = tree.Pacer(1, clock=lambda: 0.0, sleep=lambda s: None)
    for _n in range(10):
        floor.slow_down()
    assert floor.rate == tree.MIN_RATE


def test_streaming_hands_every_record_to_the_callback_and_keeps_none():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    seen = []
    headers = []
    result = tree.gather(
        factory, PARENT, "eu-west-1", rate=0, callback=seen.append, keep=False, on_header=headers.append
    )
    assert result["locations"] is None
    assert len(seen) == 4
    assert headers[0]["automation_execution_id"] == PARENT
    assert result["summary"]["instances"] == 4


def test_full_output_fetches_command_invocations():
    factory = FakeFactory()
    steps = [step("CheckUpdate", "Failed", "short", command_id="c-1", failure="exit 100")]
    build_world(factory, {("222222222222", "eu-west-1"): [("i-aaaa000000000001", "Failed", steps)]})
    factory.ssm("222222222222", "eu-west-1").invocations[("c-1", "i-aaaa000000000001")] = {
        "StandardOutputContent": "x" * 30000,
        "StandardErrorContent": "e" * 9000,
        "Status": "Failed",
        "ResponseCode": 100,
    }
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0, full_output=True)
    out = result["locations"][0]["instances"][0]["steps"][0]
    assert len(out["stdout"]) == 24000
    assert len(out["stderr"]) == 8000
    assert out["command_response_code"] == 100


def test_truncated_parent_steps_are_paginated():
    factory = FakeFactory()
    layout = {("2%011d" % n, "eu-west-1"): [("i-%017d" % n, "Success", OK_STEPS)] for n in range(60)}
    build_world(factory, layout, truncated=True)
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0, concurrency=8)
    assert len(result["locations"]) == 60
    assert factory.ssm(MGMT, "eu-west-1").calls.count("describe_automation_step_executions") == 2


def test_locations_are_read_in_parallel_within_the_bound():
    factory = FakeFactory()
    layout = {("2%011d" % n, "eu-west-1"): [("i-%017d" % n, "Success", OK_STEPS)] for n in range(12)}
    build_world(factory, layout)
    barrier = threading.Barrier(4)
    active = {"now": 0, "max": 0}
    lock = threading.Lock()
    for (account, _region), ssm in factory.clients.items():
        if account != MGMT:
            ssm.barrier = barrier  # the first call of 4 locations only proceeds when 4 run at once
            original = ssm.describe_automation_executions

            def wrapped(*args, _orig=original, **kwargs):
                with lock:
                    active["now"] += 1
                    active["max"] = max(active["max"], active["now"])
                try:
                    return _orig(*args, **kwargs)
                finally:
                    with lock:
                        active["now"] -= 1

            ssm.describe_automation_executions = wrapped
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0, concurrency=4)
    assert result["summary"]["instances"] == 12
    assert active["max"] == 4


def test_unexpected_errors_stay_on_their_location():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    factory.denied["222222222222"] = RuntimeError("connection reset")
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0)
    loc = [r for r in result["locations"] if r["account"] == "222222222222"][0]
    assert loc["read_error"] == {"code": "RuntimeError", "message": "connection reset"}
    assert len(result["locations"]) == 4


@pytest.mark.parametrize(
    "outputs, expected",
    [
        ({"ExecutionId": [PARENT]}, PARENT),
        ({"AutomationExecutionId": [PARENT]}, PARENT),
        ({"Other": ["x"], "ChildExecutionIds": [PARENT]}, PARENT),
        ({"ExecutionId": ["not-a-uuid"]}, None),
        ({}, None),
    ],
)
def test_member_execution_id(outputs, expected):
    assert tree.member_execution_id({"Outputs": outputs}) == expected


def test_pacer_spaces_calls():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    pacer = tree.Pacer(10, clock=lambda: now[0], sleep=sleep)
    for _call in range(25):
        pacer.take()
    assert sum(slept) == pytest.approx(1.5, abs=1e-6)
    unpaced = tree.Pacer(0, clock=lambda: now[0], sleep=sleep)
    before = len(slept)
    for _call in range(100):
        unpaced.take()
    assert len(slept) == before


@mock_aws
def test_client_factory_caches_and_renews_assumed_credentials():
    now = [datetime.datetime.now(datetime.UTC).timestamp()]
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    factory = tree.ClientFactory(
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
    factory = tree.ClientFactory(session=session, role_name="Reader")
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
    factory = tree.ClientFactory(session=session)
    client = tree.AccountClient(factory, factory._member_client("ssm", "eu-west-1"), "222222222222")
    assert callable(client.get_automation_execution)
    with pytest.raises(AttributeError, match="get_paginator"):
        client.get_paginator("describe_automation_executions")


def test_targets_never_started_are_reported_not_dropped():
    factory = FakeFactory()
    build_world(factory, {("222222222222", "eu-west-1"): [("i-aaaa000000000001", "Failed", UPDATES_STEPS)]})
    ssm = factory.ssm("222222222222", "eu-west-1")
    member = ssm.executions[uid("222222222222", "eu-west-1")]
    member["AutomationExecutionStatus"] = "Failed"
    member["StepExecutions"] = [
        {"StepName": "i-aaaa000000000001", "Action": "aws:executeAutomation", "StepStatus": "Failed"},
        {"StepName": "i-aaaa000000000002", "Action": "aws:executeAutomation", "StepStatus": "Pending"},
    ]
    member["ResolvedTargets"] = {"ParameterValues": ["i-aaaa000000000001", "i-aaaa000000000002"], "Truncated": False}
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0)
    instances = result["locations"][0]["instances"]
    assert [(i["instance_id"], i["status"]) for i in instances] == [
        ("i-aaaa000000000001", "Failed"),
        ("i-aaaa000000000002", "Pending"),
    ]
    assert instances[1]["not_started"] is True
    assert "not started" in instances[1]["failure_message"]
    assert result["progress"] == {
        "done": 1,
        "total": 2,
        "by_status": {"Failed": 1, "Pending": 1},
        "unreadable_locations": 0,
    }


def test_member_without_targets_is_one_record():
    factory = FakeFactory()
    build_world(factory, {("222222222222", "eu-west-1"): []})
    ssm = factory.ssm("222222222222", "eu-west-1")
    member = ssm.executions[uid("222222222222", "eu-west-1")]
    member.update(Targets=[], StepExecutions=OK_STEPS, AutomationExecutionStatus="Success")
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0)
    instances = result["locations"][0]["instances"]
    assert len(instances) == 1
    assert [s["step_name"] for s in instances[0]["steps"]] == ["CheckHostname", "CheckNTP"]


def test_caller_identity_is_asked_once_whatever_the_threads():
    factory = tree.ClientFactory(
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


def test_a_local_execution_is_one_location_in_the_callers_account():
    factory = FakeFactory()
    ssm = factory.ssm(MGMT, "eu-west-1")
    ssm.executions[PARENT] = {
        "AutomationExecutionId": PARENT,
        "AutomationExecutionStatus": "Success",
        "Targets": [{"Key": "tag:a", "Values": ["b"]}],
        "StepExecutions": [
            {"StepName": "i-mgmt000000000001", "Action": "aws:executeAutomation", "StepStatus": "Success"}
        ],
    }
    child = uid("local", "1")
    ssm.executions[child] = {
        "AutomationExecutionId": child,
        "AutomationExecutionStatus": "Success",
        "ParentAutomationExecutionId": PARENT,
        "Target": "i-mgmt000000000001",
        "StepExecutions": OK_STEPS,
    }
    ssm.children[PARENT] = [child]
    result = tree.gather(factory, PARENT, "eu-west-1", rate=0)
    (loc,) = result["locations"]
    assert (loc["account"], loc["region"], loc["member_execution_id"]) == (MGMT, "eu-west-1", PARENT)
    assert [i["instance_id"] for i in loc["instances"]] == ["i-mgmt000000000001"]
    assert loc["instances"][0]["steps"][0]["outputs"] == {"CheckHostname.Output": ["host-1"]}


# ---------------------------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------------------------


def big_layout(accounts=6, regions=("eu-west-1", "ap-northeast-1"), instances=2):
    layout = {}
    for a in range(accounts):
        account = "4444444444%02d" % a
        for r, region in enumerate(regions):
            layout[(account, region)] = [
                ("i-%04d%04d%08d" % (a, r, n), "Success" if n % 2 == 0 else "Failed", OK_STEPS)
                for n in range(instances)
            ]
    return layout


def test_split_by_account_keeps_each_account_in_one_group_and_balances():
    locations = [{"account": a, "region": r} for a in ("a1", "a2", "a3", "a4", "a5") for r in ("r1", "r2")]
    locations += [{"account": "big", "region": "r%d" % n} for n in range(5)]
    groups = tree.split_by_account(locations, 3)
    assert sorted(len(g) for g in groups) == [4, 5, 6]  # the best split of 5 + 5 x 2 locations in whole accounts
    owners = {}
    for n, group in enumerate(groups):
        for loc in group:
            assert owners.setdefault(loc["account"], n) == n
    assert sorted((loc["account"], loc["region"]) for g in groups for loc in g) == sorted(
        (loc["account"], loc["region"]) for loc in locations
    )


def test_processes_for(monkeypatch):
    monkeypatch.setattr(tree, "can_fork", lambda: True)
    monkeypatch.setattr(tree, "available_cpus", lambda: 4)
    assert tree.processes_for(1, 1000, 64) == 1
    assert tree.processes_for(0, 50, 64) == 1  # automatic: one per 100 locations
    assert tree.processes_for(0, 400, 64) == 4
    assert tree.processes_for(0, 2000, 64) == 4  # at most the CPUs
    assert tree.processes_for(3, 2, 64) == 2  # never more than the locations
    assert tree.processes_for(8, 1000, 2) == 2  # nor the concurrency
    monkeypatch.setattr(tree, "can_fork", lambda: False)
    assert tree.processes_for(4, 1000, 64) == 1


def strip_counters(locations):
    return [{k: v for k, v in r.items() if k not in ("api_calls", "retries", "credential_renewals")} for r in locations]


def test_worker_processes_return_the_same_records_and_summary_as_threads(monkeypatch):
    monkeypatch.setattr(tree, "can_fork", lambda: True)
    threads = FakeFactory()
    build_world(threads, big_layout())
    expected = tree.gather(threads, PARENT, "eu-west-1", concurrency=4, rate=0)
    forked = FakeFactory()
    build_world(forked, big_layout())
    streamed = []
    result = tree.gather(forked, PARENT, "eu-west-1", concurrency=4, rate=0, processes=3, callback=streamed.append)
    assert result["summary"]["processes"] == 3
    assert expected["summary"]["processes"] == 1
    assert strip_counters(result["locations"]) == strip_counters(expected["locations"])
    assert len(streamed) == len(expected["locations"]) == 12
    for key in ("locations", "instances", "instances_by_status", "steps_by_status", "failures_total", "api_calls"):
        assert result["summary"][key] == expected["summary"][key], key
    assert result["progress"] == expected["progress"]


class DyingFactory(FakeFactory):
    """In a worker process, reading ``doomed`` kills that process (as the OOM killer or a segfault would)."""

    def __init__(self, doomed):
        super().__init__()
        self.doomed = doomed
        self.parent_pid = os.getpid()

    def client(self, service, region, account=None):
        if account == self.doomed and os.getpid() != self.parent_pid:
            os._exit(9)  # pylint: disable=protected-access
        return super().client(service, region, account)


def test_a_dead_worker_process_loses_no_location(monkeypatch):
    monkeypatch.setattr(tree, "can_fork", lambda: True)
    doomed = "444444444403"
    factory = DyingFactory(doomed)
    build_world(factory, big_layout())
    result = tree.gather(factory, PARENT, "eu-west-1", concurrency=2, rate=0, processes=2)
    locs = result["locations"]
    assert len(locs) == 12  # every location is there
    failed = [r for r in locs if r["read_status"] == "failed"]
    assert {r["account"] for r in failed} >= {doomed}
    assert all(r["read_error"]["code"] == "WorkerFailed" for r in failed)
    ok = [r for r in locs if r["read_status"] == "ok"]
    assert all(len(r["instances"]) == 2 for r in ok)
    assert len(ok) + len(failed) == 12
    assert result["summary"]["unreadable_locations"] == len(failed)
    assert result["summary"]["lost_locations"] == len(failed)
