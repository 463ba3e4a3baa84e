# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Markdown: the summary, then a table of instances and steps; every cell escaped."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import html

from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.model import (
    XML_INVALID_RE,
    counts_text,
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
    if s["step_failures"]:
        out.write("### Step failures\n\n| Step | Failures |\n|---|---|\n")
        for step in sorted(s["step_failures"]):
            out.write("| %s | %s |\n" % (_md(step), _md(counts_text(s["step_failures"][step]))))
        out.write("\n")
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
