"""compliance.py and the reports' compliance views: validation, the verdict rules, every format."""

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils import compliance as C
from ansible_collections.orgops.ssm_automation.plugins.module_utils import report
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

STANDARD = {
    "timezone": "Asia/Tokyo",
    "locale": "ja_JP.UTF-8",
    "ntp_synchronized": True,
    "ntp_source": "169.254.169.123",
    "max_pending_updates": 0,
    "hostname_pattern": "^(ip-|web-|db-)",
}


def test_the_issue_example_validates_as_given():
    assert C.validate_expect(STANDARD) == STANDARD


@pytest.mark.parametrize(
    ("expect", "field", "words"),
    [
        ({"timezon": "UTC"}, "check_os_expect.timezon", "accepted keys: timezone, locale"),
        ({"ntp_synchronized": "maybe"}, "check_os_expect.ntp_synchronized", "true or false"),
        ({"max_pending_updates": -1}, "check_os_expect.max_pending_updates", "whole number"),
        ({"max_pending_updates": "a few"}, "check_os_expect.max_pending_updates", "whole number"),
        ({"max_pending_updates": True}, "check_os_expect.max_pending_updates", "whole number"),
        ({"hostname_pattern": "(web"}, "check_os_expect.hostname_pattern", "regular expression"),
        ({"timezone": {"zone": "UTC"}}, "check_os_expect.timezone", "time zone name"),
        ({"timezone": []}, "check_os_expect.timezone", "empty list"),
        ({"locale": ["C.UTF-8", "x; reboot"]}, "check_os_expect.locale[1]", "only letters"),
        ("UTC", "check_os_expect", "dictionary"),
    ],
)
def test_malformed_standard_is_refused_naming_key_and_form(expect, field, words):
    with pytest.raises(InvalidInput) as err:
        C.validate_expect(expect)
    assert err.value.field == field
    assert words in str(err.value)


def test_flat_awx_variables_merge_and_win():
    merged = C.normalize_expect(
        {"timezone": "UTC", "locale": "C.UTF-8"},
        {
            "check_os_expect_timezone": "Asia/Tokyo",
            "check_os_expect_max_pending_updates": "3",
            "check_os_expect_ntp_synchronized": "yes",
            "check_os_expect_locale": "",  # an empty survey answer leaves the dictionary's value
        },
    )
    assert merged == {"timezone": "Asia/Tokyo", "locale": "C.UTF-8", "ntp_synchronized": True, "max_pending_updates": 3}
    with pytest.raises(InvalidInput) as err:
        C.normalize_expect({}, {"check_os_expect_max_pending_updates": "lots"})
    assert err.value.field == "check_os_expect_max_pending_updates"
    with pytest.raises(InvalidInput) as err:
        C.normalize_expect({}, {"check_os_expect_tz": "UTC"})
    assert err.value.field == "check_os_expect_tz"


FACTS_OK = {
    "hostname": "web-1",
    "timezone": "Asia/Tokyo",
    "locale": "ja_JP.UTF-8",
    "ntp_synchronized": True,
    "ntp_source": "169.254.169.123",
    "pending_updates": 0,
    "unknown": {},
}


def test_compliant_noncompliant_unknown_rules():
    assert C.evaluate(FACTS_OK, STANDARD)["status"] == "compliant"
    wrong = dict(FACTS_OK, timezone="UTC")
    result = C.evaluate(wrong, STANDARD)
    assert result["status"] == "noncompliant"
    tz = result["checks"][0]
    assert tz == {
        "name": "timezone",
        "expected": "Asia/Tokyo",
        "actual": "UTC",
        "status": "noncompliant",
        "reason": "timezone is UTC, expected Asia/Tokyo",
    }
    missing = dict(FACTS_OK, unknown={"locale": "CheckLocale was skipped"})
    del missing["locale"]
    result = C.evaluate(missing, STANDARD)
    assert result["status"] == "unknown"
    assert result["checks"][1]["reason"] == "CheckLocale was skipped"
    # noncompliant wins over unknown
    both = dict(missing, pending_updates=4)
    assert C.evaluate(both, STANDARD)["status"] == "noncompliant"


def test_alternatives_for_a_mixed_fleet():
    expect = C.normalize_expect(
        {"timezone": ["Asia/Tokyo", "Tokyo Standard Time"]}, {"check_os_expect_locale": "ja_JP.UTF-8, ja-JP"}
    )
    assert expect == {"timezone": ["Asia/Tokyo", "Tokyo Standard Time"], "locale": ["ja_JP.UTF-8", "ja-JP"]}
    windows = {"timezone": "Tokyo Standard Time", "locale": "ja-JP"}
    assert C.evaluate(windows, expect)["status"] == "compliant"
    check = C.evaluate({"timezone": "UTC", "locale": "ja-JP"}, expect)["checks"][0]
    assert (
        check["status"] == "noncompliant"
        and check["reason"] == "timezone is UTC, expected Asia/Tokyo or Tokyo Standard Time"
    )


def test_pending_updates_lower_bound_and_pattern():
    facts = {"pending_updates_at_least": 40, "unknown": {"pending_updates": "cut"}}
    assert C.evaluate(facts, {"max_pending_updates": 10})["checks"][0]["status"] == "noncompliant"
    assert C.evaluate(facts, {"max_pending_updates": 100})["checks"][0]["status"] == "unknown"
    assert C.evaluate({"hostname": "db-7"}, {"hostname_pattern": "^(ip-|web-|db-)"})["status"] == "compliant"
    assert C.evaluate({"hostname": "mail-1"}, {"hostname_pattern": "^(ip-|web-|db-)"})["status"] == "noncompliant"


# --- the reports ----------------------------------------------------------------------------------------------

TIMEDATECTL = "                Time zone: {tz} (JST, +0900)\nSystem clock synchronized: {sync}\n"


def instance(iid, tz, sync="yes", timezone_status="Success"):
    return {
        "instance_id": iid,
        "status": "Success",
        "execution_id": "e-" + iid,
        "start_time": "2025-01-01T12:00:00.123456+00:00",
        "end_time": "2025-01-01T12:00:05.987+00:00",
        "steps": [
            {
                "step_name": "CheckTimezone",
                "status": timezone_status,
                "outputs": {"TimezoneOutput": [TIMEDATECTL.format(tz=tz, sync=sync)]}
                if timezone_status == "Success"
                else {},
            },
            {"step_name": "CheckHostname", "status": "Success", "outputs": {"HostnameOutput": ["web-%s\n" % iid]}},
        ],
    }


def harvest():
    return {
        "execution": {"automation_execution_id": "x", "document_name": "check-os", "status": "Success"},
        "locations": [
            {
                "account": "111111111111",
                "region": "ap-northeast-1",
                "status": "Success",
                "read_status": "ok",
                "instances": [instance("i-1", "Asia/Tokyo"), instance("i-2", "UTC", sync="no")],
            },
            {
                "account": "222222222222",
                "region": "us-east-1",
                "status": "Success",
                "read_status": "ok",
                "instances": [instance("i-3", "", timezone_status="Pending")],
            },
        ],
    }


@pytest.fixture
def judged():
    return report.Source(data=harvest(), expect={"timezone": "Mars/Olympus", "ntp_synchronized": True})


def test_json_each_instance_has_facts_and_compliance(judged):
    data = json.loads(report.render(judged, "json"))
    by_id = {i["instance_id"]: i for loc in data["locations"] for i in loc["instances"]}
    assert by_id["i-1"]["facts"]["timezone"] == "Asia/Tokyo"
    assert by_id["i-1"]["compliance"]["status"] == "noncompliant"
    assert by_id["i-1"]["compliance"]["checks"][0]["actual"] == "Asia/Tokyo"
    assert by_id["i-2"]["compliance"]["checks"][1]["status"] == "noncompliant"  # not synchronised
    assert by_id["i-3"]["compliance"]["status"] == "unknown"  # CheckTimezone did not run
    comp = data["summary"]["compliance"]
    assert comp["instances"] == {"compliant": 0, "noncompliant": 2, "unknown": 1}
    assert comp["by_check"]["timezone"] == {"compliant": 0, "noncompliant": 2, "unknown": 1}
    assert comp["by_account"]["111111111111"]["noncompliant"] == 2
    assert data["summary"]["fact_values"]["timezone"] == {"Asia/Tokyo": 1, "UTC": 1, "unknown": 1}


def test_csv_markdown_html_junit_carry_the_actual_timezone(judged):
    rows = list(csv.DictReader(io.StringIO(report.render(judged, "csv"))))
    i1 = next(r for r in rows if r["instance_id"] == "i-1")
    assert (i1["compliance"], i1["timezone"], i1["timezone_status"]) == ("noncompliant", "Asia/Tokyo", "noncompliant")
    md = report.render(judged, "markdown")
    assert "| 111111111111 | ap-northeast-1 | i-1 |  | Success | 2025-01-01 12:00:05+00:00 |" in md
    assert "\u274c Asia/Tokyo" in md and "\u274c UTC" in md
    assert "| timezone | 0 | 2 | 1 |" in md  # per expectation: the same numbers as the JSON summary
    page = report.render(judged, "html")
    assert 'data-check="timezone" title="timezone is Asia/Tokyo, expected Mars/Olympus">Asia/Tokyo</td>' in page
    assert '<svg id="fleet-matrix"' in page and '<svg id="fleet-bars"' in page
    assert "2025-01-01 12:00:05+00:00" in page and "12:00:05.987" not in page.split('id="instances-checks"')[1][:3000]
    root = ET.fromstring(report.render(judged, "junit").encode())
    cases = [c for c in root.iter("testcase") if c.get("name", "").startswith("compliance.")]
    assert len(cases) == 3 * 2  # one per instance and expectation
    tz1 = next(c for c in cases if c.get("classname").endswith("i-1") and c.get("name") == "compliance.timezone")
    assert "Asia/Tokyo" in tz1.find("failure").get("message")
    tz3 = next(c for c in cases if c.get("classname").endswith("i-3") and c.get("name") == "compliance.timezone")
    assert tz3.find("skipped") is not None


def test_without_a_standard_facts_only():
    source = report.Source(data=harvest())
    data = json.loads(report.render(source, "json"))
    inst = data["locations"][0]["instances"][0]
    assert "facts" in inst and "compliance" not in inst
    assert "compliance" not in data["summary"]
    rows = list(csv.DictReader(io.StringIO(report.render(source, "csv"))))
    assert rows[0]["timezone"] == "Asia/Tokyo" and "compliance" not in rows[0]


def _md_counts(md, title):
    """The rows of a Markdown fleet table ("### Per account" ...): name -> [compliant, noncompliant, unknown]."""
    section = md.split("### %s\n\n" % title)[1].split("\n\n")[0]
    out = {}
    for line in section.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out[re.sub(r"\\(.)", r"\1", cells[0])] = [int(c) for c in cells[1:]]
    return out


def _md_values(md):
    section = md.split("### Values\n\n")[1].split("\n\n")[0]
    out = {}
    for line in section.splitlines()[2:]:
        fact, dist = [c.strip() for c in line.strip("|").split("|")]
        out[re.sub(r"\\(.)", r"\1", fact)] = {
            value: int(count) for value, count in (item.rsplit(" ", 1) for item in dist.split(", "))
        }
    return out


def _html_counts(page, table_id):
    table = page.split('<table id="%s">' % table_id)[1].split("</table>")[0]
    return {
        name: [int(c) for c in counts]
        for name, *counts in re.findall(r"<tr><td>([^<]*)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>", table)
    }


def test_fleet_csv_carries_the_numbers_of_markdown_and_html(judged):
    data = harvest()
    data["locations"][0].update(account_name="Prod", ou_path="Root/Workloads")
    data["locations"][1].update(account_name="Dev", ou_path="Root/Sandbox")
    source = report.Source(data=data, expect={"timezone": "Mars/Olympus", "ntp_synchronized": True})
    rows = list(csv.reader(io.StringIO(report.render(source, "csv_fleet"))))
    assert tuple(rows[0]) == report.FLEET_COLUMNS
    by_scope = {}
    for scope, name, value, *counts in rows[1:]:
        by_scope.setdefault(scope, {})[(name, value) if scope == "fact_value" else name] = counts
    md = report.render(source, "markdown")
    page = report.render(source, "html")
    counts = {
        scope: {k: [int(c) for c in v[:3]] for k, v in table.items()}
        for scope, table in by_scope.items()
        if scope != "fact_value"
    }
    for scope in ("fleet", "expectation", "account", "ou", "location"):
        for c, n, u, total in by_scope[scope].values():
            assert int(total) == int(c) + int(n) + int(u)
    assert counts["fleet"] == {"": [0, 2, 1]}
    assert "**0** compliant, **2** noncompliant, **1** unknown" in md
    assert (
        counts["expectation"]
        == _md_counts(md, "Per expectation")
        == {"timezone": [0, 2, 1], "ntp_synchronized": [1, 1, 1]}
    )
    assert counts["account"] == _md_counts(md, "Per account") == _html_counts(page, "compliance-by-account")
    assert counts["account"] == {"111111111111 Prod": [0, 2, 0], "222222222222 Dev": [0, 0, 1]}
    assert counts["ou"] == _md_counts(md, "Per OU") == _html_counts(page, "compliance-by-ou")
    assert counts["ou"] == {"Root/Workloads": [0, 2, 0], "Root/Sandbox": [0, 0, 1]}
    assert counts["location"] == _md_counts(md, "Per account and region")
    for got in counts["expectation"].values():  # the bars of the HTML fleet view
        assert ", ".join("%d %s" % (got[i], status) for i, status in enumerate(C.STATUSES)) in page
    values = {}
    for (fact, value), row in by_scope["fact_value"].items():
        assert row[:3] == ["", "", ""]
        values.setdefault(fact, {})[value] = int(row[3])
    assert values == _md_values(md)
    assert values["timezone"] == {"Asia/Tokyo": 1, "UTC": 1, "unknown": 1}
    html_values = page.split('<table id="fact-values">')[1].split("</table>")[0]
    assert "<tr><td>timezone</td><td>Asia/Tokyo 1, UTC 1, unknown 1</td></tr>" in html_values


def test_fleet_csv_without_a_standard_has_the_values_only():
    rows = list(csv.DictReader(io.StringIO(report.render(report.Source(data=harvest()), "csv_fleet"))))
    assert {r["scope"] for r in rows} == {"fact_value"}
    assert {r["value"]: r["instances"] for r in rows if r["name"] == "timezone"} == {
        "Asia/Tokyo": "1",
        "UTC": "1",
        "unknown": "1",
    }


def test_fleet_csv_cells_cannot_run_as_formulas():
    data = harvest()
    data["locations"][0]["account_name"] = "=HYPERLINK(1)"
    source = report.Source(data=data, expect={"timezone": "Mars/Olympus"})
    rows = list(csv.DictReader(io.StringIO(report.render(source, "csv_fleet"))))
    assert "111111111111 =HYPERLINK(1)" in {r["name"] for r in rows if r["scope"] == "account"}
    data["locations"][0]["instances"][0]["steps"][0]["outputs"]["TimezoneOutput"] = [
        TIMEDATECTL.format(tz="=cmd|x", sync="yes")
    ]
    rows = list(csv.DictReader(io.StringIO(report.render(report.Source(data=data), "csv_fleet"))))
    assert all(not r["value"].startswith("=") for r in rows)
