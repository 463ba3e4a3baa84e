# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTML: a self-contained page (no external asset), everything escaped through html.escape."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import html
import re

from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.fleet import seconds
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.html_fleet import STYLE as FLEET_STYLE
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.html_fleet import (
    render_changes,
    render_fleet,
    render_instances,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.model import (
    FAILED_STATUSES,
    GAPS_INTRO,
    STATUS_COLOURS,
    counts_text,
    error_text,
    gap_rows,
    location_notes,
    outputs_text,
    title_of,
)


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
    page_title = title_of(source, title)
    out.write('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
    out.write('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
    out.write("<title>%s</title>\n<style>%s%s</style>\n</head>\n<body>\n" % (_h(page_title), HTML_STYLE, FLEET_STYLE))
    out.write("<h1>%s</h1>\n" % _h(page_title))
    out.write(
        '<div class="meta">Execution <code>%s</code> &middot; runbook %s version %s &middot; status %s &middot; %s &ndash; %s</div>\n'
        % (
            _h(ex.get("automation_execution_id")),
            _h(ex.get("document_name")),
            _h(ex.get("document_version")),
            _badge(ex.get("status")),
            _h(seconds(ex.get("start_time"))),
            _h(seconds(ex.get("end_time"))),
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
    out.write("<span><b>%d</b> locations (%s)</span>" % (s["locations"], _h(counts_text(s["locations_by_status"]))))
    if s["unreadable_locations"]:
        out.write('<span class="locfail"><b>%d</b> unreadable locations</span>' % s["unreadable_locations"])
    out.write("</div>\n")
    gaps = gap_rows(source)
    if gaps:
        out.write('<h2 id="not-resolved">Not resolved / not interpreted</h2>\n')
        out.write('<div class="locfail">%s</div>\n' % _h(GAPS_INTRO))
        out.write('<table id="gaps"><tr><th>What</th><th>Name</th><th>Status</th><th>Detail</th></tr>\n')
        for gap in gaps:
            out.write(
                '<tr class="gap"><td>%s</td><td><code>%s</code></td><td>%s</td><td>%s</td></tr>\n'
                % (_h(gap["kind"]), _h(gap["name"]), _badge(gap["status"]), _h(gap["detail"]))
            )
        out.write("</table>\n")
    render_fleet(source, out)
    render_changes(source, out)
    render_instances(source, out)
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
            out.write("<tr><td>%s</td><td>%s</td></tr>\n" % (_h(step), _h(counts_text(s["step_failures"][step]))))
        out.write("</table>\n")
    for loc in source.locations():
        anchor = "loc-%s-%s" % (loc.get("account"), loc.get("region"))
        out.write(
            '<h2 id="%s">Account %s &middot; %s %s</h2>\n'
            % (_h(anchor), _h(loc.get("account")), _h(loc.get("region")), _badge(loc.get("status")))
        )
        notes = location_notes(loc)
        if loc.get("member_execution_id"):
            out.write(
                '<div class="meta">Member execution <code>%s</code>%s</div>\n'
                % (
                    _h(loc.get("member_execution_id")),
                    " (found by %s)" % _h(notes["member_road"]) if notes["member_road"] else "",
                )
            )
        if notes["step_status"]:
            out.write('<div class="meta">Parent step %s</div>\n' % _badge(notes["step_status"]))
        if notes["reason"]:
            out.write(
                '<div class="reason%s">%s</div>\n' % (" locfail" if loc.get("read_error") else "", _h(notes["reason"]))
            )
        if notes["candidates"]:
            out.write(
                '<div class="locfail candidates">Candidate member executions (found by %s; none was picked): %s</div>\n'
                % (
                    _h(notes["member_road"] or "?"),
                    ", ".join("<code>%s</code>" % _h(c) for c in notes["candidates"]),
                )
            )
        if loc.get("failure_message"):
            out.write('<div class="locfail">%s</div>\n' % _h(loc.get("failure_message")))
        read_error = loc.get("read_error") or {}
        if (
            read_error
            and loc.get("read_status") in ("failed", "skipped")
            and read_error.get("message") != notes["reason"]
        ):
            out.write('<div class="locfail read-error">Not read: %s</div>\n' % _h(error_text(read_error)))
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
            out.write(
                "<td>%s</td><td>%s</td>" % (_h(seconds(inst.get("start_time"))), _h(seconds(inst.get("end_time"))))
            )
            out.write("<td>%s</td><td>" % (_h(failed.get("step_name")) if failed else ""))
            if inst.get("failure_message"):
                out.write('<div class="locfail">%s</div>' % _h(inst.get("failure_message")))
            if inst.get("read_error"):
                out.write('<div class="locfail read-error">Not read: %s</div>' % _h(error_text(inst.get("read_error"))))
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
