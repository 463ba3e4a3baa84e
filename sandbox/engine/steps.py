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
    "aws:loop",
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

    # -- sequences: the runbook's mainSteps, or the steps of the aws:loop running now -----------------------------
    @staticmethod
    def _seq(ex: Execution) -> rb.Runbook:
        frames = ex.plan.get("loops")
        return frames[-1]["body"] if frames else ex.runbook

    def _record_for(self, ex: Execution, index: int) -> StepExecution:
        step = self._seq(ex).steps[index]
        frames = ex.plan.get("loops")
        if not frames:
            for rec in ex.steps:
                if rec.step_name == step.name and rec.status == "Pending" and rec.start is None:
                    return rec
        rec = self._step_record(step)  # run again (onFailure step:X loops), or inside a loop: a new step execution
        if frames:
            frame = frames[-1]
            rec.parent_step_details = {
                "StepExecutionId": frame["rec"].step_execution_id,
                "StepName": frame["step"].name,
                "Action": "aws:loop",
                "Iteration": frame["iteration"],
            }
            if frame["iterators"] is not None:
                rec.parent_step_details["IteratorValue"] = rb.to_api_values(frame["iterators"][frame["iteration"] - 1])[
                    0
                ]
        ex.steps.append(rec)
        return rec

    def _goto(self, ex: Execution, index: int | None) -> None:
        if ex.terminal:
            return
        seq = self._seq(ex)
        if index is None or index >= len(seq.steps):
            self._end_of_sequence(ex)
            return
        if ex.cancel_requested and not ex.plan.get("cancel_path"):
            self._finish(ex, "Cancelled")
            return
        step = seq.steps[index]
        rec = self._record_for(ex, index)
        rec.attempt = 0
        self._attempt(ex, step, rec)

    def _end_of_sequence(self, ex: Execution) -> None:
        """The last step of the sequence is done (or an ``isEnd`` step): the next loop iteration, or the end."""
        if ex.plan.get("loops"):
            self._loop_iteration_done(ex)
        else:
            self._complete_runbook(ex)

    def _jump(self, ex: Execution, name: str) -> bool:
        """Go to step ``name`` (nextStep, onFailure step:, a branch): in the running sequence, or out of the loops
        around it (each loop left that way ends Success, as the loop's steps moved on).  False: no such step."""
        frames = ex.plan.get("loops") or []
        for depth in range(len(frames), -1, -1):
            seq = frames[depth - 1]["body"] if depth else ex.runbook
            if seq.step(name) is not None:
                while len(frames) > depth:
                    self._loop_closed(ex, frames.pop(), "Success")
                self._goto(ex, seq.index(name))
                return True
        return False

    # -- aws:loop (User Guide, "aws:loop - Iterate over steps in an automation") -----------------------------------
    def _loop(self, ex: Execution, step: rb.Step, rec: StepExecution) -> None:
        """for each (``Iterators``, at most 100) or do while (``LoopCondition``: "evaluated after the steps in the
        loop complete"); ``MaxIterations`` (default and most 100); outputs ``CurrentIteration`` and
        ``CurrentIteratorValue`` (``{{ loopStep.CurrentIteratorValue }}`` inside the loop)."""
        inputs = step.inputs
        rec.inputs = {k: _shared(json.dumps(v)) for k, v in inputs.items() if k != "Steps"}
        if ("Iterators" in inputs) == ("LoopCondition" in inputs):
            raise StepFailure("aws:loop takes either inputs.Iterators or inputs.LoopCondition.", stage="Inputs")
        iterators = None
        if "Iterators" in inputs:
            value = ex.ctx.substitute(inputs["Iterators"])
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    value = [value]
            iterators = list(value) if isinstance(value, list) else [value]
            if len(iterators) > 100:
                raise StepFailure("aws:loop: at most 100 Iterators.", stage="Inputs")
        try:
            maximum = int(str(inputs.get("MaxIterations", 100)).strip())
        except ValueError:
            raise StepFailure("aws:loop: MaxIterations is an integer.", stage="Inputs") from None
        if not 1 <= maximum <= 100:
            raise StepFailure("aws:loop: MaxIterations is between 1 and 100.", stage="Inputs")
        frame = {"step": step, "rec": rec, "body": step.body, "iteration": 1, "iterators": iterators, "max": maximum}
        if iterators is not None and not iterators:
            self._loop_outputs(ex, frame, iterations=0)
            self._step_succeeded(ex, step, rec, {})
            return
        ex.plan.setdefault("loops", []).append(frame)
        self._loop_outputs(ex, frame)
        self._goto(ex, 0)

    def _loop_outputs(self, ex: Execution, frame: dict, iterations: int | None = None) -> None:
        name, n = frame["step"].name, frame["iteration"] if iterations is None else iterations
        ex.ctx.step_outputs[f"{name}.CurrentIteration"] = n
        outputs = {"CurrentIteration": [str(n)]}
        if frame["iterators"] and n:
            value = frame["iterators"][n - 1]
            ex.ctx.step_outputs[f"{name}.CurrentIteratorValue"] = value
            outputs["CurrentIteratorValue"] = rb.to_api_values(value)
        frame["rec"].outputs = outputs

    def _loop_iteration_done(self, ex: Execution) -> None:
        frame = ex.plan["loops"][-1]
        if frame["iterators"] is not None:
            again = frame["iteration"] < min(len(frame["iterators"]), frame["max"])
        else:
            try:
                again = frame["iteration"] < frame["max"] and rb.evaluate_choice(
                    frame["step"].inputs["LoopCondition"], ex.ctx
                )
            except StepFailure as exc:
                ex.plan["loops"].pop()
                ex.plan["current"] = (frame["step"], frame["rec"])
                self._step_failure(ex, frame["step"], frame["rec"], exc)
                return
        if again:
            frame["iteration"] += 1
            self._loop_outputs(ex, frame)
            self._goto(ex, 0)
            return
        ex.plan["loops"].pop()
        ex.plan["current"] = (frame["step"], frame["rec"])
        self._step_succeeded(ex, frame["step"], frame["rec"], {})

    def _loop_closed(self, ex: Execution, frame: dict, status: str, message: str | None = None) -> None:
        rec = frame["rec"]
        if rec.status == "InProgress":
            rec.status, rec.end = status, self.now()
            if message:
                rec.failure_message = message

    def _close_loops(self, ex: Execution, status: str, message: str | None) -> None:
        """The execution ends inside loops: each loop step ends with it."""
        frames = ex.plan.get("loops") or []
        while frames:
            self._loop_closed(ex, frames.pop(), status, message)

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
            elif step.action == "aws:loop":
                self._loop(ex, step, rec)
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
        """The first matching choice's NextStep, else Default; with neither, the step after the branch runs (User
        Guide, "aws:branch - Run conditional automation steps": "If no default value is specified for the step, then
        the automation processes the next step in the runbook")."""
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
        if target:
            frames = ex.plan.get("loops") or []
            seqs = [ex.runbook] + [f["body"] for f in frames]
            if not any(seq.step(str(target)) is not None for seq in seqs):
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
        seq = self._seq(ex)
        index = seq.index(step.name)
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
                if not self._jump(ex, target):
                    ex.failure_message = f"onFailure step {target} is not a step of the runbook."
                    self._finish(ex, "Failed")
                return
            if step.is_end:
                self._end_of_sequence(ex)
                return
            if step.next_step and self._jump(ex, step.next_step):
                return
            self._goto(ex, index + 1)
            return
        if step.is_end:
            self._end_of_sequence(ex)
            return
        nxt = ex.plan.pop("branch_next", None) if step.action == "aws:branch" else None
        nxt = nxt or step.next_step
        if nxt:
            if not self._jump(ex, nxt):
                ex.failure_message = f"nextStep {nxt} is not a step of the runbook."
                self._finish(ex, "Failed")
            return
        self._goto(ex, index + 1)
