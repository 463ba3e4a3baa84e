"""`check_os_trace`: one variable, and every phase of playbooks/check_os.yml appends to the same trace file.

The full playbook runs against a private demo-world sandbox over HTTP with ``-e check_os_trace=PATH``; the trace must
hold records of the roles phase (Organizations, the StackSets), the runbook upload (SSM documents), the preflight and
the start (StartAutomationExecution), the wait and the harvest (member accounts' reads), and no secret.

Then the harvest is replayed from that whole-playbook file, through automation_execution_info run as a module with
``replay`` and no reachable endpoint: it must pick the harvest's run among the playbook's runs (the wait polls read
the same execution and the same member accounts) and give the report the playbook wrote. With
``ORGOPS_UPDATE_TRACES=1`` the trace and its report are kept in tests/traces/check-os-playbook/, which
tests/integration/test_trace_replay.py and tests/unit/plugins/module_utils/test_trace.py replay.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from support.ansible_run import run_module, run_playbook

from ansible_collections.orgops.ssm_automation.plugins.module_utils import trace
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "check_os.yml"
INVENTORY = REPO / "inventories" / "sandbox"
KEPT = REPO / "tests" / "traces" / "check-os-playbook"
COUNTERS = ("api_calls", "retries", "credential_renewals")
# the options the run_automation role gives the harvest (roles/run_automation/tasks/report.yml), besides its files
ROLE_HARVEST = {"details": True}


def comparable(locations):
    return [
        {k: v for k, v in r.items() if k not in COUNTERS and k != "type"}
        for r in sorted(locations, key=lambda r: (r["account"], r["region"]))
    ]


def test_one_variable_traces_every_phase_of_check_os(sandbox_factory, tmp_path):
    handle = sandbox_factory(DEMO_WORLD, name="check-os-trace")
    reports, trace_file = tmp_path / "reports", tmp_path / "traces" / "check-os.jsonl"
    env = {**handle.env, "ORGOPS_REPORT_DIR": str(reports)}
    run = run_playbook(
        PLAYBOOK, env=env, args=["-i", str(INVENTORY), "-e", f"check_os_trace={trace_file}"], timeout=900
    )
    assert run.rc == 0, run.stdout[-5000:]
    execution_id = json.loads((reports / "latest.json").read_text())["automation_execution_id"]

    # every line is one whole record of the format
    records = [json.loads(line) for line in trace_file.read_text().splitlines()]
    assert records
    assert all(r["v"] == trace.FORMAT_VERSION and r["seq"] >= 1 for r in records)
    assert all(("response" in r) != ("error" in r) for r in records)
    calls = {(r["service"], r["operation"]) for r in records}

    # roles phase: organization_info and the StackSets (stack_set)
    assert any(service == "organizations" for service, _ in calls), calls
    assert any(service == "cloudformation" and "StackSet" in op for service, op in calls), calls
    # runbook phase: ssm_document created the document
    assert ("ssm", "CreateDocument") in calls, calls
    # run phase: the preflight (the execution role read in the member accounts), the start of this run, only once
    assert ("iam", "GetRole") in calls, calls
    starts = [r for r in records if r["operation"] == "StartAutomationExecution"]
    assert [s["response"]["AutomationExecutionId"] for s in starts] == [execution_id]
    assert starts[0]["params"]["DocumentName"] == "check-os"
    # wait and harvest: the parent read, and the member accounts' executions read with their assumed roles
    parent_reads = [
        r
        for r in records
        if r["operation"] == "GetAutomationExecution" and r["params"].get("AutomationExecutionId") == execution_id
    ]
    assert parent_reads
    management = handle.world.management_account_id
    member_reads = [r for r in records if r["service"] == "ssm" and r["account"] not in (None, management)]
    assert {r["operation"] for r in member_reads} & {"DescribeAutomationExecutions", "GetAutomationExecution"}
    assert ("sts", "AssumeRole") in calls

    # no secret: the sandbox's own keys and every assumed role's keys are gone
    text = trace_file.read_text()
    assert handle.env["AWS_SECRET_ACCESS_KEY"] not in text
    for record in records:
        if record["operation"] == "AssumeRole" and "response" in record:
            assert record["response"]["Credentials"]["SecretAccessKey"] == trace.REDACTED
            assert record["response"]["Credentials"]["SessionToken"] == trace.REDACTED

    # the wait's progress counts (automation_execution with progress) read the member accounts too, and are traced
    assert any(r["module"] == "automation_execution" for r in member_reads)

    # replay: the harvest's run, picked among every phase's runs, answers the module; nothing reaches the endpoint
    runs = {r["run"] for r in records}
    harvests = {r["run"] for r in records if r["module"] == "automation_execution_info"}
    assert len(runs) > len(harvests) >= 1  # several module runs in one file: the roles, runbook, start, polls, harvest
    run_dir = reports / execution_id
    kept_locations = comparable(
        [r for r in map(json.loads, (run_dir / "results.jsonl").read_text().splitlines()) if r["type"] == "location"]
    )
    targets = tmp_path / "targets.json"
    shutil.copyfile(run_dir / "targets.json", targets)
    region = starts[0]["region"]
    offline = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    params = {"automation_execution_id": execution_id, "region": region, **ROLE_HARVEST}
    got = run_module(
        tmp_path,
        "orgops.ssm_automation.automation_execution_info",
        {**params, "replay": str(trace_file), "targets_file": str(targets)},
        env=offline,
    )
    assert not got.get("failed"), got.get("msg")
    assert got["replay"]["module"] == "automation_execution_info"
    assert got["replay"]["unanswered_count"] == 0, got["replay"]["unanswered"]
    assert comparable(got["locations"]) == kept_locations

    if os.environ.get("ORGOPS_UPDATE_TRACES") == "1":
        KEPT.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trace_file, KEPT / "trace.jsonl")
        shutil.copyfile(targets, KEPT / "targets.json")
        kept = {"automation_execution_id": execution_id, "region": region, "locations": kept_locations}
        kept["module_params"] = ROLE_HARVEST
        (KEPT / "report.json").write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")
