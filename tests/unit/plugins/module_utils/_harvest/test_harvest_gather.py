"""_harvest.harvest.gather: the whole tree, against in-memory fakes of the SSM API (not of our code)."""

import threading

from support.harvest_fakes import (
    MGMT,
    OK_STEPS,
    PARENT,
    T0,
    UPDATES_STEPS,
    FakeFactory,
    build_world,
    client_error,
    demo_layout,
    step,
    uid,
)

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import harvest, reading


def test_gather_returns_every_location_instance_and_step():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    result = harvest.gather(factory, PARENT, "eu-west-1", concurrency=3, rate=0)
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
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
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
    harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    member = factory.ssm("222222222222", "eu-west-1")
    assert member.calls.count("describe_automation_executions") == 2
    assert member.calls.count("get_automation_execution") == 1 + 60


def test_summary_only_counts_without_reading_instances():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    result = harvest.progress(factory, PARENT, "eu-west-1")
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
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
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
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
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
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    loc = [r for r in result["locations"] if r["account"] == "222222222222" and r["region"] == "eu-west-1"][0]
    assert loc["read_status"] == "failed"
    assert loc["read_error"]["code"] == "ExpiredTokenException"
    assert member.calls.count("describe_automation_executions") == 1 + reading.RENEWALS


def test_an_instance_that_cannot_be_read_keeps_its_status_and_reason():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    member = factory.ssm("222222222222", "eu-west-1")
    member.fail["get_automation_execution"] = [None, client_error("AccessDeniedException", "not allowed")]
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    loc = [r for r in result["locations"] if r["account"] == "222222222222" and r["region"] == "eu-west-1"][0]
    assert loc["read_status"] == "partial"
    first, second = loc["instances"]
    assert first["read_error"] == {"code": "AccessDeniedException", "message": "not allowed"}
    assert first["status"] == "Success"  # from DescribeAutomationExecutions, still reported
    assert second["steps"]
    assert result["summary"]["read_errors"] == 1
    assert result["summary"]["retries"] >= 2


def test_streaming_hands_every_record_to_the_callback_and_keeps_none():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    seen = []
    headers = []
    result = harvest.gather(
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
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0, full_output=True)
    out = result["locations"][0]["instances"][0]["steps"][0]
    assert len(out["stdout"]) == 24000
    assert len(out["stderr"]) == 8000
    assert out["command_response_code"] == 100


def test_truncated_parent_steps_are_paginated():
    factory = FakeFactory()
    layout = {("2%011d" % n, "eu-west-1"): [("i-%017d" % n, "Success", OK_STEPS)] for n in range(60)}
    build_world(factory, layout, truncated=True)
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0, concurrency=8)
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
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0, concurrency=4)
    assert result["summary"]["instances"] == 12
    assert active["max"] == 4


def test_unexpected_errors_stay_on_their_location():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    factory.denied["222222222222"] = RuntimeError("connection reset")
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    loc = [r for r in result["locations"] if r["account"] == "222222222222"][0]
    assert loc["read_error"] == {"code": "RuntimeError", "message": "connection reset"}
    assert len(result["locations"]) == 4


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
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
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
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    instances = result["locations"][0]["instances"]
    assert len(instances) == 1
    assert [s["step_name"] for s in instances[0]["steps"]] == ["CheckHostname", "CheckNTP"]


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
    result = harvest.gather(factory, PARENT, "eu-west-1", rate=0)
    (loc,) = result["locations"]
    assert (loc["account"], loc["region"], loc["member_execution_id"]) == (MGMT, "eu-west-1", PARENT)
    assert [i["instance_id"] for i in loc["instances"]] == ["i-mgmt000000000001"]
    assert loc["instances"][0]["steps"][0]["outputs"] == {"CheckHostname.Output": ["host-1"]}


# ---------------------------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------------------------
