"""The OS standard end to end: `ansible-playbook playbooks/check_os.yml -i inventories/sandbox` on the demo world with
``-e '{"check_os_expect": {"timezone": "Mars/Olympus"}}'`` marks every instance whose timezone check ran noncompliant,
with its actual timezone, in every report format; a malformed standard fails before any AWS call."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.ansible_run import run_playbook

from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "check_os.yml"
INVENTORY = REPO / "inventories" / "sandbox"


def play(sandbox, report_dir: Path, *args):
    env = {**sandbox.env, "ORGOPS_REPORT_DIR": str(report_dir)}
    return run_playbook(PLAYBOOK, env=env, args=["-i", str(INVENTORY), *args], timeout=900)


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("compliance-sandbox")
    handle = SandboxHandle(DEMO_WORLD, name="compliance", workdir=workdir)
    handle.start()
    try:
        reports = workdir / "reports"
        run = play(handle, reports, "-e", '{"check_os_expect": {"timezone": "Mars/Olympus"}}')
        execution_id = json.loads((reports / "latest.json").read_text())["automation_execution_id"]
        yield {"sandbox": handle, "run": run, "dir": reports / execution_id, "workdir": workdir}
    finally:
        handle.stop()


def timezone_ran(inst):
    return any(
        s["step_name"] in ("CheckTimezone", "CheckTimezoneWindows") and s["status"] == "Success" for s in inst["steps"]
    )


def test_every_format_marks_the_timezone_noncompliant_with_the_actual_value(mars):
    run = mars["run"]
    assert run.rc == 0, run.stdout[-5000:] + run.stderr[-3000:]
    data = json.loads((mars["dir"] / "automation-report.json").read_text())
    instances = [i for loc in data["locations"] for i in loc["instances"]]
    assert len(instances) == 15
    ran = [i for i in instances if timezone_ran(i)]
    not_ran = [i for i in instances if not timezone_ran(i)]
    assert len(ran) == 13 and len(not_ran) == 2  # the stopped and the unmanaged instances stop at AssertOnline
    actual = {}
    for inst in ran:
        check = inst["compliance"]["checks"][0]
        assert inst["compliance"]["status"] == "noncompliant", inst["compliance"]
        assert check["name"] == "timezone" and check["expected"] == "Mars/Olympus" and check["status"] == "noncompliant"
        assert check["actual"] == inst["facts"]["timezone"] and check["actual"], inst["facts"]
        actual[inst["instance_id"]] = check["actual"]
    for inst in not_ran:
        assert inst["compliance"]["status"] == "unknown" and inst["compliance"]["checks"][0]["reason"]
    assert set(actual.values()) >= {"UTC", "Etc/UTC", "Tokyo Standard Time"}  # Amazon Linux, Ubuntu, Windows
    assert data["summary"]["compliance"]["instances"] == {"compliant": 0, "noncompliant": 13, "unknown": 2}
    # who is who (the harvest's details, on in the roles): the Name tag, the account's name and OU path
    world = mars["sandbox"].world
    names = {i.instance_id: i.name for i in world.instances}
    for inst in instances:
        assert inst["details"]["name"] == names[inst["instance_id"]], inst.get("details")
    for loc in data["locations"]:
        assert loc["account_name"] and loc["ou_path"].startswith("Root"), loc.get("details_error")
    by_name = {names[i["instance_id"]]: i for i in instances}
    assert by_name["stg-web"]["details"]["ping_status"] == "ConnectionLost"
    assert by_name["sec-scanner"]["details"]["ping_status"] is None  # not a managed node
    assert by_name["web-win-1"]["details"]["platform_type"] == "Windows"

    with open(mars["dir"] / "automation-report.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for iid, tz in actual.items():
        mine = [r for r in rows if r["instance_id"] == iid]
        assert mine and all((r["timezone"], r["timezone_status"]) == (tz, "noncompliant") for r in mine), iid

    md = (mars["dir"] / "automation-report.md").read_text()
    for iid, tz in actual.items():
        line = next(x for x in md.splitlines() if x.startswith("| ") and f"| {iid} |" in x and "\u274c" in x)
        assert f"\u274c {tz.replace('_', chr(92) + '_')}" in line, line
    assert "| timezone | 0 | 13 | 2 |" in md

    page = (mars["dir"] / "automation-report.html").read_text()
    for iid, tz in actual.items():
        row = re.search(
            rf'<tr class="instance-checks" data-instance="{iid}" data-compliance="noncompliant">.*?</tr>', page
        )
        assert row and 'class="cx-noncompliant" data-check="timezone"' in row.group(0), iid
        assert f">{tz}</td>" in row.group(0), (iid, row.group(0))

    root = ET.parse(mars["dir"] / "automation-report.xml").getroot()
    cases = {
        c.get("classname").rsplit(".", 1)[1]: c for c in root.iter("testcase") if c.get("name") == "compliance.timezone"
    }
    assert len(cases) == 15
    for iid, tz in actual.items():
        failure = cases[iid].find("failure")
        assert failure is not None and tz in failure.get("message"), iid


def test_the_fleet_view_in_headless_chromium_without_javascript(browser, mars, tmp_path):
    """The fleet view is inline SVG: it reads with JavaScript off. Every account and region of the run is a cell of
    the matrix, and the timezone expectation has its bar."""
    # Without JavaScript: the page with its script removed (headless Chromium has no switch that turns scripts off
    # and still dumps the DOM).
    page = tmp_path / "no-script.html"
    text = (mars["dir"] / "automation-report.html").read_text()
    page.write_text(re.sub(r"<script>.*?</script>", "", text, flags=re.S))
    assert "<script" not in page.read_text()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    data = json.loads((mars["dir"] / "automation-report.json").read_text())
    locations = {(loc["account"], loc["region"]) for loc in data["locations"]}
    cells = set(re.findall(r'<g class="matrix-cell" data-account="(\d+)" data-region="([a-z0-9-]+)">', dom))
    assert cells == locations
    assert '<g class="expectation-bar" data-expectation="timezone">' in dom
    assert re.search(r'<rect class="bar-noncompliant"[^>]*width="(\d+\.\d)"', dom)
    shot = tmp_path / "fleet.png"
    subprocess.run(
        [browser, *flags, "--window-size=1400,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000


def test_a_malformed_standard_fails_before_any_aws_call(mars):
    handle = mars["sandbox"]
    since = handle.last_seq()
    run = play(handle, mars["workdir"] / "bad", "-e", '{"check_os_expect": {"timezon": "UTC"}}')
    assert run.rc != 0
    assert "check_os_expect.timezon" in run.stdout and "accepted keys: timezone" in run.stdout, run.stdout[-3000:]
    assert handle.requests(since) == []
    run = play(handle, mars["workdir"] / "bad", "-e", "check_os_expect_max_pending_updates=lots")
    assert run.rc != 0
    assert "check_os_expect_max_pending_updates" in run.stdout and "whole number" in run.stdout
    assert handle.requests(since) == []


def test_the_compliance_policy_fails_the_play_naming_the_variable(mars):
    """13 of 15 noncompliant (86.7%) > 50%: the policy fails the play after the reports, in one line; the 2 unknown
    instances are counted apart unless check_os_fail_on_unknown."""
    execution_id = mars["dir"].name
    run = play(
        mars["sandbox"],
        mars["dir"].parent,
        "-e",
        f"automation_execution_id={execution_id}",
        "-e",
        '{"check_os_expect": {"timezone": "Mars/Olympus"}, "check_os_max_noncompliant_percent": 50}',
    )
    assert run.rc != 0
    fatal = next(line for line in run.stdout.splitlines() if "Policy failed for automation" in line)
    assert (
        "13 of 15 instance(s) are noncompliant (2 unknown not counted): 86.7% > check_os_max_noncompliant_percent 50%"
        in fatal
    ), fatal
    run = play(
        mars["sandbox"],
        mars["dir"].parent,
        "-e",
        f"automation_execution_id={execution_id}",
        "-e",
        '{"check_os_expect": {"timezone": "Mars/Olympus"}, "check_os_max_noncompliant_percent": 90}',
    )
    assert run.rc == 0, run.stdout[-3000:]
    run = play(
        mars["sandbox"],
        mars["dir"].parent,
        "-e",
        f"automation_execution_id={execution_id}",
        "-e",
        '{"check_os_expect": {"timezone": "Mars/Olympus"}, "check_os_max_noncompliant_percent": 90,'
        ' "check_os_fail_on_unknown": true}',
    )
    assert run.rc != 0
    assert "15 of 15 instance(s) are noncompliant or unknown" in run.stdout


def test_changed_since_an_earlier_report(mars, tmp_path):
    """The earlier report is the run's own JSON, edited: one instance more, one instance's time zone different."""
    data = json.loads((mars["dir"] / "automation-report.json").read_text())
    loc = next(loc for loc in data["locations"] if len(loc["instances"]) >= 2)
    gone = loc["instances"].pop(0)  # absent before: "added" now
    changed = next(i for i in loc["instances"] if i["facts"].get("timezone"))
    changed["facts"]["timezone"] = "Asia/Tokyo"
    data["execution"]["automation_execution_id"] = "earlier"
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps(data))
    run = play(
        mars["sandbox"],
        mars["dir"].parent,
        "-e",
        f"automation_execution_id={mars['dir'].name}",
        "-e",
        json.dumps({"check_os_expect": {"timezone": "Mars/Olympus"}, "check_os_compare_to": str(earlier)}),
    )
    assert run.rc == 0, run.stdout[-3000:]
    report = json.loads((mars["dir"] / "automation-report.json").read_text())
    changes = report["changes"]
    assert changes["since_execution"] == "earlier"
    assert [a["instance_id"] for a in changes["added"]] == [gone["instance_id"]]
    assert changes["gone"] == []
    assert [(c["instance_id"], c["fact"], c["before"]) for c in changes["facts_changed"]] == [
        (changed["instance_id"], "timezone", "Asia/Tokyo")
    ]
    md = (mars["dir"] / "automation-report.md").read_text()
    assert "## Changed since earlier" in md and f"added: {loc['account']} {loc['region']} {gone['instance_id']}" in md
    assert '<section id="changes">' in (mars["dir"] / "automation-report.html").read_text()


def test_changed_since_the_previous_report(mars, tmp_path):
    """``check_os_compare_to: previous`` picks, in the report directory, the latest completed report of another
    execution: not an unfinished one, not an older one, not this execution's own."""
    data = json.loads((mars["dir"] / "automation-report.json").read_text())
    end = data["execution"].get("end_time") or "2026-01-01T00:00:00+00:00"
    loc = next(loc for loc in data["locations"] if len(loc["instances"]) >= 2)
    changed = next(i for i in loc["instances"] if i["facts"].get("timezone"))
    reports = tmp_path / "reports"

    def kept(name, status, end_time, timezone):
        earlier = json.loads(json.dumps(data))
        earlier["execution"].update(automation_execution_id=name, status=status, end_time=end_time)
        for inst in (i for lo in earlier["locations"] for i in lo["instances"]):
            if inst["instance_id"] == changed["instance_id"]:
                inst["facts"]["timezone"] = timezone
        (reports / name).mkdir(parents=True)
        (reports / name / "automation-report.json").write_text(json.dumps(earlier))

    kept("older-run", "Success", "2000-01-01T00:00:00+00:00", "Europe/Paris")
    kept("earlier-run", "Failed", "2001-01-01T00:00:00+00:00", "Asia/Tokyo")
    kept("unfinished-run", "InProgress", "2099-01-01T00:00:00+00:00", "America/Lima")
    assert end > "2001"  # the run's own report is the newest: it must be skipped as this execution's
    run = play(
        mars["sandbox"],
        reports,
        "-e",
        f"automation_execution_id={mars['dir'].name}",
        "-e",
        json.dumps({"check_os_expect": {"timezone": "Mars/Olympus"}, "check_os_compare_to": "previous"}),
    )
    assert run.rc == 0, run.stdout[-3000:]
    report = json.loads((reports / mars["dir"].name / "automation-report.json").read_text())
    changes = report["changes"]
    assert changes["since_execution"] == "earlier-run"
    assert changes["added"] == [] and changes["gone"] == []
    assert [(c["instance_id"], c["fact"], c["before"]) for c in changes["facts_changed"]] == [
        (changed["instance_id"], "timezone", "Asia/Tokyo")
    ]
