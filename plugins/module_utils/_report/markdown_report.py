# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Markdown: the summary, then a table of instances and steps; every cell escaped."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import html

from ansible_collections.orgops.ssm_automation.plugins.module_utils import compliance
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report import changes
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.fleet import columns, instance_rows
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.model import (
    GAPS_INTRO,
    XML_INVALID_RE,
    counts_text,
    error_text,
    gap_rows,
    location_notes,
    notes_text,
    rows,
    title_of,
)


def _md(value, limit=None):
    text = "" if value is None else str(value)
    if limit and len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    text = html.escape(XML_INVALID_RE.sub("", text).replace("\x7f", ""), quote=False)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_")
    return text.replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>")


def render_markdown(source, out, title=None):
    s = source.summary()
    ex = source.execution
    out.write("# %s\n\n" % _md(title_of(source, title)))
    out.write("## Summary\n\n")
    out.write("| | |\n|---|---|\n")
    out.write("| Execution | %s |\n" % _md(ex.get("automation_execution_id")))
    out.write("| Runbook | %s (version %s) |\n" % (_md(ex.get("document_name")), _md(ex.get("document_version"))))
    out.write("| Status | %s |\n" % _md(ex.get("status")))
    out.write("| Locations | %d (%s) |\n" % (s["locations"], _md(counts_text(s["locations_by_status"]))))
    out.write("| Unreadable locations | %d |\n" % s["unreadable_locations"])
    out.write("| Instances | %d (%s) |\n" % (s["instances"], _md(counts_text(s["instances_by_status"]))))
    out.write("| Failures | %d |\n\n" % s["failures_total"])
    gaps = gap_rows(source)
    if gaps:
        out.write("## Not resolved / not interpreted\n\n")
        out.write(GAPS_INTRO + "\n\n")
        out.write("| What | Name | Status | Detail |\n|---|---|---|---|\n")
        for gap in gaps:
            out.write(
                "| %s | %s | %s | %s |\n"
                % (_md(gap["kind"]), _md(gap["name"]), _md(gap["status"]), _md(gap["detail"], limit=500))
            )
        out.write("\n")
    if s["step_failures"]:
        out.write("### Step failures\n\n| Step | Failures |\n|---|---|\n")
        for step in sorted(s["step_failures"]):
            out.write("| %s | %s |\n" % (_md(step), _md(counts_text(s["step_failures"][step]))))
        out.write("\n")
    _fleet(source, out)
    if source.changes is not None:
        heading, items = changes.lines(source.changes)
        out.write("## %s\n\n" % _md(heading))
        out.write(items[0] and "%s\n\n" % _md(items[0]))
        out.write("".join("- %s\n" % _md(item) for item in items[1:]) + ("\n" if items[1:] else ""))
    _instances(source, out)
    _locations(source, out)
    out.write("## Results\n\n")
    out.write("| Account | Region | Instance | Instance status | Step | Step status | Outputs / failure |\n")
    out.write("|---|---|---|---|---|---|---|\n")
    for row in rows(source):
        if row.get("instance_id"):
            detail = row.get("failure_message") or row.get("read_error") or row.get("outputs") or ""
        else:
            detail = row.get("location_failure") or row.get("read_error") or ""
        out.write(
            "| %s | %s | %s | %s | %s | %s | %s |\n"
            % (
                _md(row.get("account")),
                _md(row.get("region")),
                _md(row.get("instance_id")),
                _md(row.get("instance_status") or row.get("location_status")),
                _md(row.get("step_name")),
                _md(row.get("step_status")),
                _md(detail, limit=300),
            )
        )


MARKS = {"compliant": "\u2705 ", "noncompliant": "\u274c ", "unknown": "\u2754 ", "none": ""}


def _count_rows(out, title, table):
    if not table:
        return
    out.write("### %s\n\n| | %s |\n|---|%s\n" % (_md(title), " | ".join(compliance.STATUSES), "---|" * 3))
    for key in sorted(table):
        out.write("| %s | %s |\n" % (_md(key), " | ".join(str(table[key].get(s, 0)) for s in compliance.STATUSES)))
    out.write("\n")


def _fleet(source, out):
    s = source.summary()
    comp = s.get("compliance")
    out.write("## Fleet\n\n")
    if comp:
        counts = comp["instances"]
        out.write(
            "Standard: %s\n\n"
            % _md(", ".join("%s = %s" % (k, compliance.display(v)) for k, v in comp["expect"].items()))
        )
        out.write(
            "**%d** compliant, **%d** noncompliant, **%d** unknown\n\n"
            % (counts["compliant"], counts["noncompliant"], counts["unknown"])
        )
        _count_rows(out, "Per expectation", comp.get("by_check"))
        _count_rows(out, "Per account", comp.get("by_account"))
        _count_rows(out, "Per OU", comp.get("by_ou"))
        _count_rows(out, "Per account and region", comp.get("by_location"))
        if comp.get("noncompliant"):
            out.write("### Noncompliant instances\n\n")
            for item in comp["noncompliant"]:
                out.write(
                    "- %s %s %s %s: %s\n"
                    % (
                        _md(item["account"]),
                        _md(item["region"]),
                        _md(item["instance_id"]),
                        _md(item.get("name") or ""),
                        _md("; ".join(item["deviations"])),
                    )
                )
            out.write("\n")
    values = s.get("fact_values") or {}
    if values:
        out.write("### Values\n\n| Fact | Values (instances) |\n|---|---|\n")
        for name in sorted(values):
            dist = sorted(values[name].items(), key=lambda p: (-p[1], p[0]))
            out.write("| %s | %s |\n" % (_md(name), _md(", ".join("%s %d" % p for p in dist))))
        out.write("\n")


def _instances(source, out):
    expect = source.expect
    cols = columns(expect)
    head = ["Account", "Region", "Instance", "Name", "Status", "End"] + (["Compliance"] if expect else [])
    head += [name for name, _fact in cols]
    out.write("## Instances\n\n| %s |\n|%s\n" % (" | ".join(_md(h) for h in head), "---|" * len(head)))
    for row in instance_rows(source, expect):
        values = [_md(row[k]) for k in ("account", "region", "instance_id", "name", "status", "end_time")]
        if expect:
            values.append(MARKS.get(row["compliance"], "") + _md(row["compliance"]))
        values += [MARKS.get(c["status"], "") + _md(c["value"] or "?", limit=80) for c in row["cells"]]
        out.write("| %s |\n" % " | ".join(values))
    out.write("\n")


def _locations(source, out):
    """One row per account and region: its status, member execution and what the record says of it (the reason of
    a NoTargets / NeverStarted / NotReported location, how the member execution was found, the candidates of an
    ambiguous one)."""
    out.write("## Locations\n\n| Account | Region | Status | Member execution | Notes |\n|---|---|---|---|---|\n")
    for loc in source.locations():
        notes = notes_text(location_notes(loc))
        if not notes and loc.get("read_status") == "failed":
            notes = "not read: %s" % error_text(loc.get("read_error"))
        out.write(
            "| %s | %s | %s | %s | %s |\n"
            % (
                _md(loc.get("account")),
                _md(loc.get("region")),
                _md(loc.get("status")),
                _md(loc.get("member_execution_id")),
                _md(notes, limit=500),
            )
        )
    out.write("\n")
