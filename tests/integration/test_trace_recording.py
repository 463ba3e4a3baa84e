"""A trace of a real run, and its replay: automation_execution_info with ``trace`` against the sandbox over HTTP.

The trace must hold one whole record per call (worker processes included), no secret, and replaying it through the
harvest without any endpoint must give the same report. With ``ORGOPS_UPDATE_TRACES=1`` the trace and its report
are (re)written to tests/traces/sandbox-demo/, which tests/unit/plugins/module_utils/test_trace.py replays.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import boto3
import pytest
from support.ansible_run import run_module

from ansible_collections.orgops.ssm_automation.plugins.module_utils import trace
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import clients, harvest
from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
CHECK_OS = (REPO / "roles" / "check_os" / "files" / "check-os.yml").read_text()
TOKYO = "ap-northeast-1"
IRELAND = "eu-west-1"
WORKLOADS = "ou-o2pk-wrkloads"
TRACES = REPO / "tests" / "traces"
CHECKS = dict.fromkeys(("CheckHostname", "CheckTimezone", "CheckLocale", "CheckUpdate", "CheckNTP"), "check")
COUNTERS = ("api_calls", "retries", "credential_renewals")


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    handle = SandboxHandle(DEMO_WORLD, name="trace", workdir=tmp_path_factory.mktemp("trace-sandbox"))
    handle.start()
    try:
        for region in (TOKYO, IRELAND):
            handle.client("ssm", region=region).create_document(
                Content=CHECK_OS, Name="check-os", DocumentType="Automation", DocumentFormat="YAML"
            )
        yield handle
    finally:
        handle.stop()


def comparable(locations):
    """The report's records without the per-run bookkeeping (call counts)."""
    return [
        {k: v for k, v in r.items() if k not in COUNTERS}
        for r in sorted(locations, key=lambda r: (r["account"], r["region"]))
    ]


def replay(path, region, parent_id):
    """The harvest of ``parent_id`` answered by the trace at ``path`` alone (no endpoint is reachable)."""
    session = boto3.session.Session(aws_access_key_id="replay", aws_secret_access_key="replay", region_name=region)
    factory = clients.ClientFactory(session=session, endpoint_url="http://127.0.0.1:9")
    answers = trace.Replay(path)
    factory.observers.append(answers)
    result = harvest.gather(factory, parent_id, region, rate=0, concurrency=8)
    return result, answers


def test_a_traced_run_replays_to_the_same_report(tmp_path, box):
    trace_file = tmp_path / "trace.jsonl"
    started = run_module(
        tmp_path,
        "orgops.ssm_automation.automation_execution",
        {
            "document_name": "check-os",
            "parameters": CHECKS,
            "targets": {"tags": {"ssm-automation": "true"}},
            "target_locations": [{"accounts": [WORKLOADS], "regions": [TOKYO, IRELAND], "include_child_ous": True}],
            "wait": True,
            "poll_interval": 1,
        },
        env=box.env,
    )
    assert not started.get("failed"), started.get("msg")
    info = run_module(
        tmp_path,
        "orgops.ssm_automation.automation_execution_info",
        {"automation_execution_id": started["automation_execution_id"], "trace": str(trace_file), "processes": 2},
        env=box.env,
    )
    assert not info.get("failed"), info.get("msg")
    records = [json.loads(line) for line in trace_file.read_text().splitlines()]
    assert records, "no record"
    # one whole record per call, numbered without gap or repeat across the worker processes
    assert sorted(r["seq"] for r in records) == list(range(1, len(records) + 1))
    assert {r["v"] for r in records} == {trace.FORMAT_VERSION}
    assert len({r["pid"] for r in records}) >= 2  # the worker processes wrote to the same file
    ops = {r["operation"] for r in records}
    assert {"GetAutomationExecution", "DescribeAutomationExecutions", "AssumeRole", "GetCallerIdentity"} <= ops
    caller = next(r["response"]["Account"] for r in records if r["operation"] == "GetCallerIdentity")
    member_calls = [r for r in records if r["service"] == "ssm" and r["account"] not in (None, caller)]
    assert member_calls and all(r["region"] in (TOKYO, IRELAND) for r in member_calls)
    # no secret: the sandbox's own keys and every assumed role's keys are gone
    text = trace_file.read_text()
    assert box.env["AWS_SECRET_ACCESS_KEY"] not in text
    for record in records:
        if record["operation"] == "AssumeRole":
            assert set(record["response"]["Credentials"].values()) >= {trace.REDACTED}
            assert record["response"]["Credentials"]["SecretAccessKey"] == trace.REDACTED
            assert record["response"]["Credentials"]["SessionToken"] == trace.REDACTED

    replayed, answers = replay(str(trace_file), TOKYO, started["automation_execution_id"])
    assert answers.unanswered == []
    assert comparable(replayed["locations"]) == comparable(info["locations"])
    assert replayed["summary"]["instances_by_status"] == info["summary"]["instances_by_status"]

    if os.environ.get("ORGOPS_UPDATE_TRACES") == "1":
        target = TRACES / "sandbox-demo"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trace_file, target / "trace.jsonl")
        (target / "report.json").write_text(
            json.dumps(
                {
                    "automation_execution_id": started["automation_execution_id"],
                    "region": TOKYO,
                    "locations": comparable(replayed["locations"]),
                },
                indent=1,
                sort_keys=True,
            )
            + "\n"
        )
