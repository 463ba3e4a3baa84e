# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts and compliance in the reports: each instance record annotated, one row per instance, the fleet view.

``annotate`` adds ``facts`` (always) and ``compliance`` (when a standard is given) to every instance of a location
record, from its harvested outputs. ``Fleet`` counts, in one streaming pass, compliance per expectation, per
account, per OU and per account and region, and the distribution of the facts' values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils import compliance, facts

# the facts shown as columns when no standard is given, and whose values are counted
FACT_COLUMNS = ("hostname", "timezone", "locale", "ntp_synchronized", "ntp_source", "pending_updates")
DISTRIBUTED = ("timezone", "locale", "ntp_synchronized", "ntp_source", "ntp_stratum", "pending_updates", "platform")
MAX_LISTED = 1000  # noncompliant instances listed in the summary (the counts are always complete)
COMPLIANCE_COLOURS = {"compliant": "#1e7e34", "noncompliant": "#c82333", "unknown": "#6c757d"}


def annotate(record, expect):
    """The location record with ``facts`` (and ``compliance`` if ``expect``) on each instance; the input is not
    modified."""
    instances = record.get("instances")
    if not instances:
        return record
    out = dict(record)
    out["instances"] = []
    for original in instances:
        inst = dict(original)
        inst["facts"] = facts.instance_facts(inst)
        if expect:
            inst["compliance"] = compliance.evaluate(inst["facts"], expect)
        out["instances"].append(inst)
    return out


def seconds(timestamp):
    """An ISO 8601 time to the second: 2025-01-01T12:00:00.123456+00:00 -> 2025-01-01 12:00:00+00:00."""
    text = "" if timestamp is None else str(timestamp)
    if len(text) >= 19 and text[10] == "T":
        rest = text[19:]
        if rest.startswith("."):
            rest = rest.lstrip(".0123456789")
        return text[:10] + " " + text[11:19] + rest
    return text


def columns(expect):
    """(name, fact) of each column of the instances x checks table."""
    if expect:
        return [(key, compliance.EXPECTATIONS[key][0]) for key in compliance.ORDER if key in expect]
    return [(name, name) for name in FACT_COLUMNS]


def cells(inst, expect):
    """One cell per column: {"value", "status", "reason"}; status is none without a standard."""
    got = inst.get("facts") or {}
    unknown = got.get("unknown") or {}
    out = []
    if expect:
        checks = {c["name"]: c for c in (inst.get("compliance") or {}).get("checks") or []}
        for key, _fact in columns(expect):
            check = checks.get(key) or {}
            out.append(
                {
                    "value": compliance.display(check.get("actual")),
                    "status": check.get("status") or "unknown",
                    "reason": check.get("reason") or "",
                }
            )
        return out
    for _name, fact in columns(expect):
        value = got.get(fact)
        out.append({"value": compliance.display(value), "status": "none", "reason": unknown.get(fact, "")})
    return out


def instance_rows(source, expect):
    """One row per instance: where, who, status, compliance and the cells."""
    for loc in source.locations():
        for inst in loc.get("instances") or []:
            details = inst.get("details") or {}
            who = " ".join(x for x in (loc.get("account_name"), loc.get("ou_path")) if x)
            yield {
                "account": "%s (%s)" % (loc.get("account"), who) if who else loc.get("account") or "",
                "account_name": loc.get("account_name") or details.get("account_name") or "",
                "ou_path": loc.get("ou_path") or details.get("ou_path") or "",
                "region": loc.get("region") or "",
                "instance_id": inst.get("instance_id") or "",
                "name": details.get("name") or inst.get("name") or "",
                "platform": (inst.get("facts") or {}).get("platform") or details.get("platform") or "",
                "status": inst.get("status") or "",
                "start_time": seconds(inst.get("start_time")),
                "end_time": seconds(inst.get("end_time")),
                "compliance": (inst.get("compliance") or {}).get("status", ""),
                "cells": cells(inst, expect),
            }


def _bump(table, key, status):
    counts = table.setdefault(key, dict.fromkeys(compliance.STATUSES, 0))
    counts[status] = counts.get(status, 0) + 1


class Fleet:
    """Streaming totals of facts and compliance over the instance records."""

    def __init__(self, expect):
        self.expect = expect or {}
        self.instances = dict.fromkeys(compliance.STATUSES, 0)
        self.by_check = {key: dict.fromkeys(compliance.STATUSES, 0) for key in compliance.ORDER if key in self.expect}
        self.by_account = {}
        self.by_ou = {}
        self.by_location = {}
        self.values = {name: {} for name in DISTRIBUTED}
        self.noncompliant = []
        self.noncompliant_total = 0

    def add(self, loc):
        for inst in loc.get("instances") or []:
            got = inst.get("facts") or {}
            for name in DISTRIBUTED:
                value = got.get(name)
                label = "unknown" if value is None else compliance.display(value)
                self.values[name][label] = self.values[name].get(label, 0) + 1
            result = inst.get("compliance")
            if not result:
                continue
            status = result.get("status") or compliance.UNKNOWN
            self.instances[status] += 1
            for check in result.get("checks") or []:
                _bump(self.by_check, check["name"], check["status"])
            details = inst.get("details") or {}
            account = str(loc.get("account"))
            _bump(
                self.by_account,
                "%s %s" % (account, loc["account_name"]) if loc.get("account_name") else account,
                status,
            )
            _bump(self.by_ou, loc.get("ou_path") or details.get("ou_path") or "(unknown OU)", status)
            _bump(self.by_location, "%s/%s" % (loc.get("account"), loc.get("region")), status)
            if status == compliance.NONCOMPLIANT:
                self.noncompliant_total += 1
                if len(self.noncompliant) < MAX_LISTED:
                    self.noncompliant.append(
                        {
                            "account": loc.get("account"),
                            "region": loc.get("region"),
                            "instance_id": inst.get("instance_id"),
                            "name": details.get("name") or "",
                            "account_name": loc.get("account_name") or "",
                            "deviations": [
                                "%s: %s" % (c["name"], compliance.display(c["actual"]) or "?")
                                for c in result.get("checks") or []
                                if c["status"] == compliance.NONCOMPLIANT
                            ],
                        }
                    )

    def as_dict(self):
        out = {"fact_values": {k: v for k, v in self.values.items() if v}}
        if self.expect:
            total = sum(self.instances.values())
            out["compliance"] = {
                "expect": dict(self.expect),
                "instances": dict(self.instances),
                "noncompliant_percent": round(100.0 * self.instances[compliance.NONCOMPLIANT] / total, 1)
                if total
                else 0.0,
                "unknown_percent": round(100.0 * self.instances[compliance.UNKNOWN] / total, 1) if total else 0.0,
                "by_check": self.by_check,
                "by_account": self.by_account,
                "by_ou": self.by_ou,
                "by_location": self.by_location,
                "noncompliant": self.noncompliant,
                "noncompliant_total": self.noncompliant_total,
            }
        return out
