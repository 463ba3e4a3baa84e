"""Step actions: one runbook step at a time (its attempts, timeout, outputs), and where the runbook goes next.

References: AWS Systems Manager User Guide, "Systems Manager Automation actions reference" (the actions, and
"Properties shared by all actions": maxAttempts, timeoutSeconds, onFailure, onCancel, isEnd, nextStep, isCritical).
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import sys
from typing import Any

import botocore.exceptions

from sandbox import paging

from . import runbook as rb
from .errors import AwsError, StepFailure, api_exception_message
from .executions import Execution, StepExecution, new_id

SUPPORTED_ACTIONS = (
    "aws:runCommand",
    "aws:sleep",
    "aws:branch",
    "aws:executeAwsApi",
    "aws:assertAwsResourceProperty",
    "aws:waitForAwsResourceProperty",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _shared(text: str) -> str:
    return sys.intern(text) if len(text) <= 8192 else text


def botocore_xform(api: str) -> str:
    from botocore import xform_name

    return xform_name(api) if any(c.isupper() for c in api) else api


class StepActions:
    """The runbook interpreter (mixed into :class:`sandbox.engine.engine.Engine`)."""

    def _record_for(self, ex: Execution, index: int) -> StepExecution:
        step = ex.runbook.steps[index]
        for rec in ex.steps:
            if rec.step_name == step.name and rec.status == "Pending" and rec.start is None:
                return rec
        rec = self._step_record(step)  # a step run again (onFailure step:X loops): a new step execution
        ex.steps.append(rec)
        return rec

    def _goto(self, ex: Execution, index: int | None) -> None:
        if ex.terminal:
            return
        if index is None or index >= len(ex.runbook.steps):
            self._complete_runbook(ex)
            return
        if ex.cancel_requested and not ex.plan.get("cancel_path"):
            self._finish(ex, "Cancelled")
            return
        step = ex.runbook.steps[index]
        rec = self._record_for(ex, index)
        rec.attempt = 0
        self._attempt(ex, step, rec)

    def _attempt(self, ex: Execution, step: rb.Step, rec: StepExecution) -> None:
        now = self.now()
        rec.attempt += 1
        rec.status = "InProgress"
        rec.failure_message = rec.failure_details = None
        rec.end = None
        if rec.start is None or rec.attempt == 1:
            rec.start = now
        ex.current_step, ex.current_action = step.name, step.action
        ex.plan["current"] = (step, rec)
        if step.timeout_seconds:
            timer = self.scheduler.call_later(
                step.timeout_seconds, lambda: self.locked(self._step_timeout, ex, step, rec, rec.attempt)
            )
            ex.timers.append(timer)
        try:
            if step.action == "aws:runCommand":
                self._run_command(ex, step, rec)
            elif step.action == "aws:sleep":
                self._sleep(ex, step, rec)
            elif step.action == "aws:branch":
                self._branch(ex, step, rec)
            elif step.action in (
                "aws:executeAwsApi",
                "aws:assertAwsResourceProperty",
                "aws:waitForAwsResourceProperty",
            ):
                self._aws_api(ex, step, rec)
            else:
                raise StepFailure(
                    f"Action {step.action} is not supported by the sandbox. Supported actions: {', '.join(SUPPORTED_ACTIONS)}.",
                    failure_type="Verification",
                    stage="Inputs",
                )
        except StepFailure as exc:
            self._step_failure(ex, step, rec, exc)
        except AwsError as exc:
            self._step_failed(
                ex,
                step,
                rec,
                "Failed",
                exc.message,
                {"FailureStage": "Invocation", "FailureType": "Unknown", "Details": {}},
            )

    def _inputs(self, ex: Execution, step: rb.Step, rec: StepExecution) -> dict:
        resolved = ex.ctx.substitute(step.inputs)
        rec.inputs = {k: _shared(json.dumps(v)) for k, v in resolved.items()}  # mostly identical across targets
        return resolved

    def _run_command(self, ex: Execution, step: rb.Step, rec: StepExecution) -> None:
        inputs = self._inputs(ex, step, rec)
        doc = inputs.get("DocumentName")
        if not doc:
            raise StepFailure("aws:runCommand needs inputs.DocumentName.", stage="Inputs")
        instance_ids = inputs.get("InstanceIds")
        if isinstance(instance_ids, str):
            instance_ids = [instance_ids]
        if inputs.get("Targets") and not instance_ids:
            instance_ids = self.resolve_targets(ex.account, ex.region, inputs["Targets"], for_run_command=True)
        if not instance_ids:
            raise StepFailure("aws:runCommand needs inputs.InstanceIds or inputs.Targets.", stage="Inputs")
        params = inputs.get("Parameters") or {}
        attempt = rec.attempt
        try:
            cmd = self.runcommand.send(
                ex.account,
                ex.region,
                str(doc),
                params,
                [str(i) for i in instance_ids],
                comment=str(inputs.get("Comment") or f"{ex.id}:{rec.step_execution_id}")[:100],
                timeout_seconds=int(inputs["TimeoutSeconds"]) if inputs.get("TimeoutSeconds") else None,
            )
        except AwsError as exc:
            raise StepFailure(
                api_exception_message(
                    "sending command",
                    "SendCommand",
                    "ssm",
                    "AWSSimpleSystemsManagement",
                    exc.code,
                    exc.message,
                    new_id(),
                ),
                failure_type="Unknown",
                details={"ErrorCode": [exc.code]},
            ) from None
        rec.outputs = {"CommandId": [cmd.id]}
        ex.plan["command"] = cmd

        def on_invocation(_inv):
            if rec.attempt != attempt or rec.status != "InProgress":
                return
            if any(not i.terminal for i in cmd.invocations):
                return
            self._command_done(ex, step, rec, cmd)

        for inv in cmd.invocations:
            inv.listeners.append(on_invocation)

    def _command_done(self, ex: Execution, step: rb.Step, rec: StepExecution, cmd) -> None:
        status, _details = cmd.status()
        inv = cmd.invocations[0]
        response = inv.response()
        rec.outputs = {
            "CommandId": [cmd.id],
            "Status": [status],
            "ResponseCode": [str(inv.response_code)],
            "Output": [response["Output"]],
        }
        if status == "Success":
            self._step_succeeded(ex, step, rec, response)
            return
        result = f"{{Status=[{status}], ResponseCode=[{inv.response_code}], Output=[\n{response['Output']}]}}"
        message = (
            f"Step fails when it is Poll action status for completion. Command {cmd.id} returns unexpected invocation "
            f"result: \n{result}. Please refer to Automation Service Troubleshooting Guide for more diagnosis details."
        )
        final = "TimedOut" if status == "TimedOut" else "Failed"
        self._step_failed(
            ex,
            step,
            rec,
            final,
            message,
            {"FailureStage": "Invocation", "FailureType": "Verification", "Details": {}},
            response=response,
        )

    def _sleep(self, ex: Execution, step: rb.Step, rec: StepExecution) -> None:
        inputs = self._inputs(ex, step, rec)
        if "Duration" in inputs:
            seconds = rb.iso_duration(inputs["Duration"])
        elif "Timestamp" in inputs:
            ts = paging.parse_time(str(inputs["Timestamp"]))
            if ts is None:
                raise StepFailure(
                    f"aws:sleep Timestamp {inputs['Timestamp']!r} is not an ISO 8601 timestamp.", stage="Inputs"
                )
            seconds = max(0.0, ts - self.now())
        else:
            raise StepFailure("aws:sleep needs inputs.Duration or inputs.Timestamp.", stage="Inputs")
        attempt = rec.attempt
        timer = self.scheduler.call_later(seconds, lambda: self.locked(self._sleep_done, ex, step, rec, attempt))
        ex.timers.append(timer)

    def _sleep_done(self, ex, step, rec, attempt) -> None:
        if rec.attempt == attempt and rec.status == "InProgress" and not ex.terminal:
            self._step_succeeded(ex, step, rec, {})

    def _branch(self, ex: Execution, step: rb.Step, rec: StepExecution) -> None:
        choices = step.inputs.get("Choices") or []
        rec.inputs = {"Choices": json.dumps(choices)}
        if "Default" in step.inputs:
            rec.inputs["Default"] = json.dumps(step.inputs["Default"])
        for choice in choices:
            if rb.evaluate_choice(choice, ex.ctx):
                target = choice.get("NextStep")
                break
        else:
            target = step.inputs.get("Default")
            if not target:
                raise StepFailure("aws:branch: no choice matched and the step has no Default.", stage="Execution")
        if ex.runbook.step(str(target)) is None:
            raise StepFailure(f"aws:branch: NextStep {target} is not a step of the runbook.", stage="Execution")
        ex.plan["branch_next"] = str(target)
        rec.outputs = {}
        self._step_succeeded(ex, step, rec, {})

    def _aws_api(self, ex: Execution, step: rb.Step, rec: StepExecution) -> None:
        inputs = self._inputs(ex, step, rec)
        service, api = inputs.get("Service"), inputs.get("Api")
        if not service or not api:
            raise StepFailure(f"{step.action} needs inputs.Service and inputs.Api.", stage="Inputs")
        params = {k: v for k, v in inputs.items() if k not in ("Service", "Api", "PropertySelector", "DesiredValues")}
        method = botocore_xform(api)
        try:
            client = self.sb.client(str(service).lower(), ex.account, ex.region)
        except Exception as exc:
            raise StepFailure(
                f"{step.action}: service {service} is not available in the sandbox ({exc}).", stage="Inputs"
            ) from None
        if not hasattr(client, method):
            raise StepFailure(f"{step.action}: {service} has no API {api}.", stage="Inputs")
        try:
            response = _jsonable(getattr(client, method)(**params))
        except botocore.exceptions.ClientError as exc:
            err = exc.response.get("Error", {})
            raise StepFailure(
                api_exception_message(
                    f"calling {api}",
                    api,
                    service,
                    str(service).upper(),
                    err.get("Code", "Unknown"),
                    err.get("Message", ""),
                    new_id(),
                ),
                failure_type="Unknown",
                details={"ErrorCode": [err.get("Code", "Unknown")]},
            ) from None
        except (botocore.exceptions.ParamValidationError, TypeError) as exc:
            raise StepFailure(f"{step.action}: invalid parameters for {service}:{api}: {exc}", stage="Inputs") from None
        if step.action == "aws:executeAwsApi":
            self._step_succeeded(ex, step, rec, response)
            return
        selector, desired = inputs.get("PropertySelector"), inputs.get("DesiredValues") or []
        found, value = rb.select(response, str(selector or "$"))
        values = value if isinstance(value, list) else [value]
        ok = found and all(str(v) in [str(d) for d in desired] for v in values) and bool(values)
        if ok:
            self._step_succeeded(ex, step, rec, response)
        elif step.action == "aws:assertAwsResourceProperty":
            raise StepFailure(
                f"Assertion failed: {selector} is {value!r}, expected one of {desired}.",
                stage="Verification",
                failure_type="Verification",
            )
        else:
            attempt = rec.attempt
            timer = self.scheduler.call_later(
                float(self._option("wait_poll_seconds", 15)),
                lambda: self.locked(self._retry_wait, ex, step, rec, attempt),
            )
            ex.timers.append(timer)

    def _retry_wait(self, ex, step, rec, attempt) -> None:
        if rec.attempt == attempt and rec.status == "InProgress" and not ex.terminal:
            try:
                self._aws_api(ex, step, rec)
            except StepFailure as exc:
                self._step_failure(ex, step, rec, exc)

    # step outcome ---------------------------------------------------------------------------------------------
    def _cancel_step_work(self, ex: Execution) -> None:
        for timer in ex.timers:
            timer.cancel()
        ex.timers.clear()
        cmd = ex.plan.pop("command", None)
        if cmd is not None:
            now = self.now()
            for inv in cmd.invocations:
                inv.listeners.clear()
                self.runcommand.cancel_invocation(inv, now)

    def _step_succeeded(self, ex: Execution, step: rb.Step, rec: StepExecution, response: Any) -> None:
        if rec.status != "InProgress" or ex.terminal:
            return
        for timer in ex.timers:
            timer.cancel()
        ex.timers.clear()
        ex.plan.pop("command", None)
        outputs = dict(rec.outputs or {})
        try:
            for spec in step.outputs:
                name, selector, otype = spec.get("Name"), spec.get("Selector", ""), spec.get("Type", "String")
                found, value = rb.select(response, selector)
                if not found:
                    continue
                value = rb.convert_output(value, otype, name)
                outputs[name] = rb.to_api_values(value)
                ex.ctx.step_outputs[f"{step.name}.{name}"] = value
        except StepFailure as exc:
            self._step_failed(
                ex,
                step,
                rec,
                "Failed",
                exc.message,
                {"FailureStage": "Outputs", "FailureType": "Verification", "Details": {}},
            )
            return
        for builtin in ("Output", "Status", "ResponseCode", "CommandId"):
            if builtin in outputs and f"{step.name}.{builtin}" not in ex.ctx.step_outputs:
                ex.ctx.step_outputs[f"{step.name}.{builtin}"] = outputs[builtin][0]
        rec.outputs = outputs
        rec.status, rec.end = "Success", self.now()
        self._advance(ex, step, failed=False)

    def _step_timeout(self, ex: Execution, step: rb.Step, rec: StepExecution, attempt: int) -> None:
        if rec.attempt != attempt or rec.status != "InProgress" or ex.terminal:
            return
        self._step_failed(
            ex,
            step,
            rec,
            "TimedOut",
            f"Step timed out while step is verifying the Run Command execution has completed (timeoutSeconds {step.timeout_seconds})."
            if step.action == "aws:runCommand"
            else f"Step timed out after timeoutSeconds {step.timeout_seconds}.",
            {"FailureStage": "Execution", "FailureType": "Verification", "Details": {}},
        )

    def _step_failure(self, ex: Execution, step: rb.Step, rec: StepExecution, exc: StepFailure) -> None:
        """The step failed with ``exc``: its message, stage, type and details."""
        details = {"FailureStage": exc.stage, "FailureType": exc.failure_type, "Details": exc.details}
        self._step_failed(ex, step, rec, "Failed", exc.message, details)

    def _step_failed(
        self, ex: Execution, step: rb.Step, rec: StepExecution, status: str, message: str, details: dict, response=None
    ) -> None:
        if rec.status not in ("InProgress",) or ex.terminal:
            return
        self._cancel_step_work(ex)
        now = self.now()
        if rec.attempt < step.max_attempts and not ex.cancel_requested:
            self._attempt(ex, step, rec)  # maxAttempts: the same step execution runs again
            return
        rec.status, rec.end = status, now
        rec.failure_message = message
        rec.failure_details = details
        if response is not None:
            for spec in step.outputs:
                found, value = rb.select(response, spec.get("Selector", ""))
                if found:
                    try:
                        rec.outputs[spec["Name"]] = rb.to_api_values(
                            rb.convert_output(value, spec.get("Type", "String"), spec["Name"])
                        )
                    except StepFailure:
                        pass
        self._advance(ex, step, failed=True, status=status)

    def _advance(self, ex: Execution, step: rb.Step, failed: bool, status: str = "Success") -> None:
        index = ex.runbook.index(step.name)
        if ex.plan.get("cancel_path"):
            if step.is_end or failed:
                self._finish(ex, "Cancelled")
                return
        elif ex.cancel_requested:
            self._finish(ex, "Cancelled")
            return
        if failed:
            action = step.on_failure
            if action == "Abort" or (not action.startswith("step:") and action != "Continue"):
                rec = ex.plan["current"][1]
                ex.failure_message = rec.failure_message
                self._finish(ex, "TimedOut" if status == "TimedOut" else "Failed")
                return
            if step.is_critical is True:
                ex.plan["critical_failure"] = ex.plan["current"][1].failure_message
            if action.startswith("step:"):
                target = action[5:]
                if ex.runbook.step(target) is None:
                    ex.failure_message = f"onFailure step {target} is not a step of the runbook."
                    self._finish(ex, "Failed")
                    return
                self._goto(ex, ex.runbook.index(target))
                return
            if step.is_end:
                self._complete_runbook(ex)
                return
            self._goto(
                ex,
                ex.runbook.index(step.next_step) if step.next_step and ex.runbook.step(step.next_step) else index + 1,
            )
            return
        if step.is_end:
            self._complete_runbook(ex)
            return
        nxt = ex.plan.pop("branch_next", None) if step.action == "aws:branch" else None
        nxt = nxt or step.next_step
        if nxt:
            if ex.runbook.step(nxt) is None:
                ex.failure_message = f"nextStep {nxt} is not a step of the runbook."
                self._finish(ex, "Failed")
                return
            self._goto(ex, ex.runbook.index(nxt))
            return
        self._goto(ex, index + 1)
