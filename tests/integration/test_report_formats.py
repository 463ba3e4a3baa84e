"""automation_report on a real harvest of the demo world: every format parsed back, HTML opened in headless Chromium.

The screenshot is kept as a test artifact: tests/output/automation-report.png.
"""

from __future__ import annotations

import csv
import json
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.ansible_run import run_module

from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "tests" / "output"
CHECK_OS = (REPO / "roles" / "check_os" / "files" / "check-os.yml").read_text()
TOKYO = "ap-northeast-1"
IRELAND = "eu-west-1"
ROOT = "r-o2pk"
MGMT = "111122223333"
CHECKS = {
    "CheckHostname": "check",
    "CheckTimezone": "check",
    "CheckLocale": "check",
    "CheckUpdate": "check",
    "CheckNTP": "check",
}


def without_facts(locations):
    """The harvested records as they were: the report adds facts (and compliance) to each instance."""
    out = []
    for record in locations:
        loc = dict(record)
        if loc.get("instances"):
            loc["instances"] = [
                {k: v for k, v in inst.items() if k not in ("facts", "compliance")} for inst in loc["instances"]
            ]
        out.append(loc)
    return out


def clean(result):
    result.pop("_stdout", None)
    result.pop("_stderr", None)
    return result


@pytest.fixture(scope="module")
def harvest(tmp_path_factory):
    """The whole organization (root OU, both regions, the management account included), run and harvested once."""
    work = tmp_path_factory.mktemp("report-harvest")
    box = SandboxHandle(DEMO_WORLD, name="report", workdir=work / "sandbox")
    box.start()
    try:
        for region in (TOKYO, IRELAND):
            box.client("ssm", region=region).create_document(
                Content=CHECK_OS, Name="check-os", DocumentType="Automation", DocumentFormat="YAML"
            )
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
        started = clean(
            run_module(
                work,
                "orgops.ssm_automation.automation_execution",
                {
                    "document_name": "check-os",
                    "parameters": CHECKS,
                    "targets": {"tags": {"ssm-automation": "true"}},
                    "target_locations": [{"accounts": [ROOT], "regions": [TOKYO, IRELAND]}],
                    "wait": True,
                    "poll_interval": 1,
                    "progress": False,
                },
                env=box.env,
            )
        )
        assert not started.get("failed"), started.get("msg")
        jsonl = work / "results.jsonl"
        info = clean(
            run_module(
                work,
                "orgops.ssm_automation.automation_execution_info",
                {"automation_execution_id": started["automation_execution_id"]},
                env=box.env,
            )
        )
        streamed = clean(
            run_module(
                work,
                "orgops.ssm_automation.automation_execution_info",
                {"automation_execution_id": started["automation_execution_id"], "dest": str(jsonl)},
                env=box.env,
            )
        )
        assert not info.get("failed") and not streamed.get("failed")
        for key in ("invocation", "changed", "failed"):
            info.pop(key, None)
        yield {"box": box, "info": info, "jsonl": jsonl, "work": work}
    finally:
        box.stop()


def tagged(world):
    return {i.instance_id: i for i in world.instances if i.tags.get("ssm-automation") == "true"}


@pytest.fixture(scope="module")
def reports(harvest):
    dest = harvest["work"] / "reports"
    result = clean(
        run_module(
            harvest["work"],
            "orgops.ssm_automation.automation_report",
            {"result": harvest["info"], "dest": str(dest), "title": "check-os <demo> & co"},
            env=harvest["box"].env,
        )
    )
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    return result


def test_every_format_is_written(reports):
    assert sorted(reports["files"]) == ["csv", "csv_fleet", "html", "json", "junit", "markdown"]
    assert Path(reports["files"]["csv_fleet"]).name == "automation-report-fleet.csv"
    for path in reports["files"].values():
        assert Path(path).stat().st_size > 0


def test_fleet_csv_counts_every_instance(harvest, reports):
    with open(reports["files"]["csv_fleet"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    platforms = [r for r in rows if r["scope"] == "fact_value" and r["name"] == "platform"]
    assert sum(int(r["instances"]) for r in platforms) == len(tagged(harvest["box"].world))


def test_json_report_holds_everything(harvest, reports):
    data = json.loads(Path(reports["files"]["json"]).read_text())
    assert without_facts(data["locations"]) == harvest["info"]["locations"]
    assert data["summary"]["instances"] == len(tagged(harvest["box"].world))


def test_csv_report_one_row_per_instance_and_step(harvest, reports):
    with open(reports["files"]["csv"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    world = harvest["box"].world
    instances = {r["instance_id"] for r in rows if r["instance_id"]}
    assert instances == set(tagged(world))
    steps_per_instance = {}
    for row in rows:
        if row["instance_id"]:
            steps_per_instance.setdefault(row["instance_id"], set()).add(row["step_name"])
        else:  # a location without targeted instances still has its row
            assert (row["account"], row["region"]) not in {(i.account_id, i.region) for i in tagged(world).values()}
    assert all(
        steps == {"CheckHostname", "CheckTimezone", "CheckLocale", "CheckUpdate", "CheckNTP"}
        for steps in steps_per_instance.values()
    )
    pay = next(i.instance_id for i in world.instances if i.name == "pay-api-1")
    by_step = {r["step_name"]: r for r in rows if r["instance_id"] == pay}
    assert by_step["CheckUpdate"]["step_status"] == "Failed"
    assert by_step["CheckNTP"]["step_status"] == "Pending"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value


def test_junit_report_parses_with_the_fields(harvest, reports):
    root = ET.parse(reports["files"]["junit"]).getroot()
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    steps = [c for c in cases if c.get("name") != "location"]
    assert len(steps) == 5 * len(tagged(harvest["box"].world))
    # a targeted location with no instance to report (here the one whose targets matched nothing: NoTargets) is a
    # case of its own, so that every location is in the report; it passes
    no_instance = [r for r in harvest["info"]["locations"] if not r.get("instances")]
    location_cases = [c for c in cases if c.get("name") == "location"]
    assert len(location_cases) == len(no_instance) >= 1
    for case, record in zip(
        sorted(location_cases, key=lambda c: c.get("classname")),
        sorted(no_instance, key=lambda r: (r["account"], r["region"])),
        strict=True,
    ):
        assert case.get("classname").startswith(record["account"])
        if record["status"] == "NoTargets":
            assert case.find("failure") is None and case.find("error") is None
    for case in cases:
        assert case.get("classname") and case.get("name") and case.get("time") is not None
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(root.get("failures")) == len(failures) > 0
    pay = next(i.instance_id for i in harvest["box"].world.instances if i.name == "pay-api-1")
    update = [c for c in cases if c.get("classname").endswith(pay) and c.get("name") == "CheckUpdate"][0]
    assert update.find("failure").get("type") == "Failed"
    ntp = [c for c in cases if c.get("classname").endswith(pay) and c.get("name") == "CheckNTP"][0]
    assert ntp.find("skipped") is not None
    assert int(root.get("tests")) == len(cases)
    assert root.get("name") == "check-os <demo> & co"


def test_markdown_report(reports):
    md = Path(reports["files"]["markdown"]).read_text()
    assert md.startswith("# check-os &lt;demo&gt; &amp; co")
    assert md.index("## Summary") < md.index("## Results")


class Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows = []
        self.hidden = []
        self.shown = None
        self._shown = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "tr" and "instance" in classes:
            self.rows.append(attrs.get("data-status"))
            if "hidden" in classes:
                self.hidden.append(attrs.get("data-status"))
        self._shown = tag == "span" and attrs.get("id") == "shown"

    def handle_data(self, data):
        if self._shown:
            self.shown = data
            self._shown = False


def test_html_report_in_headless_chromium(browser, harvest, reports, tmp_path):
    page = Path(reports["files"]["html"])
    text = page.read_text()
    assert "http://" not in text and "https://" not in text  # self-contained
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "automation-report.png"
    if shot.exists():
        shot.unlink()
    base = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--user-data-dir=%s" % (tmp_path / "profile"),
    ]
    run = subprocess.run(
        [*base, "--window-size=1400,2400", "--screenshot=%s" % shot, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.exists() and shot.stat().st_size > 10000, run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The DOM after the inline script ran: all instance rows shown, then only the Failed ones via the filter link.
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=False
    ).stdout
    parsed = Rows()
    parsed.feed(dom)
    world = harvest["box"].world
    assert len(parsed.rows) == len(tagged(world))
    assert parsed.hidden == []
    assert parsed.shown == str(len(tagged(world)))
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri() + "#status=Failed"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    filtered = Rows()
    filtered.feed(dom)
    failed = filtered.rows.count("Failed")
    assert failed > 0
    assert filtered.shown == str(failed)
    assert sorted(filtered.hidden) == sorted(s for s in filtered.rows if s != "Failed")
    for name in ("web-win-1", "stg-web", "sec-scanner", "mgmt-bastion"):
        assert next(i.instance_id for i in world.instances if i.name == name) in dom


def test_report_from_json_lines_matches_and_is_idempotent(harvest, reports):
    dest = harvest["work"] / "from-jsonl"
    params = {"src": str(harvest["jsonl"]), "dest": str(dest), "title": "check-os <demo> & co"}
    first = clean(
        run_module(harvest["work"], "orgops.ssm_automation.automation_report", params, env=harvest["box"].env)
    )
    assert first["changed"] is True
    for fmt in ("csv", "junit", "markdown", "html"):
        assert Path(first["files"][fmt]).read_bytes() == Path(reports["files"][fmt]).read_bytes(), fmt
    second = clean(
        run_module(harvest["work"], "orgops.ssm_automation.automation_report", params, env=harvest["box"].env)
    )
    assert second["changed"] is False
    assert second["written"] == []


def test_unwritable_dest_fails_clearly(harvest):
    result = clean(
        run_module(
            harvest["work"],
            "orgops.ssm_automation.automation_report",
            {"src": str(harvest["jsonl"]), "dest": "/proc/orgops-reports"},
            env=harvest["box"].env,
        )
    )
    assert result["failed"] is True
    assert result["field"] == "dest"
    assert result["msg"].startswith("dest: /proc/orgops-reports is not writable")
