"""The check_os playbook through ansible-runner, the engine AWX / Automation Controller runs jobs with.

What an AWX job shows comes from runner's event stream: the artifacts (set_stats, in the playbook_on_stats event's
artifact_data), the task events, and the status and return code. Runs against a private demo-world sandbox.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import ansible_runner
import pytest

from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SURVEY = json.loads((REPO / "awx" / "survey.json").read_text())
ARTIFACT_KEYS = {
    "automation_execution_id",
    "automation_status",
    "automation_counts",
    "automation_instances",
    "automation_locations",
    "automation_locations_by_status",
    "automation_unreadable_locations",
    "automation_failures",
    "automation_progress",
    "automation_reports",
    "automation_timed_out",
}


def run_job(sandbox: SandboxHandle, workdir: Path, extravars: dict, tags: str | None = None):
    """What AWX does for a job: ansible-runner on the project's playbook, inventory and credential environment."""
    envvars = {
        **sandbox.env,
        "ORGOPS_REPORT_DIR": str(workdir / "reports"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_COLLECTIONS_PATH": os.environ["ANSIBLE_COLLECTIONS_PATH"],
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_HOME": os.environ.get("ANSIBLE_HOME", str(REPO / ".build" / "ansible-home")),
        "ANSIBLE_LOCAL_TEMP": os.environ.get("ANSIBLE_LOCAL_TEMP", str(REPO / ".build" / "ansible-tmp")),
        "ANSIBLE_NOCOLOR": "1",
    }
    (workdir / "runner").mkdir(parents=True, exist_ok=True)
    return ansible_runner.run(
        private_data_dir=str(workdir / "runner"),
        project_dir=str(REPO),
        playbook="playbooks/check_os.yml",
        inventory=str(REPO / "inventories" / "sandbox"),
        envvars=envvars,
        extravars=extravars,
        tags=tags,
        quiet=True,
        timeout=900,
    )


def survey_answers(**overrides) -> dict:
    """The extra variables an AWX launch with the survey's defaults sends, for the demo world."""
    answers = {
        q["variable"]: q["default"] for q in SURVEY["spec"] if q["type"] in ("text", "multiplechoice", "integer")
    }
    answers.update(
        check_os_target_ous="ou-o2pk-wrkloads\nou-o2pk-security",  # a textarea answer
        check_os_include_management_account="true",  # a multiple-choice answer is a string
        check_os_regions=["ap-northeast-1", "eu-west-1"],  # a multi-select answer is a list
        check_os_required_steps=[],
        check_os_max_failed_percent=30,  # the demo world: 2 of 15 cannot succeed (see inventories/sandbox)
        check_os_execution_id="",
    )
    answers.update(overrides)
    return answers


def artifacts(runner) -> dict:
    stats = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
    assert stats, "no playbook_on_stats event"
    return stats[-1]["event_data"].get("artifact_data") or {}


def failures(runner) -> list[dict]:
    return [
        e["event_data"]
        for e in runner.events
        if e.get("event") in ("runner_on_failed", "runner_item_on_failed") and not e["event_data"].get("ignore_errors")
    ]


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("awx-runner")
    handle = SandboxHandle(DEMO_WORLD, name="awx-runner", workdir=workdir / "sandbox")
    handle.start()
    try:
        runner = run_job(handle, workdir, survey_answers())
        yield {"sandbox": handle, "runner": runner, "workdir": workdir}
    finally:
        handle.stop()


def test_job_succeeds(job):
    runner = job["runner"]
    assert runner.status == "successful", runner.stdout.read()[-5000:]
    assert runner.rc == 0


def test_no_task_failed_unexpectedly(job):
    assert failures(job["runner"]) == []


def test_progress_is_in_the_event_stream(job):
    labels = [
        e["event_data"]["res"].get("_ansible_item_label", "")
        for e in job["runner"].events
        if e.get("event") == "runner_item_on_ok" and "Wait for the automation" in e["event_data"].get("task", "")
    ]
    assert labels, "no progress event"
    assert all("instances done" in label for label in labels), labels
    assert labels[-1].split(" - ")[1].startswith("15/15 instances done")


def test_artifacts_are_published(job):
    data = artifacts(job["runner"])
    assert set(data) >= ARTIFACT_KEYS, ARTIFACT_KEYS - set(data)
    assert len(data["automation_execution_id"]) == 36
    assert data["automation_instances"] == 15
    assert sum(data["automation_counts"].values()) == 15
    # the counts are the gathered results' (results.jsonl's summary line)
    run_dir = Path(data["automation_reports"]["json"]).parent
    lines = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines() if x]
    summary = next(x for x in lines if x["type"] == "summary")
    assert data["automation_counts"] == summary["instances_by_status"]
    assert data["automation_failures"] == summary["failures_total"]
    assert data["automation_timed_out"] is False
    assert set(data["automation_reports"]) == {"json", "csv", "markdown", "html", "junit"}
    for path in data["automation_reports"].values():
        assert Path(path).is_file(), path


def test_no_secret_in_the_job_output(job):
    secret = job["sandbox"].secret_key
    assert secret not in job["runner"].stdout.read()
    for event in job["runner"].events:
        assert secret not in json.dumps(event)


def test_a_failing_policy_fails_the_job_with_a_one_line_reason_and_still_publishes(job, tmp_path):
    execution_id = artifacts(job["runner"])["automation_execution_id"]
    runner = run_job(
        job["sandbox"],
        tmp_path,
        survey_answers(check_os_execution_id=execution_id, check_os_max_failed_percent=0),
    )
    assert runner.status == "failed"
    assert runner.rc != 0
    failed = failures(runner)
    assert len(failed) == 1, [f.get("task") for f in failed]
    assert failed[0]["task"] == "Apply the pass/fail policy"
    msg = failed[0]["res"]["msg"]
    assert "\n" not in msg
    bad = 15 - artifacts(job["runner"])["automation_counts"].get("Success", 0)
    assert bad == 2  # the stopped and the unmanaged instances (the Ubuntu ones pass their apt update check)
    assert msg.startswith(f"Policy failed for automation {execution_id}: {bad} of 15 instance(s) did not succeed")
    assert artifacts(runner)["automation_execution_id"] == execution_id


def test_the_report_tag_alone_is_a_job_too(job, tmp_path):
    """AWX's "tags on launch": a report-only job re-attached by id writes nothing to AWS."""
    execution_id = artifacts(job["runner"])["automation_execution_id"]
    since = job["sandbox"].last_seq()
    runner = run_job(job["sandbox"], tmp_path, survey_answers(check_os_execution_id=execution_id), tags="report")
    assert runner.status == "successful", runner.stdout.read()[-5000:]
    assert job["sandbox"].write_calls(since) == []
    assert artifacts(runner)["automation_execution_id"] == execution_id
