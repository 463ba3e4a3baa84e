# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CSV: one row per instance and step; cells a spreadsheet would run as a formula are prefixed with a quote."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv

from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.fleet import cells, columns
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.model import rows

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


def csv_cell(value):
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def extra_columns(expect):
    """After the step columns: the instance's compliance and, per expectation, the parsed value and its status (or,
    without a standard, the parsed facts)."""
    if not expect:
        return [name for name, _ in columns(expect)]
    out = ["compliance"]
    for name, _ in columns(expect):
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
