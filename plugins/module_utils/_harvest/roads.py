# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roads to a location's member execution, in order (docs/automation.md, "Finding the member execution").

1. ``step_output``: the parent's location step names it in its outputs (aws:executeAutomation documents an
   ``ExecutionId`` output; any output key ending in ``ExecutionId``/``ExecutionIds`` holding one UUID is read).
2. ``parent_execution_filter``: in the member account and region, ``DescribeAutomationExecutions`` filtered by
   ``ParentExecutionId`` = the parent's id (when AWS sets the member's ``ParentAutomationExecutionId`` to it).
3. ``document_and_start_time``: in the member account and region, ``DescribeAutomationExecutions`` filtered by
   ``StartTimeAfter`` = the parent's start (less one second: the filter is exclusive), keeping the executions of the
   parent's runbook (same name, or an ARN ending in it) that have no parent, or the parent, as their
   ``ParentAutomationExecutionId``.

A road that finds more than one candidate (two runs of the same runbook at once) is ambiguous: the location is
reported with its candidates and no one is picked. Roads 2 and 3 are taken only when road 1 gave nothing, also
for a step that ended Failed, Cancelled or TimedOut (its member execution may be why it failed). An error on one
road is recorded and the next road is still taken.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.common import error_info

STEP_OUTPUT = "step_output"
PARENT_FILTER = "parent_execution_filter"
DOCUMENT_AND_TIME = "document_and_start_time"
ROADS = (STEP_OUTPUT, PARENT_FILTER, DOCUMENT_AND_TIME)


def _parse_time(value):
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        stamp = value
    else:
        try:
            stamp = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp


def _same_document(name, wanted):
    """``name`` is the runbook ``wanted``: the same name, or an ARN (shared document) ending in ``document/<name>``."""
    if not name or not wanted:
        return False
    short = wanted.rsplit("/", 1)[-1]
    return name in (wanted, short) or name.endswith("document/" + short)


def _candidate(meta):
    return {
        "automation_execution_id": meta.get("AutomationExecutionId"),
        "document_name": meta.get("DocumentName"),
        "status": meta.get("AutomationExecutionStatus"),
        "start_time": meta.get("ExecutionStartTime").isoformat()
        if hasattr(meta.get("ExecutionStartTime"), "isoformat")
        else meta.get("ExecutionStartTime"),
        "parent_automation_execution_id": meta.get("ParentAutomationExecutionId"),
    }


def by_parent_filter(paged, parent_id):
    """Road 2: the member account's executions whose parent is ``parent_id``."""
    metas = paged(
        "describe_automation_executions",
        "AutomationExecutionMetadataList",
        Filters=[{"Key": "ParentExecutionId", "Values": [parent_id]}],
    )
    return [_candidate(m) for m in metas if m.get("AutomationExecutionId") != parent_id]


def by_document_and_time(paged, parent):
    """Road 3: the member account's executions of the parent's runbook started after the parent, without a parent
    of their own (or with the parent as theirs). None when the parent's start time or runbook is unknown."""
    start = _parse_time(parent.get("start_time"))
    document = parent.get("document_name")
    parent_id = parent.get("automation_execution_id")
    if start is None or not document:
        return None
    after = (start.astimezone(datetime.timezone.utc) - datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    metas = paged(
        "describe_automation_executions",
        "AutomationExecutionMetadataList",
        Filters=[{"Key": "StartTimeAfter", "Values": [after]}],
    )
    out = []
    for meta in metas:
        if meta.get("AutomationExecutionId") == parent_id:
            continue
        if not _same_document(meta.get("DocumentName"), document):
            continue
        if meta.get("ParentAutomationExecutionId") not in (None, "", parent_id):
            continue  # an instance execution of some member execution, not a member execution
        out.append(_candidate(meta))
    return out


def find(paged, parent):
    """Roads 2 then 3 for a location whose step named no member execution.

    Returns ``{"road", "member_execution_id", "candidates", "tried", "errors"}``: ``member_execution_id`` set when
    exactly one candidate was found (``road`` says by which road); several candidates leave it None with ``road`` and
    ``candidates`` set (ambiguous); nothing found leaves both None. ``tried`` lists the roads taken. A road that
    fails (an error past the reader's retries) does not stop the next one: it is in ``tried`` too, and its error in
    ``errors`` (``[{"road", "error": {"code", "message"}}]``); the caller reports an error only when no road found
    the member execution."""
    tried = []
    errors = []
    for road, look in (
        (PARENT_FILTER, lambda: by_parent_filter(paged, parent.get("automation_execution_id"))),
        (DOCUMENT_AND_TIME, lambda: by_document_and_time(paged, parent)),
    ):
        try:
            candidates = look()
        except Exception as e:  # pylint: disable=broad-except
            tried.append(road)
            errors.append({"road": road, "error": error_info(e)})
            continue
        if candidates is None:
            continue
        tried.append(road)
        if len(candidates) == 1:
            return {
                "road": road,
                "member_execution_id": candidates[0]["automation_execution_id"],
                "candidates": candidates,
                "tried": tried,
                "errors": errors,
            }
        if candidates:
            return {
                "road": road,
                "member_execution_id": None,
                "candidates": candidates,
                "tried": tried,
                "errors": errors,
            }
    return {"road": None, "member_execution_id": None, "candidates": [], "tried": tried, "errors": errors}
