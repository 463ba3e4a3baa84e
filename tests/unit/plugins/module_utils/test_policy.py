"""The pass/fail verdict (module_utils/policy.py): the rules run_automation applies last, tested without a playbook."""

from __future__ import annotations

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils import policy

EXEC = "4f7c5a31-0d3e-4b5b-9a57-5a4f3c2b1a00"


def summary(by_status=None, lost=0, locations=None, step_failures=None, failures=None):
    by_status = by_status or {}
    return {
        "instances": sum(by_status.values()),
        "instances_by_status": by_status,
        "lost_locations": lost,
        "locations_by_status": locations or {},
        "step_failures": step_failures or {},
        "failures": failures or [],
    }


def judge(s, wait=None, **settings):
    return policy.verdict(s, dict({"execution_id": EXEC}, **settings), wait)


def test_every_instance_succeeded_passes_with_the_summary_line():
    v = judge(summary({"Success": 9, "CompletedWithSuccess": 1}))
    assert v["passed"] and v["reasons"] == [] and v["broken_rules"] == []
    assert v["failed_percent"] == 0.0
    assert v["msg"] == f"Policy passed for automation {EXEC}: 0.0% not successful (max 0%), required steps none ok."


def test_one_failed_instance_breaks_the_default_zero_percent():
    v = judge(summary({"Success": 9, "Failed": 1}))
    assert not v["passed"] and v["broken_rules"] == ["max_failed_percent"]
    assert v["reasons"] == ["1 of 10 instance(s) did not succeed (10.0% > run_automation_max_failed_percent 0%)"]
    assert v["msg"].startswith(f"Policy failed for automation {EXEC}: 1 of 10")


@pytest.mark.parametrize(("limit", "passed"), [(9, False), (10, True), (100, True)])
def test_the_limit_itself_passes(limit, passed):
    assert judge(summary({"Success": 9, "TimedOut": 1}), max_failed_percent=limit)["passed"] is passed


def test_a_lost_location_counts_as_one_failed_target_in_numerator_and_denominator():
    f = policy.facts(summary({"Success": 3}, lost=1))
    assert (f["failed"], f["denominator"], f["failed_percent"]) == (1, 4, 25.0)
    assert judge(summary({"Success": 3}, lost=1), max_failed_percent=25)["passed"]
    assert not judge(summary({"Success": 3}, lost=1), max_failed_percent=24)["passed"]


def test_older_summary_without_lost_locations_counts_failures_without_instance():
    s = summary({"Success": 1})
    del s["lost_locations"]
    s["failures"] = [{"instance_id": None, "status": "Failed"}, {"instance_id": "i-1", "status": "Failed"}]
    assert policy.facts(s)["lost_locations"] == 1


def test_no_instance_and_nothing_lost_is_zero_percent_not_a_division_by_zero():
    v = judge(summary({}))
    assert v["passed"] and v["facts"]["denominator"] == 1


@pytest.mark.parametrize(("status", "lost"), [("NoTargets", 0), ("NeverStarted", 1), ("NotReported", 1)])
def test_location_statuses_of_the_harvest_weigh_by_the_table(status, lost):
    s = summary({"Success": 4}, locations={"Success": 2, status: 1})
    f = policy.facts(s)
    assert f["lost_locations"] == lost
    assert judge(s)["passed"] is (lost == 0)
    if status == "NoTargets":
        assert f["passed_locations"] == 1


def test_the_location_table_is_data():
    s = summary({"Success": 4}, locations={"Quarantined": 2})
    assert judge(s)["passed"]
    v = policy.verdict(s, {}, location_outcomes={"Quarantined": policy.FAILS})
    assert not v["passed"] and v["facts"]["lost_locations"] == 2


def test_a_required_step_that_failed_names_it_with_an_example():
    s = summary(
        {"Success": 3, "Failed": 2},
        step_failures={"CheckHostname": {"Failed": 1, "TimedOut": 1}, "CheckNTP": {"Failed": 1}},
        failures=[
            {"step_name": "CheckNTP", "status": "Failed", "account": "1", "region": "r", "instance_id": "i-0"},
            {
                "step_name": "CheckHostname",
                "status": "TimedOut",
                "account": "2",
                "region": "eu-west-1",
                "instance_id": "i-9",
            },
        ],
    )
    v = judge(s, max_failed_percent=100, required_steps=["CheckHostname", "CheckHostnameWindows"])
    assert v["broken_rules"] == ["required_steps"]
    assert v["reasons"] == [
        "required step(s) CheckHostname did not succeed on 2 instance(s) (e.g. CheckHostname TimedOut in 2/eu-west-1: i-9)"
    ]


def test_a_required_step_that_succeeded_everywhere_passes_and_is_named():
    v = judge(summary({"Success": 3}, step_failures={"CheckNTP": {"Failed": 1}}), max_failed_percent=100,
              required_steps=["CheckHostname"])  # fmt: skip
    assert v["passed"]
    assert v["msg"].endswith("required steps CheckHostname ok.")


def test_timeout_fails_only_with_fail_on_timeout():
    wait = {"timed_out": True, "progress": "InProgress - 3/10 instances done"}
    v = judge(summary({"Success": 3}), wait=wait, wait_timeout=60)
    assert v["broken_rules"] == ["fail_on_timeout"]
    assert v["reasons"] == [
        f"the run was still going after 60s (InProgress - 3/10 instances done); re-attach with -e automation_execution_id={EXEC}"
    ]
    assert judge(summary({"Success": 3}), wait=wait, fail_on_timeout=False)["passed"]


def test_an_unreadable_progress_fails_whatever_the_counts():
    v = judge(summary({"Success": 3}), wait={"error": "endpoint unreachable"})
    assert v["reasons"] == [
        f"progress could not be read: endpoint unreachable; re-attach with -e automation_execution_id={EXEC}"
    ]


def test_every_broken_rule_is_listed_in_order():
    s = summary({"Failed": 1}, step_failures={"A": {"Failed": 1}})
    v = judge(s, required_steps=["A"], wait={"timed_out": True, "error": "x"})
    assert v["broken_rules"] == ["max_failed_percent", "required_steps", "fail_on_timeout", "progress"]
    assert v["msg"].count("; ") >= 3


def test_messages_name_the_wrapping_roles_variable():
    v = judge(
        summary({"Failed": 1}), field_aliases={"run_automation_max_failed_percent": "check_os_max_failed_percent"}
    )
    assert "check_os_max_failed_percent 0%" in v["reasons"][0]


def test_a_new_rule_is_one_function_and_one_row():
    def no_instances(f, settings, summary, wait):
        return "no instance matched the targets" if f["instances"] == 0 else None

    rules = [*policy.RULES, ("no_instances", no_instances)]
    v = policy.verdict(summary({}), {}, rules=rules)
    assert v["broken_rules"] == ["no_instances"]
    assert policy.verdict(summary({"Success": 1}), {}, rules=rules)["passed"]


def test_a_run_where_no_instance_matched_fails_naming_the_targets():
    """The harvest's summary.no_instance_matched (set when the run ended with no instance anywhere) breaks a rule
    even though every location passes (NoTargets) and nothing is lost."""
    s = summary({}, locations={"NoTargets": 4})
    s["no_instance_matched"] = "no instance matched the targets: tag:ssm-automation=ture (ou-abcd-1 in eu-west-1)"
    v = judge(s)
    assert not v["passed"]
    assert v["broken_rules"] == ["no_instance_matched"]
    assert "tag:ssm-automation=ture" in v["msg"]
    s["no_instance_matched"] = None
    assert judge(s)["passed"]


# What the harvest could not resolve is never a pass. The summaries below are built the way the harvest builds them
# (its Summary of the location records, plus the keys gather() adds), and judged through policy.verdict, the function
# run_policy calls.


def harvest_summary(records, unresolved=None, uninterpreted=None):
    from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.summary import Summary

    s = Summary()
    for record in records:
        s.add(record)
    out = s.as_dict()
    out["uninterpreted_steps"] = uninterpreted or []
    out["unresolved_targets"] = unresolved or []
    out["no_instance_matched"] = None
    return out


def ok_location(account, region="eu-west-1"):
    return {
        "account": account,
        "region": region,
        "status": "Success",
        "read_status": "ok",
        "read_error": None,
        "instances": [{"instance_id": "i-0%s" % account[-4:], "status": "Success", "steps": []}],
    }


def test_a_target_that_could_not_be_resolved_fails_naming_it_even_when_every_location_passed():
    unresolved = [
        {
            "target_location": 0,
            "target": "ou-ab12-cdefgh34",
            "reason": "the organization could not be read: AccessDenied",
        },
        {"target_location": 1, "target": "ou-zz99-nothere1", "reason": "excluded OU not resolvable"},
    ]
    s = harvest_summary([ok_location("111122223333")], unresolved=unresolved)
    v = judge(s)
    assert not v["passed"]
    assert v["broken_rules"] == ["unresolved_targets"]
    assert v["reasons"] == [
        "2 target(s) could not be resolved, their accounts may be missing from the report: ou-ab12-cdefgh34 (target location 0: "
        "the organization could not be read: AccessDenied), ou-zz99-nothere1 (target location 1: excluded OU not "
        "resolvable)"
    ]
    # no threshold lets it through
    assert not judge(s, max_failed_percent=100)["passed"]
    assert judge(harvest_summary([ok_location("111122223333")]))["passed"]


def test_a_parent_step_that_could_not_be_interpreted_fails_with_its_raw_name_and_status():
    uninterpreted = [
        {
            "step_name": "Invoke-Remote-Runbook",
            "action": "aws:executeAutomation",
            "status": "Success",
            "failure_message": None,
            "output_keys": ["Result"],
            "member_execution_id": None,
            "reason": "the step names no TargetLocation account",
        },
        {"step_name": "Aggregate", "status": "Failed", "reason": "the step names no TargetLocation account"},
    ]
    s = harvest_summary([ok_location("111122223333")], uninterpreted=uninterpreted)
    v = judge(s, max_failed_percent=100)
    assert not v["passed"]
    assert v["broken_rules"] == ["uninterpreted_steps"]
    assert v["reasons"] == [
        "2 parent step(s) could not be interpreted, what they ran may be missing from the report: Invoke-Remote-Runbook "
        "(Success), Aggregate (Failed) [the step names no TargetLocation account]"
    ]
    assert "Invoke-Remote-Runbook (Success)" in v["msg"]


def test_with_an_expected_set_only_an_uninterpreted_step_that_did_not_succeed_fails():
    """Under the reading where no parent step names its account, every run has uninterpreted steps: with the expected
    set reconciled (every targeted location judged on its own), a step that succeeded takes nothing out of the
    report; one that failed, or any step without an expected set, still fails the run."""
    succeeded = {"step_name": "Invoke-Remote-Runbook", "status": "Success", "reason": "the step names no account"}
    failed = {"step_name": "Invoke-Other", "status": "Failed", "reason": "the step names no account"}
    with_set = harvest_summary([ok_location("111122223333")], uninterpreted=[succeeded])
    with_set["expected_locations"] = 1
    assert judge(with_set)["passed"]
    with_set["uninterpreted_steps"] = [succeeded, failed]
    v = judge(with_set)
    assert v["broken_rules"] == ["uninterpreted_steps"]
    assert (
        v["reasons"][0].startswith("1 parent step(s) could not be interpreted")
        and "Invoke-Other (Failed)" in v["reasons"][0]
    )
    without_set = harvest_summary([ok_location("111122223333")], uninterpreted=[succeeded])
    without_set["expected_locations"] = None
    assert judge(without_set)["broken_rules"] == ["uninterpreted_steps"]
    incomplete = harvest_summary(
        [ok_location("111122223333")],
        unresolved=[{"target_location": 0, "target": "ou-ab12-cdefgh34", "reason": "AccessDenied"}],
        uninterpreted=[succeeded],
    )
    incomplete["expected_locations"] = 1
    assert judge(incomplete)["broken_rules"] == ["unresolved_targets", "uninterpreted_steps"]


def test_both_are_listed_first_and_a_long_list_stays_one_line():
    unresolved = [{"target_location": 0, "target": "ou-ab12-%08d" % i, "reason": "x"} for i in range(12)]
    s = harvest_summary([], unresolved=unresolved, uninterpreted=[{"step_name": "S", "status": "Pending"}])
    s["no_instance_matched"] = "no instance matched the targets: tag:a=b"
    v = judge(s)
    assert v["broken_rules"] == ["unresolved_targets", "uninterpreted_steps", "no_instance_matched"]
    assert v["reasons"][0].startswith("12 target(s) could not be resolved")
    assert v["reasons"][0].endswith("and 2 more")
    assert "ou-ab12-00000009" in v["reasons"][0] and "ou-ab12-00000010" not in v["reasons"][0]
    assert (
        v["reasons"][1]
        == "1 parent step(s) could not be interpreted, what they ran may be missing from the report: S (Pending)"
    )


def test_a_location_that_could_not_be_read_is_not_a_pass():
    unreadable = {
        "account": "444455556666",
        "region": "eu-west-1",
        "status": "Success",
        "read_status": "failed",
        "read_error": {"code": "AccessDenied", "message": "not authorized to perform sts:AssumeRole"},
        "instances": [],
    }
    v = judge(harvest_summary([ok_location("111122223333"), unreadable]))
    assert not v["passed"]
    assert v["broken_rules"] == ["max_failed_percent"]
    assert v["facts"]["lost_locations"] == 1


def test_an_ambiguous_member_execution_is_not_a_pass():
    """Two candidate member executions found by a road: the harvest leaves the location NotReported with its
    candidates (reading.py); the verdict counts it as one failed target."""
    ambiguous = {
        "account": "444455556666",
        "region": "eu-west-1",
        "status": "NotReported",
        "step_status": "Success",
        "read_status": "skipped",
        "member_road": "document_and_start_time",
        "member_candidates": [
            {"automation_execution_id": "11111111-1111-4111-8111-111111111111"},
            {"automation_execution_id": "22222222-2222-4222-8222-222222222222"},
        ],
        "reason": "ambiguous: 2 candidate member executions found by document_and_start_time (...); none was picked",
        "read_error": {"code": "AmbiguousMemberExecution", "message": "ambiguous"},
        "instances": [],
    }
    v = judge(harvest_summary([ok_location("111122223333"), ambiguous]))
    assert not v["passed"]
    assert v["facts"]["lost_locations"] == 1
    assert v["reasons"] == ["1 of 2 instance(s) did not succeed (50.0% > run_automation_max_failed_percent 0%)"]


def test_through_the_harvest_an_ou_the_organization_cannot_expand_and_a_step_without_location_fail_the_policy():
    """The summary as automation_execution_info returns it (harvest.gather) and run_policy judges it: the parent
    targets an account and an OU, the organization cannot be read (the fake factory has no organizations client),
    and one parent step names no account. Every location the harvest could read succeeded."""
    import datetime

    from support.harvest_fakes import MGMT, OK_STEPS, PARENT, T0, FakeFactory

    from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import harvest

    account, ou, region = "222222222222", "ou-abcd-12345678", "eu-west-1"
    member_id, instance_exec = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "8d2e3f40-5b6c-4d7e-9f00-1b2c3d4e5f60"
    factory = FakeFactory()
    member_ssm = factory.ssm(account, region)
    member_ssm.executions[member_id] = {
        "AutomationExecutionId": member_id,
        "AutomationExecutionStatus": "Success",
        "DocumentName": "check-os",
        "ExecutionStartTime": T0 + datetime.timedelta(seconds=2),
        "Targets": [{"Key": "tag:ssm-automation", "Values": ["true"]}],
    }
    member_ssm.executions[instance_exec] = {
        "AutomationExecutionId": instance_exec,
        "AutomationExecutionStatus": "Success",
        "DocumentName": "check-os",
        "ParentAutomationExecutionId": member_id,
        "Target": "i-0123456789abcdef0",
        "ExecutionStartTime": T0 + datetime.timedelta(seconds=3),
        "StepExecutions": OK_STEPS,
    }
    member_ssm.children[member_id] = [instance_exec]
    factory.ssm(MGMT, region).executions[PARENT] = {
        "AutomationExecutionId": PARENT,
        "AutomationExecutionStatus": "Success",
        "DocumentName": "check-os",
        "AutomationType": "CrossAccount",
        "ExecutionStartTime": T0,
        "TargetParameterName": "InstanceId",
        "Targets": [{"Key": "tag:ssm-automation", "Values": ["true"]}],
        "TargetLocations": [{"Accounts": [account, ou], "Regions": [region]}],
        "StepExecutions": [
            {
                "StepName": "Run-%s-%s" % (account, region),
                "Action": "aws:executeAutomation",
                "StepStatus": "Success",
                "TargetLocation": {"Accounts": [account], "Regions": [region]},
                "Outputs": {"ExecutionId": [member_id]},
            },
            {"StepName": "Run-Somewhere", "Action": "aws:executeAutomation", "StepStatus": "Success"},
        ],
    }
    result = harvest.gather(factory, PARENT, region, rate=0)
    assert [(r["account"], r["status"]) for r in result["locations"]] == [(account, "Success")]
    assert result["summary"]["instances"] == 1 and result["summary"]["failures_total"] == 0

    v = judge(result["summary"])
    assert not v["passed"]
    assert v["broken_rules"] == ["unresolved_targets", "uninterpreted_steps"]
    assert v["reasons"][0].startswith(
        "1 target(s) could not be resolved, their accounts may be missing from the report: "
        "ou-abcd-12345678 (target location 0: the organization could not be read"
    )
    assert v["reasons"][1] == (
        "1 parent step(s) could not be interpreted, what they ran may be missing from the report: Run-Somewhere (Success) "
        "[the step names no TargetLocation account]"
    )
