# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Harvest a multi-account SSM Automation execution tree: every location, every instance, every step.

:func:`gather` reads it all: locations in parallel (:mod:`.parallel`), each by a :class:`~.reading.LocationReader`
(paced, retried, paginated, no redundant call: per location one DescribeAutomationExecutions page per 50 children
and one GetAutomationExecution per instance execution). Member accounts are read by assuming the reader role
(:mod:`.clients`). A location that cannot be read is recorded with the reason; nothing is dropped. Records are
handed to ``callback`` as they complete, so that a caller can stream them (JSON Lines) instead of holding a
40,000-instance tree in memory.

Usable without Ansible: ``gather(factory_from_connection(region, endpoint_url, params), parent_id, region)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.status import is_terminal
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.common import (
    PAGE_SIZE,
    HarvestErrorHandler,
    error_info,
    iso,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.details import (
    add_instance_details,
    organization_details,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.expected import (
    for_target_locations,
    targets_text,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.parallel import (
    processes_for,
    read_in_processes,
    read_in_threads,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.reading import (
    LocationReader,
    execution_header,
    locations_from_steps,
    parent_steps,
    uninterpreted_steps,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.summary import Summary


@HarvestErrorHandler.common_error_handler("read the automation execution")
def read_parent(factory, ssm, parent_id):
    """The parent execution and its steps; raises :class:`~.common.HarvestError` (the one failure of the whole
    harvest: without the parent there is nothing to read). The caller's account is resolved here too, once,
    before the worker threads need it."""
    getattr(factory, "caller_account", None)
    return parent_steps(ssm, parent_id)


def execution_kind(ssm, execution, steps, expected=None):
    """Whether the parent is a cross-account (TargetLocations) run, and why: ``{"cross_account", "because",
    "calls"}``.

    Cross-account when any of these holds: ``TargetLocations`` non-empty, ``TargetLocationsURL`` set (a run started
    with it may carry no ``TargetLocations``), ``AutomationType`` ``CrossAccount`` (botocore's model of
    GetAutomationExecution's ``AutomationExecution`` has no ``AutomationType``; only DescribeAutomationExecutions'
    ``AutomationExecutionMetadata`` has it, so this holds only where an answer adds it), a kept or recomputed
    expected set with locations, or a parent step that carries a ``TargetLocation``. When none holds and the answer
    does not say ``AutomationType`` either, the parent is looked up once with DescribeAutomationExecutions (filter
    ``ExecutionId``) for its ``AutomationType``; if that lookup fails or does not tell, the run is taken as Local
    (the parent's own steps are its one location, in the caller's account)."""
    if execution.get("TargetLocations"):
        return {"cross_account": True, "because": "TargetLocations", "calls": 0}
    if execution.get("TargetLocationsURL"):
        return {"cross_account": True, "because": "TargetLocationsURL", "calls": 0}
    if execution.get("AutomationType") == "CrossAccount":
        return {"cross_account": True, "because": "AutomationType", "calls": 0}
    if expected and expected.get("locations"):
        return {"cross_account": True, "because": "expected set", "calls": 0}
    if any(step.get("TargetLocation") for step in steps):
        return {"cross_account": True, "because": "step TargetLocation", "calls": 0}
    if execution.get("AutomationType"):
        return {"cross_account": False, "because": "AutomationType", "calls": 0}
    parent_id = execution.get("AutomationExecutionId")
    try:
        metas = ssm.describe_automation_executions(Filters=[{"Key": "ExecutionId", "Values": [parent_id]}]).get(
            "AutomationExecutionMetadataList"
        )
    except Exception:  # pylint: disable=broad-except
        return {"cross_account": False, "because": "no sign of target locations (lookup failed)", "calls": 1}
    for meta in metas or []:
        if meta.get("AutomationExecutionId") == parent_id and meta.get("AutomationType"):
            cross = meta["AutomationType"] == "CrossAccount"
            return {"cross_account": cross, "because": "DescribeAutomationExecutions AutomationType", "calls": 1}
    return {"cross_account": False, "because": "no sign of target locations", "calls": 1}


def gather(
    factory,
    parent_id,
    region,
    concurrency=16,
    rate=10.0,
    full_output=False,
    summary_only=False,
    callback=None,
    keep=True,
    max_failures=1000,
    on_header=None,
    processes=1,
    expected=None,
    on_expected=None,
    details=False,
):
    """Read the whole tree of ``parent_id`` (in the caller's account and ``region``).

    ``factory`` is a :class:`~.clients.ClientFactory` (or anything with ``client(service, region, account)``,
    ``invalidate(account)`` and ``caller_account``). ``rate`` paces calls per location (calls per second,
    0 = unpaced); ``concurrency`` bounds the locations read at once. Each finished location record is passed
    to ``callback(record)`` in the calling thread, in completion order; with ``keep=False`` records are not
    kept (streaming). ``on_header(header)`` receives the parent's summary before any location.

    Every targeted account x region is in the result (:mod:`.expected`): ``expected`` is a kept expected set
    (``targets.json``), which wins; without it the set is recomputed from the parent's ``TargetLocations`` and the
    organization, and handed to ``on_expected(expected_set)`` (to keep it). A targeted location without a step of
    its own is reported with a status by the table of :mod:`.expected`; a step that names no account is reported
    in ``summary.uninterpreted_steps`` with its raw name and status.

    Returns ``{"execution": header, "locations": [...] or None, "summary": {...}, "progress": {...},
    "expected": the expected set or None}``, locations sorted by account and region.
    """
    ssm = factory.client("ssm", region)
    execution, steps = read_parent(factory, ssm, parent_id)
    parent_calls = 1 + ((len(steps) + PAGE_SIZE - 1) // PAGE_SIZE if execution.get("StepExecutionsTruncated") else 0)
    header = execution_header(execution)
    if on_header:
        on_header(header)
    locations = locations_from_steps(steps, region)
    kind = execution_kind(ssm, execution, steps, expected)
    cross_account = kind["cross_account"]
    parent_calls += kind["calls"]
    if not locations and not cross_account:
        # A Local execution (no target locations): the execution itself is the one location, in the caller's account.
        locations = [
            {
                "account": factory.caller_account,
                "region": region,
                "step_name": None,
                "status": execution.get("AutomationExecutionStatus"),
                "failure_message": execution.get("FailureMessage"),
                "start_time": iso(execution.get("ExecutionStartTime")),
                "end_time": iso(execution.get("ExecutionEndTime")),
                "execution_role_name": None,
                "member_execution_id": parent_id,
            }
        ]
    else:
        if expected is None and execution.get("TargetLocations"):
            expected = for_target_locations(
                execution["TargetLocations"],
                lambda: factory.client("organizations", region),
                source="recomputed from automation %s" % parent_id,
                default_region=region,
            )
            if on_expected:
                on_expected(expected)
        locations = reconcile(locations, expected)
    uninterpreted = uninterpreted_steps(steps) if cross_account else []
    del steps
    names = organization_details(factory, region) if details and not summary_only else {}
    summary = Summary(max_failures=max_failures)
    summary.api_calls += parent_calls
    kept = [] if keep else None
    target_parameter_name = execution.get("TargetParameterName")

    def work(location):
        reader = LocationReader(
            factory,
            location,
            target_parameter_name,
            full_output=full_output,
            summary_only=summary_only,
            rate=rate,
            parent_status=header["status"],
            parent=header,
        )
        try:
            record = reader.read()
        except Exception as e:  # pylint: disable=broad-except
            # Anything unexpected (assume-role refused, endpoint down past retries) stays on this location.
            record = dict(location, read_status="failed", read_error=error_info(e), instances=[])
        if details and not summary_only:
            record.update(names.get(record.get("account")) or {})
            add_instance_details(reader, record)
        record["api_calls"] = reader.calls
        record["retries"] = reader.retries
        record["credential_renewals"] = reader.renewals
        return record

    def finish(record):
        summary.add(record)
        summary.api_calls += record.get("api_calls", 0)
        summary.retries += record.get("retries", 0)
        summary.renewals += record.get("credential_renewals", 0)
        if callback:
            callback(record)
        if kept is not None:
            kept.append(record)

    workers = max(1, int(concurrency or 1))
    used = processes_for(processes, len(locations), workers)
    if used > 1:
        assume_calls = 0
        for item in read_in_processes(factory, locations, work, workers, used):
            if isinstance(item, int):
                assume_calls += item
            else:
                finish(item)
        summary.api_calls += assume_calls
    else:
        for record in read_in_threads(factory, locations, work, workers):
            finish(record)
        if hasattr(factory, "assume_calls"):
            summary.api_calls += factory.assume_calls
    if kept is not None:
        kept.sort(key=lambda r: (r["account"], r["region"]))
    out = summary.as_dict()
    out["processes"] = used
    out["uninterpreted_steps"] = uninterpreted
    out["expected_locations"] = len(expected["locations"]) if expected else None
    out["expected_source"] = expected.get("source") if expected else None
    out["unresolved_targets"] = list(expected.get("unresolved") or []) if expected else []
    if cross_account and not expected and execution.get("TargetLocationsURL"):
        # The targets are in a file the harvest does not read: say so rather than report a shorter run silently.
        out["unresolved_targets"].append(
            {
                "target_location": None,
                "target": execution["TargetLocationsURL"],
                "reason": "TargetLocationsURL is not read by the harvest and no kept targets.json was given: "
                "only the locations the automation's steps name are reported",
            }
        )
    out["execution_kind"] = kind["because"]
    out["no_instance_matched"] = None
    if is_terminal(header["status"]) and not out["instances"]:
        out["no_instance_matched"] = "no instance matched the targets: %s" % targets_text(header)
    return {
        "execution": header,
        "locations": kept,
        "summary": out,
        "progress": summary.progress(),
        "expected": expected,
    }


def reconcile(locations, expected):
    """``locations`` (from the parent's steps) plus one location for every expected account x region that no step
    names (``step_present`` false), each marked with where it came from (``targeted_by``); nothing is removed."""
    if not expected:
        return locations
    sources = {(e["account"], e["region"]): e.get("from") or [] for e in expected.get("locations") or []}
    seen = set()
    out = []
    for location in locations:
        key = (location["account"], location["region"])
        seen.add(key)
        out.append(dict(location, targeted_by=sources.get(key)))
    for key in sorted(sources):
        if key in seen:
            continue
        out.append(
            {
                "account": key[0],
                "region": key[1],
                "step_name": None,
                "status": None,
                "failure_message": None,
                "start_time": None,
                "end_time": None,
                "execution_role_name": None,
                "member_execution_id": None,
                "member_road": None,
                "step_present": False,
                "targeted_by": sources[key],
            }
        )
    return out


def progress(factory, parent_id, region, concurrency=16, rate=10.0):
    """Instance counts by status, cheaply: only the DescribeAutomationExecutions pages, no per-instance call."""
    result = gather(factory, parent_id, region, concurrency=concurrency, rate=rate, summary_only=True, keep=False)
    return {"execution": result["execution"], "progress": result["progress"], "summary": result["summary"]}
