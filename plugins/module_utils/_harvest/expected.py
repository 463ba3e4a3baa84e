# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The expected set: every account x region a run targeted, and where each came from.

The report is reconciled against what was targeted, not only against what AWS returned: a location that AWS's
answer does not explain is still reported, with a status by one table (:func:`unexplained`):

============================================================  ================  =====
parent execution                                              location          verdict
============================================================  ================  =====
Success                                                       step Pending, or  passes
                                                              no member
                                                              execution found
                                                              (``NoTargets``)
Failed, within its TargetLocationMaxErrors                    step Pending      passes
                                                              (``NoTargets``)
Failed beyond it (or not known), Cancelled or TimedOut        step Pending      fails
                                                              (``NeverStarted``)
anything else (no step at all, step in another state without  ``NotReported``   fails
a member execution, several candidate member executions)
============================================================  ================  =====

AWS leaves a location where no instance matched the targets ``Pending``, with no start or end time, while the
execution ends ``Success`` (an AWS maintainer in aws-solutions/instance-scheduler-on-aws#288); hence ``NoTargets``.

The set is built from the API's ``TargetLocations`` (what the start sent, or what ``GetAutomationExecution``
returns for the parent) and the organization's tree: OU and root ids expanded (with their child OUs when
``IncludeChildOrganizationUnits`` is true; AWS's default is false, botocore's ssm model), ``ExcludeAccounts``
(accounts or OUs, an OU with everything below it) removed, then accounts x regions. It is kept as ``targets.json``
in the run's report directory; a kept file wins over recomputing on re-attach.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.orgops.ssm_automation.plugins.module_utils import organization
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.status import (
    SUCCESS_STATUSES,
    is_terminal,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.common import error_info

FORMAT_VERSION = 1
ACCOUNT_RE = re.compile(r"^\d{12}$")
NO_TARGETS = "NoTargets"
NEVER_STARTED = "NeverStarted"
NOT_REPORTED = "NotReported"
# The harvest's own location statuses (not AutomationExecutionStatus values) and what each weighs in the verdict.
UNEXPLAINED = {NO_TARGETS: "passes", NEVER_STARTED: "fails", NOT_REPORTED: "fails"}
ENDED_UNSUCCESSFULLY = frozenset(["Failed", "Cancelled", "TimedOut"])


def needs_organization(target_locations):
    """Whether resolving ``target_locations`` needs the organization's tree (an OU or root id is targeted or
    excluded); a list of account ids alone does not."""
    for location in target_locations or []:
        for value in list(location.get("Accounts") or []) + list(location.get("ExcludeAccounts") or []):
            if not ACCOUNT_RE.match(str(value)):
                return True
    return False


def _children(tree):
    children = {}
    for ou_id, ou in (tree.get("ous") or {}).items():
        children.setdefault(ou.get("parent_id"), []).append(ou_id)
    return children


def _below(tree, container, include_children, children):
    """The accounts directly in ``container`` (an OU or the root), and with ``include_children`` in every OU below."""
    containers = {container}
    if include_children:
        stack = list(children.get(container, []))
        while stack:
            ou_id = stack.pop()
            containers.add(ou_id)
            stack.extend(children.get(ou_id, []))
    return sorted(a for a, info in (tree.get("accounts") or {}).items() if info.get("parent_id") in containers)


def resolve(target_locations, tree=None, source="start", default_region=None):
    """The expected set of ``target_locations`` (API shape: ``Accounts``, ``Regions``,
    ``IncludeChildOrganizationUnits``, ``ExcludeAccounts``), with ``tree`` (organization.list_tree's result; needed
    only when an OU or root id appears, see :func:`needs_organization`).

    Returns ``{"version", "source", "locations": [{"account", "region", "from": [{"target_location", "target",
    "kind"}]}], "excluded": [{"account", "target_location", "excluded_by"}], "unresolved": [{"target_location",
    "target", "reason"}], "target_locations": [...]}``, locations sorted by account and region. A target that
    cannot be resolved (unknown OU, no tree) is listed in ``unresolved``, never silently dropped.

    ``Regions`` is optional in botocore's ``TargetLocation`` shape and AWS does not document what a location without
    it targets ("The Amazon Web Services Regions targeted by the current Automation execution"): such a location
    targets ``default_region``, the automation's own region (docs/aws-differences.md), and each of its ``from``
    entries says ``"region_defaulted": true``. Without a ``default_region`` it is listed in ``unresolved``.
    """
    children = _children(tree) if tree else {}
    root_id = (tree or {}).get("root_id")
    found = {}
    excluded = []
    unresolved = []
    for index, location in enumerate(target_locations or []):
        include_children = bool(location.get("IncludeChildOrganizationUnits"))
        regions = list(location.get("Regions") or [])
        region_defaulted = not regions
        if region_defaulted and default_region:
            regions = [default_region]
        elif region_defaulted:
            unresolved.append(
                {
                    "target_location": index,
                    "target": None,
                    "reason": "no Regions, and the automation's region is not known",
                }
            )
        accounts = {}
        for target in [str(t) for t in location.get("Accounts") or []]:
            if ACCOUNT_RE.match(target):
                accounts.setdefault(target, []).append({"target_location": index, "target": target, "kind": "account"})
                continue
            if tree is None:
                unresolved.append(
                    {"target_location": index, "target": target, "reason": "the organization could not be read"}
                )
                continue
            if target != root_id and target not in (tree.get("ous") or {}):
                unresolved.append(
                    {
                        "target_location": index,
                        "target": target,
                        "reason": "not in the organization (root %s)" % root_id,
                    }
                )
                continue
            kind = "root" if target == root_id else "ou"
            for account in _below(tree, target, include_children, children):
                accounts.setdefault(account, []).append({"target_location": index, "target": target, "kind": kind})
        for value in [str(v) for v in location.get("ExcludeAccounts") or []]:
            if ACCOUNT_RE.match(value):
                gone = [value]
            elif tree is not None and (value == root_id or value in (tree.get("ous") or {})):
                gone = _below(tree, value, True, children)
            else:
                unresolved.append({"target_location": index, "target": value, "reason": "excluded OU not resolvable"})
                gone = []
            for account in gone:
                if account in accounts:
                    del accounts[account]
                    excluded.append({"account": account, "target_location": index, "excluded_by": value})
        for account, sources in accounts.items():
            for region in regions:
                entry = found.setdefault((account, region), {"account": account, "region": region, "from": []})
                if region_defaulted:
                    entry["from"].extend(dict(s, region_defaulted=True) for s in sources)
                else:
                    entry["from"].extend(sources)
    return {
        "version": FORMAT_VERSION,
        "source": source,
        "locations": [found[k] for k in sorted(found)],
        "excluded": sorted(excluded, key=lambda e: (e["account"], e["target_location"])),
        "unresolved": unresolved,
        "target_locations": [dict(loc) for loc in target_locations or []],
    }


def read_file(path):
    """A kept ``targets.json``, or None when there is none. A file that is not an expected set raises ValueError."""
    if not path or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict) or not isinstance(data.get("locations"), list):
        raise ValueError("%s is not an expected target set (no locations list)" % path)
    for entry in data["locations"]:
        if not isinstance(entry, dict) or "account" not in entry or "region" not in entry:
            raise ValueError("%s: every location needs an account and a region" % path)
    return data


def write_file(path, expected):
    """Write ``expected`` to ``path`` whole (a temporary name, then rename), creating its directory."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(expected, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def _error_threshold(value, total):
    """``TargetLocationMaxErrors`` (``"10"`` or ``"10%"``, botocore's ssm model ``MaxErrors``) as a number of
    locations, or None when it cannot be read."""
    text = str(value or "").strip()
    try:
        if text.endswith("%"):
            return float(text[:-1]) * total / 100.0
        return float(text)
    except ValueError:
        return None


def max_errors_exceeded(header):
    """Whether the run's location errors can have exceeded its ``TargetLocationMaxErrors``, so that AWS stopped
    starting locations: True, False, or None when the header does not tell.

    AWS does not document whether a location that ends Failed counts as a location error or only one that could not
    start (docs/aws-differences.md); this counts every location that ended Failed, Cancelled or TimedOut, the reading
    under which more locations are deemed skipped. With the collection's default ``100%`` it is never exceeded, so a
    Pending location of a Failed run is one whose targets matched nothing."""
    if not header:
        return None
    progress = header.get("location_progress") or {}
    total = int(progress.get("total") or 0)
    errors = sum(int(progress.get(k) or 0) for k in ("failed", "cancelled", "timed_out"))
    thresholds = [_error_threshold(loc.get("max_errors"), total) for loc in header.get("target_locations") or []]
    if not thresholds:
        return None
    if None in thresholds:
        return None
    # AWS stops when the errors exceed the value; MaxErrors is per TargetLocation, so any one reached may have stopped
    # some locations.
    return any(errors > limit for limit in thresholds)


def unexplained(parent_status, step_status, step_present=True, max_errors_exceeded=None):
    """The status of a targeted location that AWS's answer does not explain (no member execution found), by the
    table of this module, with the reason. ``(None, None)`` while the parent still runs and the location is
    queued (not a verdict yet).

    A Pending location of a ``Failed`` run is ``NoTargets`` rather than ``NeverStarted`` only when
    ``max_errors_exceeded`` is False: the run's errors stayed within its ``TargetLocationMaxErrors``, so AWS started
    every location it could, and this one had no instance to run on (AWS leaves it Pending either way)."""
    pending = step_status in (None, "", "Pending")
    if not is_terminal(parent_status):
        if pending:
            return None, None
        return NOT_REPORTED, "the location is %s but names no member execution, and none was found" % step_status
    if not step_present:
        return NOT_REPORTED, (
            "targeted, but the automation's answer has no step for this account and region, and no member "
            "execution was found there"
        )
    if parent_status in SUCCESS_STATUSES and (pending or step_status in SUCCESS_STATUSES):
        return NO_TARGETS, (
            "no instance matched the targets in this account and region: the automation ended %s and this "
            "location started no execution" % parent_status
        )
    if parent_status == "Failed" and pending and max_errors_exceeded is False:
        return NO_TARGETS, (
            "no instance matched the targets in this account and region: the automation ended Failed because of "
            "other locations, within its TargetLocationMaxErrors, so every location was started and this one "
            "started no execution"
        )
    if parent_status in ENDED_UNSUCCESSFULLY and pending:
        return NEVER_STARTED, (
            "the automation ended (%s) before this location was started: TargetLocationMaxErrors was reached or "
            "the run was cancelled; its targets were not run" % parent_status
        )
    return NOT_REPORTED, "the location is %s (automation %s) and no member execution was found" % (
        step_status or "unknown",
        parent_status,
    )


def targets_text(execution):
    """The targets of a run, in a sentence, from its header (:func:`~.reading.execution_header`): its targets (tag
    keys and values) and target locations."""
    parts = []
    for target in execution.get("targets") or []:
        parts.append("%s=%s" % (target.get("key"), ",".join(target.get("values") or [])))
    where = []
    for location in execution.get("target_locations") or []:
        where.append(
            "%s in %s"
            % (",".join(location.get("accounts") or []) or "?", ",".join(location.get("regions") or []) or "?")
        )
    text = " ".join(parts) if parts else "the targets"
    if where:
        text += " (" + "; ".join(where) + ")"
    return text


def for_target_locations(target_locations, org_client, source, default_region=None):
    """:func:`resolve` with the organization's tree read through ``org_client`` (a callable returning an
    ``organizations`` client) only when an OU or root id needs it. Reading the tree may fail (no permission): the
    OU targets are then listed in ``unresolved`` with the reason, and the account ids still resolve.
    ``default_region`` is the automation's region, for a location without ``Regions`` (:func:`resolve`)."""
    tree = None
    error = None
    if needs_organization(target_locations):
        try:
            tree = organization.list_tree(org_client())
        except Exception as e:  # pylint: disable=broad-except
            error = error_info(e)
    result = resolve(target_locations, tree, source=source, default_region=default_region)
    if error:
        result["organization_error"] = error
        for item in result["unresolved"]:
            item["reason"] = "%s: %s" % (item["reason"], error["message"])
    return result


def for_request(module, target_locations):
    """The start module's hook: the expected set of the request's ``TargetLocations`` (the preflight need not have
    run), with the module's own retrying organizations client."""
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

    return for_target_locations(
        target_locations,
        lambda: module.client("organizations", retry_decorator=AWSRetry.jittered_backoff()),
        source="start",
        default_region=getattr(module, "region", None),
    )
