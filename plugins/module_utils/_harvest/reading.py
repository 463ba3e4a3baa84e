# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the tree: the parent execution's locations (one per account x region step) and one location's reader.

The tree, as AWS builds it (Systems Manager user guide, "Running automations in multiple AWS Regions and
accounts"):

* management account: one parent execution (AutomationType ``CrossAccount``) with one step execution per
  targeted account x region; each step carries its ``TargetLocation`` and, in its outputs, the id of the
  execution it started in that account and region;
* each member account-region: that execution fans out into one execution per target (instance), whose
  ``ParentAutomationExecutionId`` is the member execution. Only that account's credentials see them.

Calls within a location are paced (a token bucket per location, :class:`Pacer`) and retried with jittered backoff
(botocore's ``standard``/``adaptive`` retry modes, then more rounds after a throttle); every list is paginated.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import time

from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.status import (
    SUCCESS_STATUSES,
    is_terminal,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import expected, roads
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.common import (
    EXPIRED_CODES,
    THROTTLE_CODES,
    UUID_RE,
    error_info,
    iso,
    pages,
    retry_attempts,
)

# Output keys, in order of preference, under which a parent's location step names its member execution.
MEMBER_ID_KEYS = ("ExecutionId", "AutomationExecutionId", "ChildAutomationExecutionId", "ExecutionIds")
RENEWALS = 3  # credential renewals per call, when AWS answers that they expired
# More rounds of a call that botocore's retries gave up on because of throttling (its attempts were spent, or its
# retry quota, which a client shared by many locations spends faster), each after slowing the location's pacer.
THROTTLE_ROUNDS = 4
THROTTLE_BACKOFF = 0.5  # seconds, doubled each round, jittered, at most THROTTLE_BACKOFF_MAX
THROTTLE_BACKOFF_MAX = 8.0
MIN_RATE = 0.5  # calls per second: a throttled location is never paced slower than this
COMMAND_STDOUT_MAX = 24000
COMMAND_STDERR_MAX = 8000


class Pacer:
    """A token bucket: at most ``rate`` calls per second on average, bursts up to ``burst``. One per location."""

    def __init__(self, rate, burst=None, clock=time.monotonic, sleep=time.sleep):
        self.rate = float(rate or 0)
        self.capacity = float(burst if burst is not None else max(1.0, self.rate))
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.last = clock()
        self.target = None  # the rate to come back to after slow_down()

    def slow_down(self, fallback=5.0):
        """Halve the rate (an unpaced location starts at ``fallback``) after a throttle; never below MIN_RATE."""
        if self.target is None:
            self.target = self.rate
        self.rate = max(MIN_RATE, (self.rate / 2.0) if self.rate > 0 else fallback)
        self.capacity = max(1.0, min(self.capacity, self.rate))
        self.tokens = min(self.tokens, 0.0)

    def recover(self):
        """After a call that went through: 10% faster, back up to the rate it started with (0: unpaced again)."""
        target = self.target
        if target is None:
            return
        if target > 0 and self.rate * 1.1 < target:
            self.rate *= 1.1
            return
        self.rate = target
        self.capacity = float(max(1.0, target))
        self.target = None

    def take(self):
        if self.rate <= 0:
            return
        while True:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1 - 1e-9:  # float rounding must not leave a call waiting forever
                self.tokens = max(0.0, self.tokens - 1)
                return
            self.sleep(max((1 - self.tokens) / self.rate, 1e-6))


# ---------------------------------------------------------------------------------------------------------
# Parent execution: one location per account x region step
# ---------------------------------------------------------------------------------------------------------


def member_execution_id(step):
    """The member account's execution id a parent location step started, from its outputs."""
    outputs = step.get("Outputs") or {}
    for key in MEMBER_ID_KEYS:
        for value in outputs.get(key) or []:
            if isinstance(value, str) and UUID_RE.match(value):
                return value
    for key in sorted(outputs):
        if key.endswith("ExecutionId") or key.endswith("ExecutionIds"):
            for value in outputs.get(key) or []:
                if isinstance(value, str) and UUID_RE.match(value):
                    return value
    return None


def parent_steps(ssm, parent_id, execution=None):
    """The parent execution and its step executions, paginated when GetAutomationExecution truncated them."""
    if execution is None:
        execution = ssm.get_automation_execution(AutomationExecutionId=parent_id)["AutomationExecution"]
    steps = execution.get("StepExecutions") or []
    if execution.get("StepExecutionsTruncated"):
        steps = list(pages(ssm.describe_automation_step_executions, "StepExecutions", AutomationExecutionId=parent_id))
    return execution, steps


def locations_from_steps(steps, default_region):
    """One location dict per account x region of each parent step that names its ``TargetLocation``. A step that
    names several accounts or regions gives one location for each, without a member execution id (which of them
    it belongs to is unknown: the other roads find it); a step without one is left to :func:`uninterpreted_steps`."""
    out = []
    for step in steps:
        target = step.get("TargetLocation") or {}
        accounts = target.get("Accounts") or []
        regions = target.get("Regions") or [default_region]
        if not accounts:
            continue
        single = len(accounts) == 1 and len(regions) == 1
        member = member_execution_id(step) if single else None
        for account in accounts:
            for region in regions:
                out.append(
                    {
                        "account": account,
                        "region": region,
                        "step_name": step.get("StepName"),
                        "status": step.get("StepStatus"),
                        "failure_message": step.get("FailureMessage"),
                        "start_time": iso(step.get("ExecutionStartTime")),
                        "end_time": iso(step.get("ExecutionEndTime")),
                        "execution_role_name": target.get("ExecutionRoleName"),
                        "member_execution_id": member,
                        "member_road": roads.STEP_OUTPUT if member else None,
                    }
                )
                if not single:
                    out[-1]["step_locations"] = len(accounts) * len(regions)
    return out


def uninterpreted_steps(steps):
    """The parent steps that name no account (no ``TargetLocation``), with their raw name and status: never
    skipped silently; reported in the summary while every targeted location is reconciled on its own."""
    out = []
    for step in steps:
        if (step.get("TargetLocation") or {}).get("Accounts"):
            continue
        out.append(
            {
                "step_name": step.get("StepName"),
                "action": step.get("Action"),
                "status": step.get("StepStatus"),
                "failure_message": step.get("FailureMessage"),
                "output_keys": sorted((step.get("Outputs") or {}).keys()),
                "member_execution_id": member_execution_id(step),
                "reason": "the step names no TargetLocation account",
            }
        )
    return out


def execution_header(execution):
    counters = execution.get("ProgressCounters") or {}
    return {
        "automation_execution_id": execution.get("AutomationExecutionId"),
        "document_name": execution.get("DocumentName"),
        "document_version": execution.get("DocumentVersion"),
        "status": execution.get("AutomationExecutionStatus"),
        "start_time": iso(execution.get("ExecutionStartTime")),
        "end_time": iso(execution.get("ExecutionEndTime")),
        "failure_message": execution.get("FailureMessage"),
        "target_parameter_name": execution.get("TargetParameterName"),
        "targets": [
            {"key": t.get("Key"), "values": list(t.get("Values") or [])} for t in execution.get("Targets") or []
        ],
        "target_locations": [
            {
                "accounts": list(loc.get("Accounts") or []),
                "regions": list(loc.get("Regions") or []),
                "include_child_ous": bool(loc.get("IncludeChildOrganizationUnits")),
                "exclude_accounts": list(loc.get("ExcludeAccounts") or []),
                "execution_role_name": loc.get("ExecutionRoleName"),
                "max_errors": loc.get("TargetLocationMaxErrors"),
            }
            for loc in execution.get("TargetLocations") or []
        ],
        "location_progress": {
            "total": counters.get("TotalSteps", 0),
            "success": counters.get("SuccessSteps", 0),
            "failed": counters.get("FailedSteps", 0),
            "cancelled": counters.get("CancelledSteps", 0),
            "timed_out": counters.get("TimedOutSteps", 0),
        },
    }


# ---------------------------------------------------------------------------------------------------------
# One location
# ---------------------------------------------------------------------------------------------------------


class LocationReader:
    """Reads one account-region: the member execution's children, then each child's steps."""

    def __init__(
        self,
        factory,
        location,
        target_parameter_name=None,
        full_output=False,
        summary_only=False,
        rate=0,
        pacer=None,
        parent_status=None,
        parent=None,
    ):
        self.factory = factory
        self.location = location
        self.parent_status = parent_status
        self.parent = parent  # the parent's header (id, runbook, start time): the roads to a member execution
        self.account = location["account"]
        self.region = location["region"]
        self.target_parameter_name = target_parameter_name
        self.full_output = full_output
        self.summary_only = summary_only
        self.pacer = pacer or Pacer(rate)
        self.calls = 0
        self.retries = 0
        self.renewals = 0
        self.errors = 0
        self._clients = {}

    def _client(self, service):
        client = self._clients.get(service)
        if client is None:
            client = self._clients[service] = self.factory.client(service, self.region, self.account)
        return client

    def call(self, service, operation, **kwargs):
        """One paced API call. When AWS says the credentials expired (possibly while botocore was retrying a
        throttled call), they are renewed and the call made again, up to ``RENEWALS`` times. When botocore's retries
        gave up on throttling, the location slows down (its pacer halves its rate, coming back 10% per call that
        goes through) and the call is made again after a jittered backoff, up to ``THROTTLE_ROUNDS`` times."""
        attempt = 0
        throttled = 0
        while True:
            self.pacer.take()
            self.calls += 1
            try:
                response = getattr(self._client(service), operation)(**kwargs)
            except Exception as e:  # pylint: disable=broad-except
                self.retries += retry_attempts(getattr(e, "response", None))
                code = error_info(e)["code"]
                if attempt < RENEWALS and code in EXPIRED_CODES:
                    attempt += 1
                    self.renewals += 1
                    self.factory.invalidate(self.account)
                    self._clients.clear()
                    continue
                if throttled < THROTTLE_ROUNDS and code in THROTTLE_CODES:
                    throttled += 1
                    self.retries += 1
                    self.pacer.slow_down()
                    backoff = min(THROTTLE_BACKOFF_MAX, THROTTLE_BACKOFF * 2 ** (throttled - 1))
                    self.pacer.sleep(backoff * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not security
                    continue
                raise
            self.retries += retry_attempts(response)
            self.pacer.recover()
            return response

    def _paged(self, operation, result_key, **kwargs):
        return pages(lambda **kw: self.call("ssm", operation, **kw), result_key, **kwargs)

    def children(self, member_id):
        return self._paged(
            "describe_automation_executions",
            "AutomationExecutionMetadataList",
            Filters=[{"Key": "ParentExecutionId", "Values": [member_id]}],
        )

    def read(self):
        record = dict(self.location)
        record.update({"read_status": "ok", "read_error": None, "instances": []})
        member_id = record.get("member_execution_id")
        if not member_id:
            unexplained = self._find_member(record)
            if unexplained is not None:
                return unexplained
            member_id = record["member_execution_id"]
        try:
            metas = list(self.children(member_id))
        except Exception as e:  # pylint: disable=broad-except
            self.errors += 1
            record["read_status"] = "failed"
            record["read_error"] = error_info(e)
            return record
        member = None
        if not metas or record.get("status") not in SUCCESS_STATUSES:
            # The member execution itself, once: it ran the steps itself (no fan-out), or it may have targets that
            # never started (MaxErrors reached, cancelled, still running), which its per-target steps list. A
            # location that succeeded started and finished every target, so this call would be redundant there.
            try:
                member = self.call("ssm", "get_automation_execution", AutomationExecutionId=member_id)[
                    "AutomationExecution"
                ]
            except Exception as e:  # pylint: disable=broad-except
                self.errors += 1
                record["read_status"] = "failed"
                record["read_error"] = error_info(e)
                return record
            record["member_status"] = member.get("AutomationExecutionStatus")
            if member.get("FailureMessage"):
                record["member_failure_message"] = member.get("FailureMessage")
            if not metas and not member.get("Targets") and not member.get("TargetMaps"):
                # No fan-out: the member execution ran the runbook's steps itself.
                if member.get("StepExecutions"):
                    record["instances"].append(self._instance_from_execution(member, member))
                return record
        metas.sort(key=lambda m: (self._target_of(m) or "", m.get("AutomationExecutionId") or ""))
        for meta in metas:
            record["instances"].append(self._instance(meta))
        if member is not None:
            record["instances"].extend(self._not_started(member, record["instances"]))
            if member.get("StepExecutionsTruncated") and ((member.get("ResolvedTargets") or {}).get("Truncated")):
                record["targets_truncated"] = True
        if any(i.get("read_error") for i in record["instances"]):
            record["read_status"] = "partial"
        self._no_targets(record, member)
        return record

    def _no_targets(self, record, member):
        """A location whose member execution ended successfully with no instance: no instance matched there."""
        if record["instances"] or record["read_status"] != "ok" or record.get("status") not in SUCCESS_STATUSES:
            return
        if member is not None and member.get("AutomationExecutionStatus") not in SUCCESS_STATUSES:
            return
        record["step_status"] = record.get("status")
        record["status"] = expected.NO_TARGETS
        record["reason"] = "no instance matched the targets in this account and region (member execution %s)" % (
            record.get("member_execution_id")
        )

    def _find_member(self, record):
        """For a location whose parent step named no member execution: take the other roads (:mod:`.roads`). Returns
        None when one member execution was found (set on ``record``), else the record, with its status by the table
        of :mod:`.expected` and the reason.

        A step that ended Failed, Cancelled or TimedOut is searched too: on AWS the step of a TargetLocations run can
        fail because its member execution failed (and a step covering several accounts because one of them did), so
        the member execution may exist and its instances must be read; the step's failure message stays in the
        record. Only when no road finds one is the location ``NoMemberExecution``, with the step's failure message
        and the roads tried."""
        status = record.get("status")
        pending = status in (None, "", "Pending")
        record["read_status"] = "skipped"
        if pending and not is_terminal(self.parent_status):
            record["read_error"] = {
                "code": "NotStarted",
                "message": "the location has not started a member execution yet",
            }
            return record
        step_failed = not pending and is_terminal(status) and status not in SUCCESS_STATUSES
        found = None
        if self.parent is not None:
            try:
                found = roads.find(self._paged, self.parent)
            except Exception as e:  # pylint: disable=broad-except
                self.errors += 1
                record["search_error"] = error_info(e)
        if found is not None:
            record["member_roads_tried"] = found["tried"]
            if found["errors"]:
                record["member_road_errors"] = found["errors"]
            if found["member_execution_id"]:
                record.update(member_execution_id=found["member_execution_id"], member_road=found["road"])
                record["read_status"] = "ok"
                return None
            if found["errors"]:
                # No road found the member execution: now the roads' errors explain why the search came back empty.
                self.errors += len(found["errors"])
                record["search_error"] = {
                    "code": found["errors"][0]["error"]["code"],
                    "message": "; ".join("%s: %s" % (e["road"], e["error"]["message"]) for e in found["errors"]),
                }
        if step_failed and not (found is not None and found["candidates"]):
            # The step failed and no road found a member execution: its failure explains the location (role not
            # assumable...).
            record["read_error"] = {
                "code": "NoMemberExecution",
                "message": record.get("failure_message") or "the location started no member execution",
            }
            return record
        record["step_status"] = status
        if found is not None and found["candidates"]:
            record.update(member_road=found["road"], member_candidates=found["candidates"])
            record["status"] = expected.NOT_REPORTED
            record["reason"] = "ambiguous: %d candidate member executions found by %s (%s); none was picked" % (
                len(found["candidates"]),
                found["road"],
                ", ".join(c["automation_execution_id"] or "?" for c in found["candidates"]),
            )
            record["read_error"] = {"code": "AmbiguousMemberExecution", "message": record["reason"]}
            return record
        code, reason = expected.unexplained(
            self.parent_status,
            status,
            record.get("step_present", True),
            max_errors_exceeded=expected.max_errors_exceeded(self.parent),
        )
        if code is None:
            record["read_error"] = {
                "code": "NotStarted",
                "message": "the location has not started a member execution yet",
            }
            return record
        if record.get("search_error"):
            reason += (
                " (the other roads to a member execution could not be searched: %s)"
                % (record["search_error"]["message"])
            )
        record["status"] = code
        record["reason"] = reason
        record["read_error"] = {"code": code, "message": reason}
        return record

    @staticmethod
    def _not_started(member, instances):
        """Targets the member execution resolved but never started an execution for (MaxErrors, cancel)."""
        seen = {i.get("instance_id") for i in instances}
        steps = {}
        if not member.get("StepExecutionsTruncated"):
            for st in member.get("StepExecutions") or []:
                steps[st.get("StepName")] = st
        values = list(steps)
        resolved = member.get("ResolvedTargets") or {}
        if not values and not resolved.get("Truncated"):
            values = list(resolved.get("ParameterValues") or [])
        out = []
        for value in values:
            if not value or value in seen or value.startswith("TargetMap-"):
                continue
            st = steps.get(value) or {}
            status = st.get("StepStatus") or "Pending"
            out.append(
                {
                    "instance_id": value,
                    "execution_id": None,
                    "status": status,
                    "start_time": iso(st.get("ExecutionStartTime")),
                    "end_time": iso(st.get("ExecutionEndTime")),
                    "failure_message": st.get("FailureMessage")
                    or "not started by %s (status %s)"
                    % (member.get("AutomationExecutionId"), member.get("AutomationExecutionStatus")),
                    "read_error": None,
                    "not_started": True,
                    "steps": [],
                }
            )
        return out

    def _target_of(self, meta, execution=None):
        target = meta.get("Target")
        if target:
            return target
        resolved = (meta.get("ResolvedTargets") or {}).get("ParameterValues") or []
        if len(resolved) == 1:
            return resolved[0]
        name = (execution or meta).get("TargetParameterName") or self.target_parameter_name
        params = (execution or {}).get("Parameters") or {}
        values = params.get(name) or []
        return values[0] if values else None

    def _instance(self, meta):
        base = {
            "instance_id": self._target_of(meta),
            "execution_id": meta.get("AutomationExecutionId"),
            "status": meta.get("AutomationExecutionStatus"),
            "start_time": iso(meta.get("ExecutionStartTime")),
            "end_time": iso(meta.get("ExecutionEndTime")),
            "failure_message": meta.get("FailureMessage"),
            "read_error": None,
            "steps": [],
        }
        if self.summary_only:
            return base
        try:
            execution = self.call(
                "ssm", "get_automation_execution", AutomationExecutionId=meta["AutomationExecutionId"]
            )["AutomationExecution"]
            if execution.get("StepExecutionsTruncated"):
                execution = dict(execution)
                execution["StepExecutions"] = self._all_steps(meta["AutomationExecutionId"])
        except Exception as e:  # pylint: disable=broad-except
            self.errors += 1
            base["read_error"] = error_info(e)
            return base
        return self._instance_from_execution(execution, meta, base)

    def _all_steps(self, execution_id):
        return list(
            self._paged("describe_automation_step_executions", "StepExecutions", AutomationExecutionId=execution_id)
        )

    def _instance_from_execution(self, execution, meta, base=None):
        instance = base or {
            "instance_id": None,
            "execution_id": execution.get("AutomationExecutionId"),
            "read_error": None,
        }
        instance["instance_id"] = instance.get("instance_id") or self._target_of(meta, execution)
        instance["status"] = execution.get("AutomationExecutionStatus") or instance.get("status")
        instance["start_time"] = iso(execution.get("ExecutionStartTime")) or instance.get("start_time")
        instance["end_time"] = iso(execution.get("ExecutionEndTime")) or instance.get("end_time")
        instance["failure_message"] = execution.get("FailureMessage") or instance.get("failure_message")
        instance["steps"] = [
            self._step(step, instance["instance_id"]) for step in execution.get("StepExecutions") or []
        ]
        return instance

    def _step(self, step, instance_id):
        details = step.get("FailureDetails") or {}
        out = {
            "step_name": step.get("StepName"),
            "action": step.get("Action"),
            "status": step.get("StepStatus"),
            "start_time": iso(step.get("ExecutionStartTime")),
            "end_time": iso(step.get("ExecutionEndTime")),
            "response_code": step.get("ResponseCode"),
            "outputs": dict(step.get("Outputs") or {}),
            "failure_message": step.get("FailureMessage"),
            "failure_type": details.get("FailureType"),
        }
        if self.full_output and step.get("Action") == "aws:runCommand":
            command_id = _first(out["outputs"].get("CommandId"))
            if command_id and instance_id:
                try:
                    invocation = self.call(
                        "ssm", "get_command_invocation", CommandId=command_id, InstanceId=instance_id
                    )
                    out["stdout"] = (invocation.get("StandardOutputContent") or "")[:COMMAND_STDOUT_MAX]
                    out["stderr"] = (invocation.get("StandardErrorContent") or "")[:COMMAND_STDERR_MAX]
                    out["command_status"] = invocation.get("Status")
                    out["command_response_code"] = invocation.get("ResponseCode")
                except Exception as e:  # pylint: disable=broad-except
                    self.errors += 1
                    out["output_error"] = error_info(e)
        return out


def _first(values):
    if isinstance(values, list):
        return values[0] if values else None
    return values
