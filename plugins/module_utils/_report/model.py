# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report model: the harvest to report on (a result dict or a JSON Lines / JSON file), its rows, shared constants."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.fleet import Fleet, annotate
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.summary import Summary
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

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


class Source:
    """A harvest to report on, from a result dict or a JSON Lines / JSON file; locations are re-iterable."""

    def __init__(self, data=None, path=None, expect=None):
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
        self._harvest_summary = None  # the harvest's own summary (the result's, or the JSON Lines summary line)
        self.expect = expect or {}  # the OS standard (compliance.normalize_expect), {} for facts only
        self.changes = None  # the "changed since" section (_report/changes.py), when asked for
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
            harvest_summary = {}
            for offset, item in self._lines(with_offsets=True):
                if item.get("type") == "location":
                    keyed.append((str(item.get("account")), str(item.get("region")), offset))
                elif item.get("type") == "summary":
                    harvest_summary = {k: v for k, v in item.items() if k != "type"}
            self._harvest_summary = harvest_summary
            keyed.sort()
            self._offsets = [k[2] for k in keyed]
        return self._offsets

    def locations(self):
        """Every location record, sorted by account and region; a JSON Lines file is read one line at a time."""
        if self.data is not None:
            for record in self.data.get("locations") or []:
                yield annotate(record, self.expect)
            return
        with open(self.path, "rb") as handle:
            for offset in self._index():
                handle.seek(offset)
                record = json.loads(handle.readline().decode("utf-8"))
                record.pop("type", None)
                yield annotate(record, self.expect)

    def harvest_summary(self):
        """The harvest's own summary: the result's ``summary``, or the JSON Lines ``summary`` line ({} without)."""
        if self.data is not None:
            return self.data.get("summary") or {}
        self._index()
        return self._harvest_summary or {}

    def summary(self):
        """Always recomputed from the locations, so that every format reports the same numbers; what the locations
        cannot tell (:data:`GAP_KEYS`: targets not resolved, parent steps not interpreted) is the harvest's own."""
        if self._summary is None:
            summary = Summary(max_failures=100000)
            fleet = Fleet(self.expect)
            for record in self.locations():
                summary.add(record)
                fleet.add(record)
            self._summary = summary.as_dict()
            self._summary.update(fleet.as_dict())
            for bookkeeping in ("api_calls", "retries", "credential_renewals"):
                self._summary.pop(bookkeeping, None)
            harvest = self.harvest_summary()
            for key in GAP_KEYS:
                self._summary[key] = list(harvest.get(key) or [])
        return self._summary


# The harvest summary's lists of what it could not resolve or interpret (plugins/module_utils/_harvest/harvest.py).
GAP_KEYS = ("unresolved_targets", "uninterpreted_steps")
# The sentence above the "Not resolved / not interpreted" table, in every format that has one.
GAPS_INTRO = (
    "The harvest could not expand these targets, or map these parent steps to an account and Region: "
    "what they stand for may be missing from the report."
)


def gap_rows(source):
    """The "Not resolved / not interpreted" section, one row per target of the parent's ``TargetLocations`` that
    could not be resolved and per parent step the harvest could not interpret (with its raw step name and status):
    ``{"kind", "name", "status", "detail"}``; [] when there is none. Shared by the HTML and Markdown reports; the
    JUnit report makes each one a failed test case."""
    s = source.summary()
    out = []
    for item in s.get("unresolved_targets") or []:
        out.append(
            {
                "kind": "target",
                "name": item.get("target") or "",
                "status": "Unresolved",
                "detail": "target location %s: %s" % (item.get("target_location", "?"), item.get("reason") or ""),
            }
        )
    for step in s.get("uninterpreted_steps") or []:
        detail = [step.get("reason") or "not interpreted"]
        if step.get("action"):
            detail.append("action %s" % step["action"])
        if step.get("output_keys"):
            detail.append("outputs %s" % ", ".join(str(k) for k in step["output_keys"]))
        if step.get("member_execution_id"):
            detail.append("member execution %s" % step["member_execution_id"])
        if step.get("failure_message"):
            detail.append(step["failure_message"])
        out.append(
            {
                "kind": "parent step",
                "name": step.get("step_name") or "",
                "status": step.get("status") or "",
                "detail": "; ".join(detail),
            }
        )
    return out


def location_notes(loc):
    """What a location's own fields say beyond its status, for the HTML and Markdown reports: ``reason`` (why a
    NoTargets / NeverStarted / NotReported location has that status), ``step_status`` (the parent step's own
    status, when the harvest gave the location another), ``member_road`` (how the member execution was found) and
    ``candidates`` (the candidate member execution ids of an ambiguous location; none was picked)."""
    step_status = loc.get("step_status")
    return {
        "reason": loc.get("reason") or "",
        "step_status": step_status if step_status and step_status != loc.get("status") else "",
        "member_road": loc.get("member_road") or "",
        "candidates": [
            "%s (%s)" % (c.get("automation_execution_id") or "?", c.get("status") or "?")
            for c in loc.get("member_candidates") or []
        ],
    }


def notes_text(notes):
    """:func:`location_notes` as one line (Markdown cells, CSV-like text)."""
    parts = []
    if notes["reason"]:
        parts.append(notes["reason"])
    if notes["step_status"]:
        parts.append("parent step %s" % notes["step_status"])
    if notes["candidates"]:
        parts.append("candidates found by %s: %s" % (notes["member_road"] or "?", ", ".join(notes["candidates"])))
    elif notes["member_road"]:
        parts.append("member execution found by %s" % notes["member_road"])
    return "; ".join(parts)


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


def error_text(error):
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
            "read_error": error_text(loc.get("read_error")) if loc.get("read_status") in ("failed", "skipped") else "",
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
                    "read_error": error_text(inst.get("read_error")) or irow["read_error"],
                    "_instance": inst,  # the annotated record, for the facts and compliance columns
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
                    row["read_error"] = error_text(step["output_error"])
                yield row


def title_of(source, title):
    if title:
        return title
    return "SSM Automation %s (%s)" % (
        source.execution.get("automation_execution_id") or "",
        source.execution.get("document_name") or "runbook",
    )


def counts_text(by_status):
    return ", ".join("%d %s" % (n, s) for s, n in sorted(by_status.items(), key=lambda p: (-p[1], p[0]))) or "none"
