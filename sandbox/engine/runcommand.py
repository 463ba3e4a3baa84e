"""Run Command: commands, per-instance invocations, and the simulated SSM agent that runs them.

What AWS documents and the sandbox reproduces:
- ListCommandInvocations' ``CommandPlugins[].Output`` and a runCommand step's ``Output`` keep the first 2,500
  characters; GetCommandInvocation returns up to 24,000 characters of stdout and 8,000 of stderr (API reference,
  CommandPlugin.Output and GetCommandInvocation.StandardOutputContent / StandardErrorContent).
- A non-zero exit: the agent appends ``failed to run commands: exit status N`` to stderr and the invocation is
  ``Failed`` with ResponseCode N.
- SendCommand to an instance that is not a managed node fails with ``InvalidInstanceId`` ("Instances [[i-...]] not in
  a valid state for account ..."); to a Windows node with a Linux-only document with ``UnsupportedPlatformType``.
- A stopped instance, or one whose agent is offline, never picks the command up: the invocation stays ``Pending``
  until the delivery timeout (SendCommand TimeoutSeconds, default 3600) makes it ``TimedOut`` / ``DeliveryTimedOut``,
  or until it is cancelled.
- Commands sent by Automation carry the comment ``<automation execution id>:<step execution id>`` (the shape seen in
  the AWS CLI's list-commands / get-command-invocation examples).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import paging
from sandbox.documents import check_command_parameters

from . import shell
from .errors import error
from .executions import new_id
from .profiles import Facts, Profile, run_spec

PLUGIN_OUTPUT_CAP = 2500
STDOUT_CAP = 24000
STDERR_CAP = 8000
DEFAULT_DELIVERY_TIMEOUT = 3600
PICKUP_DELAY = 0.3  # virtual seconds between SendCommand and the agent starting the script
DOCUMENTS = {
    "AWS-RunShellScript": {"plugin": "aws:runShellScript", "platforms": ("Linux", "MacOS"), "shell": "bash"},
    "AWS-RunPowerShellScript": {
        "plugin": "aws:runPowerShellScript",
        "platforms": ("Windows", "Linux", "MacOS"),
        "shell": "powershell",
    },
}
TERMINAL = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})


def iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1000):03d}Z"


def _shared(text: str) -> str:
    return sys.intern(text) if len(text) <= 8192 else text


def plugin_output(stdout: str, stderr: str) -> str:
    text = stdout
    if stderr:
        text += ("\n" if text and not text.endswith("\n") else "") + "----------ERROR-------\n" + stderr
    return text[:PLUGIN_OUTPUT_CAP]


@dataclass(eq=False)
class Invocation:
    command: Command
    instance_id: str
    instance_name: str
    status: str = "Pending"
    status_details: str = "Pending"
    response_code: int = -1
    start: float | None = None
    end: float | None = None
    stdout: str = ""
    stderr: str = ""
    output: str = ""  # the plugin output (first 2,500 characters), computed once
    timers: list = field(default_factory=list)
    listeners: list = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def plugin(self) -> dict:
        out: dict[str, Any] = {
            "Name": self.command.plugin,
            "Status": _plugin_status(self.status),
            "StatusDetails": self.status_details,
            "ResponseCode": self.response_code,
        }
        if self.start is not None:
            out["ResponseStartDateTime"] = self.start
        if self.end is not None:
            out["ResponseFinishDateTime"] = self.end
        out.update(
            {
                "Output": self.output,
                "StandardOutputUrl": "",
                "StandardErrorUrl": "",
                "OutputS3Region": self.command.region,
                "OutputS3BucketName": "",
                "OutputS3KeyPrefix": "",
            }
        )
        return out

    def render(self, details: bool) -> dict:
        out = {
            "CommandId": self.command.id,
            "InstanceId": self.instance_id,
            "InstanceName": self.instance_name,
            "Comment": self.command.comment,
            "DocumentName": self.command.document_name,
            "DocumentVersion": self.command.document_version,
            "RequestedDateTime": self.command.requested,
            "Status": self.status,
            "StatusDetails": self.status_details,
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
            "CommandPlugins": [self.plugin()] if details else [],
            **_no_notifications(),
        }
        return out

    def get(self) -> dict:
        elapsed = ""
        if self.start is not None and self.end is not None:
            elapsed = f"PT{max(0.0, self.end - self.start):.3f}S"
        return {
            "CommandId": self.command.id,
            "InstanceId": self.instance_id,
            "Comment": self.command.comment,
            "DocumentName": self.command.document_name,
            "DocumentVersion": self.command.document_version,
            "PluginName": self.command.plugin,
            "ResponseCode": self.response_code,
            "ExecutionStartDateTime": iso(self.start),
            "ExecutionElapsedTime": elapsed,
            "ExecutionEndDateTime": iso(self.end),
            "Status": self.status,
            "StatusDetails": self.status_details,
            "StandardOutputContent": self.stdout[:STDOUT_CAP],
            "StandardOutputUrl": "",
            "StandardErrorContent": self.stderr[:STDERR_CAP],
            "StandardErrorUrl": "",
            "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": False},
        }

    def response(self) -> dict:
        """What an automation runCommand step's output selectors see ($.Status, $.Output, $.CommandPlugins[0]...)."""
        return {
            "CommandId": self.command.id,
            "InstanceId": self.instance_id,
            "Status": self.status,
            "StatusDetails": self.status_details,
            "ResponseCode": self.response_code,
            "Output": self.output,
            "CommandPlugins": [self.plugin()],
        }


def _plugin_status(status: str) -> str:
    return status if status in ("Pending", "InProgress", "Success", "TimedOut", "Cancelled", "Failed") else "InProgress"


@dataclass(eq=False)
class Command:
    id: str
    account: str
    region: str
    document_name: str
    document_version: str
    plugin: str
    parameters: dict
    comment: str
    requested: float
    timeout_seconds: int
    instance_ids: list
    targets: list
    max_concurrency: str
    max_errors: str
    invocations: list = field(default_factory=list)

    def status(self) -> tuple[str, str]:
        statuses = [i.status for i in self.invocations]
        if not statuses:
            return "Success", "Success"
        if any(s not in TERMINAL for s in statuses):
            if all(s == "Pending" for s in statuses):
                return "Pending", "Pending"
            return "InProgress", "InProgress"
        if all(s == "Success" for s in statuses):
            return "Success", "Success"
        for s in ("Failed", "TimedOut", "Cancelled"):
            if s in statuses:
                details = {"Failed": "Failed", "TimedOut": "Delivery Timed Out", "Cancelled": "Cancelled"}[s]
                if s == "TimedOut" and any(i.status_details == "ExecutionTimedOut" for i in self.invocations):
                    details = "Execution Timed Out"
                return s, details
        return "Failed", "Failed"

    def render(self) -> dict:
        status, details = self.status()
        done = [i for i in self.invocations if i.terminal]
        return {
            "CommandId": self.id,
            "DocumentName": self.document_name,
            "DocumentVersion": self.document_version,
            "Comment": self.comment,
            "ExpiresAfter": self.requested + self.timeout_seconds + 3600,
            "Parameters": self.parameters,
            "InstanceIds": self.instance_ids,
            "Targets": self.targets,
            "RequestedDateTime": self.requested,
            "Status": status,
            "StatusDetails": details,
            "OutputS3Region": self.region,
            "OutputS3BucketName": "",
            "OutputS3KeyPrefix": "",
            "MaxConcurrency": self.max_concurrency,
            "MaxErrors": self.max_errors,
            "TargetCount": len(self.invocations),
            "CompletedCount": len(done),
            "ErrorCount": sum(1 for i in done if i.status in ("Failed", "TimedOut")),
            "DeliveryTimedOutCount": sum(1 for i in done if i.status_details == "DeliveryTimedOut"),
            **_no_notifications(),
            "TimeoutSeconds": self.timeout_seconds,
        }


def _no_notifications() -> dict:
    """The role, notification and CloudWatch members of a command or an invocation sent without them, as AWS
    renders them (AWS also sends NotificationType "", which is not in the enum: left out)."""
    return {
        "ServiceRole": "",
        "NotificationConfig": {"NotificationArn": "", "NotificationEvents": []},
        "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": False},
    }


class RunCommand:
    """Commands per account/region, and the agent on every simulated instance."""

    def __init__(self, engine):
        self.engine = engine
        self.commands: dict[str, Command] = {}
        self.by_location: dict[tuple[str, str], list[Command]] = defaultdict(list)
        self.by_instance: dict[tuple[str, str, str], list[Command]] = defaultdict(list)

    def clear(self) -> None:
        self.commands.clear()
        self.by_location.clear()
        self.by_instance.clear()

    # -- sending -------------------------------------------------------------------------------------------------
    def send(
        self,
        account: str,
        region: str,
        document_name: str,
        parameters: dict,
        instance_ids: list[str],
        *,
        comment: str = "",
        timeout_seconds: int | None = None,
        targets: list | None = None,
        max_concurrency: str = "50",
        max_errors: str = "0",
        document_version: str = "",
    ) -> Command:
        """Validate and create a command (raises AwsError like SendCommand), then deliver it. Engine lock held."""
        eng = self.engine
        doc = DOCUMENTS.get(document_name)
        if doc is None:
            if eng.document_exists(account, region, document_name):
                raise error(
                    "InvalidDocument",
                    f"Document {document_name} is not supported by the sandbox's Run Command (only AWS-RunShellScript and AWS-RunPowerShellScript are).",
                )
            raise error("InvalidDocument", "Document with name " + document_name + " does not exist.")
        problem = check_command_parameters(document_name, parameters)  # AWS's declared parameters (issue 16)
        if problem:
            raise error("InvalidParameters", problem)
        commands = parameters.get("commands")
        if not commands:
            raise error("InvalidParameters", 'Parameter "commands" is required.')
        if isinstance(commands, str):
            commands = [commands]
        instances = []
        invalid = []
        for iid in dict.fromkeys(instance_ids):
            inst = eng.instance(account, region, iid)
            if inst is None or not inst.managed:
                invalid.append(iid)
            else:
                instances.append(inst)
        if invalid:
            raise error(
                "InvalidInstanceId", f"Instances [[{', '.join(invalid)}]] not in a valid state for account {account}"
            )
        if not instances:
            raise error(
                "InvalidParameters",
                "Either InstanceIds or Targets must be specified and must select managed instances.",
            )
        unsupported = [i.instance_id for i in instances if i.platform not in doc["platforms"]]
        if unsupported:
            raise error(
                "UnsupportedPlatformType",
                "The document doesn't support the platform type of the given managed node ID(s).",
            )
        api_params = {k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in parameters.items()}
        api_params.setdefault("workingDirectory", [""])
        api_params.setdefault("executionTimeout", ["3600"])
        now = eng.now()
        cmd = Command(
            id=new_id(),
            account=account,
            region=region,
            document_name=document_name,
            document_version=document_version or "1",
            plugin=doc["plugin"],
            parameters=api_params,
            comment=comment,
            requested=now,
            timeout_seconds=int(timeout_seconds or DEFAULT_DELIVERY_TIMEOUT),
            instance_ids=[] if targets else [i.instance_id for i in instances],  # AWS lists one or the other
            targets=targets or [],
            max_concurrency=max_concurrency,
            max_errors=max_errors,
        )
        self.commands[cmd.id] = cmd
        self.by_location[(account, region)].append(cmd)
        script = "\n".join(str(c) for c in commands)
        try:
            exec_timeout = int(api_params["executionTimeout"][0])
        except (ValueError, IndexError):
            exec_timeout = 3600
        for inst in instances:
            inv = Invocation(cmd, inst.instance_id, "")
            cmd.invocations.append(inv)
            self.by_instance[(account, region, inst.instance_id)].append(cmd)
            self._deliver(inv, inst, doc["shell"], script, exec_timeout)
        return cmd

    def _deliver(self, inv: Invocation, inst, shell_kind: str, script: str, exec_timeout: int) -> None:
        eng = self.engine
        cmd = inv.command
        # The delivery timeout applies while nobody picks the command up.
        inv.timers.append(
            eng.scheduler.call_at(cmd.requested + cmd.timeout_seconds, lambda: eng.locked(self._delivery_timeout, inv))
        )
        if not eng.instance_online(inst):
            return
        start = cmd.requested + PICKUP_DELAY
        profile = eng.profile(inst.os_profile)
        if profile.local:
            inv.timers.append(
                eng.scheduler.call_at(
                    start, lambda: eng.locked(self._start_local, inv, inst, shell_kind, script, exec_timeout)
                )
            )
            return
        facts = Facts(inst.instance_id, cmd.account, cmd.region, inst.name, inst.platform, start)
        outcome = self.simulate(profile, facts, shell_kind, script, cmd)
        inv.timers.append(eng.scheduler.call_at(start, lambda: eng.locked(self._started, inv, start)))
        if outcome.delay > exec_timeout:
            end = start + exec_timeout
            inv.timers.append(
                eng.scheduler.call_at(
                    end,
                    lambda: eng.locked(
                        self._finish, inv, end, "TimedOut", "ExecutionTimedOut", -1, outcome.stdout, outcome.stderr
                    ),
                )
            )
            return
        end = start + outcome.delay
        inv.timers.append(eng.scheduler.call_at(end, lambda: eng.locked(self._complete, inv, end, outcome)))

    def simulate(self, profile: Profile, facts: Facts, shell_kind: str, script: str, cmd: Command) -> shell.Outcome:
        orchestration = f"{cmd.id}/{cmd.plugin.replace(':', '')}/0.{cmd.plugin.replace(':', '')}"
        if profile.platform == "Windows":
            path = f"C:\\ProgramData\\Amazon\\SSM\\InstanceData\\{facts.instance_id}\\document\\orchestration\\{orchestration.replace('/', chr(92))}\\_script.ps1"
        else:
            path = f"/var/lib/amazon/ssm/{facts.instance_id}/document/orchestration/{orchestration}/_script.sh"

        def runner(text: str, stdin: str):
            spec = profile.find(text)
            if spec is None:
                return None
            return run_spec(spec, facts, profile)

        if shell_kind == "powershell":
            if profile.platform != "Windows":
                return shell.Outcome(
                    "", 'failed to run commands: exec: "powershell": executable file not found in $PATH', 1, 0.2
                )
            return shell.run_powershell(script, runner, path, which=profile.which)
        return shell.run_bash(script, runner, path, which=profile.which)

    # -- agent events (run with the engine lock held) ----------------------------------------------------------
    def _started(self, inv: Invocation, at: float) -> None:
        if inv.terminal:
            return
        inv.status, inv.status_details, inv.start = "InProgress", "InProgress", at

    def _complete(self, inv: Invocation, at: float, outcome: shell.Outcome) -> None:
        stderr = outcome.stderr
        if outcome.exit_code != 0:
            stderr += (
                "\n" if stderr and not stderr.endswith("\n") else ""
            ) + f"failed to run commands: exit status {outcome.exit_code}"
        status = "Success" if outcome.exit_code == 0 else "Failed"
        self._finish(inv, at, status, status, outcome.exit_code, outcome.stdout, stderr)

    def _finish(
        self, inv: Invocation, at: float, status: str, details: str, code: int, stdout: str, stderr: str
    ) -> None:
        if inv.terminal:
            return
        if inv.start is None:
            inv.start = at
        inv.status, inv.status_details, inv.response_code = status, details, code
        # identical outputs (static files, the same package list on many hosts) are stored once
        inv.end, inv.stdout, inv.stderr = at, _shared(stdout), _shared(stderr)
        inv.output = _shared(plugin_output(inv.stdout, inv.stderr))
        self._settle(inv)

    def _delivery_timeout(self, inv: Invocation) -> None:
        if inv.terminal or inv.status != "Pending":
            return
        inv.status, inv.status_details, inv.end = (
            "TimedOut",
            "DeliveryTimedOut",
            inv.command.requested + inv.command.timeout_seconds,
        )
        self._settle(inv)

    def cancel_invocation(self, inv: Invocation, at: float) -> None:
        if inv.terminal:
            return
        inv.status, inv.status_details, inv.end = "Cancelled", "Cancelled", at
        self._settle(inv)

    def _settle(self, inv: Invocation) -> None:
        for timer in inv.timers:
            timer.cancel()
        inv.timers.clear()
        listeners, inv.listeners = inv.listeners, []
        for fn in listeners:
            fn(inv)

    def _start_local(self, inv: Invocation, inst, shell_kind: str, script: str, exec_timeout: int) -> None:
        eng = self.engine
        if inv.terminal:
            return
        started = eng.now()
        self._started(inv, started)
        wall_limit = min(float(exec_timeout), float(eng.world_option("local_shell_timeout", 60)))
        t0 = time.monotonic()

        def work():
            return run_local(shell_kind, script, wall_limit, inst)

        def done(result, exc):
            def apply():
                if inv.terminal:
                    return
                end = started + (time.monotonic() - t0) / eng.clock.time_scale
                if exc is not None:
                    self._finish(inv, end, "Failed", "Failed", 1, "", f"sandbox local-shell failed: {exc}")
                    return
                stdout, stderr, code, timed_out = result
                if timed_out:
                    self._finish(inv, end, "TimedOut", "ExecutionTimedOut", -1, stdout, stderr)
                else:
                    self._complete(inv, end, shell.Outcome(stdout, stderr, code, 0))

            eng.locked(apply)

        eng.scheduler.run_blocking(work, done)

    # -- handlers --------------------------------------------------------------------------------------------
    def _visible(self, account: str, region: str, command_id: str | None) -> Command:
        """The command, if the caller's account and region sent it; InvalidCommandId otherwise."""
        cmd = self.commands.get(command_id or "")
        if cmd is None or cmd.account != account or cmd.region != region:
            raise error("InvalidCommandId", "")
        return cmd

    def handle_send_command(self, call) -> dict:
        p = call.params
        instance_ids = list(p.get("InstanceIds") or [])
        targets = p.get("Targets") or []
        if instance_ids and targets:
            raise error("InvalidParameters", "Specify either InstanceIds or Targets, not both.")
        if targets:
            instance_ids = self.engine.resolve_targets(call.account_id, call.region, targets, for_run_command=True)
            if not instance_ids:
                raise error("InvalidParameters", "No managed instances match the specified Targets.")
        if not instance_ids:
            raise error("InvalidParameters", "Either InstanceIds or Targets must be specified.")
        cmd = self.send(
            call.account_id,
            call.region,
            p["DocumentName"],
            p.get("Parameters") or {},
            instance_ids,
            comment=p.get("Comment", ""),
            timeout_seconds=p.get("TimeoutSeconds"),
            targets=targets,
            max_concurrency=p.get("MaxConcurrency", "50"),
            max_errors=p.get("MaxErrors", "0"),
            document_version=p.get("DocumentVersion", ""),
        )
        return {"Command": cmd.render()}

    def handle_cancel_command(self, call) -> dict:
        cmd = self._visible(call.account_id, call.region, call.params.get("CommandId"))
        only = set(call.params.get("InstanceIds") or [])
        now = self.engine.now()
        for inv in cmd.invocations:
            if not only or inv.instance_id in only:
                self.cancel_invocation(inv, now)
        return {}

    def _filters(self, filters: list | None) -> list[Callable[[Command], bool]]:
        checks = []
        for f in filters or []:
            key, value = f.get("key"), str(f.get("value", ""))
            if key == "Status":
                checks.append(lambda c, v=value: c.status()[0] == v)
            elif key == "DocumentName":
                checks.append(lambda c, v=value: c.document_name == v)
            elif key in ("InvokedAfter", "InvokedBefore"):
                ts = paging.parse_time(value)
                if ts is None:
                    raise error("InvalidFilterValue", f"The filter value {value} is not a valid timestamp.")
                checks.append(
                    (lambda c, t=ts: c.requested >= t) if key == "InvokedAfter" else (lambda c, t=ts: c.requested <= t)
                )
            elif key == "ExecutionStage":
                checks.append(lambda c, v=value: (c.status()[0] in TERMINAL) == (v == "Complete"))
            else:
                raise paging.invalid_filter_key(key)
        return checks

    def handle_list_commands(self, call) -> dict:
        p = call.params
        acct, region = call.account_id, call.region
        if p.get("CommandId"):
            cmd = self._visible(acct, region, p["CommandId"])
            pool = [cmd]
        elif p.get("InstanceId"):
            pool = self.by_instance.get((acct, region, p["InstanceId"]), [])
        else:
            pool = self.by_location.get((acct, region), [])
        checks = self._filters(p.get("Filters"))
        items, next_token = paging.page(pool, checks, p)
        return paging.listing("Commands", [c.render() for c in items], next_token)

    def handle_list_command_invocations(self, call) -> dict:
        p = call.params
        acct, region = call.account_id, call.region
        if p.get("CommandId"):
            cmd = self._visible(acct, region, p["CommandId"])
            pool = [i for i in cmd.invocations if not p.get("InstanceId") or i.instance_id == p["InstanceId"]]
        elif p.get("InstanceId"):
            pool = [
                i
                for c in self.by_instance.get((acct, region, p["InstanceId"]), [])
                for i in c.invocations
                if i.instance_id == p["InstanceId"]
            ]
        else:
            pool = [i for c in self.by_location.get((acct, region), []) for i in c.invocations]
        checks = [lambda i, f=f: f(i.command) for f in self._filters(p.get("Filters"))]
        items, next_token = paging.page(pool, checks, p)
        details = bool(p.get("Details"))
        return paging.listing("CommandInvocations", [i.render(details) for i in items], next_token)

    def handle_get_command_invocation(self, call) -> dict:
        p = call.params
        cmd = self._visible(call.account_id, call.region, p.get("CommandId"))
        for inv in cmd.invocations:
            if inv.instance_id == p.get("InstanceId"):
                plugin = p.get("PluginName")
                if plugin and plugin != cmd.plugin:
                    raise error("InvalidPluginName", "The plugin name is not valid.")
                return inv.get()
        raise error("InvocationDoesNotExist", "")


def run_local(shell_kind: str, script: str, timeout: float, inst) -> tuple[str, str, int, bool]:
    """The opt-in local-shell profile: run the script on this machine, bounded by ``timeout`` wall seconds."""
    if shell_kind == "powershell":
        exe = shutil.which("pwsh") or shutil.which("powershell")
        if exe is None:
            return "", 'failed to run commands: exec: "powershell": executable file not found in $PATH', 1, False
        argv = [exe, "-NoProfile", "-NonInteractive", "-Command", script]
    else:
        argv = [shutil.which("bash") or "/bin/bash", "-c", script]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", os.getcwd()),
        "LANG": "C.UTF-8",
        "AWS_SSM_INSTANCE_ID": inst.instance_id,
        "AWS_SSM_REGION_NAME": inst.region,
    }
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=env, check=False, errors="replace"
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return out, err, -1, True
    return proc.stdout, proc.stderr, proc.returncode, False
