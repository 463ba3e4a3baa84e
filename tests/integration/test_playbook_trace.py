"""`check_os_trace`: one variable, and every phase of playbooks/check_os.yml appends to the same trace file.

The full playbook runs against a private demo-world sandbox over HTTP with ``-e check_os_trace=PATH``; the trace must
hold records of the roles phase (Organizations, the StackSets), the runbook upload (SSM documents), the preflight and
the start (StartAutomationExecution), the wait and the harvest (member accounts' reads), and no secret.
"""

from __future__ import annotations

import json
from pathlib import Path

from support.ansible_run import run_playbook

from ansible_collections.orgops.ssm_automation.plugins.module_utils import trace
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "check_os.yml"
INVENTORY = REPO / "inventories" / "sandbox"


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
