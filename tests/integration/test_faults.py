"""Faults: injected through the sandbox, each scenario end to end through the role (or the check_os playbook).

Every scenario asserts that the play ends with a report that lists every targeted account, region and instance,
each with a status (and a reason when it did not succeed), and that the exit status follows the failure policy.
The scenarios and what each proves: docs/reliability.md.

One sandbox process per test module and xdist worker; each scenario resets it with its own small world (faults
included), which takes about a second, instead of starting a new process. The fault injection is seeded (the
world's ``seed``): the same calls meet the same faults. Nothing sleeps to synchronise: where a scenario must act
while the play runs (stop a StackSet operation, restart the sandbox), it polls the request log for a condition, with
a deadline.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from support.ansible_run import BIN, REPO, ansible_env

from sandbox.testing import SandboxHandle

PLAYBOOK = REPO / "playbooks" / "check_os.yml"
RUNBOOK_FILE = REPO / "roles" / "check_os" / "files" / "check-os-improved.yml"
TOKYO, IRELAND = "ap-northeast-1", "eu-west-1"
MGMT, A, B, C, D = "100000000001", "200000000002", "300000000003", "400000000004", "500000000005"
ROOT, WORKLOADS, PROD = "r-flt0", "ou-flt0-workload", "ou-flt0-prod0001"
EXEC_ROLE = "AWS-SystemsManager-AutomationExecutionRole"
READER_ROLE = "AWS-SystemsManager-AutomationResultsReaderRole"
CHECKS = {"CheckHostname": "check", "CheckTimezone": "check", "CheckLocale": "check", "CheckUpdate": "check"}
OK_STATUSES = {"Success", "CompletedWithSuccess"}
# Statuses a reason must come with (a run still in progress at the timeout has none yet: the play says why).
FAILED_STATUSES = {"Failed", "TimedOut", "Cancelled", "CompletedWithFailure", "Rejected", "Exited"}
FIVE_XX = {"InternalServerError", "InternalFailure", "InternalError", "ServiceUnavailable", "Unavailable"}
DEADLINE = 240  # seconds: the bound on every poll for a condition


def tagged(name, region, **kw):
    return {"name": name, "region": region, "tags": {"ssm-automation": "true"}, "os_profile": "amazon-linux-2023", **kw}


def small_world(name: str, **changes) -> dict:
    """Four member accounts (two nested one OU deeper), two regions, one tagged instance per account and region,
    plus an untagged one and the management account's own (neither is targeted)."""
    world = {
        "name": name,
        "version": 1,
        "seed": 20251,
        "time_scale": 0.02,
        "regions": [TOKYO, IRELAND],
        "organization": {"id": "o-fault0small", "root_id": ROOT, "feature_set": "ALL"},
        "management_account": {
            "id": MGMT,
            "name": "management",
            "email": "mgmt@example.com",
            "credentials": {
                "access_key_id": "AKIAFAULTSMALL000001",
                "secret_access_key": "faults/small/secret/key/0001",
                "user": "sandbox-admin",
            },
            "instances": [tagged("mgmt-box", TOKYO)],
        },
        "organizational_units": [
            {"id": WORKLOADS, "name": "Workloads", "children": [{"id": PROD, "name": "Prod"}]},
        ],
        "accounts": [
            {
                "id": A,
                "name": "app-a",
                "email": "a@example.com",
                "parent": WORKLOADS,
                "instances": [
                    tagged("a-tokyo", TOKYO),
                    tagged("a-ireland", IRELAND),
                    {"name": "a-untagged", "region": TOKYO, "tags": {"Env": "x"}},
                ],
            },
            {
                "id": B,
                "name": "app-b",
                "email": "b@example.com",
                "parent": PROD,
                "instances": [tagged("b-tokyo", TOKYO, os_profile="rhel-9"), tagged("b-ireland", IRELAND)],
            },
            {
                "id": C,
                "name": "app-c",
                "email": "c@example.com",
                "parent": PROD,
                "instances": [tagged("c-tokyo", TOKYO), tagged("c-ireland", IRELAND)],
            },
            {
                "id": D,
                "name": "app-d",
                "email": "d@example.com",
                "parent": WORKLOADS,
                "instances": [tagged("d-tokyo", TOKYO), tagged("d-ireland", IRELAND)],
            },
        ],
        "automation_roles": {
            "admin": True,
            "execution_stackset_targets": [ROOT],
            "regions": [TOKYO],
            "management_execution_stack": False,
            "reader_role": True,
        },
        "stacksets": {"operation_seconds": 1},
        "faults": [],
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(world.get(key), dict):
            world[key] = {**world[key], **value}
        else:
            world[key] = value
    return world


def account(world: dict, account_id: str) -> dict:
    return next(a for a in world["accounts"] if a["id"] == account_id)


# ---------------------------------------------------------------------------------------------------------------
# Running the role
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    rc: int
    stdout: str
    stderr: str
    report_dir: Path
    since: int
    execution_id: str | None = None
    execution: dict = field(default_factory=dict)
    locations: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.stdout[-6000:] + "\n" + self.stderr[-3000:]

    def policy_line(self) -> str:
        m = re.search(r"Policy (failed|passed) for automation [^\n\"]*", self.stdout)
        return m.group(0) if m else ""


def role_play(tmp_path: Path, role_vars: dict) -> Path:
    """A small play: upload the improved check-os runbook, then orgops.ssm_automation.run_automation."""
    play = [
        {
            "name": "Faults scenario",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Upload the runbook",
                    "orgops.ssm_automation.ssm_document": {"name": "check-os", "content_path": str(RUNBOOK_FILE)},
                    "tags": ["always"],
                },
                {
                    "name": "Run it across the organization, wait, gather, report and apply the policy",
                    "ansible.builtin.include_role": {"name": "orgops.ssm_automation.run_automation"},
                    "vars": role_vars,
                    # --tags run / report select the role's phases
                    "tags": ["always"],
                },
            ],
        }
    ]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return path


def run_vars(report_dir: Path, **overrides) -> dict:
    out = {
        "run_automation_document_name": "check-os",
        "run_automation_parameters": CHECKS,
        "run_automation_target_ous": [WORKLOADS],
        "run_automation_regions": [TOKYO, IRELAND],
        "run_automation_report_dir": str(report_dir),
        "run_automation_wait_timeout": 120,
        "run_automation_poll_interval": 1,
        "run_automation_max_failed_percent": 0,
    }
    out.update(overrides)
    return out


def start_playbook(playbook: Path, box: SandboxHandle, args=(), log: Path | None = None) -> subprocess.Popen:
    env = ansible_env({**box.env, "PYTHONUNBUFFERED": "1", "ANSIBLE_PIPELINING": "1"})
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook), *args]
    out = open(log, "w") if log else subprocess.PIPE  # noqa: SIM115 - closed by finish()
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    proc.log_file = out if log else None
    return proc


def finish(proc: subprocess.Popen, log: Path | None = None, timeout: int = 900) -> tuple[int, str]:
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, _ = proc.communicate()
    if getattr(proc, "log_file", None) is not None:
        proc.log_file.close()
    if log is not None:
        stdout = log.read_text()
    return proc.returncode, stdout or ""


def collect(box: SandboxHandle, report_dir: Path, rc: int, stdout: str, since: int, execution_id=None) -> Outcome:
    outcome = Outcome(rc, stdout, "", report_dir, since)
    latest = report_dir / "latest.json"
    if execution_id is None and latest.exists():
        execution_id = json.loads(latest.read_text())["automation_execution_id"]
    outcome.execution_id = execution_id
    run_dir = report_dir / str(execution_id)
    jsonl = run_dir / "results.jsonl"
    if jsonl.exists():
        lines = [json.loads(x) for x in jsonl.read_text().splitlines() if x.strip()]
        outcome.execution = next((x for x in lines if x["type"] == "execution"), {})
        outcome.locations = [x for x in lines if x["type"] == "location"]
        outcome.summary = next((x for x in lines if x["type"] == "summary"), {})
    report = run_dir / "automation-report.json"
    if report.exists():
        outcome.report = json.loads(report.read_text())
    return outcome


def play(box: SandboxHandle, tmp_path: Path, role_vars: dict | None = None, args=(), playbook=None, name="run"):
    """Run the play to its end; the report is read back from the report directory."""
    report_dir = tmp_path / "reports"
    workdir = tmp_path / name
    workdir.mkdir(exist_ok=True)
    since = box.last_seq()
    playbook = playbook or role_play(workdir, role_vars if role_vars is not None else run_vars(report_dir))
    rc, stdout = finish(start_playbook(playbook, box, args))
    return collect(box, report_dir, rc, stdout, since)


# ---------------------------------------------------------------------------------------------------------------
# What every scenario checks
# ---------------------------------------------------------------------------------------------------------------


def targeted(box: SandboxHandle, ous=(WORKLOADS,), regions=(TOKYO, IRELAND), accounts=None):
    """(account, region) locations and (account, region, instance id) targets, from the world itself."""
    world = box.world
    members = set(accounts) if accounts is not None else {a for ou in ous for a in world.descendants(ou)}
    locations = {(a, r) for a in members for r in regions}
    instances = {
        (i.account_id, i.region, i.instance_id)
        for i in world.instances
        if i.account_id in members and i.region in regions and i.tags.get("ssm-automation") == "true"
    }
    return locations, instances


def reason_of(instance: dict) -> str:
    if instance.get("failure_message"):
        return instance["failure_message"]
    if instance.get("read_error"):
        return "%(code)s: %(message)s" % instance["read_error"]
    for step in instance.get("steps") or []:
        if step.get("failure_message"):
            return step["failure_message"]
    return ""


def assert_complete(outcome: Outcome, locations: set, instances: set, unreadable: set = frozenset()):
    """The report lists every targeted location and instance, once, each with a status and, if not successful,
    a reason. ``unreadable``: locations whose instances cannot be known (listed with the reason instead)."""
    assert outcome.execution_id, "the play recorded no execution id:\n" + outcome.text
    assert outcome.locations, "no results.jsonl in the report directory:\n" + outcome.text
    seen = [(loc["account"], loc["region"]) for loc in outcome.locations]
    assert sorted(seen) == sorted(locations), (sorted(seen), sorted(locations))
    listed = []
    for loc in outcome.locations:
        where = (loc["account"], loc["region"])
        assert loc.get("status"), f"location {where} has no status"
        if loc["status"] not in OK_STATUSES:
            # a reason on the location itself, or on the instances that made it fail
            explained = loc.get("failure_message") or loc.get("read_error")
            explained = explained or any(
                reason_of(i) for i in loc.get("instances") or [] if i.get("status") in FAILED_STATUSES
            )
            assert explained, f"location {where} {loc['status']}: no reason"
        if where in unreadable:
            assert loc["read_status"] in ("failed", "skipped"), loc
            assert loc["read_error"]["code"] and loc["read_error"]["message"], loc
            continue
        assert loc["read_status"] in ("ok", "partial"), loc
        for inst in loc["instances"]:
            listed.append((loc["account"], loc["region"], inst["instance_id"]))
            assert inst.get("status"), f"{where} {inst['instance_id']}: no status"
            if inst["status"] in FAILED_STATUSES:
                assert reason_of(inst), f"{where} {inst['instance_id']} {inst['status']}: no reason"
    expected = {i for i in instances if (i[0], i[1]) not in unreadable}
    assert sorted(listed) == sorted(expected), (sorted(listed), sorted(expected))
    # the written report (automation-report.json) holds the same, and the summary counts every one of them
    report_instances = {
        (loc["account"], loc["region"], inst["instance_id"])
        for loc in outcome.report.get("locations", [])
        for inst in loc.get("instances") or []
    }
    assert report_instances == expected
    assert {(loc["account"], loc["region"]) for loc in outcome.report["locations"]} == set(locations)
    assert outcome.summary["instances"] == len(expected)
    assert outcome.summary["locations"] == len(locations)
    # locations that ran but could not be read (not those that never ran)
    unread = [loc for loc in outcome.locations if loc["read_status"] == "failed"]
    assert outcome.summary["unreadable_locations"] == len(unread)


def statuses(outcome: Outcome) -> dict:
    return {inst["instance_id"]: inst for loc in outcome.locations for inst in loc["instances"]}


def by_name(box: SandboxHandle, name: str) -> str:
    return next(i.instance_id for i in box.world.instances if i.name == name)


def errors_met(box: SandboxHandle, since: int, codes) -> list[dict]:
    codes = {codes} if isinstance(codes, str) else set(codes)
    return [r for r in box.requests(since) if r["error_code"] in codes]


def starts(box: SandboxHandle, since: int) -> list[dict]:
    return [r for r in box.requests(since) if r["action"] == "StartAutomationExecution" and not r["error_code"]]


def assert_policy_passed(outcome: Outcome):
    assert outcome.rc == 0, outcome.text
    assert outcome.policy_line().startswith("Policy passed"), outcome.text


def assert_policy_failed(outcome: Outcome, *fragments: str):
    assert outcome.rc != 0, outcome.text
    line = outcome.policy_line()
    assert line.startswith("Policy failed for automation %s" % outcome.execution_id), outcome.text
    for fragment in fragments:
        assert fragment in line, (fragment, line)


def poll(condition, what: str, deadline: float = DEADLINE, every: float = 0.2):
    """Wait for ``condition()`` to return something truthy (a bounded poll, not a sleep to synchronise)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {deadline}s waiting for {what}")


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """One sandbox for the module's scenarios; each resets it with its own world."""
    handle = SandboxHandle(small_world("faults"), name="faults", workdir=tmp_path_factory.mktemp("faults-sandbox"))
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


def scenario(box: SandboxHandle, world: dict) -> SandboxHandle:
    box.reset(world)
    return box


# ---------------------------------------------------------------------------------------------------------------
# 1-3: throttling, TPS limits and 5xx are retried; nothing is lost and nothing is started twice
# ---------------------------------------------------------------------------------------------------------------


def assert_every_instance_succeeded_from_one_start(box, outcome) -> None:
    """The fault was met and recovered from: every location and instance reported, all Success, the automation
    started exactly once, the policy passed."""
    assert_complete(outcome, *targeted(box))
    assert all(i["status"] == "Success" for i in statuses(outcome).values()), outcome.summary
    assert len(starts(box, outcome.since)) == 1, "the automation was started more than once"
    assert_policy_passed(outcome)


def test_throttling_on_10_percent_of_ssm_calls(box, tmp_path):
    scenario(box, small_world("throttle", faults=[{"service": "ssm", "throttle_rate": 0.1}]))
    outcome = play(box, tmp_path)
    assert errors_met(box, outcome.since, "ThrottlingException"), "no call was throttled: the scenario proves nothing"
    assert_every_instance_succeeded_from_one_start(box, outcome)


def test_tps_limit_of_5_per_account_region(box, tmp_path):
    # 5 calls a second per account-region, no burst beyond one call: calls closer than 200 ms are throttled
    world = small_world("tps", faults=[{"service": "ssm", "tps": 5, "burst": 1}])
    # twelve instances in one account-region: its gather makes 13 calls, paced at up to 10 a second
    account(world, A)["instances"].append(tagged("a-fleet", TOKYO, count=11))
    scenario(box, world)
    outcome = play(box, tmp_path)
    throttled = errors_met(box, outcome.since, "ThrottlingException")
    assert throttled, "the TPS limit was never reached: the scenario proves nothing"
    assert_every_instance_succeeded_from_one_start(box, outcome)


def test_5xx_on_2_percent_of_calls(box, tmp_path):
    # seed 43: the rule's random sequence answers 5xx to the 2nd, 12th, 24th and 43rd matching call
    scenario(box, small_world("5xx", seed=43, faults=[{"error_5xx_rate": 0.02}]))
    outcome = play(box, tmp_path)
    served = errors_met(box, outcome.since, FIVE_XX)
    assert served, "no call got a 5xx: the scenario proves nothing"
    assert_every_instance_succeeded_from_one_start(box, outcome)


# ---------------------------------------------------------------------------------------------------------------
# 4-5: accounts that cannot run or cannot be read are reported with AWS's reason, and fail the policy
# ---------------------------------------------------------------------------------------------------------------


def test_two_accounts_missing_the_execution_role_with_preflight_off(box, tmp_path):
    scenario(box, small_world("no-exec-role", automation_roles={"missing_execution_role": [C, D]}))
    # with the collection's defaults (TargetLocationMaxErrors 100%) every location is tried, so that each reports
    # its own outcome
    role_vars = run_vars(tmp_path / "reports", run_automation_preflight=False)
    outcome = play(box, tmp_path, role_vars)
    locations, instances = targeted(box)
    broken = {(a, r) for a, r in locations if a in (C, D)}
    assert_complete(outcome, locations, instances, unreadable=broken)
    for loc in outcome.locations:
        if (loc["account"], loc["region"]) in broken:
            assert loc["status"] == "Failed", loc
            assert loc["failure_message"].startswith(
                "The provided role: arn:aws:iam::%s:role/%s can't be assumed." % (loc["account"], EXEC_ROLE)
            ), loc
        else:
            assert all(i["status"] == "Success" for i in loc["instances"]), loc
    # 4 locations could not run: each counts as one failure next to the 4 instances that succeeded
    assert_policy_failed(outcome, "4 of 8 instance(s) did not succeed")


def test_a_failed_location_stops_the_others_by_default_and_they_are_reported_never_started(box, tmp_path):
    """With AWS's defaults, TargetLocationMaxErrors 0 and TargetLocationMaxConcurrency 1 (sent explicitly: the
    collection's defaults are 100% and 10): after the first location fails, no other one is started. Those locations are listed as never started, and count as failures."""
    scenario(box, small_world("no-exec-role-default", automation_roles={"missing_execution_role": [C, D]}))
    aws_defaults = {"run_automation_location_max_errors": "0", "run_automation_location_max_concurrency": "1"}
    outcome = play(box, tmp_path, run_vars(tmp_path / "reports", run_automation_preflight=False, **aws_defaults))
    locations, instances = targeted(box)
    assert outcome.execution["status"] == "Failed", outcome.execution
    not_run = {
        (loc["account"], loc["region"])
        for loc in outcome.locations
        if loc["read_status"] == "skipped" and loc["read_error"]["code"] in ("NeverStarted", "NoMemberExecution")
    }
    ran = locations - not_run
    assert not_run and ran, outcome.locations
    assert_complete(outcome, locations, instances, unreadable=not_run)
    never = [loc for loc in outcome.locations if loc["read_error"] and loc["read_error"]["code"] == "NeverStarted"]
    assert never, "no location was left unstarted: the scenario proves nothing"
    for loc in never:
        # the harvest's own status for a location the finished run never started; the step's own status kept
        assert loc["status"] == "NeverStarted" and loc["step_status"] == "Pending", loc
        assert "before this location was started" in loc["read_error"]["message"], loc
    failed_first = [loc for loc in outcome.locations if loc["status"] == "Failed"]
    assert len(failed_first) == 1 and failed_first[0]["account"] in (C, D), failed_first
    # every location that did not run counts: none of them is under-reported as a success
    succeeded = sum(1 for loc in outcome.locations if loc["read_status"] == "ok" for _ in loc["instances"])
    assert_policy_failed(outcome, "%d of %d instance(s) did not succeed" % (len(not_run), len(not_run) + succeeded))


def test_one_account_whose_reader_role_is_denied(box, tmp_path):
    scenario(box, small_world("reader-denied", faults=[{"service": "ssm", "account": B, "access_denied": True}]))
    outcome = play(box, tmp_path)
    locations, instances = targeted(box)
    denied = {(B, TOKYO), (B, IRELAND)}
    assert_complete(outcome, locations, instances, unreadable=denied)
    for loc in outcome.locations:
        if loc["account"] == B:
            assert loc["status"] == "Success", loc  # it ran; only reading it was denied
            assert loc["read_error"]["code"] in ("AccessDeniedException", "AccessDenied"), loc
        else:
            assert all(i["status"] == "Success" for i in loc["instances"]), loc
    assert_policy_failed(outcome, "2 of 8 instance(s) did not succeed")


# ---------------------------------------------------------------------------------------------------------------
# 6: credentials that expire mid-gather are renewed
# ---------------------------------------------------------------------------------------------------------------


def test_assumed_role_credentials_expire_mid_gather(box, tmp_path):
    world = small_world(
        "expiry",
        faults=[
            {"account": A, "credential_expiry_seconds": 2},
            # a slow account: its gather outlives the credentials
            {"service": "ssm", "account": A, "latency_ms": 400},
        ],
    )
    account(world, A)["instances"].append(tagged("a-fleet", TOKYO, count=5))
    scenario(box, world)
    outcome = play(box, tmp_path)
    # Rejected credentials never reach the request log (identity comes first); the gather counts its renewals.
    slow = next(loc for loc in outcome.locations if (loc["account"], loc["region"]) == (A, TOKYO))
    assert slow["credential_renewals"] >= 1, "no credentials expired: the scenario proves nothing"
    assert outcome.summary["credential_renewals"] >= 1
    assert_complete(outcome, *targeted(box))
    assert all(i["status"] == "Success" and not i["read_error"] for i in statuses(outcome).values())
    assert_policy_passed(outcome)


# ---------------------------------------------------------------------------------------------------------------
# 7: stopped and unmanaged instances
# ---------------------------------------------------------------------------------------------------------------


def test_stopped_and_unmanaged_instances(box, tmp_path):
    world = small_world("stopped-unmanaged")
    account(world, A)["instances"][0]["state"] = "stopped"  # a-tokyo
    account(world, C)["instances"][1]["managed"] = False  # c-ireland
    scenario(box, world)
    outcome = play(
        box,
        tmp_path,
        run_vars(
            tmp_path / "reports",
            run_automation_max_failed_percent=30,
            run_automation_required_steps=["CheckHostname", "AssertOnline"],
        ),
    )
    assert_complete(outcome, *targeted(box))
    got = statuses(outcome)
    stopped, unmanaged = got[by_name(box, "a-tokyo")], got[by_name(box, "c-ireland")]
    # the improved runbook's AssertOnline step ends both at once, with the SSM Agent's PingStatus as the reason
    for inst, ping in ((stopped, "'ConnectionLost'"), (unmanaged, "None")):
        steps = {s["step_name"]: s for s in inst["steps"]}
        assert inst["status"] == "Failed" and steps["AssertOnline"]["status"] == "Failed", inst
        assert "PingStatus is %s" % ping in steps["AssertOnline"]["failure_message"], inst
        assert steps["CheckHostname"]["status"] == "Pending", inst
    others = [i for iid, i in got.items() if iid not in (stopped["instance_id"], unmanaged["instance_id"])]
    assert len(others) == 6 and all(i["status"] == "Success" for i in others)
    # 2 of 8 (25%) is within max_failed_percent 30, but AssertOnline is a required step
    assert_policy_failed(outcome, "required step(s) AssertOnline", "on 2 instance(s)")
    assert "did not succeed (" not in outcome.policy_line()


# ---------------------------------------------------------------------------------------------------------------
# 8: a StackSet operation already in progress when the role deploys (the check_os playbook, roles phase included)
# ---------------------------------------------------------------------------------------------------------------


def check_os_vars(path: Path, report_dir: Path, **overrides) -> Path:
    values = {
        "check_os_target_ous": [WORKLOADS],
        "check_os_regions": [TOKYO, IRELAND],
        "check_os_deploy_roles": True,
        "execution_roles_regions": [TOKYO],
        "execution_roles_poll_interval": 1,
        "check_os_report_dir": str(report_dir),
        "check_os_max_failed_percent": 0,
        "check_os_wait_timeout": 120,
        "check_os_poll_interval": 1,
    }
    values.update(overrides)
    path.write_text(yaml.safe_dump(values))
    return path


def test_stack_set_operation_in_progress_when_the_role_deploys(box, tmp_path):
    # The execution role is only under Prod, and there is no results-reader role: the roles phase has to add
    # Workloads to the execution-role StackSet (an operation) and create the reader StackSet.
    scenario(
        box,
        small_world("stackset-busy", automation_roles={"execution_stackset_targets": [PROD], "reader_role": False}),
    )
    cfn = box.client("cloudformation", region=TOKYO)
    # someone else's operation: it would run for 100,000 simulated seconds; the scenario stops it (below)
    box.set_faults(
        {"service": "cloudformation", "action": "CreateStackInstances", "stackset_operation_seconds": 100000}
    )
    theirs = cfn.create_stack_instances(
        StackSetName=EXEC_ROLE, DeploymentTargets={"OrganizationalUnitIds": [PROD]}, Regions=[IRELAND]
    )["OperationId"]
    box.clear_faults()
    since = box.last_seq()
    report_dir = tmp_path / "reports"
    variables = check_os_vars(tmp_path / "vars.yml", report_dir)
    proc = start_playbook(PLAYBOOK, box, ["-e", f"@{variables}"])
    try:
        # the role's write meets the running operation...
        blocked = poll(
            lambda: [
                r
                for r in box.requests(since)
                if r["service"] == "cloudformation" and r["error_code"] == "OperationInProgressException"
            ],
            "the roles phase to meet the StackSet operation in progress",
        )
        assert blocked[0]["action"] == "CreateStackInstances", blocked
        # ...which then ends (stopped by its owner), and the role goes on
        cfn.stop_stack_set_operation(StackSetName=EXEC_ROLE, OperationId=theirs)
    finally:
        rc, stdout = finish(proc)
    outcome = collect(box, report_dir, rc, stdout, since)
    op = cfn.describe_stack_set_operation(StackSetName=EXEC_ROLE, OperationId=theirs)["StackSetOperation"]
    assert op["Status"] == "STOPPED", op
    calls = [r for r in box.requests(since) if r["action"] == "CreateStackInstances"]
    assert calls[0]["error_code"] == "OperationInProgressException" and not calls[-1]["error_code"], calls
    assert_complete(outcome, *targeted(box))
    # the accounts that got the execution role from the roles phase (A and D, outside Prod) ran
    assert all(i["status"] == "Success" for i in statuses(outcome).values()), outcome.summary
    assert_policy_passed(outcome)


# ---------------------------------------------------------------------------------------------------------------
# 9: still running at wait_timeout: reported as timed out; re-attaching later by id completes the report
# ---------------------------------------------------------------------------------------------------------------


def slow_world(name: str, slow=("a-tokyo",), delay=50, time_scale=0.25, **changes) -> dict:
    """One instance answers `yum check-update` after ``delay`` simulated seconds (within CheckUpdate's 60 s)."""
    world = small_world(name, time_scale=time_scale, **changes)
    slow_update = {"match": "yum check-update", "stdout": "", "exit_code": 0, "delay": delay}
    world["profiles"] = {"slow-linux": {"extends": "amazon-linux-2023", "commands": [slow_update]}}
    for acct in world["accounts"]:
        for inst in acct["instances"]:
            if inst["name"] in slow:
                inst["os_profile"] = "slow-linux"
    return world


def parent_status(box: SandboxHandle, execution_id: str) -> str:
    ssm = box.client("ssm", region=TOKYO)
    return ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"][
        "AutomationExecutionStatus"
    ]


def test_still_running_at_wait_timeout_then_reattach_completes(box, tmp_path):
    scenario(box, slow_world("timeout", time_scale=0.5))  # the slow instance takes 25 s of wall time
    report_dir = tmp_path / "reports"
    # every location at once, one poll right after the start (wait_timeout 0)
    first = play(
        box,
        tmp_path,
        run_vars(report_dir, run_automation_wait_timeout=0, run_automation_location_max_concurrency="8"),
        name="first",
    )
    assert first.execution_id, first.text
    assert first.execution["status"] in ("InProgress", "Pending"), first.execution
    # the timeout fails the play (run_automation_fail_on_timeout), saying how to re-attach
    assert_policy_failed(
        first, "still going after 0s", "re-attach with -e automation_execution_id=%s" % first.execution_id
    )
    # what was known is reported: every location, with its status
    locations, instances = targeted(box)
    assert {(loc["account"], loc["region"]) for loc in first.locations} == locations
    assert all(loc["status"] for loc in first.locations)
    # still going: locations (or, once they fanned out, instances) not finished yet, reported as such
    terminal = OK_STATUSES | FAILED_STATUSES
    running = [loc for loc in first.locations if loc["status"] not in terminal]
    running += [i for i in statuses(first).values() if i["status"] not in terminal]
    assert running, f"nothing was still running at the timeout: the scenario proves nothing {first.locations}"

    try:
        poll(lambda: parent_status(box, first.execution_id) not in ("Pending", "InProgress"), "the run to finish")
    except AssertionError as e:
        ssm = box.client("ssm", region=TOKYO)
        parent = ssm.get_automation_execution(AutomationExecutionId=first.execution_id)["AutomationExecution"]
        steps = [(x["StepName"], x["StepStatus"]) for x in parent.get("StepExecutions", [])]
        raise AssertionError(f"{e}: {parent['AutomationExecutionStatus']} {steps}") from None
    since = box.last_seq()
    again = play(box, tmp_path, run_vars(report_dir, run_automation_execution_id=first.execution_id), name="again")
    assert starts(box, since) == [], "re-attaching started another automation"
    assert again.execution_id == first.execution_id
    assert_complete(again, locations, instances)
    assert all(i["status"] == "Success" for i in statuses(again).values()), again.summary
    assert_policy_passed(again)


# ---------------------------------------------------------------------------------------------------------------
# 10: the sandbox restarted mid-wait: connection errors are retried, then the loss is reported clearly
# ---------------------------------------------------------------------------------------------------------------


class FixedPortSandbox(SandboxHandle):
    """A sandbox on a given port, so that it can be restarted where the play expects it."""

    def __init__(self, world, port: int, **kw):
        super().__init__(world, **kw)
        self.fixed_port = port

    def start(self):
        self.port_file.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PYTHONPATH"] = str(REPO)
        cmd = [sys.executable, "-m", "sandbox", "serve", "--world", str(self.world_path)]
        cmd += ["--port", str(self.fixed_port), "--port-file", str(self.port_file)]
        self._log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        info = poll(lambda: self.port_file.exists() and json.loads(self.port_file.read_text()), "the sandbox to start")
        self.port, self.endpoint = info["port"], info["endpoint"]
        assert self.admin("GET", "health")["status"] == "ok"
        return self

    def kill(self):
        """Stop the process but keep the work directory (stop() removes it)."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self._log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sandbox_restarted_mid_wait(tmp_path):
    world = slow_world("restart", delay=50, time_scale=0.5)
    handle = FixedPortSandbox(world, free_port(), name="restart", workdir=tmp_path / "sandbox").start()
    report_dir = tmp_path / "reports"
    log = tmp_path / "play.log"
    proc = None
    try:
        since = handle.last_seq()
        playbook = role_play(tmp_path, run_vars(report_dir, run_automation_wait_timeout=120))
        proc = start_playbook(playbook, handle, log=log)
        # the wait has begun: a progress poll read a member account
        poll(
            lambda: any(
                r["action"] == "DescribeAutomationExecutions" and r["account"] != MGMT for r in handle.requests(since)
            ),
            "the first progress poll",
        )
        execution_id = json.loads((report_dir / "latest.json").read_text())["automation_execution_id"]
        handle.kill()  # mid-wait: connections are refused from here on...
        handle.start()  # ...until the sandbox is back, with a new world (the execution is gone)
        rc, stdout = finish(proc, log)
        after = handle.requests(0)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        handle.stop()
    # the play's calls reached the restarted sandbox: they were retried through the outage (the gather retries
    # connection errors 10 times with exponential backoff, tens of seconds; the restart takes a few)
    reached = [r for r in after if r["service"] == "ssm"]
    assert reached, "no call reached the restarted sandbox"
    assert rc != 0, stdout[-5000:]
    assert "Traceback" not in stdout, stdout[-5000:]
    # reported clearly, in the play's last words: which execution, what happened, how to come back to it
    fatal = [line for line in stdout.splitlines() if line.startswith("fatal:")]
    assert fatal, stdout[-5000:]
    last = fatal[-1]
    assert execution_id in last and "re-attach" in last, last
    assert "Could not gather automation %s" % execution_id in last or "Policy failed" in last, last
    assert "not found" in last or "Could not connect" in last, last


# ---------------------------------------------------------------------------------------------------------------
# 11: a member account removed from the organization between start and gather
# ---------------------------------------------------------------------------------------------------------------


def test_member_account_removed_between_start_and_gather(box, tmp_path):
    scenario(box, small_world("removed"))
    report_dir = tmp_path / "reports"
    role_vars = run_vars(report_dir)
    started = play(box, tmp_path, role_vars, args=["--tags", "run"], name="start")
    assert started.rc == 0, started.text
    assert started.execution_id and not started.locations  # started and waited for; not gathered yet
    # The premise: the run had ended, every location done, before the account leaves (--tags run has no policy to
    # say so). A failure here is the run's, not the gather's, and names each location's status and reason.
    parent = box.client("ssm").get_automation_execution(AutomationExecutionId=started.execution_id)
    parent = parent["AutomationExecution"]
    steps = [(s["StepName"], s["StepStatus"], s.get("FailureMessage", "")) for s in parent["StepExecutions"]]
    assert parent["AutomationExecutionStatus"] == "Success", (parent["AutomationExecutionStatus"], steps, started.text)
    locations, instances = targeted(box)  # before the removal: what was targeted
    box.client("organizations").remove_account_from_organization(AccountId=B)
    assert B not in box.client("organizations").list_accounts()["Accounts"].__repr__()
    outcome = play(box, tmp_path, run_vars(report_dir, run_automation_execution_id=started.execution_id), name="gather")
    removed = {(B, TOKYO), (B, IRELAND)}
    # It ran before the account left; afterwards its results-reader role is gone with the StackSet instance
    # (auto-deployment removes it), so AWS refuses the AssumeRole: both locations say so, the others are complete.
    assert_complete(outcome, locations, instances, unreadable=removed)
    for loc in outcome.locations:
        if (loc["account"], loc["region"]) in removed:
            assert loc["status"] == "Success", loc
            assert loc["read_error"]["code"] == "AccessDenied", loc
            assert "arn:aws:iam::%s:role/%s" % (B, READER_ROLE) in loc["read_error"]["message"], loc
        else:
            assert all(i["status"] == "Success" for i in loc["instances"]), loc
    assert_policy_failed(outcome, "2 of 8 instance(s) did not succeed")
