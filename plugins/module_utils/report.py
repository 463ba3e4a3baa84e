# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reports of a harvested execution tree: JSON Lines (streaming), JSON, CSV, Markdown, HTML and JUnit XML.

Input is either ``automation_execution_info``'s result (``{"execution", "locations", "summary"}``) or the
JSON Lines file it streams with ``dest`` (one ``execution`` line, one ``location`` line per account-region,
one ``summary`` line). Every writer streams over the locations, so that a huge organization is never held
in memory, and is deterministic (same input, same bytes) so that writing a report twice changes nothing.

Escaping: HTML through ``html.escape`` everywhere; CSV cells that a spreadsheet would run as a formula
(starting with ``= + - @``, tab or carriage return) are prefixed with ``'``; XML through ElementTree, with
the characters XML 1.0 forbids removed first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import hashlib
import html
import io
import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET

from ansible_collections.orgops.ssm_automation.plugins.module_utils.automation import SUCCESS_STATUSES, is_terminal
from ansible_collections.orgops.ssm_automation.plugins.module_utils.tree import Summary
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

FORMATS = ("json", "csv", "markdown", "html", "junit")
EXTENSIONS = {"json": ".json", "csv": ".csv", "markdown": ".md", "html": ".html", "junit": ".xml"}
CSV_COLUMNS = (
    "account",
    "region",
    "location_status",
    "location_failure",
    "member_execution_id",
    "instance_id",
    "instance_status",
    "execution_id",
    "instance_start_time",
    "instance_end_time",
    "step_name",
    "action",
    "step_status",
    "step_start_time",
    "step_end_time",
    "outputs",
    "failure_message",
    "stdout",
    "stderr",
    "read_error",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# XML 1.0: Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
XML_INVALID_RE = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
FAILED_STATUSES = frozenset(
    ["Failed", "TimedOut", "Cancelled", "Rejected", "CompletedWithFailure", "Exited", "ReadFailed"]
)
STATUS_COLOURS = {
    "Success": "#1e7e34",
    "CompletedWithSuccess": "#1e7e34",
    "Failed": "#c82333",
    "CompletedWithFailure": "#c82333",
    "TimedOut": "#d35400",
    "Cancelled": "#6c757d",
    "Cancelling": "#6c757d",
    "Pending": "#5a6268",
    "InProgress": "#0069d9",
    "Waiting": "#0069d9",
    "ReadFailed": "#6f42c1",
}


# ---------------------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------------------


class JsonLinesWriter:
    """Streams a harvest to JSON Lines: ``execution`` first, a ``location`` line as each completes, ``summary`` last."""

    def __init__(self, path):
        self.path = path
        self.handle = None
        self.lines = 0

    def open(self):
        directory = os.path.dirname(os.path.abspath(self.path))
        check_writable_dir(directory, "dest")
        if not os.path.isdir(directory):
            os.makedirs(directory)
        self.handle = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 pylint: disable=consider-using-with
        return self

    def _write(self, kind, data):
        item = {"type": kind}
        item.update(data)
        self.handle.write(json.dumps(item, sort_keys=True, default=str) + "\n")
        self.handle.flush()
        self.lines += 1

    def header(self, execution):
        self._write("execution", execution)

    def location(self, record):
        self._write("location", record)

    def summary(self, summary):
        self._write("summary", summary)

    def close(self):
        if self.handle:
            self.handle.close()
            self.handle = None


class Source:
    """A harvest to report on, from a result dict or a JSON Lines / JSON file; locations are re-iterable."""

    def __init__(self, data=None, path=None):
        if (data is None) == (path is None):
            raise InvalidInput(
                "src",
                "give exactly one of src (a JSON Lines or JSON file) and result (a registered automation_execution_info result)",
            )
        self.data = data
        self.path = path
        self.execution = {}
        self._summary = None
        self._offsets = None
        if data is not None:
            if not isinstance(data, dict) or not isinstance(data.get("locations"), list):
                raise InvalidInput(
                    "result",
                    "is not an automation_execution_info result with locations (register the info module without dest, "
                    "or report from its dest file with src)",
                )
            self.execution = data.get("execution") or {}
        else:
            self._scan()

    def _scan(self):
        if not os.path.isfile(self.path):
            raise InvalidInput("src", "%s is not a file" % self.path)
        with open(self.path, encoding="utf-8") as handle:
            first = handle.read(1)
        if first == "{" and self._is_json_document():
            with open(self.path, encoding="utf-8") as handle:
                self.data = json.load(handle)
            if not isinstance(self.data.get("locations"), list):
                raise InvalidInput("src", "%s is JSON without a locations list" % self.path)
            self.execution = self.data.get("execution") or {}
            self.path = None
            return
        for item in self._lines():
            if item.get("type") == "execution":
                self.execution = {k: v for k, v in item.items() if k != "type"}
                break

    def _is_json_document(self):
        with open(self.path, encoding="utf-8") as handle:
            line = handle.readline()
            rest = handle.readline()
        try:
            item = json.loads(line)
        except ValueError:
            return True  # a pretty-printed JSON document spans lines
        return not (isinstance(item, dict) and "type" in item) and not rest

    def _lines(self, with_offsets=False):
        with open(self.path, "rb") as handle:
            number = 0
            while True:
                offset = handle.tell()
                raw = handle.readline()
                if not raw:
                    return
                number += 1
                line = raw.strip()
                if not line:
                    continue
                try:
                    item = json.loads(line.decode("utf-8"))
                except ValueError:
                    raise InvalidInput("src", "%s line %d is not JSON" % (self.path, number)) from None
                yield (offset, item) if with_offsets else item

    def _index(self):
        """Byte offsets of the location lines, sorted by account and region (they arrive in completion order)."""
        if self._offsets is None:
            keyed = []
            for offset, item in self._lines(with_offsets=True):
                if item.get("type") == "location":
                    keyed.append((str(item.get("account")), str(item.get("region")), offset))
            keyed.sort()
            self._offsets = [k[2] for k in keyed]
        return self._offsets

    def locations(self):
        """Every location record, sorted by account and region; a JSON Lines file is read one line at a time."""
        if self.data is not None:
            yield from self.data.get("locations") or []
            return
        with open(self.path, "rb") as handle:
            for offset in self._index():
                handle.seek(offset)
                record = json.loads(handle.readline().decode("utf-8"))
                record.pop("type", None)
                yield record

    def summary(self):
        """Always recomputed from the locations, so that every format reports the same numbers."""
        if self._summary is None:
            summary = Summary(max_failures=100000)
            for record in self.locations():
                summary.add(record)
            self._summary = summary.as_dict()
            for bookkeeping in ("api_calls", "retries", "credential_renewals"):
                self._summary.pop(bookkeeping, None)
        return self._summary


# ---------------------------------------------------------------------------------------------------------
# Rows: one per instance x step (a location without instances, or an instance without steps, still gets one)
# ---------------------------------------------------------------------------------------------------------


def outputs_text(outputs):
    parts = []
    for name in sorted(outputs or {}):
        values = outputs[name]
        if isinstance(values, list):
            values = "\n".join(str(v) for v in values)
        parts.append("%s=%s" % (name, values))
    return "\n".join(parts)


def _error_text(error):
    if not error:
        return ""
    return "%s: %s" % (error.get("code"), error.get("message"))


def rows(source):
    for loc in source.locations():
        base = {
            "account": loc.get("account"),
            "region": loc.get("region"),
            "location_status": loc.get("status"),
            "location_failure": loc.get("failure_message") or "",
            "member_execution_id": loc.get("member_execution_id") or "",
            "read_error": _error_text(loc.get("read_error")) if loc.get("read_status") in ("failed", "skipped") else "",
        }
        instances = loc.get("instances") or []
        if not instances:
            yield dict(base)
            continue
        for inst in instances:
            irow = dict(base)
            irow.update(
                {
                    "instance_id": inst.get("instance_id") or "",
                    "instance_status": inst.get("status") or "",
                    "execution_id": inst.get("execution_id") or "",
                    "instance_start_time": inst.get("start_time") or "",
                    "instance_end_time": inst.get("end_time") or "",
                    "read_error": _error_text(inst.get("read_error")) or irow["read_error"],
                }
            )
            steps = inst.get("steps") or []
            if not steps:
                irow["failure_message"] = inst.get("failure_message") or ""
                yield irow
                continue
            for step in steps:
                row = dict(irow)
                row.update(
                    {
                        "step_name": step.get("step_name") or "",
                        "action": step.get("action") or "",
                        "step_status": step.get("status") or "",
                        "step_start_time": step.get("start_time") or "",
                        "step_end_time": step.get("end_time") or "",
                        "outputs": outputs_text(step.get("outputs")),
                        "failure_message": step.get("failure_message") or "",
                        "stdout": step.get("stdout") or "",
                        "stderr": step.get("stderr") or "",
                    }
                )
                if step.get("output_error"):
                    row["read_error"] = _error_text(step["output_error"])
                yield row


# ---------------------------------------------------------------------------------------------------------
# Writers (each returns text; write_reports handles files)
# ---------------------------------------------------------------------------------------------------------


def csv_cell(value):
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def render_csv(source, out):
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows(source):
        writer.writerow([csv_cell(row.get(c)) for c in CSV_COLUMNS])


def render_json(source, out):
    out.write('{"execution": ')
    out.write(json.dumps(source.execution, sort_keys=True, indent=None, default=str))
    out.write(', "locations": [')
    first = True
    for record in source.locations():
        out.write("\n  " if first else ",\n  ")
        out.write(json.dumps(record, sort_keys=True, default=str))
        first = False
    out.write('\n], "summary": ')
    out.write(json.dumps(source.summary(), sort_keys=True, default=str))
    out.write("}\n")


def _md(value, limit=None):
    text = "" if value is None else str(value)
    if limit and len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    text = html.escape(XML_INVALID_RE.sub("", text).replace("\x7f", ""), quote=False)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_")
    return text.replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>")


def _title(source, title):
    if title:
        return title
    return "SSM Automation %s (%s)" % (
        source.execution.get("automation_execution_id") or "",
        source.execution.get("document_name") or "runbook",
    )


def render_markdown(source, out, title=None):
    s = source.summary()
    ex = source.execution
    out.write("# %s\n\n" % _md(_title(source, title)))
    out.write("## Summary\n\n")
    out.write("| | |\n|---|---|\n")
    out.write("| Execution | %s |\n" % _md(ex.get("automation_execution_id")))
    out.write("| Runbook | %s (version %s) |\n" % (_md(ex.get("document_name")), _md(ex.get("document_version"))))
    out.write("| Status | %s |\n" % _md(ex.get("status")))
    out.write("| Locations | %d (%s) |\n" % (s["locations"], _md(_counts(s["locations_by_status"]))))
    out.write("| Unreadable locations | %d |\n" % s["unreadable_locations"])
    out.write("| Instances | %d (%s) |\n" % (s["instances"], _md(_counts(s["instances_by_status"]))))
    out.write("| Failures | %d |\n\n" % s["failures_total"])
    if s["step_failures"]:
        out.write("### Step failures\n\n| Step | Failures |\n|---|---|\n")
        for step in sorted(s["step_failures"]):
            out.write("| %s | %s |\n" % (_md(step), _md(_counts(s["step_failures"][step]))))
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


def _counts(by_status):
    return ", ".join("%d %s" % (n, s) for s, n in sorted(by_status.items(), key=lambda p: (-p[1], p[0]))) or "none"


def _h(value):
    return html.escape("" if value is None else str(value), quote=True)


def _status_class(status):
    return "st-" + re.sub(r"[^A-Za-z]", "", status or "Unknown")


HTML_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#212529;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.6em 0 .4em}
.meta{color:#555;font-size:.9em;margin-bottom:1em}
.bar{display:flex;height:22px;border-radius:4px;overflow:hidden;margin:.5em 0 .3em;background:#e9ecef}
.bar span{display:block;height:100%}
.legend span{margin-right:1.2em;font-size:.9em}
.filters{margin:1em 0;padding:.5em;background:#f8f9fa;border:1px solid #dee2e6;border-radius:4px}
.filters label{margin-right:1em;cursor:pointer}
table{border-collapse:collapse;width:100%;margin-bottom:.5em;font-size:.9em}
th,td{border:1px solid #dee2e6;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1f3f5}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;color:#fff;font-size:.85em;background:#6c757d}
pre{white-space:pre-wrap;word-break:break-word;margin:.2em 0;font-size:.85em;background:#f8f9fa;padding:4px}
details summary{cursor:pointer}
.locfail{color:#c82333}
.hidden{display:none}
"""

HTML_SCRIPT = """
(function(){
  var boxes=document.querySelectorAll('input.status-filter');
  function apply(){
    var on={};
    for(var i=0;i<boxes.length;i++){on[boxes[i].value]=boxes[i].checked;}
    var rows=document.querySelectorAll('tr.instance');
    var shown=0;
    for(var j=0;j<rows.length;j++){
      var s=rows[j].getAttribute('data-status');
      if(on[s]===false){rows[j].classList.add('hidden');}else{rows[j].classList.remove('hidden');shown++;}
    }
    var counter=document.getElementById('shown');
    if(counter){counter.textContent=String(shown);}
  }
  // A link can preselect statuses: report.html#status=Failed,TimedOut
  var m=/status=([A-Za-z,]+)/.exec(window.location.hash||'');
  if(m){
    var wanted=m[1].split(',');
    for(var i=0;i<boxes.length;i++){boxes[i].checked=wanted.indexOf(boxes[i].value)>=0;}
  }
  for(var k=0;k<boxes.length;k++){boxes[k].addEventListener('change',apply);}
  apply();
})();
"""


def _badge(status):
    colour = STATUS_COLOURS.get(status or "", "#6c757d")
    return '<span class="badge %s" style="background:%s">%s</span>' % (
        _status_class(status),
        colour,
        _h(status or "Unknown"),
    )


def render_html(source, out, title=None):
    s = source.summary()
    ex = source.execution
    page_title = _title(source, title)
    out.write('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
    out.write('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
    out.write("<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n" % (_h(page_title), HTML_STYLE))
    out.write("<h1>%s</h1>\n" % _h(page_title))
    out.write(
        '<div class="meta">Execution <code>%s</code> &middot; runbook %s version %s &middot; status %s &middot; %s &ndash; %s</div>\n'
        % (
            _h(ex.get("automation_execution_id")),
            _h(ex.get("document_name")),
            _h(ex.get("document_version")),
            _badge(ex.get("status")),
            _h(ex.get("start_time")),
            _h(ex.get("end_time")),
        )
    )
    total = max(1, s["instances"])
    out.write('<div class="bar" id="summary-bar">')
    for status, count in sorted(s["instances_by_status"].items(), key=lambda p: (-p[1], p[0])):
        out.write(
            '<span class="%s" style="width:%.3f%%;background:%s" title="%s"></span>'
            % (
                _status_class(status),
                100.0 * count / total,
                STATUS_COLOURS.get(status, "#6c757d"),
                _h("%d %s" % (count, status)),
            )
        )
    out.write("</div>\n")
    out.write('<div class="legend" id="summary">')
    out.write("<span><b>%d</b> instances</span>" % s["instances"])
    for status, count in sorted(s["instances_by_status"].items(), key=lambda p: (-p[1], p[0])):
        out.write("<span>%s %d</span>" % (_badge(status), count))
    out.write("<span><b>%d</b> locations (%s)</span>" % (s["locations"], _h(_counts(s["locations_by_status"]))))
    if s["unreadable_locations"]:
        out.write('<span class="locfail"><b>%d</b> unreadable locations</span>' % s["unreadable_locations"])
    out.write("</div>\n")
    statuses = sorted(s["instances_by_status"])
    out.write('<div class="filters">Show: ')
    for status in statuses:
        out.write(
            '<label><input type="checkbox" class="status-filter" value="%s" checked> %s</label>'
            % (_h(status), _badge(status))
        )
    out.write(' &middot; <span id="shown">-</span> of %d shown</div>\n' % s["instances"])
    if s["step_failures"]:
        out.write('<h2>Step failures</h2>\n<table id="step-failures"><tr><th>Step</th><th>Failures</th></tr>\n')
        for step in sorted(s["step_failures"]):
            out.write("<tr><td>%s</td><td>%s</td></tr>\n" % (_h(step), _h(_counts(s["step_failures"][step]))))
        out.write("</table>\n")
    for loc in source.locations():
        anchor = "loc-%s-%s" % (loc.get("account"), loc.get("region"))
        out.write(
            '<h2 id="%s">Account %s &middot; %s %s</h2>\n'
            % (_h(anchor), _h(loc.get("account")), _h(loc.get("region")), _badge(loc.get("status")))
        )
        if loc.get("member_execution_id"):
            out.write('<div class="meta">Member execution <code>%s</code></div>\n' % _h(loc.get("member_execution_id")))
        if loc.get("failure_message"):
            out.write('<div class="locfail">%s</div>\n' % _h(loc.get("failure_message")))
        if loc.get("read_error") and loc.get("read_status") in ("failed", "skipped"):
            out.write('<div class="locfail read-error">Not read: %s</div>\n' % _h(_error_text(loc.get("read_error"))))
        instances = loc.get("instances") or []
        if not instances:
            if loc.get("read_status") == "ok":
                out.write('<div class="meta">No targeted instance in this account and region.</div>\n')
            continue
        out.write(
            '<table class="location"><tr><th>Instance</th><th>Status</th><th>Start</th><th>End</th><th>Failed step</th><th>Steps and outputs</th></tr>\n'
        )
        for inst in instances:
            steps = inst.get("steps") or []
            failed = next((st for st in steps if st.get("status") in FAILED_STATUSES), None)
            out.write(
                '<tr class="instance %s" data-status="%s">'
                % (_status_class(inst.get("status")), _h(inst.get("status") or "Unknown"))
            )
            out.write("<td><code>%s</code></td><td>%s</td>" % (_h(inst.get("instance_id")), _badge(inst.get("status"))))
            out.write("<td>%s</td><td>%s</td>" % (_h(inst.get("start_time")), _h(inst.get("end_time"))))
            out.write("<td>%s</td><td>" % (_h(failed.get("step_name")) if failed else ""))
            if inst.get("failure_message"):
                out.write('<div class="locfail">%s</div>' % _h(inst.get("failure_message")))
            if inst.get("read_error"):
                out.write(
                    '<div class="locfail read-error">Not read: %s</div>' % _h(_error_text(inst.get("read_error")))
                )
            if steps:
                out.write("<details><summary>%d steps</summary><table>" % len(steps))
                out.write("<tr><th>Step</th><th>Status</th><th>Outputs</th></tr>")
                for st in steps:
                    out.write("<tr><td>%s</td><td>%s</td><td>" % (_h(st.get("step_name")), _badge(st.get("status"))))
                    text = outputs_text(st.get("outputs"))
                    if text:
                        out.write("<pre>%s</pre>" % _h(text))
                    if st.get("stdout"):
                        out.write("<pre>stdout:\n%s</pre>" % _h(st.get("stdout")))
                    if st.get("stderr"):
                        out.write("<pre>stderr:\n%s</pre>" % _h(st.get("stderr")))
                    if st.get("failure_message"):
                        out.write('<div class="locfail">%s</div>' % _h(st.get("failure_message")))
                    out.write("</td></tr>")
                out.write("</table></details>")
            out.write("</td></tr>\n")
        out.write("</table>\n")
    out.write("<script>%s</script>\n</body>\n</html>\n" % HTML_SCRIPT)


def xml_text(value):
    return XML_INVALID_RE.sub("", "" if value is None else str(value))


def _seconds(start, end):
    import datetime

    try:
        a = datetime.datetime.fromisoformat(start)
        b = datetime.datetime.fromisoformat(end)
        return "%.3f" % max(0.0, (b - a).total_seconds())
    except (TypeError, ValueError):
        return "0"


def render_junit(source, out, title=None):
    s = source.summary()
    root = ET.Element("testsuites", {"name": xml_text(_title(source, title))})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for loc in source.locations():
        suite = ET.SubElement(root, "testsuite", {"name": xml_text("%s/%s" % (loc.get("account"), loc.get("region")))})
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        props = ET.SubElement(suite, "properties")
        for key in ("account", "region", "status", "member_execution_id"):
            ET.SubElement(props, "property", {"name": key, "value": xml_text(loc.get(key) or "")})
        classbase = "%s.%s" % (loc.get("account"), loc.get("region"))
        instances = loc.get("instances") or []

        if loc.get("read_status") == "failed" or (
            not instances
            and loc.get("read_error")
            and loc.get("read_status") == "skipped"
            and is_terminal(loc.get("status"))
        ):
            tc = _case(suite, counts, classbase, "location")
            err = loc.get("read_error") or {}
            message = loc.get("failure_message") or _error_text(err)
            tag = "error" if loc.get("read_status") == "failed" else "failure"
            counts["errors" if tag == "error" else "failures"] += 1
            el = ET.SubElement(
                tc, tag, {"message": xml_text(message), "type": xml_text(err.get("code") or loc.get("status") or "")}
            )
            el.text = xml_text(_error_text(err) or message)
        elif not instances and loc.get("status") not in SUCCESS_STATUSES:
            tc = _case(suite, counts, classbase, "location")
            never_started = (loc.get("read_error") or {}).get("code") == "NeverStarted"
            if is_terminal(loc.get("status")) or never_started:
                # Failed before starting anything, or never started by an automation that is over: its targets
                # were not run, which is a failure, not a skip.
                message = loc.get("failure_message") or _error_text(loc.get("read_error")) or loc.get("status")
                counts["failures"] += 1
                el = ET.SubElement(
                    tc,
                    "failure",
                    {"message": xml_text(message), "type": xml_text(loc.get("status") or "NeverStarted")},
                )
                el.text = xml_text(message)
            else:
                counts["skipped"] += 1
                ET.SubElement(tc, "skipped", {"message": xml_text("location %s" % loc.get("status"))})
        for inst in instances:
            classname = "%s.%s" % (classbase, inst.get("instance_id") or inst.get("execution_id"))
            steps = inst.get("steps") or []
            if inst.get("read_error"):
                tc = _case(suite, counts, classname, "read")
                counts["errors"] += 1
                err = inst["read_error"]
                el = ET.SubElement(
                    tc, "error", {"message": xml_text(_error_text(err)), "type": xml_text(err.get("code"))}
                )
                el.text = xml_text(_error_text(err))
                continue
            if not steps:
                tc = _case(
                    suite, counts, classname, "execution", _seconds(inst.get("start_time"), inst.get("end_time"))
                )
                _junit_status(tc, inst.get("status"), inst.get("failure_message"), counts)
                continue
            for st in steps:
                tc = _case(
                    suite,
                    counts,
                    classname,
                    st.get("step_name") or "?",
                    _seconds(st.get("start_time"), st.get("end_time")),
                )
                _junit_status(tc, st.get("status"), st.get("failure_message"), counts)
                text = outputs_text(st.get("outputs"))
                if st.get("stdout"):
                    text += ("\n" if text else "") + st.get("stdout")
                if text:
                    ET.SubElement(tc, "system-out").text = xml_text(text)
                if st.get("stderr"):
                    ET.SubElement(tc, "system-err").text = xml_text(st.get("stderr"))
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("instances", str(s["instances"]))
    _indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode"))
    out.write("\n")


def _case(suite, counts, classname, name, time_s="0"):
    counts["tests"] += 1
    return ET.SubElement(suite, "testcase", {"classname": xml_text(classname), "name": xml_text(name), "time": time_s})


def _junit_status(tc, status, message, counts):
    if status in SUCCESS_STATUSES:
        return
    if status in FAILED_STATUSES:
        counts["failures"] += 1
        el = ET.SubElement(tc, "failure", {"message": xml_text(message or status), "type": xml_text(status)})
        el.text = xml_text(message or status)
        return
    counts["skipped"] += 1
    reason = "not reached" if status == "Pending" else "status %s" % status
    ET.SubElement(tc, "skipped", {"message": xml_text(reason)})


def _indent(elem, level=0):
    pad = "\n" + "  " * level
    if len(elem):
        if not elem.text or not elem.text.strip():
            elem.text = pad + "  "
        for child in elem:
            _indent(child, level + 1)
        if not child.tail or not child.tail.strip():  # pylint: disable=undefined-loop-variable
            child.tail = pad  # pylint: disable=undefined-loop-variable
    if level and (not elem.tail or not elem.tail.strip()):
        elem.tail = pad


RENDERERS = {
    "json": lambda src, out, title: render_json(src, out),
    "csv": lambda src, out, title: render_csv(src, out),
    "markdown": render_markdown,
    "html": render_html,
    "junit": render_junit,
}


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------


def check_writable_dir(directory, field="dest"):
    """Fail clearly, before any work, when ``directory`` cannot be created or written."""
    probe = directory
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InvalidInput(field, "%s exists and is not a directory" % directory)
    problem = None
    if not os.path.isdir(probe):
        problem = "%s is not a directory" % probe
    else:
        # os.access() says yes to root even on /proc or a read-only mount: create (and remove) a probe file instead.
        try:
            fd, tmp = tempfile.mkstemp(prefix=".orgops-write-test-", dir=probe)
            os.close(fd)
            os.unlink(tmp)
        except (IOError, OSError) as e:
            problem = "%s: %s" % (probe, e.strerror or e)
    if problem:
        raise InvalidInput(
            field, "%s is not writable (%s); give a directory this user can write" % (directory, problem)
        )
    return directory


def check_writable_file(path, field="dest"):
    directory = os.path.dirname(os.path.abspath(path))
    check_writable_dir(directory, field)
    if os.path.exists(path) and (os.path.isdir(path) or not os.access(path, os.W_OK)):
        raise InvalidInput(field, "%s is not a writable file" % path)
    return path


def plan_files(dest, basename, formats):
    if not basename or "/" in basename or basename in (".", ".."):
        raise InvalidInput("basename", "%r is not a file name (no slashes)" % basename)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InvalidInput("formats", "%s not supported; choose from %s" % (", ".join(unknown), ", ".join(FORMATS)))
    check_writable_dir(dest)
    files = {}
    for fmt in formats:
        path = os.path.join(dest, basename + EXTENSIONS[fmt])
        check_writable_file(path)
        files[fmt] = path
    return files


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(65536), b""):
            h.update(chunk)
    return h.hexdigest()


def render(source, fmt, title=None):
    """One format as a string (for tests and small results)."""
    out = io.StringIO()
    RENDERERS[fmt](source, out, title)
    return out.getvalue()


def write_reports(source, dest, formats=FORMATS, basename="automation-report", title=None, check_mode=False):
    """Write each format to ``dest/basename.<ext>``; a file whose content would not change is left alone.

    Returns ``{"files": {fmt: path}, "changed": [fmt...], "unchanged": [fmt...], "before": {path: sha256 or None},
    "after": {path: sha256}}``.
    """
    files = plan_files(dest, basename, list(formats))
    if not check_mode and not os.path.isdir(dest):
        os.makedirs(dest)
    changed = []
    unchanged = []
    before = {}
    after = {}
    for fmt, path in files.items():
        directory = dest if os.path.isdir(dest) else None
        fd, tmp = tempfile.mkstemp(prefix=".%s." % basename, suffix=EXTENSIONS[fmt], dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                RENDERERS[fmt](source, out, title)
            before[path] = _digest(path) if os.path.exists(path) else None
            after[path] = _digest(tmp)
            if before[path] == after[path]:
                unchanged.append(fmt)
                continue
            changed.append(fmt)
            if not check_mode:
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return {"files": files, "changed": changed, "unchanged": unchanged, "before": before, "after": after}
