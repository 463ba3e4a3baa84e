"""`ansible-playbook playbooks/check_os.yml -i inventories/sandbox`, end to end, against a private demo-world sandbox.

One full run (every phase) is shared by the module's tests; the others re-attach to it, run one phase, or break the
policy. The sandbox's request log tells what the play wrote. The HTML report is opened in headless Chromium.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from support.ansible_run import run_playbook

from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "check_os.yml"
INVENTORY = REPO / "inventories" / "sandbox"
ARTIFACTS = REPO / "tests" / "output" / "check_os"
RECAP_RE = re.compile(
    r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M
)
PROGRESS_RE = re.compile(r"\(item=(\w+) - (\d+)/(\d+) instances done")
TARGET_OUS = {"ou-o2pk-wrkloads", "ou-o2pk-security"}  # inventories/sandbox/group_vars/all.yml


def recap(stdout: str) -> dict:
    m = RECAP_RE.search(stdout)
    assert m, f"no play recap in:\n{stdout[-3000:]}"
    return dict(zip(("ok", "changed", "unreachable", "failed", "skipped"), map(int, m.groups()), strict=True))


def play(sandbox, report_dir: Path, *args, playbook: Path | str = PLAYBOOK):
    env = {**sandbox.env, "ORGOPS_REPORT_DIR": str(report_dir)}
    return run_playbook(Path(playbook), env=env, args=["-i", str(INVENTORY), *args], timeout=900)


def targeted_instances(world):
    """The demo world's instances the sandbox inventory targets: tag ssm-automation=true, below the target OUs
    (at any depth) or in the management account, in either region."""
    below = set()
    frontier = set(TARGET_OUS)
    while frontier:
        parent = frontier.pop()
        accounts, ous = world.children(parent)
        below.update(accounts)
        frontier.update(ous)
    below.add(world.management_account_id)
    return [i for i in world.instances if i.account_id in below and i.tags.get("ssm-automation") == "true"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A private demo-world sandbox (other tests may reset the shared one) and the first full run in it."""
    workdir = tmp_path_factory.mktemp("check-os-sandbox")
    handle = SandboxHandle(DEMO_WORLD, name="check-os", workdir=workdir)
    handle.start()
    try:
        report_dir = workdir / "reports"
        run = play(handle, report_dir)
        latest = report_dir / "latest.json"
        execution_id = json.loads(latest.read_text())["automation_execution_id"] if latest.exists() else None
        yield {"sandbox": handle, "run": run, "reports": report_dir, "execution_id": execution_id}
    finally:
        handle.stop()


def results(demo) -> tuple[list[dict], dict]:
    lines = [
        json.loads(x) for x in (demo["reports"] / demo["execution_id"] / "results.jsonl").read_text().splitlines() if x
    ]
    locations = [x for x in lines if x["type"] == "location"]
    summary = next(x for x in lines if x["type"] == "summary")
    return locations, summary


def test_first_run_succeeds_with_visible_progress(demo):
    run = demo["run"]
    assert run.rc == 0, run.stdout[-5000:] + run.stderr[-3000:]
    counts = recap(run.stdout)
    assert counts["failed"] == 0
    polls = PROGRESS_RE.findall(run.stdout)
    assert polls, "no progress line was printed while waiting"
    status, done, total = polls[-1]
    assert status in ("Success", "Failed", "CompletedWithSuccess", "CompletedWithFailure")
    assert done == total == str(len(targeted_instances(demo["sandbox"].world)))
    assert demo["execution_id"], "the run did not record its execution id"


def test_every_targeted_instance_is_reported_with_its_status(demo):
    world = demo["sandbox"].world
    locations, summary = results(demo)
    reported = {i["instance_id"]: i for loc in locations for i in loc["instances"]}
    expected = {i.instance_id: i for i in targeted_instances(world)}
    assert set(reported) == set(expected)
    assert summary["instances"] == len(expected) == 15
    assert sum(summary["instances_by_status"].values()) == 15
    by_name = {expected[iid].name: inst for iid, inst in reported.items()}

    def steps(name):
        return {s["step_name"]: s["status"] for s in by_name[name]["steps"]}

    # stopped (SSM Agent ConnectionLost) and unmanaged (no instance information): AssertOnline fails them at once,
    # with the PingStatus as the reason, and no check waits for them
    for name, ping in (("stg-web", "'ConnectionLost'"), ("sec-scanner", "None")):
        assert by_name[name]["status"] == "Failed", by_name[name]
        assert steps(name)["AssertOnline"] == "Failed" and steps(name)["CheckHostname"] == "Pending", steps(name)
        failed = [s for s in by_name[name]["steps"] if s["step_name"] == "AssertOnline"][0]
        assert "PingStatus is %s" % ping in failed["failure_message"], failed
    # pending updates (yum check-update exits 100) are a result with the improved runbook, not a failure
    assert steps("pay-api-1")["CheckUpdate"] == "Success", steps("pay-api-1")
    assert "CheckNTP" in steps("pay-api-1") and steps("pay-api-1")["CheckNTP"] == "Success"
    # the Ubuntu instances have no yum: the update check finds apt with command -v and lists its pending upgrades
    for name in ("web-1", "mgmt-tools"):
        assert by_name[name]["status"] == "Success", (name, steps(name))
        update = [s for s in by_name[name]["steps"] if s["step_name"] == "CheckUpdate"][0]
        assert update["status"] == "Success", update
        output = update["outputs"]["UpdateOutput"][0]
        assert output.startswith("Listing...\n") and "[upgradable from: " in output, output
        assert "command not found" not in output and "WARNING: apt" not in output, output
    # so only the stopped and the unmanaged instances do not succeed
    assert {name for name, inst in by_name.items() if inst["status"] != "Success"} == {"stg-web", "sec-scanner"}
    assert summary["instances_by_status"] == {"Success": 13, "Failed": 2}
    # Windows instances take the PowerShell branch
    for name in ("web-win-1", "dev-win"):
        assert by_name[name]["status"] == "Success", (name, steps(name))
        assert steps(name)["CheckHostnameWindows"] == "Success", (name, steps(name))
        assert steps(name)["CheckHostname"] == "Pending", (name, steps(name))
    untagged = [i.instance_id for i in world.instances if i.name == "stg-db"]
    assert untagged and untagged[0] not in reported


def test_reports_in_every_format(demo):
    run_dir = demo["reports"] / demo["execution_id"]
    for suffix in ("html", "csv", "json", "md", "xml"):
        path = run_dir / f"automation-report.{suffix}"
        assert path.is_file() and path.stat().st_size > 0, path


def test_second_run_of_roles_and_runbook_is_ok_not_changed_and_writes_nothing(demo):
    handle = demo["sandbox"]
    since = handle.last_seq()
    run = play(handle, demo["reports"], "--tags", "roles,runbook")
    assert run.rc == 0, run.stdout[-5000:]
    counts = recap(run.stdout)
    assert counts["changed"] == 0, run.stdout[-5000:]
    assert handle.write_calls(since) == []


def test_reattach_only_gathers_and_reports(demo):
    handle = demo["sandbox"]
    since = handle.last_seq()
    run = play(handle, demo["reports"], "-e", f"automation_execution_id={demo['execution_id']}")
    assert run.rc == 0, run.stdout[-5000:]
    calls = handle.requests(since)
    assert [c for c in calls if c["write"]] == [], "re-attaching must not write to AWS"
    actions = {c["action"] for c in calls}
    assert "StartAutomationExecution" not in actions
    assert not actions & {
        "CreateStackSet",
        "UpdateStackSet",
        "CreateStack",
        "UpdateStack",
        "UpdateDocument",
        "CreateDocument",
    }
    assert "GetAutomationExecution" in actions  # it did gather


def test_report_tag_alone_reports_on_the_last_run(demo):
    handle = demo["sandbox"]
    since = handle.last_seq()
    run = play(handle, demo["reports"], "--tags", "report")
    assert run.rc == 0, run.stdout[-5000:]
    assert demo["execution_id"] in run.stdout
    assert handle.write_calls(since) == []


def test_a_failing_policy_exits_non_zero_with_a_one_line_reason(demo):
    run = play(
        demo["sandbox"],
        demo["reports"],
        "-e",
        f"automation_execution_id={demo['execution_id']}",
        "-e",
        "check_os_max_failed_percent=0",
        "-e",
        '{"check_os_required_steps": ["CheckHostname"]}',
    )
    assert run.rc != 0
    fatal = [
        line for line in run.stdout.splitlines() if line.startswith("fatal:") and "Policy failed for automation" in line
    ]
    assert fatal, run.stdout[-3000:]
    msg = json.loads(fatal[0].split("=> ", 1)[1])["msg"]
    assert "\n" not in msg
    locations, summary = results(demo)
    bad = 15 - summary["instances_by_status"].get("Success", 0)
    assert bad == 2  # the stopped and the unmanaged instances (the Ubuntu ones pass their apt update check)
    assert f"{bad} of 15 instance(s) did not succeed ({100.0 * bad / 15:.1f}% > check_os_max_failed_percent 0%)" in msg
    # a required check makes the improved runbook's AssertOnline required too: the stopped and the unmanaged
    # instances never reached CheckHostname
    offline = sum(summary["step_failures"]["AssertOnline"].values())
    assert offline == 2
    assert f"required step(s) AssertOnline did not succeed on {offline} instance(s)" in msg
    # the reports and artifacts were written before the policy failed the play
    assert recap(run.stdout)["failed"] == 1


def test_check_mode_starts_nothing(demo):
    handle = demo["sandbox"]
    since = handle.last_seq()
    run = play(handle, demo["reports"], "--check", "--skip-tags", "roles,runbook")
    assert run.rc == 0, run.stdout[-5000:]
    assert handle.write_calls(since) == []


def test_bad_input_fails_before_any_aws_call(demo):
    handle = demo["sandbox"]
    since = handle.last_seq()
    run = play(handle, demo["reports"], "-e", '{"check_os_target_ous": ["ou-o2pk-wrkloads", "ou-bad;reboot"]}')
    assert run.rc != 0
    assert "check_os_target_ous" in run.stdout and "nothing was sent to AWS" in run.stdout
    assert handle.requests(since) == []


def test_the_collection_playbook_runs_by_fqcn(demo):
    handle = demo["sandbox"]
    run = play(
        handle,
        demo["reports"],
        "-e",
        f"automation_execution_id={demo['execution_id']}",
        playbook="orgops.ssm_automation.check_os",
    )
    assert run.rc == 0, run.stdout[-5000:]
    assert "Automation " + demo["execution_id"] in run.stdout


def test_html_report_in_headless_chromium_shows_every_instance(browser, demo, tmp_path):
    """Open the HTML report in Chromium (JavaScript on), and read the rendered DOM: every targeted instance, with its
    status, including the Windows, stopped and unmanaged ones. A screenshot is kept as a test artifact."""
    html = demo["reports"] / demo["execution_id"] / "automation-report.html"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "automation-report.png"
    subprocess.run(
        [browser, *flags, "--window-size=1400,3000", f"--screenshot={shot}", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert shot.is_file() and shot.stat().st_size > 10_000
    world = demo["sandbox"].world
    locations, _ = results(demo)
    status = {i["instance_id"]: i["status"] for loc in locations for i in loc["instances"]}
    shown = {}
    for inst in targeted_instances(world):
        # the instance's row: its status attribute (what the filters use), its id, its status badge; not hidden
        m = re.search(
            rf'<tr class="instance([^"]*)" data-status="([^"]+)"><td><code>{re.escape(inst.instance_id)}</code></td>'
            r'<td><span class="badge[^"]*"[^>]*>([^<]+)</span>',
            dom,
        )
        assert m, f"{inst.name} ({inst.instance_id}) is not in the rendered report"
        assert "hidden" not in m.group(1).split(), f"{inst.name} is hidden"
        assert m.group(2) == m.group(3) == status[inst.instance_id], (inst.name, m.groups(), status[inst.instance_id])
        shown[inst.name] = m.group(3)
    assert shown["stg-web"] != "Success" and shown["sec-scanner"] != "Success"
    assert shown["web-win-1"] == shown["dev-win"] == "Success"
    assert len(shown) == 15


def test_check_mode_on_a_fresh_organization_writes_nothing_and_says_why_the_run_is_not_previewed(
    sandbox_factory, tmp_path
):
    handle = sandbox_factory(DEMO_WORLD, name="fresh-check")
    since = handle.last_seq()
    run = play(handle, tmp_path / "reports", "--check")
    assert run.rc == 0, run.stdout[-5000:]
    assert handle.write_calls(since) == []
    assert "the runbook check-os would be uploaded first, so the run is not previewed" in run.stdout
    assert not (tmp_path / "reports" / "latest.json").exists()


def test_the_seed_runbook_variant_reproduces_the_article(sandbox_factory, tmp_path):
    """check_os_runbook_variant=seed uploads the seed's check-os verbatim: yum check-update's exit code 100 fails the
    pending-updates instance at CheckUpdate and leaves CheckNTP Pending, as in the article."""
    handle = sandbox_factory(DEMO_WORLD, name="seed-variant")
    reports = tmp_path / "reports"
    run = play(handle, reports, "-e", "check_os_runbook_variant=seed", "-e", "check_os_max_failed_percent=100")
    assert run.rc == 0, run.stdout[-5000:]
    execution_id = json.loads((reports / "latest.json").read_text())["automation_execution_id"]
    lines = [json.loads(x) for x in (reports / execution_id / "results.jsonl").read_text().splitlines() if x]
    by_id = {i["instance_id"]: i for x in lines if x["type"] == "location" for i in x["instances"]}
    names = {i.instance_id: i.name for i in handle.world.instances}
    pay = next(inst for iid, inst in by_id.items() if names[iid] == "pay-api-1")
    steps = {s["step_name"]: s["status"] for s in pay["steps"]}
    assert steps["CheckUpdate"] == "Failed", steps
    assert steps["CheckNTP"] == "Pending", steps
    assert pay["status"] == "Failed"
    # the seed runbook has no Windows branch
    assert not any(s.endswith("Windows") for inst in by_id.values() for s in (st["step_name"] for st in inst["steps"]))


@pytest.fixture(scope="module")
def slow_demo(tmp_path_factory):
    """The demo world with its clock at real speed (time_scale 1, not 0.05): a run lasts about 13 s of wall time,
    far longer than one 1 s poll, whatever the machine's load."""
    world = yaml.safe_load(DEMO_WORLD.read_text())
    world["time_scale"] = 1.0
    world["stacksets"] = {"operation_seconds": 0.1}
    workdir = tmp_path_factory.mktemp("check-os-slow")
    handle = SandboxHandle(world, name="check-os-slow", workdir=workdir)
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


def test_a_run_still_going_at_the_timeout_is_reported_and_re_attaching_completes_it(slow_demo, tmp_path):
    handle, reports = slow_demo, tmp_path / "reports"
    run = play(
        handle,
        reports,
        "-e",
        "check_os_wait_timeout=0",
        "-e",
        "check_os_poll_interval=1",
        "-e",
        "execution_roles_poll_interval=0.1",
    )
    assert run.rc != 0
    execution_id = json.loads((reports / "latest.json").read_text())["automation_execution_id"]
    fatal = [line for line in run.stdout.splitlines() if line.startswith("fatal:") and "Policy failed" in line]
    assert fatal, run.stdout[-3000:]
    msg = json.loads(fatal[0].split("=> ", 1)[1])["msg"]
    assert "the run was still going after 0s" in msg
    assert f"re-attach with -e automation_execution_id={execution_id}" in msg
    # what was there at the timeout is reported all the same
    assert (reports / execution_id / "automation-report.html").is_file()
    since = handle.last_seq()
    again = play(handle, reports, "-e", f"automation_execution_id={execution_id}")
    assert again.rc == 0, again.stdout[-5000:]
    assert handle.write_calls(since) == []
    lines = [json.loads(x) for x in (reports / execution_id / "results.jsonl").read_text().splitlines() if x]
    assert next(x for x in lines if x["type"] == "summary")["instances"] == 15
