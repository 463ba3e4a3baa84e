# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CSV: one row per instance and step; cells a spreadsheet would run as a formula are prefixed with a quote.

Beside it, the fleet CSV (``<basename>-fleet.csv``): the numbers of the HTML and Markdown fleet view, one row per
count, so that a spreadsheet or a script filters them by ``scope``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv

from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.fleet import cells, columns
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.model import rows
from ansible_collections.orgops.ssm_automation.plugins.module_utils.compliance import STATUSES

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
FLEET_COLUMNS = ("scope", "name", "value", "compliant", "noncompliant", "unknown", "instances")
# summary.compliance key -> scope of its rows, in the order the HTML and Markdown fleet views show them
FLEET_SCOPES = (
    ("by_check", "expectation"),
    ("by_account", "account"),
    ("by_ou", "ou"),
    ("by_location", "location"),
)


def csv_cell(value):
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def extra_columns(expect):
    """After the step columns: the instance's compliance and, per expectation, the parsed value and its status (or,
    without a standard, the parsed facts)."""
    if not expect:
        return [name for name, _fact in columns(expect)]
    out = ["compliance"]
    for name, _fact in columns(expect):
        out += [name, name + "_status"]
    return out


def _instance_values(inst, expect):
    if inst is None:
        return []
    got = cells(inst, expect)
    if not expect:
        return [c["value"] for c in got]
    out = [(inst.get("compliance") or {}).get("status", "")]
    for cell in got:
        out += [cell["value"], cell["status"]]
    return out


def render_csv(source, out):
    writer = csv.writer(out, lineterminator="\r\n")
    extra = extra_columns(source.expect)
    writer.writerow(list(CSV_COLUMNS) + extra)
    cache = (None, [])
    for row in rows(source):
        inst = row.get("_instance")
        if cache[0] is not inst:
            cache = (inst, _instance_values(inst, source.expect))
        values = cache[1] or [""] * len(extra)
        writer.writerow([csv_cell(row.get(c)) for c in CSV_COLUMNS] + [csv_cell(v) for v in values])


def fleet_rows(source):
    """The fleet view's numbers as rows of FLEET_COLUMNS: ``fleet`` (the instances judged), one row per
    expectation, account, OU and account/region (``location``) with its compliant, noncompliant and unknown
    instances, and ``fact_value`` rows (name = fact, value = a value, instances = how many have it)."""
    summary = source.summary()
    comp = summary.get("compliance")
    if comp:
        counts = comp["instances"]
        yield ["fleet", "", ""] + [counts.get(s, 0) for s in STATUSES] + [sum(counts.values())]
        for key, scope in FLEET_SCOPES:
            table = comp.get(key) or {}
            for name in sorted(table):
                got = [table[name].get(s, 0) for s in STATUSES]
                yield [scope, name, ""] + got + [sum(got)]
    values = summary.get("fact_values") or {}
    for name in sorted(values):
        for value, count in sorted(values[name].items(), key=lambda p: (-p[1], p[0])):
            yield ["fact_value", name, value, "", "", "", count]


def render_csv_fleet(source, out):
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FLEET_COLUMNS)
    for row in fleet_rows(source):
        writer.writerow([csv_cell(v) for v in row])
