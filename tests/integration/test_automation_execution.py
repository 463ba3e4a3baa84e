"""automation_execution and automation_execution_info, run through ansible-playbook against the sandbox's demo world.

The seed's three target styles (tags; version pinned; every EC2 instance) run the seed's check-os runbook; the info
module must return every targeted instance of every account and region, nested OUs and the management account
included, with the statuses the seed shows. The preflight, the idempotency key, splitting over 50 accounts, a
missing reader role, check mode, timeouts and cancelling are exercised the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from support.ansible_run import run_module

from sandbox.generate import generate_world
from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
CHECK_OS = (REPO / "roles" / "check_os" / "files" / "check-os.yml").read_text()
MGMT = "111122223333"
ROOT = "r-o2pk"
WORKLOADS = "ou-o2pk-wrkloads"
TOKYO = "ap-northeast-1"
IRELAND = "eu-west-1"
READER = "AWS-SystemsManager-AutomationResultsReaderRole"
EXEC = "orgops.ssm_automation.automation_execution"
INFO = "orgops.ssm_automation.automation_execution_info"
CHECKS = {
    "CheckHostname": "check",
    "CheckTimezone": "check",
    "CheckLocale": "check",
    "CheckUpdate": "check",
    "CheckNTP": "check",
}


def create_runbook(ssm, versions=1):
    """The seed's runbook verbatim as version 1, then further versions (only the description changes)."""
    ssm.create_document(Content=CHECK_OS, Name="check-os", DocumentType="Automation", DocumentFormat="YAML")
    for n in range(2, versions + 1):
        changed = CHECK_OS.replace("Check OS settings using SSM Automation.", "Check OS settings (revision %d)." % n)
        ssm.update_document(Content=changed, Name="check-os", DocumentVersion="$LATEST", DocumentFormat="YAML")


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """A private demo world: these tests start executions and create the runbook."""
    handle = SandboxHandle(DEMO_WORLD, name="automation", workdir=tmp_path_factory.mktemp("automation-sandbox"))
    handle.start()
    try:
        create_runbook(handle.client("ssm", region=TOKYO), versions=3)
        create_runbook(handle.client("ssm", region=IRELAND), versions=1)
        yield handle
    finally:
        handle.stop()


def clean(result):
    result.pop("_stdout", None)
    result.pop("_stderr", None)
    return result


def run(tmp_path, box, module, params, raw=False, env=None, **kw):
    """Run a module against ``box``; ``raw`` keeps ansible's captured output (``_stdout``, ``_stderr``)."""
    result = run_module(tmp_path, module, params, env=env or box.env, **kw)
    return result if raw else clean(result)


def private_box(sandbox_factory, world, name, region=TOKYO):
    """A sandbox of its own for one test, with the seed's runbook in ``region``."""
    box = sandbox_factory(world, name=name)
    create_runbook(box.client("ssm", region=region))
    return box


def start_params(accounts=None, regions=(TOKYO,), wait=True, **extra):
    """automation_execution's options to run the seed's check-os on the tagged instances, in ``accounts`` (account
    or OU ids) x ``regions`` (none: a local execution), waiting for the end unless ``wait`` is false; ``extra``
    adds or overrides options."""
    params = {"document_name": "check-os", "parameters": CHECKS, "targets": {"tags": {"ssm-automation": "true"}}}
    if accounts is not None:
        params["target_locations"] = [{"accounts": list(accounts), "regions": list(regions)}]
    if wait:
        params.update(wait=True, poll_interval=1)
    params.update(extra)
    return params


def start(tmp_path, box, params, **kw):
    """Start an execution with automation_execution; it must not fail."""
    started = run(tmp_path, box, EXEC, params, **kw)
    assert not started.get("failed"), started.get("msg")
    return started


def gather(tmp_path, box, started, info=None, **kw):
    """Gather a started execution with automation_execution_info (``info``: more options); it must not fail."""
    result = run(
        tmp_path, box, INFO, {"automation_execution_id": started["automation_execution_id"], **(info or {})}, **kw
    )
    assert not result.get("failed"), result.get("msg")
    return result


def start_and_gather(tmp_path, box, params, info=None, **kw):
    """(automation_execution's result, automation_execution_info's result) for one execution."""
    started = start(tmp_path, box, params, **kw)
    return started, gather(tmp_path, box, started, info, **kw)


def expected(world, accounts, regions, tagged=True):
    """(account, region, instance id) of every targeted instance, from the world itself."""
    return {
        (i.account_id, i.region, i.instance_id)
        for i in world.instances
        if i.account_id in accounts and i.region in regions and (not tagged or i.tags.get("ssm-automation") == "true")
    }


def harvested(info):
    return {
        (loc["account"], loc["region"], inst["instance_id"]) for loc in info["locations"] for inst in loc["instances"]
    }


def instance(info, world, name):
    wanted = next(i for i in world.instances if i.name == name)
    for loc in info["locations"]:
        for inst in loc["instances"]:
            if inst["instance_id"] == wanted.instance_id:
                return inst
    raise AssertionError("%s (%s) not harvested" % (name, wanted.instance_id))


def steps(inst):
    return {s["step_name"]: s["status"] for s in inst["steps"]}


SEED_STYLES = {
    "tags": {"targets": {"tags": {"ssm-automation": "true"}}},
    "version_pinned": {"targets": {"tags": {"ssm-automation": "true"}}, "document_version": "2"},
    "all_instances": {"targets": {"all_instances": True}},
}


@pytest.mark.parametrize("style", sorted(SEED_STYLES))
def test_seed_target_styles_return_every_instance(tmp_path, box, style):
    params = start_params([WORKLOADS], wait_timeout=300, **SEED_STYLES[style])
    started, info = start_and_gather(tmp_path, box, params, {"reader_role_name": READER})
    assert started["changed"] is True
    assert started["timed_out"] is False
    assert started["status"] in ("Success", "Failed")
    assert started["request"]["Parameters"]["AutomationAssumeRole"] == [
        "arn:aws:iam::%s:role/AWS-SystemsManager-AutomationAdministrationRole" % MGMT
    ]
    if style == "version_pinned":
        assert started["request"]["DocumentVersion"] == "2"
        assert started["execution"]["document_version"] == "2"
    # Workloads at every depth: Workloads itself, Prod, Payments (three deep) and Staging.
    accounts = set(box.world.descendants(WORKLOADS))
    assert {"222233334444", "333344445555", "444455556666", "666677778888", "777788889999"} == accounts
    assert set(started["accounts"]) == accounts
    want = expected(box.world, accounts, {TOKYO}, tagged=(style != "all_instances"))
    assert started["progress"]["total"] == len(want)
    assert started["progress"]["done"] == len(want)
    assert started["progress_line"].startswith("%d/%d instances done: " % (len(want), len(want)))

    assert harvested(info) == want
    assert {(loc["account"], loc["region"]) for loc in info["locations"]} == {(a, TOKYO) for a in accounts}
    assert all(loc["read_status"] == "ok" for loc in info["locations"])

    updates = instance(info, box.world, "pay-api-1")  # Amazon Linux with pending updates: yum check-update exits 100
    assert steps(updates)["CheckUpdate"] == "Failed"
    assert steps(updates)["CheckNTP"] == "Pending"
    assert updates["status"] == "Failed"
    stopped = instance(info, box.world, "stg-web")
    assert stopped["status"] == "TimedOut"
    assert steps(stopped)["CheckHostname"] == "TimedOut"
    healthy = instance(info, box.world, "dev-box")
    assert healthy["status"] == "Success"
    hostname = [s for s in healthy["steps"] if s["step_name"] == "CheckHostname"][0]
    assert any(values for values in hostname["outputs"].values())  # the command's output, read from the member account
    if style == "all_instances":
        untagged = instance(info, box.world, "stg-db")
        assert untagged["steps"]
    summary = info["summary"]
    assert summary["instances"] == len(want)
    assert summary["step_failures"]["CheckUpdate"]["Failed"] >= 1
    assert any(
        f["instance_id"] == updates["instance_id"] and f["step_name"] == "CheckUpdate" for f in summary["failures"]
    )
    assert info["progress_line"] == started["progress_line"]


def test_unmanaged_instance_shows_its_failure(tmp_path, box):
    _, info = start_and_gather(tmp_path, box, start_params(["ou-o2pk-security"], [TOKYO, IRELAND]))
    want = expected(box.world, {"555566667777"}, {TOKYO, IRELAND})
    assert harvested(info) == want
    unmanaged = instance(info, box.world, "sec-scanner")
    assert unmanaged["status"] == "Failed"
    first = unmanaged["steps"][0]
    assert first["status"] == "Failed"
    assert first["failure_message"]
    assert instance(info, box.world, "sec-collector")["status"] == "Success"


def test_root_ou_is_stopped_by_preflight_then_includes_the_management_account(tmp_path, sandbox_factory):
    box = private_box(sandbox_factory, DEMO_WORLD, "rootou")
    params = start_params([ROOT])
    seq = box.last_seq()
    refused = run(tmp_path, box, EXEC, params)
    assert refused["failed"] is True
    assert refused["msg"].startswith(
        "preflight: accounts without AWS-SystemsManager-AutomationExecutionRole: %s (the management account" % MGMT
    )
    assert "nothing was started" in refused["msg"]
    assert refused["preflight"]["missing_role"] == [MGMT]
    assert box.write_calls(seq) == []

    # Deploy the management account's plain stack, as the seed does, and run again.
    cfn = box.client("cloudformation", region=TOKYO)
    cfn.create_stack(
        StackName="AWS-SystemsManager-AutomationExecutionRole-org",
        TemplateBody=(REPO / "roles" / "execution_roles" / "files" / "execution-role.yml").read_text(),
        Parameters=[
            {"ParameterKey": "AdminAccountId", "ParameterValue": MGMT},
            {"ParameterKey": "OrganizationID", "ParameterValue": box.world.organization_id},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    started, info = start_and_gather(tmp_path, box, params)
    assert MGMT in started["accounts"]
    every = set(box.world.accounts)
    assert harvested(info) == expected(box.world, every, {TOKYO})
    mgmt = [loc for loc in info["locations"] if loc["account"] == MGMT][0]
    assert mgmt["read_status"] == "ok"
    assert [i["instance_id"] for i in mgmt["instances"]] == [
        i.instance_id for i in box.world.instances if i.name == "mgmt-bastion"
    ]


def test_without_preflight_the_management_location_fails_with_the_seeds_message(tmp_path, sandbox_factory):
    box = private_box(sandbox_factory, DEMO_WORLD, "nopreflight")
    started, info = start_and_gather(tmp_path, box, start_params([ROOT], preflight=False))
    # the expected set is computed without the preflight too: the root OU expanded to every account
    assert {(t["account"], t["region"]) for t in started["targets"]["locations"]} == {
        (account, TOKYO) for account in box.world.accounts
    }
    by_account = {loc["account"]: loc for loc in info["locations"]}
    assert set(by_account) == set(box.world.accounts)
    mgmt = by_account[MGMT]
    assert mgmt["status"] == "Failed"
    assert (
        "The provided role: arn:aws:iam::%s:role/AWS-SystemsManager-AutomationExecutionRole can't be assumed." % MGMT
        in mgmt["failure_message"]
    )
    assert mgmt["instances"] == []
    members = set(box.world.member_account_ids)
    assert harvested(info) == expected(box.world, members, {TOKYO})
    failures = [f for f in info["summary"]["failures"] if f["account"] == MGMT]
    assert failures and "can't be assumed" in failures[0]["message"]


def test_same_idempotency_key_starts_one_execution(tmp_path, box):
    params = start_params(["ou-o2pk-prod0001"], wait=False, idempotency_key="awx-job-1234")
    first = start(tmp_path, box, params)
    assert first["changed"] is True
    seq = box.last_seq()
    second = run(tmp_path, box, EXEC, params)
    assert second["changed"] is False
    assert second["existing"] is True
    assert second["automation_execution_id"] == first["automation_execution_id"]
    # the relaunched job gets the expected set as the first one did (the role keeps it as targets.json)
    assert first["targets"]["locations"]
    assert second["targets"]["locations"] == first["targets"]["locations"]
    assert box.write_calls(seq) == []  # found with a read; StartAutomationExecution was not called again
    ssm = box.client("ssm", region=TOKYO)
    tagged = ssm.describe_automation_executions(
        Filters=[{"Key": "TagKey", "Values": ["orgops-ssm-automation:client-token:" + first["client_token"]]}]
    )["AutomationExecutionMetadataList"]
    assert [m["AutomationExecutionId"] for m in tagged] == [first["automation_execution_id"]]
    # Another key, or another request, is another execution.
    third = run(tmp_path, box, EXEC, dict(params, idempotency_key="awx-job-1235"))
    assert third["automation_execution_id"] != first["automation_execution_id"]


def test_reattaching_without_a_kept_set_recomputes_it_and_keeps_it(tmp_path, box):
    """automation_execution_info given a targets_file that does not exist yet (a relaunch in a fresh working
    directory): the expected set is recomputed from the parent's TargetLocations and Organizations, written there,
    and read (not recomputed) on the next run."""
    started = start(tmp_path, box, start_params([WORKLOADS]))
    kept = tmp_path / "report" / "targets.json"
    kept.parent.mkdir()
    seq = box.last_seq()
    first = gather(tmp_path, box, started, {"targets_file": str(kept)})
    assert "ListRoots" in {r["action"] for r in box.requests(seq)}  # recomputed: the organization was walked
    written = json.loads(kept.read_text())
    pairs = {(t["account"], t["region"]) for t in written["locations"]}
    assert pairs == {(t["account"], t["region"]) for t in started["targets"]["locations"]}
    assert pairs == {(loc["account"], loc["region"]) for loc in first["locations"]}
    assert "recomputed" in first["summary"]["expected_source"]
    seq = box.last_seq()
    second = gather(tmp_path, box, started, {"targets_file": str(kept)})
    assert second["summary"]["expected_source"] == written["source"]
    listed = [r["action"] for r in box.requests(seq) if r["action"].startswith("List")]
    assert "ListRoots" not in listed  # the kept set was read, the organization not walked again


def test_check_mode_validates_and_preflights_without_starting(tmp_path, box):
    seq = box.last_seq()
    params = start_params([WORKLOADS], wait=False)
    params["target_locations"][0]["exclude_accounts"] = ["ou-o2pk-staging1"]
    result = start(tmp_path, box, params, check=True, diff=True)
    assert result["changed"] is True
    assert result["status"] == "WouldStart"
    assert "automation_execution_id" not in result
    assert result["locations"][0]["accounts"] == ["222233334444", "333344445555", "666677778888", "777788889999"]
    assert result["request"]["TargetLocations"][0]["ExcludeAccounts"] == ["ou-o2pk-staging1"]
    assert result["diff"]["after"]["automation_execution"]["DocumentName"] == "check-os"
    assert box.write_calls(seq) == []


@pytest.mark.parametrize(
    "override, field",
    [
        ({"target_locations": [{"accounts": ["12345"], "regions": [TOKYO]}]}, "target_locations[0].accounts[0]"),
        ({"target_locations": [{"accounts": [WORKLOADS], "regions": ["tokyo"]}]}, "target_locations[0].regions[0]"),
        ({"max_errors": "lots"}, "max_errors"),
        ({"targets": {"tags": {"a": "b"}, "all_instances": True}}, None),
    ],
)
def test_bad_input_fails_before_any_aws_call(tmp_path, box, override, field):
    params = start_params([WORKLOADS], wait=False, **override)
    seq = box.last_seq()
    result = run(tmp_path, box, EXEC, params)
    assert result["failed"] is True
    if field:
        assert result["msg"].startswith(field + ": ")
        assert result["field"] == field
    else:
        assert "mutually exclusive" in result["msg"] and "all_instances" in result["msg"]
    assert box.requests(seq) == []


def test_parameters_are_checked_against_the_runbook_before_any_write(tmp_path, box):
    seq = box.last_seq()
    result = run(tmp_path, box, EXEC, start_params([WORKLOADS], wait=False, parameters=dict(CHECKS, CheckNTP="maybe")))
    assert result["failed"] is True
    assert result["field"] == "parameters.CheckNTP"
    assert "'maybe' is not an allowed value" in result["msg"] and "check" in result["msg"]
    assert box.write_calls(seq) == []
    actions = {r["action"] for r in box.requests(seq)}
    assert actions <= {"GetDocument", "GetCallerIdentity"}  # the runbook, and the caller for the assume-role ARN


def test_timeout_is_not_a_crash_and_reattaching_completes(tmp_path, box):
    started = start(tmp_path, box, start_params([WORKLOADS], wait_timeout=0))
    assert started["timed_out"] is True
    # not ended yet: AWS's statuses before the end are Pending and InProgress (AutomationExecutionStatus); which one
    # the first poll sees after a timeout of 0 depends on timing
    assert started["status"] in ("Pending", "InProgress")
    assert "re-attach with execution_id=%s" % started["automation_execution_id"] in started["msg"]
    attached = run(
        tmp_path, box, EXEC, {"execution_id": started["automation_execution_id"], "wait": True, "poll_interval": 1}
    )
    assert attached["changed"] is False
    assert attached["timed_out"] is False
    assert attached["status"] in ("Success", "Failed")
    assert attached["progress"]["done"] == attached["progress"]["total"] > 0


def test_cancel_then_cancel_again(tmp_path, box):
    execution_id = start(tmp_path, box, start_params([WORKLOADS], wait=False))["automation_execution_id"]
    cancelled = run(
        tmp_path, box, EXEC, {"execution_id": execution_id, "state": "cancelled", "wait": True, "poll_interval": 1}
    )
    assert not cancelled.get("failed"), cancelled.get("msg")
    if cancelled["changed"]:
        assert cancelled["status"] == "Cancelled"
    seq = box.last_seq()
    again = run(tmp_path, box, EXEC, {"execution_id": execution_id, "state": "cancelled"})
    assert again["changed"] is False
    assert box.write_calls(seq) == []


def test_attach_conflicts_with_start_options(tmp_path, box):
    result = run(
        tmp_path, box, EXEC, {"execution_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12, "document_name": "check-os"}
    )
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"] and "execution_id" in result["msg"]


def test_info_streams_json_lines_and_fetches_full_output(tmp_path, box):
    dest = tmp_path / "out" / "results.jsonl"
    (tmp_path / "out").mkdir()
    _, info = start_and_gather(
        tmp_path,
        box,
        start_params([WORKLOADS], [TOKYO, IRELAND]),
        {"dest": str(dest), "full_output": True, "concurrency": 4},
    )
    assert "locations" not in info
    lines = [json.loads(line) for line in dest.read_text().splitlines()]
    assert lines[0]["type"] == "execution" and lines[-1]["type"] == "summary"
    locations = [line for line in lines if line["type"] == "location"]
    accounts = set(box.world.descendants(WORKLOADS))
    assert {(loc["account"], loc["region"]) for loc in locations} == {
        (a, r) for a in accounts for r in (TOKYO, IRELAND)
    }
    assert info["records_written"] == len(lines)
    assert info["summary"]["instances"] == len(expected(box.world, accounts, {TOKYO, IRELAND}))
    updates = [
        i
        for loc in locations
        for i in loc["instances"]
        if i["instance_id"] == next(x.instance_id for x in box.world.instances if x.name == "pay-api-1")
    ][0]
    check_update = [s for s in updates["steps"] if s["step_name"] == "CheckUpdate"][0]
    assert "stdout" in check_update and "stderr" in check_update
    assert check_update["command_response_code"] == 100
    secret = box.secret_key
    assert secret not in dest.read_text()


def test_summary_only_progress_is_cheap(tmp_path, box):
    started = start(tmp_path, box, start_params([WORKLOADS]))
    seq = box.last_seq()
    poll = gather(tmp_path, box, started, {"summary_only": True})
    assert poll["progress"] == started["progress"]
    gets = [r for r in box.requests(seq) if r["action"] == "GetAutomationExecution"]
    # the parent, and the member execution of each location that did not succeed (for targets never started);
    # no instance execution
    by_status = poll["summary"]["locations_by_status"]
    assert len(gets) == 1 + sum(n for status, n in by_status.items() if status != "Success")
    assert "locations" not in poll  # counts only, small enough to poll every few seconds


def demo_with(**automation_roles):
    world = yaml.safe_load(DEMO_WORLD.read_text())
    world["automation_roles"].update(automation_roles)
    return world


def test_location_whose_reader_role_is_missing_is_reported_with_its_reason(tmp_path, sandbox_factory):
    box = private_box(sandbox_factory, demo_with(missing_reader_role=["333344445555"]), "noreader")
    started, info = start_and_gather(tmp_path, box, start_params([WORKLOADS]))
    assert started["progress"]["unreadable_locations"] == 1
    by_account = {loc["account"]: loc for loc in info["locations"]}
    missing = by_account["333344445555"]
    assert missing["read_status"] == "failed"
    assert missing["read_error"]["code"] in ("AccessDenied", "NoSuchEntity")
    assert READER in missing["read_error"]["message"] or "sts:AssumeRole" in missing["read_error"]["message"]
    others = [loc for a, loc in by_account.items() if a != "333344445555"]
    assert others and all(loc["read_status"] == "ok" and loc["instances"] for loc in others)
    assert all(inst["steps"] for loc in others for inst in loc["instances"])
    assert info["summary"]["unreadable_locations"] == 1
    assert any(f["account"] == "333344445555" and f["status"] == "ReadFailed" for f in info["summary"]["failures"])


def test_more_than_50_accounts_are_split_into_several_target_locations(tmp_path, sandbox_factory):
    world = generate_world(accounts=60, regions=1, instances=1, name="split")
    region = world["regions"][0]
    box = private_box(sandbox_factory, world, "split", region=region)
    members = sorted(box.world.member_account_ids)
    assert len(members) == 60
    env = dict(box.env, AWS_REGION=region, AWS_DEFAULT_REGION=region)
    started, info = start_and_gather(
        tmp_path, box, start_params(members, [region], concurrency=8), {"concurrency": 8}, env=env
    )
    assert started["split"] == [
        {
            "location": 0,
            "into": 2,
            "accounts": 60,
            "regions": 1,
            "reason": "target_locations[0] has 60 accounts/OUs (limit 50): split into 2 TargetLocations",
        }
    ]
    assert [len(t["Accounts"]) for t in started["target_locations"]] == [50, 10]
    parent = box.client("ssm", region=region).get_automation_execution(
        AutomationExecutionId=started["automation_execution_id"]
    )["AutomationExecution"]
    assert [len(t["Accounts"]) for t in parent["TargetLocations"]] == [50, 10]
    assert harvested(info) == expected(box.world, set(members), {region})
    assert info["summary"]["locations"] == 60
    assert info["summary"]["instances"] == 60
    assert all(loc["read_status"] == "ok" for loc in info["locations"])


def outcome(info):
    """What a harvest says, without its bookkeeping: every location, instance and step with its status and outputs."""
    return sorted(
        (
            loc["account"],
            loc["region"],
            loc["status"],
            inst["instance_id"],
            inst["status"],
            tuple((st["step_name"], st["status"], json.dumps(st["outputs"], sort_keys=True)) for st in inst["steps"]),
        )
        for loc in info["locations"]
        for inst in loc["instances"]
    )


def test_throttling_and_expiring_credentials_lose_nothing(tmp_path, box):
    slow = {"rate": 1}  # slow: credentials expire mid-location
    started, clean_run = start_and_gather(tmp_path, box, start_params([WORKLOADS], progress=False), slow)
    members = sorted(box.world.descendants(WORKLOADS))
    seq = box.last_seq()
    box.set_faults(
        [
            {"service": "ssm", "account": members, "throttle_rate": 0.3},
            {"service": "sts", "action": "AssumeRole", "account": members, "credential_expiry_seconds": 1},
        ]
    )
    try:
        faulty = run(tmp_path, box, INFO, {"automation_execution_id": started["automation_execution_id"], **slow})
    finally:
        box.clear_faults()
    log = box.requests(seq)
    assert any(r["error_code"] == "ThrottlingException" for r in log)
    # The sandbox answers expired credentials (ExpiredTokenException) before its request log, so the renewals are
    # seen as extra AssumeRole calls (below).
    assert not faulty.get("failed"), faulty.get("msg")
    assert all(loc["read_status"] == "ok" for loc in faulty["locations"]), [
        (loc["account"], loc["read_error"]) for loc in faulty["locations"] if loc["read_status"] != "ok"
    ]
    assert outcome(faulty) == outcome(clean_run)
    assert faulty["summary"]["retries"] > 0
    assert faulty["summary"]["credential_renewals"] > 0
    assumed = [r for r in log if r["action"] == "AssumeRole"]
    assert len(assumed) > len(members)  # credentials renewed after expiring mid-gather


def test_no_secret_in_results_or_verbose_output(tmp_path, box):
    started, info = start_and_gather(tmp_path, box, start_params(["ou-o2pk-security"]), raw=True, verbosity=3)
    for result in (started, info):
        assert result["_stdout"]  # the verbose output is checked, too
        text = json.dumps(result)
        assert box.secret_key not in text
        assert "SessionToken" not in text and "SecretAccessKey" not in text
    assert info["summary"]["instances"] == len(expected(box.world, {"555566667777"}, {TOKYO}))


def test_a_local_execution_in_the_management_account_is_harvested_too(tmp_path, box):
    started, info = start_and_gather(tmp_path, box, start_params())
    assert "preflight" not in started  # nothing to preflight without target locations
    assert harvested(info) == expected(box.world, {MGMT}, {TOKYO})
    assert started["progress"]["total"] == len(expected(box.world, {MGMT}, {TOKYO}))


def test_preflight_finds_roles_deployed_from_another_region_and_refuses_a_custom_role_name(tmp_path, sandbox_factory):
    # The roles were deployed from Ireland (the StackSet lives there); the run starts in Tokyo. IAM is global: every
    # member account has the role, and the preflight finds it instead of refusing every account.
    world = yaml.safe_load(DEMO_WORLD.read_text())
    world["automation_roles"]["regions"] = [IRELAND]
    box = private_box(sandbox_factory, world, "roles-in-ireland")
    seq = box.last_seq()
    checked = start(tmp_path, box, start_params([WORKLOADS], wait=False), check=True)
    assert checked["preflight"]["ok"], checked["preflight"]["message"]
    assert checked["preflight"]["stack_set_regions"] == [IRELAND]
    assert checked["accounts"] == ["222233334444", "333344445555", "444455556666", "666677778888", "777788889999"]
    # A custom execution role name that the seed's admin role may not assume (it allows only the seed's name).
    params = start_params([WORKLOADS], wait=False)
    params["target_locations"][0]["execution_role_name"] = "MyExecutionRole"
    refused = run(tmp_path, box, EXEC, params, check=True)
    assert refused["failed"] is True
    assert "target_locations[0].execution_role_name: MyExecutionRole may not be assumed by" in refused["msg"]
    assert "arn:aws:iam::%s:role/AWS-SystemsManager-AutomationAdministrationRole" % MGMT in refused["msg"]
    assert box.write_calls(seq) == []
