"""Executions and step executions: state, indexes, and rendering in AWS's response shapes.

Field values follow the AWS API reference (AutomationExecution, AutomationExecutionMetadata, StepExecution,
ProgressCounters, ResolvedTargets) and the AWS CLI examples shipped with awscli (get-automation-execution,
describe-automation-executions); docs/sandbox-engine.md lists the sources and the few values that are our choice.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

TERMINAL = frozenset(
    {"Success", "Failed", "TimedOut", "Cancelled", "CompletedWithSuccess", "CompletedWithFailure", "Exited", "Rejected"}
)
# GetAutomationExecution returns at most this many step executions, with StepExecutionsTruncated=true beyond it
# (the rest through the paginated DescribeAutomationStepExecutions). AWS does not document the number.
STEP_LIMIT = 100


_random = random.Random()


def new_id() -> str:
    """A version-4 UUID (the shape of AWS's execution, step and command ids), without a syscall per id."""
    return str(uuid.UUID(int=_random.getrandbits(128), version=4))


@dataclass(slots=True)
class StepExecution:
    step_name: str
    action: str
    step_execution_id: str = field(default_factory=new_id)
    status: str = "Pending"
    start: float | None = None
    end: float | None = None
    inputs: dict | None = None
    outputs: dict | None = None
    failure_message: str | None = None
    failure_details: dict | None = None
    response: str | None = None
    response_code: str | None = None
    timeout_seconds: int | None = None
    on_failure: str | None = None
    max_attempts: int | None = None
    is_end: bool | None = None
    next_step: str | None = None
    is_critical: bool | None = None
    valid_next_steps: list | None = None
    target_location: dict | None = None
    targets: list | None = None
    overridden_parameters: dict | None = None
    parent_step_details: dict | None = None  # a step inside an aws:loop
    # engine bookkeeping (not rendered)
    child_id: str | None = None
    attempt: int = 0
    explicit_critical: bool = False
    plan_index: int = 0
    target_value: Any = None
    launch_failed: bool = False
    no_targets: bool = False  # a location where no target matched: left Pending, as AWS does
    plan_entry: Any = None

    def render(self) -> dict:
        out: dict[str, Any] = {"StepName": self.step_name, "Action": self.action}
        if self.timeout_seconds is not None:
            out["TimeoutSeconds"] = self.timeout_seconds
        if self.on_failure is not None:
            out["OnFailure"] = self.on_failure
        if self.max_attempts is not None:
            out["MaxAttempts"] = self.max_attempts
        if self.start is not None:
            out["ExecutionStartTime"] = self.start
        if self.end is not None:
            out["ExecutionEndTime"] = self.end
        out["StepStatus"] = self.status
        if self.response_code is not None:
            out["ResponseCode"] = self.response_code
        if self.inputs is not None:
            out["Inputs"] = self.inputs
        if self.outputs is not None:
            out["Outputs"] = self.outputs
        if self.response is not None:
            out["Response"] = self.response
        if self.failure_message is not None:
            out["FailureMessage"] = self.failure_message
        if self.failure_details is not None:
            out["FailureDetails"] = self.failure_details
        out["StepExecutionId"] = self.step_execution_id
        out["OverriddenParameters"] = self.overridden_parameters or {}
        if self.is_end is not None:
            out["IsEnd"] = self.is_end
        if self.next_step is not None:
            out["NextStep"] = self.next_step
        if self.is_critical is not None:
            out["IsCritical"] = self.is_critical
        if self.valid_next_steps is not None:
            out["ValidNextSteps"] = self.valid_next_steps
        if self.targets is not None:
            out["Targets"] = self.targets
        if self.target_location is not None:
            out["TargetLocation"] = self.target_location
        if self.parent_step_details is not None:
            out["ParentStepDetails"] = self.parent_step_details
        return out


@dataclass(eq=False)
class Execution:
    """One automation execution. ``kind``: "cross-account" (the management account's parent), "rate" (a rate
    control execution fanning out to targets: a member location, or a local run with Targets), or "runbook" (runs
    the runbook's steps itself: an instance's execution, or a plain execution)."""

    id: str
    account: str
    region: str
    kind: str
    document_name: str
    document_version: str
    executed_by: str
    start: float
    mode: str = "Auto"
    automation_type: str = "Local"
    status: str = "Pending"
    end: float | None = None
    parameters: dict = field(default_factory=dict)  # API form (name -> [str])
    outputs: dict = field(default_factory=dict)
    failure_message: str | None = None
    parent_id: str | None = None
    target_parameter_name: str | None = None
    targets: list | None = None
    target_maps: list | None = None
    resolved_targets: list | None = None
    max_concurrency: str | None = None
    max_errors: str | None = None
    target: str | None = None
    target_locations: list | None = None
    tags: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    current_step: str | None = None
    current_action: str | None = None
    # engine state (not rendered)
    runbook: Any = None
    ctx: Any = None
    cancel_requested: bool = False
    plan: dict = field(default_factory=dict)
    timers: list = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def progress_counters(self) -> dict | None:
        if self.kind != "cross-account":
            return None
        counts = {
            "TotalSteps": len(self.steps),
            "SuccessSteps": 0,
            "FailedSteps": 0,
            "CancelledSteps": 0,
            "TimedOutSteps": 0,
        }
        for step in self.steps:
            key = {
                "Success": "SuccessSteps",
                "Failed": "FailedSteps",
                "Cancelled": "CancelledSteps",
                "TimedOut": "TimedOutSteps",
            }.get(step.status)
            if key:
                counts[key] += 1
        return counts

    def _common(self) -> dict:
        out: dict[str, Any] = {
            "AutomationExecutionId": self.id,
            "DocumentName": self.document_name,
            "DocumentVersion": self.document_version,
            "ExecutionStartTime": self.start,
        }
        if self.end is not None:
            out["ExecutionEndTime"] = self.end
        out["AutomationExecutionStatus"] = self.status
        return out

    def _targeting(self, out: dict, full: bool = True) -> None:
        if self.failure_message is not None:
            out["FailureMessage"] = self.failure_message
        out["Mode"] = self.mode
        if self.parent_id is not None:
            out["ParentAutomationExecutionId"] = self.parent_id
        out["ExecutedBy"] = self.executed_by
        if self.current_step is not None and not self.terminal:
            out["CurrentStepName"] = self.current_step
            out["CurrentAction"] = self.current_action
        if self.target_parameter_name is not None:
            out["TargetParameterName"] = self.target_parameter_name
        out["Targets"] = self.targets or []
        if self.target_maps is not None:
            out["TargetMaps"] = self.target_maps
        out["ResolvedTargets"] = {"ParameterValues": list(self.resolved_targets or []), "Truncated": False}
        if self.max_concurrency is not None:
            out["MaxConcurrency"] = self.max_concurrency
        if self.max_errors is not None:
            out["MaxErrors"] = self.max_errors
        if self.target is not None:
            out["Target"] = self.target
        if self.target_locations is not None and full:  # AutomationExecutionMetadata has no TargetLocations
            out["TargetLocations"] = self.target_locations

    def render(self) -> dict:
        """GetAutomationExecution's AutomationExecution."""
        out = self._common()
        steps = self.steps[:STEP_LIMIT]
        out["StepExecutions"] = [s.render() for s in steps]
        out["StepExecutionsTruncated"] = len(self.steps) > STEP_LIMIT
        out["Parameters"] = self.parameters
        out["Outputs"] = self.outputs
        self._targeting(out)
        counters = self.progress_counters()
        if counters is not None:
            out["ProgressCounters"] = counters
        return out

    def metadata(self) -> dict:
        """DescribeAutomationExecutions' AutomationExecutionMetadata."""
        out = self._common()
        out["LogFile"] = ""
        out["Outputs"] = self.outputs
        self._targeting(out, full=False)
        out["AutomationType"] = self.automation_type
        return out


class Store:
    """Executions with the indexes every handler needs, so no request scans the whole sandbox."""

    def __init__(self):
        self.by_id: dict[str, Execution] = {}
        self.by_location: dict[tuple[str, str], list[Execution]] = defaultdict(list)
        self.by_parent: dict[tuple[str, str, str], list[Execution]] = defaultdict(list)
        self.tokens: dict[tuple[str, str, str], tuple[str, str]] = {}  # (account, region, token) -> (id, fingerprint)

    def add(self, ex: Execution) -> None:
        self.by_id[ex.id] = ex
        self.by_location[(ex.account, ex.region)].append(ex)
        if ex.parent_id:
            self.by_parent[(ex.account, ex.region, ex.parent_id)].append(ex)

    def get(self, account: str, region: str, execution_id: str) -> Execution | None:
        ex = self.by_id.get(execution_id)
        if ex is None or ex.account != account or ex.region != region:
            return None
        return ex

    def clear(self) -> None:
        self.by_id.clear()
        self.by_location.clear()
        self.by_parent.clear()
        self.tokens.clear()

    def __len__(self) -> int:
        return len(self.by_id)
