"""report.py: every format parsed back, escaping (HTML, CSV injection, XML), streaming input, idempotent files."""

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils import report
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

EVIL = "<script>alert(\"x\")</script> & =cmd|'/c calc'!A1 | `tick` \x07bell\x1b[31m"


def step(name, status, output="", failure=None, **extra):
    out = {
        "step_name": name,
        "action": "aws:runCommand",
        "status": status,
        "start_time": "2025-01-01T12:00:00+00:00",
        "end_time": "2025-01-01T12:00:02+00:00",
        "outputs": {"%s.Output" % name: [output]} if output else {},
        "failure_message": failure,
    }
    out.update(extra)
    return out


def result():
    return {
        "execution": {
            "automation_execution_id": "00000000-0000-4000-8000-000000000000",
            "document_name": "check-os",
            "document_version": "1",
            "status": "Failed",
        },
        "locations": [
            {
                "account": "111111111111",
                "region": "eu-west-1",
                "status": "Success",
                "member_execution_id": "m1",
                "read_status": "ok",
                "read_error": None,
                "instances": [
                    {
                        "instance_id": "i-0000000000000001",
                        "execution_id": "e1",
                        "status": "Success",
                        "start_time": "2025-01-01T12:00:00+00:00",
                        "end_time": "2025-01-01T12:00:05+00:00",
                        "steps": [
                            step("CheckHostname", "Success", "ip-10-0-0-1"),
                            step("CheckNTP", "Success", "-cmd\n^* 169.254.169.123"),
                        ],
                    }
                ],
            },
            {
                "account": "222222222222",
                "region": "ap-northeast-1",
                "status": "Failed",
                "member_execution_id": "m2",
                "read_status": "ok",
                "read_error": None,
                "instances": [
                    {
                        "instance_id": "i-0000000000000002",
                        "execution_id": "e2",
                        "status": "Failed",
                        "steps": [
                            step("CheckHostname", "Success", EVIL),
                            step(
                                "CheckUpdate",
                                "Failed",
                                "pkg.x86_64 1.2",
                                failure="exit code 100 " + EVIL,
                                stdout="full " + EVIL,
                                stderr="=HYPERLINK()",
                            ),
                            step("CheckNTP", "Pending"),
                        ],
                    },
                    {
                        "instance_id": "i-0000000000000003",
                        "execution_id": "e3",
                        "status": "TimedOut",
                        "steps": [step("CheckHostname", "TimedOut", failure="Step timed out")],
                    },
                    {
                        "instance_id": "i-0000000000000004",
                        "execution_id": "e4",
                        "status": "Success",
                        "read_error": {"code": "ThrottlingException", "message": "Rate exceeded"},
                        "steps": [],
                    },
                ],
            },
            {
                "account": "333333333333",
                "region": "ap-northeast-1",
                "status": "Success",
                "member_execution_id": "m3",
                "read_status": "failed",
                "read_error": {"code": "AccessDenied", "message": "not authorized to perform: sts:AssumeRole"},
                "instances": [],
            },
            {
                "account": "444444444444",
                "region": "ap-northeast-1",
                "status": "Failed",
                "failure_message": "The provided role: arn:aws:iam::444444444444:role/AWS-SystemsManager-AutomationExecutionRole can't be assumed.",
                "member_execution_id": None,
                "read_status": "skipped",
                "read_error": {"code": "NoMemberExecution", "message": "The provided role ... can't be assumed."},
                "instances": [],
            },
        ],
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


@pytest.fixture
def source():
    return report.Source(data=result())


def test_summary_is_recomputed(source):
    s = source.summary()
    assert s["locations"] == 4
    assert s["instances"] == 4
    assert s["instances_by_status"] == {"Success": 2, "Failed": 1, "TimedOut": 1}
    assert s["unreadable_locations"] == 1
    assert s["step_failures"] == {"CheckUpdate": {"Failed": 1}, "CheckHostname": {"TimedOut": 1}}


def test_json_round_trips(source):
    data = json.loads(report.render(source, "json"))
    assert without_facts(data["locations"]) == result()["locations"]
    assert all("facts" in inst for loc in data["locations"] for inst in loc.get("instances") or [])
    assert data["summary"]["instances"] == 4
    assert data["execution"]["document_name"] == "check-os"


def test_csv_one_row_per_instance_step_and_injection_safe(source):
    rows = list(csv.DictReader(io.StringIO(report.render(source, "csv"))))
    # 2 steps + 3 steps + 1 step + 1 (instance not read) + 2 locations without instances
    assert len(rows) == 9
    assert tuple(rows[0].keys())[: len(report.CSV_COLUMNS)] == report.CSV_COLUMNS
    keyed = {(r["account"], r["instance_id"], r["step_name"]): r for r in rows}
    failed = keyed[("222222222222", "i-0000000000000002", "CheckUpdate")]
    assert failed["step_status"] == "Failed"
    assert failed["stderr"] == "'=HYPERLINK()"
    assert failed["stdout"].startswith("full <script>")
    ntp = keyed[("111111111111", "i-0000000000000001", "CheckNTP")]
    assert ntp["outputs"] == "CheckNTP.Output=-cmd\n^* 169.254.169.123"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    unread = keyed[("333333333333", "", "")]
    assert unread["read_error"] == "AccessDenied: not authorized to perform: sts:AssumeRole"
    assert keyed[("444444444444", "", "")]["location_failure"].startswith("The provided role")
    assert keyed[("222222222222", "i-0000000000000004", "")]["read_error"] == "ThrottlingException: Rate exceeded"


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cell_prefixes_formulas(cell):
    assert report.csv_cell(cell) == "'" + cell
    assert report.csv_cell("a" + cell) == "a" + cell


def test_junit_parses_with_testcases_failures_and_no_control_chars(source):
    text = report.render(source, "junit")
    assert "\x07" not in text and "\x1b" not in text
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert int(root.get("tests")) == len(cases) == 2 + 3 + 1 + 1 + 1 + 1
    assert int(root.get("failures")) == 3  # CheckUpdate Failed, CheckHostname TimedOut, 444 location
    assert int(root.get("errors")) == 2  # instance not read, location not read
    assert int(root.get("skipped")) == 1  # CheckNTP Pending
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {
        "111111111111/eu-west-1",
        "222222222222/ap-northeast-1",
        "333333333333/ap-northeast-1",
        "444444444444/ap-northeast-1",
    }
    update = [c for c in cases if c.get("name") == "CheckUpdate"][0]
    assert update.get("classname") == "222222222222.ap-northeast-1.i-0000000000000002"
    failure = update.find("failure")
    assert failure.get("type") == "Failed"
    assert failure.get("message").startswith("exit code 100 <script>")
    assert update.find("system-err").text == "=HYPERLINK()"
    ntp = [c for c in cases if c.get("name") == "CheckNTP" and "0002" in c.get("classname")][0]
    assert ntp.find("skipped").get("message") == "not reached"
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        for case in suite.findall("testcase"):
            assert case.get("classname") and case.get("name") and case.get("time") is not None


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.scripts = []
        self.text = []
        self._in_script = False
        self.external = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = True
            if "src" in attrs:
                self.external.append(attrs["src"])
        if tag == "link" or (tag == "img" and attrs.get("src", "").startswith("http")):
            self.external.append(attrs)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def test_html_is_self_contained_escaped_and_complete(source):
    page = report.render(source, "html")
    parser = _Collector()
    parser.feed(page)
    assert parser.external == []
    assert len(parser.scripts) == 1  # only our own inline filter script
    assert "alert(" not in parser.scripts[0]
    text = "".join(parser.text)
    assert '<script>alert("x")</script>' in text  # shown as text, escaped in the markup
    assert page.count("<script>") == 1
    for instance in ("i-0000000000000001", "i-0000000000000002", "i-0000000000000003", "i-0000000000000004"):
        assert instance in text
    assert "AccessDenied" in text and "can't be assumed" in text
    assert 'id="summary-bar"' in page and "status-filter" in page and "<details>" in page
    assert 'data-status="TimedOut"' in page


def test_junit_location_never_started_is_a_failure():
    data = result()
    data["locations"].append(
        {
            "account": "555555555555",
            "region": "eu-west-1",
            "status": "Pending",
            "member_execution_id": None,
            "read_status": "skipped",
            "read_error": {
                "code": "NeverStarted",
                "message": "the automation ended (Failed) before this location was started",
            },
            "instances": [],
        }
    )
    root = ET.fromstring(report.render(report.Source(data=data), "junit").encode())
    suite = [s for s in root.findall("testsuite") if s.get("name") == "555555555555/eu-west-1"][0]
    failure = suite.find("testcase/failure")
    assert failure is not None and "before this location was started" in failure.get("message")


def test_markdown_summary_then_table_escaped(source):
    md = report.render(source, "markdown")
    assert md.index("## Summary") < md.index("## Results")
    table = [line for line in md[md.index("## Results") :].splitlines() if line.startswith("| 222222222222")]
    assert len(table) == 5
    results = md[md.index("## Results") :].splitlines()[2:]
    assert len(results) == 2 + 9  # header, separator, one line per instance x step
    for line in results:
        assert line.count("|") - line.count("\\|") == 8, line
    assert "<script>" not in md
    assert "\x07" not in md and "\x1b" not in md
    assert "| 444444444444 | ap-northeast-1 |  | Failed |  |  | The provided role" in md


def test_jsonl_streaming_round_trip(tmp_path, source):
    path = tmp_path / "results.jsonl"
    writer = report.JsonLinesWriter(str(path)).open()
    writer.header(source.execution)
    for loc in reversed(list(source.locations())):  # completion order, not sorted
        writer.location(loc)
    writer.summary({"instances": 4})
    writer.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["execution", "location", "location", "location", "location", "summary"]
    streamed = report.Source(path=str(path))
    assert streamed.execution["document_name"] == "check-os"
    for fmt in report.FORMATS:
        assert report.render(streamed, fmt) == report.render(source, fmt)


def test_jsonl_writer_creates_its_directory(tmp_path):
    path = tmp_path / "reports" / "run-1" / "results.jsonl"
    writer = report.JsonLinesWriter(str(path)).open()
    writer.summary({"instances": 0})
    writer.close()
    assert [json.loads(line)["type"] for line in path.read_text().splitlines()] == ["summary"]


def test_jsonl_writer_refuses_a_file_in_the_way_before_writing(tmp_path):
    (tmp_path / "reports").write_text("not a directory")
    with pytest.raises(InvalidInput) as e:
        report.JsonLinesWriter(str(tmp_path / "reports" / "run-1" / "results.jsonl")).open()
    assert e.value.field == "dest"
    assert (tmp_path / "reports").read_text() == "not a directory"


def test_json_file_as_src(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result(), indent=2))
    src = report.Source(path=str(path))
    assert src.summary()["instances"] == 4


def test_bad_inputs():
    with pytest.raises(InvalidInput) as e:
        report.Source(data={"no": "locations"})
    assert e.value.field == "result"
    with pytest.raises(InvalidInput) as e:
        report.Source(path="/nonexistent/x.jsonl")
    assert e.value.field == "src"
    with pytest.raises(InvalidInput):
        report.Source()


def test_write_reports_is_idempotent(tmp_path, source):
    dest = tmp_path / "out" / "nested"
    first = report.write_reports(source, str(dest))
    assert sorted(first["changed"]) == sorted(list(report.FORMATS) + ["csv_fleet"])
    assert sorted(os.listdir(dest)) == [
        "automation-report-fleet.csv",
        "automation-report.csv",
        "automation-report.html",
        "automation-report.json",
        "automation-report.md",
        "automation-report.xml",
    ]
    second = report.write_reports(source, str(dest))
    assert second["changed"] == []
    data = result()
    data["locations"][0]["status"] = "Failed"
    third = report.write_reports(report.Source(data=data), str(dest), formats=["json"])
    assert third["changed"] == ["json"]


def test_check_mode_writes_nothing(tmp_path, source):
    dest = tmp_path / "never"
    out = report.write_reports(source, str(dest), check_mode=True)
    assert sorted(out["changed"]) == sorted(list(report.FORMATS) + ["csv_fleet"])
    assert not dest.exists()


def test_unwritable_dest_fails_before_writing(tmp_path, source):
    # /proc refuses new files even to root (for whom permission bits are not enforced)
    with pytest.raises(InvalidInput) as e:
        report.write_reports(source, "/proc/orgops-reports/sub")
    assert e.value.field == "dest"
    assert "not writable" in e.value.message
    assert not os.path.exists("/proc/orgops-reports")
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(InvalidInput, match="not a directory"):
        report.write_reports(source, str(afile))
    with pytest.raises(InvalidInput, match="not a directory"):
        report.write_reports(source, str(afile / "below"))
