# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What changed since an earlier report: instances added and gone, facts changed, compliance changed.

The earlier report is a JSON report written by ``automation_report`` (or its JSON Lines harvest), named by path, or
``previous``: the latest completed report in the report directory (the parent of ``dest``, one directory per
execution) other than this execution's. Its facts and compliance are taken as it recorded them; a report written
before facts existed has them parsed from its outputs (and its compliance judged against today's standard).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os

from ansible_collections.orgops.ssm_automation.plugins.module_utils import compliance, facts
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

# Facts compared between runs (the offset moves on every run: it is not a change of configuration)
COMPARED = ("hostname", "timezone", "ntp_synchronized", "locale", "pending_updates", "security_updates", "ntp_source")
TERMINAL = ("Success", "Failed", "TimedOut", "Cancelled", "CompletedWithSuccess", "CompletedWithFailure")
MAX_LISTED = 1000


def find_previous(dest, basename, current_id):
    """The latest completed ``<report dir>/<execution>/<basename>.json`` other than ``current_id``'s, or None."""
    parent = os.path.dirname(os.path.abspath(dest.rstrip("/")))
    best = None
    for path in glob.glob(os.path.join(parent, "*", basename + ".json")):
        if os.path.abspath(os.path.dirname(path)) == os.path.abspath(dest.rstrip("/")):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                execution = (json.load(handle) or {}).get("execution") or {}
        except (IOError, OSError, ValueError):
            continue
        if execution.get("automation_execution_id") == current_id or execution.get("status") not in TERMINAL:
            continue
        key = (str(execution.get("end_time") or ""), os.path.getmtime(path))
        if best is None or key > best[0]:
            best = (key, path)
    return best[1] if best else None


def _instances(source, expect):
    """(account, region, instance_id) -> {"facts", "compliance"} of a report, as it recorded them."""
    out = {}
    for loc in source.locations():
        for inst in loc.get("instances") or []:
            key = (str(loc.get("account")), str(loc.get("region")), inst.get("instance_id") or inst.get("execution_id"))
            got = inst.get("facts") or facts.instance_facts(inst)
            judged = inst.get("compliance") or (compliance.evaluate(got, expect) if expect else None)
            out[key] = {"facts": got, "compliance": (judged or {}).get("status")}
    return out


def _raw_source(path):
    """The earlier report without re-annotation (its own facts and compliance)."""
    from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.model import Source

    class Recorded(Source):
        def locations(self):
            if self.data is not None:
                yield from self.data.get("locations") or []
                return
            yield from Source.locations(self)  # JSON Lines: parsed now, no compliance recorded

    return Recorded(path=path)


def compare(source, previous_path, expect):
    """The "changed since" section: ``{"since", "since_execution", "added", "gone", "facts_changed",
    "compliance_changed"}``; lists are capped at 1,000 entries, the ``*_total`` counts are complete."""
    if not os.path.isfile(previous_path):
        raise InvalidInput("compare_to", "%s is not a file (give a report JSON or previous)" % previous_path)
    try:
        before_source = _raw_source(previous_path)
    except InvalidInput as e:
        raise InvalidInput("compare_to", e.message) from None
    before = _instances(before_source, expect)
    after = _instances(source, expect)
    changes = {
        "since": previous_path,
        "since_execution": before_source.execution.get("automation_execution_id"),
        "since_end_time": before_source.execution.get("end_time"),
        "added": [],
        "gone": [],
        "facts_changed": [],
        "compliance_changed": [],
    }
    totals = dict.fromkeys(("added", "gone", "facts_changed", "compliance_changed"), 0)

    def note(kind, item):
        totals[kind] += 1
        if len(changes[kind]) < MAX_LISTED:
            changes[kind].append(item)

    for key in sorted(set(after) - set(before)):
        note("added", _where(key))
    for key in sorted(set(before) - set(after)):
        note("gone", _where(key))
    for key in sorted(set(before) & set(after)):
        old, new = before[key], after[key]
        for name in COMPARED:
            a, b = old["facts"].get(name), new["facts"].get(name)
            if a != b:
                item = _where(key)
                item.update({"fact": name, "before": a, "after": b})
                note("facts_changed", item)
        if old["compliance"] != new["compliance"] and (old["compliance"] or new["compliance"]):
            item = _where(key)
            item.update({"before": old["compliance"], "after": new["compliance"]})
            note("compliance_changed", item)
    for kind, total in totals.items():
        changes[kind + "_total"] = total
    return changes


def _where(key):
    return {"account": key[0], "region": key[1], "instance_id": key[2]}


def lines(changes_section):
    """The section as (heading, [text lines]) for the Markdown and HTML reports."""
    c = changes_section or {}
    if not c.get("since"):
        return "Changed since", [c.get("note") or "No earlier report to compare with."]
    heading = "Changed since %s (%s)" % (c.get("since_execution") or c.get("since"), c.get("since_end_time") or "")
    out = [
        "%d added, %d gone, %d fact changes, %d compliance changes"
        % (c["added_total"], c["gone_total"], c["facts_changed_total"], c["compliance_changed_total"])
    ]
    for item in c["added"]:
        out.append("added: %s %s %s" % (item["account"], item["region"], item["instance_id"]))
    for item in c["gone"]:
        out.append("gone: %s %s %s" % (item["account"], item["region"], item["instance_id"]))
    for item in c["facts_changed"]:
        out.append(
            "%s %s %s: %s %s -> %s"
            % (
                item["account"],
                item["region"],
                item["instance_id"],
                item["fact"],
                compliance.display(item["before"]) or "unknown",
                compliance.display(item["after"]) or "unknown",
            )
        )
    for item in c["compliance_changed"]:
        out.append(
            "%s %s %s: compliance %s -> %s"
            % (item["account"], item["region"], item["instance_id"], item["before"] or "none", item["after"] or "none")
        )
    return heading, out
