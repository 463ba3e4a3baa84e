"""The check_os playbook through ansible-runner, the engine AWX / Automation Controller runs jobs with.

What an AWX job shows comes from runner's event stream: the artifacts (set_stats, in the playbook_on_stats event's
artifact_data), the task events, and the status and return code. Runs against a private demo-world sandbox.
"""

from __future__ import annotations

import json
import os
import signal
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


def run_job(sandbox: SandboxHandle, workdir: Path, extravars: dict, tags: str | None = None, **runner_options):
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
    run = ansible_runner.run_async if runner_options.pop("run_async", False) else ansible_runner.run
    return run(
        private_data_dir=str(workdir / "runner"),
        project_dir=str(REPO),
        playbook="playbooks/check_os.yml",
        inventory=str(REPO / "inventories" / "sandbox"),
        envvars=envvars,
        extravars=extravars,
        tags=tags,
        quiet=True,
        timeout=900,
        **runner_options,
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
    assert set(data["automation_reports"]) == {"json", "csv", "csv_fleet", "markdown", "html", "junit"}
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


# ---------------------------------------------------------------------------------------------------------------
# Cancelled and relaunched; launched twice at once
# ---------------------------------------------------------------------------------------------------------------

WAIT_TASK = "Wait for the automation to finish"


def starts(sandbox: SandboxHandle, since: int) -> list[dict]:
    return [r for r in sandbox.requests(since) if r["action"] == "StartAutomationExecution"]


def started_id(runner) -> str | None:
    """The execution id the job's start task returned (None when it never got there)."""
    for e in runner.events:
        data = e.get("event_data") or {}
        if e.get("event") == "runner_on_ok" and data.get("task") == "Start the automation":
            return data["res"].get("automation_execution_id")
    return None


def assert_complete_report(runner, execution_id: str) -> dict:
    """The job passed, on that execution, and its report directory holds every targeted instance, each file whole."""
    assert runner.status == "successful", runner.stdout.read()[-5000:]
    data = artifacts(runner)
    assert data["automation_execution_id"] == execution_id
    assert data["automation_timed_out"] is False
    assert data["automation_instances"] == 15
    run_dir = Path(data["automation_reports"]["json"]).parent
    assert run_dir.name == execution_id
    lines = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    assert [x["type"] for x in lines[:1]] == ["execution"] and lines[-1]["type"] == "summary"
    assert [x["type"] for x in lines].count("execution") == 1 and [x["type"] for x in lines].count("summary") == 1
    assert lines[0]["automation_execution_id"] == execution_id
    assert lines[-1]["instances"] == 15 and sum(lines[-1]["instances_by_status"].values()) == 15
    report = json.loads((run_dir / "automation-report.json").read_text())
    instances = [i for loc in report["locations"] for i in loc["instances"]]
    assert len(instances) == 15
    assert report["summary"]["instances_by_status"] == lines[-1]["instances_by_status"]
    leftovers = [p.name for p in run_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers
    return data


# How a job is stopped: SIGTERM to ansible-playbook; SIGINT to its process group (a terminal's Ctrl-C: ansible-playbook
# and the module it runs); AWX's own cancel (ansible-runner's cancel_callback, which kills the process group).
CANCELS = ["SIGTERM", "SIGINT", "awx-cancel"]


@pytest.mark.parametrize("how", CANCELS)
def test_a_job_cancelled_while_it_waits_is_relaunched_onto_the_same_execution(job, tmp_path, how):
    """A job stopped when its own event stream shows the wait task starting (never after a sleep); the relaunch with
    the same idempotency key starts nothing, attaches to the same execution and writes the complete report."""
    sandbox = job["sandbox"]
    key = f"cancel-{how.lower()}-{tmp_path.name}"
    answers = survey_answers(check_os_idempotency_key=key, check_os_deploy_roles=False)
    since = sandbox.last_seq()
    signalled = []

    def on_event(event):
        data = event.get("event_data") or {}
        if (
            not signalled
            and event.get("event") == "playbook_on_task_start"
            and data.get("task", "").startswith(WAIT_TASK)
        ):
            pid = event["pid"]  # the ansible-playbook process that emitted the event
            if how == "SIGTERM":
                os.kill(pid, signal.SIGTERM)
            elif how == "SIGINT":
                os.killpg(os.getpgid(pid), signal.SIGINT)
            signalled.append(pid)
        return True

    cancel = {}
    if how == "awx-cancel":
        # ansible-runner asks cancel_callback between reads of the job's output, at least every pexpect_timeout
        # seconds (its default, and AWX's, is 5 s): checked every 50 ms, the cancel lands while the wait task is
        # still starting its module, not up to 5 s later, when a fast run may already have finished.
        cancel = {"cancel_callback": lambda: bool(signalled), "settings": {"pexpect_timeout": 0.05}}
    first = run_job(sandbox, tmp_path / "first", answers, event_handler=on_event, **cancel)
    assert signalled, "the job never reached the wait"
    assert first.status in ("failed", "canceled"), first.stdout.read()[-3000:]
    execution_id = started_id(first)
    assert execution_id and len(execution_id) == 36
    assert not [e for e in first.events if e.get("event") == "playbook_on_stats"], "the job was not stopped"
    assert len(starts(sandbox, since)) == 1

    # the relaunch: same job template, same answers, same working directory (AWX's project checkout and reports)
    second = run_job(sandbox, tmp_path / "first", answers)
    assert_complete_report(second, execution_id)
    assert started_id(second) == execution_id  # the start found the execution the cancelled job had started
    assert len(starts(sandbox, since)) == 1, "the relaunch started a second execution"


# Holds each job's StartAutomationExecution until both are in flight (sandbox/faults.py), so both jobs' look-ups by the
# idempotency tag found nothing: the race on every run, without sleeping. Bounded, so a job that never gets to its
# start makes the other fail with SandboxBarrierTimeout instead of hanging.
BOTH_STARTS_IN_FLIGHT = {
    "name": "both-starts-in-flight",
    "service": "ssm",
    "action": "StartAutomationExecution",
    "barrier": 2,
    "barrier_timeout_seconds": 600,
}


@pytest.mark.parametrize("refused", [False, True], ids=["aws-replays-the-first-id", "aws-refuses-the-reused-token"])
def test_two_jobs_launched_at_once_share_one_execution_and_whole_reports(job, tmp_path, refused):
    """Two launches of the same job with the same idempotency key, at the same time, into the same report directory,
    both starts in flight together: one execution between them, under both readings of AWS's ClientToken reuse
    (docs/aws-differences.md), and every report file whole at the end (each writer writes a temporary file and
    renames it)."""
    sandbox = job["sandbox"]
    answers = survey_answers(check_os_idempotency_key=f"twice-{tmp_path.name}", check_os_deploy_roles=False)
    sandbox.set_faults({**BOTH_STARTS_IN_FLIGHT, "client_token_reuse_refused": 1} if refused else BOTH_STARTS_IN_FLIGHT)
    try:
        since = sandbox.last_seq()
        workdir = tmp_path / "shared"
        threads = [run_job(sandbox, workdir, answers, ident=name, run_async=True) for name in ("one", "two")]
        for thread, _ in threads:
            thread.join(timeout=900)
    finally:
        sandbox.clear_faults()
    runners = [runner for _, runner in threads]
    ids = {started_id(r) for r in runners}
    assert len(ids) == 1 and None not in ids, ids
    execution_id = ids.pop()
    # both jobs called StartAutomationExecution with the same ClientToken; the second one served got the first one's
    # id back, or was refused and attached to the execution tagged with the token
    statuses = sorted((r["status"], r["error_code"]) for r in starts(sandbox, since))
    assert statuses == ([(200, None), (400, "IdempotentParameterMismatch")] if refused else [(200, None)] * 2)
    for runner in runners:
        assert_complete_report(runner, execution_id)
