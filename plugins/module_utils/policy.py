# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pass/fail verdict of a run: one function, a table of rules, pure Python (no Ansible, no AWS).

The run_automation role applies it last, through the ``orgops.ssm_automation.run_policy`` module, after the reports
and the AWX artifacts are written. The verdict is computed from the harvest's ``summary`` (what
``automation_execution_info`` returns) and from how the wait ended.

How it is built, so that a new rule is data, not a new branch:

- :data:`LOCATION_OUTCOMES` says how a location with no instance to count weighs, by its status: a location whose
  targets matched nothing (``NoTargets``) passes; one the run never started (``NeverStarted``) or AWS never reported
  (``NotReported``) counts as one failed target. The harvest's ``summary.lost_locations`` counts the other lost
  locations (could not run, could not be read); a status listed here must not be counted there too.
- :func:`facts` turns a summary into numbers (instances, successes, lost locations, failed, percentage).
- :data:`RULES` is the list of rules, ``(name, function)``; each function takes ``(facts, settings, summary,
  wait)`` and returns the reason it is broken (one sentence), or None. :func:`verdict` runs them all, in order,
  and lists every broken rule. A new rule (compliance thresholds, "no instance matched the targets") is one
  function and one row; a rule that a setting turns on reads that setting and returns None when it is off.
- What could not be resolved is never a pass: a target of the parent's ``TargetLocations`` that could not be
  expanded (``summary.unresolved_targets``) and a parent step the harvest could not interpret
  (``summary.uninterpreted_steps``; unless an expected set vouches for the report and the step succeeded, see
  :func:`rule_uninterpreted_steps`) each break a rule that names them, whatever the counts (no setting turns
  these off: the accounts behind them are unknown). A location that could not be read, or whose member execution is
  ambiguous (``NotReported`` with ``member_candidates``), counts as one failed target (see above).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils.automation import SUCCESS_STATUSES
from ansible_collections.orgops.ssm_automation.plugins.module_utils.compliance import policy as compliance_policy

PASSES = "passes"
FAILS = "fails"

# Location statuses that are not AutomationExecutionStatus values: the harvest's own, for a targeted location that
# AWS's answer does not explain.
LOCATION_OUTCOMES = {
    "NoTargets": PASSES,
    "NeverStarted": FAILS,
    "NotReported": FAILS,
}

DEFAULT_SETTINGS = {
    "max_failed_percent": 0,
    "required_steps": [],
    "fail_on_timeout": True,
    "wait_timeout": None,
    "execution_id": "",
    # the variable names messages use: {run_automation variable: the variable the user set}
    "field_aliases": {},
    # compliance with the OS standard: the report's summary.compliance, and its policy (100: report only)
    "compliance": {},
    "max_noncompliant_percent": 100,
    "fail_on_unknown": False,
}


def facts(summary, location_outcomes=None):
    """The numbers the rules judge: ``instances``, ``succeeded``, ``lost_locations``, ``failed``, ``denominator``,
    ``failed_percent`` (exact) and ``failed_percent_rounded`` (one decimal)."""
    outcomes = LOCATION_OUTCOMES if location_outcomes is None else location_outcomes
    summary = summary or {}
    total = int(summary.get("instances") or 0)
    by_status = summary.get("instances_by_status") or {}
    succeeded = sum(int(n) for status, n in by_status.items() if status in SUCCESS_STATUSES)
    if summary.get("lost_locations") is not None:
        lost = int(summary["lost_locations"])
    else:  # an older summary: the lost locations are the failures without an instance (capped list)
        lost = len([f for f in summary.get("failures") or [] if f.get("instance_id") is None])
    by_location = summary.get("locations_by_status") or {}
    lost += sum(int(n) for status, n in by_location.items() if outcomes.get(status) == FAILS)
    failed = total - succeeded + lost
    denominator = max(total + lost, 1)
    percent = 100.0 * failed / denominator
    return {
        "instances": total,
        "succeeded": succeeded,
        "lost_locations": lost,
        "failed": failed,
        "denominator": denominator,
        "failed_percent": percent,
        "failed_percent_rounded": round(percent, 1),
        "passed_locations": sum(int(n) for status, n in by_location.items() if outcomes.get(status) == PASSES),
    }


def _name(settings, variable):
    return (settings.get("field_aliases") or {}).get(variable) or variable


def rule_failed_percent(f, settings, summary, wait):
    limit = int(settings.get("max_failed_percent") or 0)
    if f["failed_percent"] <= limit:
        return None
    return "%d of %d instance(s) did not succeed (%.1f%% > %s %d%%)" % (
        f["failed"],
        f["denominator"],
        f["failed_percent"],
        _name(settings, "run_automation_max_failed_percent"),
        limit,
    )


def rule_required_steps(f, settings, summary, wait):
    required = list(settings.get("required_steps") or [])
    step_failures = (summary or {}).get("step_failures") or {}
    broken = [(step, counts) for step, counts in step_failures.items() if step in required]
    if not broken:
        return None
    count = sum(int(n) for step_counts in broken for n in step_counts[1].values())
    example = next((x for x in (summary or {}).get("failures") or [] if x.get("step_name") in required), None)
    detail = ""
    if example:
        detail = " (e.g. %s %s in %s/%s: %s)" % (
            example.get("step_name"),
            example.get("status"),
            example.get("account"),
            example.get("region"),
            example.get("instance_id"),
        )
    return "required step(s) %s did not succeed on %d instance(s)%s" % (
        ", ".join(step_counts[0] for step_counts in broken),
        count,
        detail,
    )


def rule_timeout(f, settings, summary, wait):
    if not (settings.get("fail_on_timeout") and (wait or {}).get("timed_out")):
        return None
    return "the run was still going after %ss (%s); re-attach with -e automation_execution_id=%s" % (
        settings.get("wait_timeout"),
        wait.get("progress") or "",
        settings.get("execution_id") or "",
    )


def rule_progress_error(f, settings, summary, wait):
    error = (wait or {}).get("error") or ""
    if not error:
        return None
    return "progress could not be read: %s; re-attach with -e automation_execution_id=%s" % (
        error,
        settings.get("execution_id") or "",
    )


def rule_no_instance_matched(f, settings, summary, wait):
    """A run in which no location matched any instance is not a pass (a tag typo must not look green): the
    harvest's ``summary.no_instance_matched`` names the targets."""
    return (summary or {}).get("no_instance_matched") or None


def _listed(items, describe, limit=10):
    """``items`` as one comma-separated list, each by ``describe(item)``, the first ``limit`` named and the rest
    counted (a reason stays one line)."""
    names = [describe(item) for item in items[:limit]]
    if len(items) > limit:
        names.append("and %d more" % (len(items) - limit))
    return ", ".join(names)


def rule_unresolved_targets(f, settings, summary, wait):
    """A target of the parent's ``TargetLocations`` that could not be expanded (an OU when the organization cannot be
    read, an OU that is gone): the accounts it stood for are unknown, so the run cannot pass whatever the counts.
    The harvest's ``summary.unresolved_targets`` lists them (``target``, ``target_location``, ``reason``)."""
    unresolved = list((summary or {}).get("unresolved_targets") or [])
    if not unresolved:
        return None
    return "%d target(s) could not be resolved, their accounts may be missing from the report: %s" % (
        len(unresolved),
        _listed(
            unresolved,
            lambda t: (
                "%s (target location %s: %s)"
                % (t.get("target") or "?", t.get("target_location", "?"), t.get("reason") or "no reason given")
            ),
        ),
    )


def rule_uninterpreted_steps(f, settings, summary, wait):
    """A parent step the harvest could not interpret (it names no account), unless the expected set vouches for
    the report: with an expected set (``summary.expected_locations``), every targeted account x region is in the
    report and judged on its own (one that nothing explains is ``NotReported``, a failure), so a step that names no
    account but succeeded takes nothing out of it (AWS does not document the shape of a TargetLocations parent's
    steps: under one reading none names its account, docs/aws-differences.md). Such a step breaks this rule when
    there is no complete expected set (none, or one with unresolved targets: what it ran is not accounted for), or
    when it did not succeed (its failure is not explained by a location). The harvest's ``summary.uninterpreted_steps`` lists them with their raw step name
    and status; all are listed in the reports either way."""
    steps = list((summary or {}).get("uninterpreted_steps") or [])
    summary = summary or {}
    if summary.get("expected_locations") and not summary.get("unresolved_targets"):  # a complete expected set
        steps = [step for step in steps if step.get("status") != "Success"]
    if not steps:
        return None
    reasons = []
    for step in steps:
        if step.get("reason") and step["reason"] not in reasons:
            reasons.append(step["reason"])
    return "%d parent step(s) could not be interpreted, what they ran may be missing from the report: %s%s" % (
        len(steps),
        _listed(steps, lambda st: "%s (%s)" % (st.get("step_name") or "?", st.get("status") or "no status")),
        " [%s]" % "; ".join(reasons) if reasons else "",
    )


def rule_noncompliant(f, settings, summary, wait):
    """Compliance with the OS standard (compliance.policy: noncompliant instances, unknown ones apart unless
    fail_on_unknown), from the report's summary.compliance passed in the settings; off at 100 (the default)."""
    result = compliance_policy(
        settings.get("compliance") or {},
        100 if settings.get("max_noncompliant_percent") is None else settings["max_noncompliant_percent"],
        bool(settings.get("fail_on_unknown")),
        _name(settings, "run_automation_max_noncompliant_percent"),
        _name(settings, "run_automation_fail_on_unknown"),
    )
    return result["reason"] or None


RULES = [
    ("unresolved_targets", rule_unresolved_targets),
    ("uninterpreted_steps", rule_uninterpreted_steps),
    ("no_instance_matched", rule_no_instance_matched),
    ("max_failed_percent", rule_failed_percent),
    ("required_steps", rule_required_steps),
    ("fail_on_timeout", rule_timeout),
    ("noncompliant_percent", rule_noncompliant),
    ("progress", rule_progress_error),
]


def verdict(summary, settings=None, wait=None, rules=None, location_outcomes=None):
    """Judge a run. Returns ``{"passed", "reasons", "broken_rules", "failed_percent", "facts", "msg"}``.

    ``settings`` (see :data:`DEFAULT_SETTINGS`): ``max_failed_percent``, ``required_steps``, ``fail_on_timeout``,
    ``wait_timeout``, ``execution_id``, ``field_aliases``. ``wait``: ``timed_out``, ``progress``, ``error`` (how
    the wait ended). ``rules`` defaults to :data:`RULES`.
    """
    s = dict(DEFAULT_SETTINGS)
    s.update(settings or {})
    f = facts(summary, location_outcomes)
    reasons = []
    broken = []
    for name, rule in RULES if rules is None else rules:
        reason = rule(f, s, summary or {}, wait or {})
        if reason:
            broken.append(name)
            reasons.append(reason)
    execution_id = s.get("execution_id") or ""
    if reasons:
        msg = "Policy failed for automation %s: %s" % (execution_id, "; ".join(reasons))
    else:
        msg = "Policy passed for automation %s: %s%% not successful (max %s%%), required steps %s ok." % (
            execution_id,
            f["failed_percent_rounded"],
            int(s.get("max_failed_percent") or 0),
            ", ".join(s.get("required_steps") or []) or "none",
        )
    return {
        "passed": not reasons,
        "reasons": reasons,
        "broken_rules": broken,
        "failed_percent": f["failed_percent_rounded"],
        "facts": f,
        "msg": msg,
    }
