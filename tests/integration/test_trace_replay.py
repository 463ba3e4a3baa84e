"""Replay through the modules: a kept trace answers ``automation_execution_info`` (run as Ansible runs it, a module
process started by ansible-playbook) with no AWS credential and no reachable endpoint, and its report equals the one
kept with the trace; ``automation_report`` then writes the reports from the replayed harvest.

Each ``tests/traces/<case>/`` holds ``trace.jsonl`` and ``report.json`` (``automation_execution_id``, ``region``,
``locations``; ``module_params``, the options the recorded harvest ran with; ``targets.json`` beside it when the
harvest read a kept target set). A trace of a real AWS run dropped there becomes one more case.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.ansible_run import run_module

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO / "tests" / "traces"
COUNTERS = ("api_calls", "retries", "credential_renewals")
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers there


def cases():
    return sorted(p for p in TRACES.iterdir() if (p / "trace.jsonl").is_file() and (p / "report.json").is_file())


def comparable(locations):
    return [
        {k: v for k, v in r.items() if k not in COUNTERS}
        for r in sorted(locations, key=lambda r: (r["account"], r["region"]))
    ]


def offline_env(monkeypatch, tmp_path):
    """No credential anywhere (environment, files, instance metadata) and every endpoint unreachable."""
    for name in [k for k in __import__("os").environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    missing = str(tmp_path / "no-such-file")
    return {
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_CONFIG_FILE": missing,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": NOWHERE,
    }


def replay_params(case, tmp_path, report, **extra):
    params = {
        "automation_execution_id": report["automation_execution_id"],
        "region": report["region"],
        "replay": str(case / "trace.jsonl"),
        **report.get("module_params", {}),
        **extra,
    }
    if (case / "targets.json").is_file():  # the kept target set the recorded harvest read (copied: never written)
        params["targets_file"] = str(tmp_path / "targets.json")
        shutil.copyfile(case / "targets.json", params["targets_file"])
    return params


@pytest.mark.parametrize("case", cases(), ids=lambda p: p.name)
def test_the_module_replays_a_kept_trace_to_the_kept_report(case, tmp_path, monkeypatch):
    report = json.loads((case / "report.json").read_text())
    env = offline_env(monkeypatch, tmp_path)
    got = run_module(
        tmp_path, "orgops.ssm_automation.automation_execution_info", replay_params(case, tmp_path, report), env=env
    )
    assert not got.get("failed"), got.get("msg")
    assert got["replay"]["unanswered_count"] == 0, got["replay"]["unanswered"]
    assert got["replay"]["answered"] > 0
    assert any("no AWS call is sent" in w for w in got.get("warnings", []))
    assert comparable(got["locations"]) == report["locations"]

    # streamed to a file as the run_automation role does, then the reports written from it
    dest = tmp_path / "replayed" / "results.jsonl"
    streamed = run_module(
        tmp_path,
        "orgops.ssm_automation.automation_execution_info",
        replay_params(case, tmp_path, report, dest=str(dest)),
        env=env,
    )
    assert not streamed.get("failed"), streamed.get("msg")
    lines = [json.loads(line) for line in dest.read_text().splitlines()]
    assert (
        comparable([{k: v for k, v in r.items() if k != "type"} for r in lines if r["type"] == "location"])
        == (report["locations"])
    )
    written = run_module(
        tmp_path,
        "orgops.ssm_automation.automation_report",
        {"src": str(dest), "dest": str(tmp_path / "replayed"), "formats": ["json"]},
        env=env,
    )
    assert not written.get("failed"), written.get("msg")
    json_report = json.loads(Path(written["files"]["json"]).read_text())
    instances = sum(len(loc.get("instances") or []) for loc in report["locations"])
    assert json_report["summary"]["instances"] == instances


def test_replay_and_trace_together_are_refused(tmp_path, monkeypatch):
    case = cases()[0]
    report = json.loads((case / "report.json").read_text())
    env = offline_env(monkeypatch, tmp_path)
    params = replay_params(case, tmp_path, report, trace=str(tmp_path / "t.jsonl"))
    got = run_module(tmp_path, "orgops.ssm_automation.automation_execution_info", params, env=env)
    assert got.get("failed") and "replay" in got["msg"] and "trace" in got["msg"]
    assert not (tmp_path / "t.jsonl").exists()


def test_replay_of_an_execution_the_trace_never_read_fails_clearly(tmp_path, monkeypatch):
    case = cases()[0]
    report = json.loads((case / "report.json").read_text())
    env = offline_env(monkeypatch, tmp_path)
    other = "00000000-0000-4000-8000-0000000000ff"
    params = replay_params(case, tmp_path, report, automation_execution_id=other)
    got = run_module(tmp_path, "orgops.ssm_automation.automation_execution_info", params, env=env)
    assert got.get("failed")
    assert other in got["msg"] and "holds no run" in got["msg"]
