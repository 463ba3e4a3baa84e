"""Scheduling: executions launched, fanned out and finished; rate control over locations and targets; cancel.

The tree, as AWS builds it for a multi-account run (User Guide, "Running automations in multiple AWS Regions and
accounts": "the automation you run from the primary account starts child automations in each of the target
accounts. The automation in the primary account contains aws:executeAutomation steps for each of the target
accounts ... The output of the steps ... will be the AutomationExecutionId of the child automations"):

    management account:  parent execution (AutomationType CrossAccount), one aws:executeAutomation step per
                         account x region, each with its TargetLocation and Outputs.ExecutionId
    each account/region: a rate-control execution over the targets there (steps named after each target value,
                         action aws:executeAutomation, as in the User Guide's "Running automations that use targets
                         and rate controls" example), which starts one execution per target with
                         ParentAutomationExecutionId set; these run the runbook's steps.
"""

from __future__ import annotations

import json
import math
import re

from . import runbook as rb
from .errors import AwsError
from .executions import Execution, StepExecution, new_id

DEFAULT_EXECUTION_ROLE = "AWS-SystemsManager-AutomationExecutionRole"
ROLE_NOT_ASSUMABLE = (
    "The provided role: arn:aws:iam::{account}:role/{name} can't be assumed. "
    "(Service: null; Status Code: 0; Error Code: null; Request ID: null; Proxy: null)"
)
ASSUME_ROLE_FAILED = "The defined assume role is unable to be assumed."
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")


# A location where no target matches: "pending" is what AWS does (aws-solutions/instance-scheduler-on-aws#288), and
# the default; "empty-success" (a location execution without steps that ends Success, the sandbox's old shape) is kept
# as a world option so that the harvest is tested under both shapes.
LOCATION_WITHOUT_TARGETS = "pending"


def location_step_name(account: str, region: str) -> str:
    """Name of the parent's fan-out step for one location.  AWS does not document it; see docs/sandbox-engine.md."""
    return f"{account}-{region}"


def _threshold(value: str | None, total: int, default: int | None) -> int | None:
    """An absolute count or a percentage of ``total`` (rounded down), as MaxErrors/MaxConcurrency take it."""
    if value is None:
        return default
    if value.endswith("%"):
        return math.floor(total * int(value[:-1]) / 100)
    return int(value)


class Scheduling:
    """Launching and finishing executions (mixed into :class:`sandbox.engine.engine.Engine`)."""

    def _prepare_runbook(self, ex: Execution, typed: dict) -> None:
        ex.ctx = rb.Context(
            typed,
            ex.id,
            ex.account,
            ex.region,
            self.now,
            lambda name: self.ssm_parameter(ex.account, ex.region, name),
        )
        ex.steps = [self._step_record(s) for s in ex.runbook.steps]

    @staticmethod
    def _step_record(step: rb.Step) -> StepExecution:
        raw = step.raw
        rec = StepExecution(step.name, step.action)
        if "timeoutSeconds" in raw:
            rec.timeout_seconds = step.timeout_seconds
        rec.on_failure = step.on_failure
        rec.max_attempts = step.max_attempts
        if "isEnd" in raw:
            rec.is_end = step.is_end
        if step.next_step:
            rec.next_step = step.next_step
        rec.is_critical = (
            step.is_critical
            if step.is_critical is not None
            else step.on_failure not in ("Continue",) and not step.on_failure.startswith("step:")
        )
        rec.explicit_critical = step.is_critical is True
        rec.valid_next_steps = None
        return rec

    # launching ---------------------------------------------------------------------------------------------------
    def _launch(self, ex: Execution) -> None:
        if ex.terminal:
            return
        if ex.cancel_requested:
            self._finish(ex, "Cancelled")
            return
        ex.status = "InProgress"
        if ex.kind == "cross-account":
            principal = self._assume_role_principal(ex, ex.plan["typed"])
            if principal is None:
                return
            ex.plan["principal"] = principal
            ex.plan["running"] = 0
            self._pump_locations(ex)
        elif ex.kind == "rate":
            if ex.plan.get("check_role") and self._assume_role_principal(ex, ex.plan["typed"]) is None:
                return
            self._start_rate(ex)
        else:
            if ex.plan.get("check_role") and self._assume_role_principal(ex, ex.plan["typed"]) is None:
                return
            self._goto(ex, 0)

    def _assume_role_principal(self, ex: Execution, typed: dict) -> str | None:
        """The principal the automation acts as: the runbook's assumeRole when it names one (checked against the
        role's trust policy for ssm.amazonaws.com, with this execution as aws:SourceArn), else the caller."""
        assume = ex.runbook.assume_role
        if assume:
            ctx = rb.Context(typed, ex.id, ex.account, ex.region, self.now)
            role = ctx.substitute(assume)
            if isinstance(role, str) and role and not rb.VAR_RE.search(role):
                if not ROLE_ARN_RE.match(role):
                    self._fail_early(ex, f"{ASSUME_ROLE_FAILED} ({role} is not an IAM role ARN)")
                    return None
                ok, _reason = self.sb.can_assume(
                    role,
                    service="ssm.amazonaws.com",
                    source_arn=f"arn:aws:ssm:{ex.region}:{ex.account}:automation-execution/{ex.id}",
                    source_account=ex.account,
                )
                if not ok:
                    self._fail_early(ex, ASSUME_ROLE_FAILED)
                    return None
                m = ROLE_ARN_RE.match(role)
                return f"arn:aws:sts::{m.group(1)}:assumed-role/{m.group(2)}/{ex.id}"  # a session of the role
        return ex.executed_by

    def _fail_early(self, ex: Execution, message: str) -> None:
        ex.failure_message = message
        self._finish(ex, "Failed")

    # cross-account parent ---------------------------------------------------------------------------------------
    def _location_entries(self, ex: Execution) -> list[dict]:
        """Rate-control state per TargetLocation entry: a cursor and counters, so each pump is O(1) amortised."""
        entries = ex.plan.get("entries")
        if entries is None:
            by_index: dict[int, list[StepExecution]] = {}
            for step in ex.steps:
                by_index.setdefault(step.plan_index, []).append(step)
            entries = []
            for index, steps in sorted(by_index.items()):
                loc = ex.plan["tls"][index]
                total = len(steps)
                entries.append(
                    {
                        "loc": loc,
                        "steps": steps,
                        "next": 0,
                        "running": 0,
                        "errors": 0,
                        "concurrency": max(1, _threshold(loc.get("TargetLocationMaxConcurrency", "1"), total, 1) or 1),
                        "max_errors": _threshold(loc.get("TargetLocationMaxErrors", "0"), total, 0),
                    }
                )
            ex.plan["entries"] = entries
        return entries

    def _pump_locations(self, ex: Execution) -> None:
        """Queue locations per TargetLocation entry while TargetLocationMaxConcurrency allows and the entry's
        location errors do not exceed TargetLocationMaxErrors (API reference, TargetLocation: "The maximum number
        of errors allowed before the system stops queueing additional Automation executions").

        What a location error is, AWS does not say; the world option ``location_errors`` selects the reading
        (docs/aws-differences.md): ``launch`` (default) counts a location whose automation could not start at all
        (its execution role cannot be assumed); ``failed`` also counts a location whose execution ended Failed,
        TimedOut or Cancelled."""
        entries = self._location_entries(ex)
        for entry in entries:
            steps = entry["steps"]
            while (
                not ex.cancel_requested
                and entry["next"] < len(steps)
                and entry["running"] < entry["concurrency"]
                and entry["errors"] <= entry["max_errors"]
            ):
                step = steps[entry["next"]]
                entry["next"] += 1
                self._launch_location(ex, step, entry["loc"])
                if step.launch_failed:
                    entry["errors"] += 1
                elif step.no_targets:
                    pass  # nothing to run there: the step stays Pending, neither running nor an error
                else:
                    entry["running"] += 1
                    step.plan_entry = entry
        if all(e["running"] == 0 for e in entries):
            self._finish_parent(ex)

    def _launch_location(self, ex: Execution, step: StepExecution, loc: dict) -> None:
        account, region = step.target_location["Accounts"][0], step.target_location["Regions"][0]
        role_name = step.target_location["ExecutionRoleName"]
        now = self.now()
        step.start = now
        step.status = "InProgress"
        step.inputs = {
            "DocumentName": json.dumps(ex.document_name),
            "DocumentVersion": json.dumps(ex.document_version),
            "RuntimeParameters": json.dumps(ex.parameters),
        }
        role_arn = f"arn:aws:iam::{account}:role/{role_name}"
        ok, _reason = self.sb.can_assume(role_arn, principal_arn=ex.plan["principal"])
        if not ok:
            step.status, step.end, step.launch_failed = "Failed", now, True
            step.failure_message = ROLE_NOT_ASSUMABLE.format(account=account, name=role_name)
            step.failure_details = {"FailureStage": "Invocation", "FailureType": "Unknown", "Details": {}}
            return
        targets = loc.get("Targets") or ex.targets
        tmaps = ex.target_maps
        kind = "rate" if (targets or tmaps) else "runbook"
        if targets and not tmaps and self._option("location_without_targets", LOCATION_WITHOUT_TARGETS) == "pending":
            try:
                matched = self.resolve_targets(account, region, targets)
            except AwsError:
                matched = None  # the location's own execution reports the target error
            if matched == []:
                # No instance matches in this account and Region: AWS starts nothing there and leaves the step
                # Pending, without start or end time, while the parent ends Success (an AWS maintainer in
                # aws-solutions/instance-scheduler-on-aws#288: "they are kept in that state by design by the
                # Automation service to indicate that no need to run them").
                step.status, step.start, step.inputs, step.no_targets = "Pending", None, None, True
                return
        child = Execution(
            id=new_id(),
            account=account,
            region=region,
            kind=kind,
            document_name=ex.document_name,
            document_version=ex.document_version,
            executed_by=f"arn:aws:sts::{account}:assumed-role/{role_name}/{ex.id}",
            start=now,
            automation_type="Local",
        )
        child.runbook = ex.runbook
        if kind == "rate":
            child.parameters = dict(ex.parameters)
            child.target_parameter_name = ex.target_parameter_name
            child.targets = targets or []
            child.target_maps = tmaps
            child.max_concurrency = loc.get("TargetsMaxConcurrency") or ex.max_concurrency or "10"
            child.max_errors = loc.get("TargetsMaxErrors") or ex.max_errors
            child.plan = {
                "typed": ex.plan["typed"],
                "api_form": ex.plan["api_form"],
                "targets": targets,
                "target_maps": tmaps,
            }
        else:
            child.parameters = dict(ex.plan["api_form"])
            child.plan = {"typed": ex.plan["typed"]}
            self._prepare_runbook(child, ex.plan["typed"])
        child.plan["on_done"] = lambda c, ex=ex, step=step: self._location_done(ex, step, c)
        self.store.add(child)
        step.child_id = child.id
        step.outputs = {"ExecutionId": [child.id]}
        self.scheduler.call_soon(lambda: self.locked(self._launch, child))

    def _location_done(self, ex: Execution, step: StepExecution, child: Execution) -> None:
        step.plan_entry["running"] -= 1
        if (
            child.status in ("Failed", "TimedOut", "Cancelled")
            and self._option("location_errors", "launch") == "failed"
        ):
            step.plan_entry["errors"] += 1
        step.status = child.status
        step.end = child.end
        step.outputs = {"ExecutionId": [child.id], "Status": [child.status]}
        if child.failure_message and child.status != "Success":
            step.failure_message = child.failure_message
        if not ex.terminal:
            self._pump_locations(ex)

    def _finish_parent(self, ex: Execution) -> None:
        if ex.terminal:
            return
        if ex.cancel_requested:
            self._finish(ex, "Cancelled")
            return
        failed = [
            s
            for s in ex.steps
            if s.status in ("Failed", "TimedOut", "Cancelled") or (s.start is None and not s.no_targets)
        ]
        if not failed:
            self._finish(ex, "Success")
            return
        first = next((s for s in ex.steps if s.failure_message), None)
        if first is not None:
            ex.failure_message = first.failure_message
        self._finish(ex, "Failed")

    # rate control ----------------------------------------------------------------------------------------------
    def _start_rate(self, ex: Execution) -> None:
        plan = ex.plan
        if plan.get("target_maps"):
            specs = [dict(m) for m in plan["target_maps"]]
            values = [json.dumps(m, sort_keys=True) for m in specs]
        else:
            try:
                values = self.resolve_targets(ex.account, ex.region, plan.get("targets") or [])
            except AwsError as exc:
                ex.failure_message = exc.message
                self._finish(ex, "Failed")
                return
            specs = [None] * len(values)
        ex.resolved_targets = values
        ex.steps = []
        for value, spec in zip(values, specs, strict=True):
            step = StepExecution(value if spec is None else f"TargetMap-{len(ex.steps) + 1}", "aws:executeAutomation")
            step.inputs = (
                {ex.target_parameter_name: value} if spec is None else {k: json.dumps(v) for k, v in spec.items()}
            )
            step.outputs = {}
            step.target_value = (value, spec)
            ex.steps.append(step)
        total = len(values)
        ex.plan["concurrency"] = max(1, _threshold(ex.max_concurrency or "10", total, 10) or 1)
        ex.plan["max_errors"] = _threshold(ex.max_errors, total, None)
        ex.plan.update({"ramp": 1, "next": 0, "running": 0, "errors": 0, "successes": 0})
        self._pump_rate(ex)

    def _pump_rate(self, ex: Execution) -> None:
        """Start targets while concurrency allows: 1 first, then doubling as executions complete, up to
        MaxConcurrency; none once errors exceed MaxErrors (User Guide, "About concurrency and error thresholds")."""
        plan = ex.plan
        limit = min(plan["concurrency"], plan["ramp"])
        max_errors = plan["max_errors"]
        while (
            not ex.cancel_requested
            and plan["next"] < len(ex.steps)
            and plan["running"] < limit
            and (max_errors is None or plan["errors"] <= max_errors)
        ):
            step = ex.steps[plan["next"]]
            plan["next"] += 1
            plan["running"] += 1
            self._launch_target(ex, step)
        if plan["running"] == 0:
            if ex.cancel_requested:
                self._finish(ex, "Cancelled")
            elif plan["successes"] == len(ex.steps):
                self._finish(ex, "Success")
            else:
                self._finish(ex, "Failed")

    def _launch_target(self, ex: Execution, step: StepExecution) -> None:
        value, spec = step.target_value
        now = self.now()
        step.start = now
        step.status = "InProgress"
        child = Execution(
            id=new_id(),
            account=ex.account,
            region=ex.region,
            kind="runbook",
            document_name=ex.document_name,
            document_version=ex.document_version,
            executed_by=ex.executed_by,
            start=now,
            parent_id=ex.id,
            automation_type="Local",
            target=value if spec is None else None,
        )
        child.runbook = ex.runbook
        child.plan = {"on_done": lambda c, ex=ex, step=step: self._target_done(ex, step, c)}
        self.store.add(child)
        step.child_id = child.id
        try:
            if spec is None:
                typed, api_form = rb.with_target_value(
                    ex.runbook, ex.plan["typed"], ex.plan["api_form"], ex.target_parameter_name, value
                )
            else:
                supplied = {k: (v if isinstance(v, list) else [v]) for k, v in spec.items()}
                typed, api_form = rb.resolve_parameters(ex.runbook, {**ex.parameters, **supplied})
            child.parameters = api_form
            self._prepare_runbook(child, typed)
        except AwsError as exc:
            child.failure_message = exc.message
            self._finish(child, "Failed")
            return
        self.scheduler.call_soon(lambda: self.locked(self._launch, child))

    def _target_done(self, ex: Execution, step: StepExecution, child: Execution) -> None:
        ex.plan["running"] -= 1
        if child.status in ("Failed", "TimedOut"):
            ex.plan["errors"] += 1
        elif child.status == "Success":
            ex.plan["successes"] += 1
        step.status = child.status
        step.end = child.end
        if child.failure_message and child.status != "Success":
            step.failure_message = child.failure_message
        ex.plan["ramp"] = min(ex.plan["concurrency"], ex.plan["ramp"] * 2)
        if not ex.terminal:
            self._pump_rate(ex)

    # runbook interpretation ------------------------------------------------------------------------------------
    def _complete_runbook(self, ex: Execution) -> None:
        if ex.cancel_requested:
            self._finish(ex, "Cancelled")
            return
        if ex.plan.get("critical_failure"):
            ex.failure_message = ex.plan["critical_failure"]
            self._finish(ex, "Failed")
            return
        self._finish(ex, "Success")

    def _finish(self, ex: Execution, status: str) -> None:
        if ex.terminal:
            return
        if ex.kind == "runbook":
            self._cancel_step_work(ex)
            self._close_loops(ex, status, ex.failure_message)
        ex.status = status
        ex.end = self.now()
        ex.current_step = ex.current_action = None
        if ex.kind == "runbook" and ex.runbook is not None:
            outputs = {}
            for item in ex.runbook.outputs:
                ref = str(item)
                if ex.ctx is not None and ref in ex.ctx.step_outputs:
                    outputs[ref] = rb.to_api_values(ex.ctx.step_outputs[ref])
                else:
                    outputs[ref] = [rb.NOT_AVAILABLE]
            ex.outputs = outputs
        on_done = ex.plan.get("on_done")
        if on_done is not None:  # parents hear about it on the next tick: no re-entrant pumping
            self.scheduler.call_soon(lambda: self.locked(on_done, ex))

    def request_cancel(self, ex: Execution) -> None:
        if ex.terminal or ex.cancel_requested:
            return
        ex.cancel_requested = True
        ex.status = "Cancelling"
        self.scheduler.call_soon(lambda: self.locked(self._do_cancel, ex))

    def _do_cancel(self, ex: Execution) -> None:
        if ex.terminal:
            return
        if ex.kind in ("cross-account", "rate"):
            children = [
                self.store.by_id.get(s.child_id)
                for s in ex.steps
                if s.child_id and s.status in ("InProgress", "Cancelling")
            ]
            for child in children:
                if child is not None:
                    self.request_cancel(child)
            for step in ex.steps:
                if step.status == "InProgress" and step.child_id:
                    step.status = "Cancelling"
            if not any(c is not None and not c.terminal for c in children):
                self._finish(ex, "Cancelled")
            return
        current = ex.plan.get("current")
        if current is None or ex.status == "Pending":
            self._finish(ex, "Cancelled")
            return
        step, rec = current
        if rec.status == "InProgress":
            self._cancel_step_work(ex)
            rec.status, rec.end = "Cancelled", self.now()
        on_cancel = step.on_cancel
        if on_cancel and on_cancel.startswith("step:") and ex.runbook.step(on_cancel[5:]) is not None:
            ex.plan["cancel_path"] = True
            self._goto(ex, ex.runbook.index(on_cancel[5:]))
            return
        self._finish(ex, "Cancelled")
