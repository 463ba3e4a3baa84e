# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start, find, stop, wait for and summarize an execution, and count progress (private; import from ``automation``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.common import TOKEN_TAG_PREFIX
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.request import token_tag_key
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.status import is_terminal


def fetch_runbook(ssm, name, version=None):
    """GetDocument for the pinned (or default) version; returns the raw content string and its format."""
    kwargs = {"Name": name}
    if version:
        kwargs["DocumentVersion"] = version
    response = _aws.call(ssm, "get_document", **kwargs)
    return response.get("Content") or "", response.get("DocumentFormat") or "JSON", response.get("DocumentVersion")


def find_by_token(ssm, token):
    """The execution previously started with ``token`` (found by its tag), or None. Read-only."""
    items = _aws.paginate(
        ssm,
        "describe_automation_executions",
        "AutomationExecutionMetadataList",
        Filters=[{"Key": "TagKey", "Values": [token_tag_key(token)]}],
        MaxResults=50,
    )
    found = [item for item in items if not item.get("ParentAutomationExecutionId")]
    if not found:
        return None
    found.sort(key=lambda m: str(m.get("ExecutionStartTime") or ""))
    return found[0]


def start(ssm, request):
    """StartAutomationExecution; returns the execution id."""
    return _aws.call(ssm, "start_automation_execution", **request)["AutomationExecutionId"]


def with_token_tag(request, token):
    request = copy.deepcopy(request)
    request["ClientToken"] = token
    tags = [t for t in request.get("Tags") or [] if not t["Key"].startswith(TOKEN_TAG_PREFIX)]
    tags.append({"Key": token_tag_key(token), "Value": "true"})
    request["Tags"] = tags
    return request


def get_execution(ssm, execution_id):
    return _aws.call(ssm, "get_automation_execution", AutomationExecutionId=execution_id)["AutomationExecution"]


def stop(ssm, execution_id):
    _aws.call(ssm, "stop_automation_execution", AutomationExecutionId=execution_id, Type="Cancel")


def wait(ssm, execution_id, timeout, poll_interval, on_poll=None, clock=time.monotonic, sleep=time.sleep):
    """Poll GetAutomationExecution until the execution is terminal or ``timeout`` seconds pass.

    Returns ``(execution, timed_out)``. A timeout is not an error: the caller reports the current state.
    ``on_poll(execution)`` is called after each poll.
    """
    deadline = clock() + max(0, timeout)
    while True:
        execution = get_execution(ssm, execution_id)
        if on_poll:
            on_poll(execution)
        if is_terminal(execution.get("AutomationExecutionStatus")):
            return execution, False
        remaining = deadline - clock()
        if remaining <= 0:
            return execution, True
        sleep(min(max(poll_interval, 0.05), remaining))


def summarize_execution(execution):
    """The parent's status, counters and per-location step statuses, JSON-safe and without secrets."""
    counters = execution.get("ProgressCounters") or {}
    locations = []
    for step in execution.get("StepExecutions") or []:
        target = step.get("TargetLocation") or {}
        locations.append(
            {
                "step_name": step.get("StepName"),
                "accounts": list(target.get("Accounts") or []),
                "regions": list(target.get("Regions") or []),
                "status": step.get("StepStatus"),
                "failure_message": step.get("FailureMessage"),
            }
        )
    return {
        "automation_execution_id": execution.get("AutomationExecutionId"),
        "status": execution.get("AutomationExecutionStatus"),
        "document_name": execution.get("DocumentName"),
        "document_version": execution.get("DocumentVersion"),
        "start_time": _aws.iso(execution.get("ExecutionStartTime")),
        "end_time": _aws.iso(execution.get("ExecutionEndTime")),
        "failure_message": execution.get("FailureMessage"),
        "location_progress": {
            "total": counters.get("TotalSteps", 0),
            "success": counters.get("SuccessSteps", 0),
            "failed": counters.get("FailedSteps", 0),
            "cancelled": counters.get("CancelledSteps", 0),
            "timed_out": counters.get("TimedOutSteps", 0),
        },
        "location_steps": locations,
    }


# ---------------------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------------------


def count_statuses(statuses):
    by_status = {}
    for status in statuses:
        by_status[status] = by_status.get(status, 0) + 1
    done = sum(n for s, n in by_status.items() if is_terminal(s))
    return {"done": done, "total": sum(by_status.values()), "by_status": by_status}
