# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JUnit XML: one test case per instance and step; XML through ElementTree, forbidden characters removed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import xml.etree.ElementTree as ET

from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.model import (
    FAILED_STATUSES,
    XML_INVALID_RE,
    error_text,
    gap_rows,
    outputs_text,
    title_of,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils.automation import SUCCESS_STATUSES, is_terminal


def xml_text(value):
    return XML_INVALID_RE.sub("", "" if value is None else str(value))


def _seconds(start, end):
    try:
        a = datetime.datetime.fromisoformat(start)
        b = datetime.datetime.fromisoformat(end)
        return "%.3f" % max(0.0, (b - a).total_seconds())
    except (TypeError, ValueError):
        return "0"


def render_junit(source, out, title=None):
    s = source.summary()
    root = ET.Element("testsuites", {"name": xml_text(title_of(source, title))})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for loc in source.locations():
        suite = ET.SubElement(root, "testsuite", {"name": xml_text("%s/%s" % (loc.get("account"), loc.get("region")))})
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        props = ET.SubElement(suite, "properties")
        for key in ("account", "region", "status", "member_execution_id"):
            ET.SubElement(props, "property", {"name": key, "value": xml_text(loc.get(key) or "")})
        for key in ("member_road", "reason"):  # only when the record has them
            if loc.get(key):
                ET.SubElement(props, "property", {"name": key, "value": xml_text(loc[key])})
        if loc.get("member_candidates"):
            ids = [c.get("automation_execution_id") or "?" for c in loc["member_candidates"]]
            ET.SubElement(props, "property", {"name": "member_candidates", "value": xml_text(",".join(ids))})
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
            message = loc.get("failure_message") or error_text(err)
            tag = "error" if loc.get("read_status") == "failed" else "failure"
            counts["errors" if tag == "error" else "failures"] += 1
            el = ET.SubElement(
                tc, tag, {"message": xml_text(message), "type": xml_text(err.get("code") or loc.get("status") or "")}
            )
            el.text = xml_text(error_text(err) or message)
        elif not instances and loc.get("status") not in SUCCESS_STATUSES:
            tc = _case(suite, counts, classbase, "location")
            never_started = (loc.get("read_error") or {}).get("code") == "NeverStarted"
            if is_terminal(loc.get("status")) or never_started:
                # Failed before starting anything, or never started by an automation that is over: its targets
                # were not run, which is a failure, not a skip.
                message = loc.get("failure_message") or error_text(loc.get("read_error")) or loc.get("status")
                counts["failures"] += 1
                el = ET.SubElement(
                    tc,
                    "failure",
                    {"message": xml_text(message), "type": xml_text(loc.get("status") or "NeverStarted")},
                )
                el.text = xml_text(message)
            else:
                counts["skipped"] += 1
                reason = ": %s" % loc["reason"] if loc.get("reason") else ""
                ET.SubElement(tc, "skipped", {"message": xml_text("location %s%s" % (loc.get("status"), reason))})
        for inst in instances:
            classname = "%s.%s" % (classbase, inst.get("instance_id") or inst.get("execution_id"))
            steps = inst.get("steps") or []
            _compliance_cases(suite, counts, classname, inst.get("compliance"))
            if inst.get("read_error"):
                tc = _case(suite, counts, classname, "read")
                counts["errors"] += 1
                err = inst["read_error"]
                el = ET.SubElement(
                    tc, "error", {"message": xml_text(error_text(err)), "type": xml_text(err.get("code"))}
                )
                el.text = xml_text(error_text(err))
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
    _gap_suite(root, source, totals)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("instances", str(s["instances"]))
    _indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode"))
    out.write("\n")


def _gap_suite(root, source, totals):
    """One failed test case per target that could not be resolved and per parent step that could not be
    interpreted (its raw step name and status), in a suite of their own; none when there is nothing."""
    gaps = gap_rows(source)
    if not gaps:
        return
    suite = ET.SubElement(root, "testsuite", {"name": "not resolved / not interpreted"})
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for gap in gaps:
        kind = "unresolved_target" if gap["kind"] == "target" else "uninterpreted_step"
        tc = _case(suite, counts, kind, gap["name"] or "?")
        counts["failures"] += 1
        message = "%s %s (%s): %s" % (gap["kind"], gap["name"], gap["status"], gap["detail"])
        el = ET.SubElement(tc, "failure", {"message": xml_text(message), "type": xml_text(kind)})
        el.text = xml_text(message)
    for key, value in counts.items():
        suite.set(key, str(value))
        totals[key] += value


def _compliance_cases(suite, counts, classname, result):
    """One test case per expectation: noncompliant is a failure, unknown a skip with its reason."""
    for check in (result or {}).get("checks") or []:
        tc = _case(suite, counts, classname, "compliance.%s" % check["name"])
        actual = "" if check.get("actual") is None else str(check.get("actual"))
        if check["status"] == "noncompliant":
            counts["failures"] += 1
            message = check.get("reason") or "%s is %s, expected %s" % (check["name"], actual, check.get("expected"))
            el = ET.SubElement(tc, "failure", {"message": xml_text(message), "type": "noncompliant"})
            el.text = xml_text("expected: %s\nactual: %s" % (check.get("expected"), actual))
        elif check["status"] == "unknown":
            counts["skipped"] += 1
            ET.SubElement(tc, "skipped", {"message": xml_text("unknown: %s" % (check.get("reason") or ""))})
        else:
            ET.SubElement(tc, "system-out").text = xml_text("%s: %s" % (check["name"], actual))


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
