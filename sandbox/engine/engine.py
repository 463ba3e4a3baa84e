"""The SSM Automation engine: the API handlers, the execution tree, rate control and runbook interpretation.

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

Every execution lives in one account and region and is visible only there.  All state is guarded by one lock; the
scheduler's dispatcher thread and the HTTP handler threads take it for short, bounded work only.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import json
import logging
import math
import re
import sys
import threading
from typing import Any

import boto3
import botocore.exceptions

from sandbox import fidelity

from . import paging
from . import runbook as rb
from .clock import Scheduler, VirtualClock
from .errors import AwsError, StepFailure, api_exception_message, error, invalid_params, validation
from .executions import TERMINAL, Execution, StepExecution, Store, new_id
from .profiles import Profile, build_profiles
from .runcommand import RunCommand

log = logging.getLogger(__name__)

DEFAULT_EXECUTION_ROLE = "AWS-SystemsManager-AutomationExecutionRole"
ROLE_NOT_ASSUMABLE = (
    "The provided role: arn:aws:iam::{account}:role/{name} can't be assumed. "
    "(Service: null; Status Code: 0; Error Code: null; Request ID: null; Proxy: null)"
)
ASSUME_ROLE_FAILED = "The defined assume role is unable to be assumed."
ACCOUNT_RE = re.compile(r"^\d{12}$")
OU_RE = re.compile(r"^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$")
ROOT_RE = re.compile(r"^r-[a-z0-9]{4,32}$")
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
DOC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:ssm:([a-z0-9-]+):(\d{12})?:document/([a-zA-Z0-9_\-.]+)$")
SUPPORTED_ACTIONS = (
    "aws:runCommand",
    "aws:sleep",
    "aws:branch",
    "aws:executeAwsApi",
    "aws:assertAwsResourceProperty",
    "aws:waitForAwsResourceProperty",
)
EXECUTION_STATUSES = {"Pending", "InProgress", "Waiting", "Success", "TimedOut", "Cancelling", "Cancelled", "Failed"}


@functools.cache
def known_regions() -> frozenset:
    session = boto3.session.Session()
    regions = set()
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        regions.update(session.get_available_regions("ssm", partition_name=partition))
    return frozenset(regions)


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


class Engine:
    def __init__(self, sandbox):
        self.sb = sandbox
        self.lock = threading.RLock()
        self.store = Store()
        self.runcommand = RunCommand(self)
        self._world = None
        self._world_key = None
        self._instances: dict[tuple[str, str], dict[str, Any]] = {}
        self._profiles: dict[str, Profile] = {}
        self.clock = VirtualClock(getattr(sandbox.world, "time_scale", 1.0) or 1.0)
        self.scheduler = Scheduler(self.clock, blocking_workers=int(self._option("engine_blocking_workers", 4)))
        self._sync_world()

    # -- world ---------------------------------------------------------------------------------------------------
    def _option(self, key: str, default: Any) -> Any:
        options = getattr(self.sb.world, "options", None) or {}
        return options.get(key, default)

    def world_option(self, key: str, default: Any) -> Any:
        return self._option(key, default)

    def _sync_world(self) -> None:
        world = self.sb.world
        key = (id(world), len(world.instances))
        if key == self._world_key:
            return
        if world is not self._world:
            self._world = world
            self._profiles = build_profiles(world.profiles)
            if world.time_scale != self.clock.time_scale:
                # Virtual time goes on from where the old clock is: the dispatcher's event time never exceeds it,
                # while a clock restarted at the wall clock would be behind it (after a fast scale, by hours), and
                # every timer scheduled from the dispatcher would land that far in the future (a reset to another
                # time_scale hung every new execution).
                self.clock = VirtualClock(world.time_scale or 1.0, start=self.clock.now())
                self.scheduler.clock = self.clock
        index: dict[tuple[str, str], dict[str, Any]] = {}
        for inst in world.instances:
            index.setdefault((inst.account_id, inst.region), {})[inst.instance_id] = inst
        self._instances = index
        self._world_key = key

    def profile(self, name: str) -> Profile:
        return self._profiles.get(name) or self._profiles["amazon-linux-2023"]

    def instance(self, account: str, region: str, instance_id: str):
        self._sync_world()
        return self._instances.get((account, region), {}).get(instance_id)

    def ec2_state(self, inst) -> str:
        try:
            return self.sb.moto_backend("ec2", inst.account_id, inst.region).get_instance(inst.instance_id).state
        except Exception:  # terminated and purged, or unknown to moto: not running
            return "terminated"

    def instance_online(self, inst) -> bool:
        return bool(inst.managed and inst.agent_online and self.ec2_state(inst) == "running")

    def now(self) -> float:
        """Virtual now (see clock.Scheduler.now): event time on the dispatcher, the clock in request handlers."""
        return self.scheduler.now()

    def locked(self, fn, *args) -> None:
        with self.lock:
            fn(*args)

    def reset(self) -> None:
        with self.lock:
            self.scheduler.clear()
            self.store.clear()
            self.runcommand.clear()
            self._world_key = None
            self._world = None

    def idle(self) -> bool:
        """No execution or command is still running (test and benchmark helper)."""
        with self.lock:
            return all(ex.terminal for ex in self.store.by_id.values()) and all(
                inv.terminal for cmd in self.runcommand.commands.values() for inv in cmd.invocations
            )

    # -- documents -----------------------------------------------------------------------------------------------
    def _ssm(self, account: str, region: str):
        return self.sb.moto_backend("ssm", account, region)

    def document_exists(self, account: str, region: str, name: str) -> bool:
        try:
            return name in self._ssm(account, region)._documents
        except Exception:
            return False

    def resolve_document(self, account: str, region: str, name: str, version: str | None):
        """(document name, resolved version, Runbook) the way StartAutomationExecution resolves them."""
        owner, doc_name = account, name
        m = DOC_ARN_RE.match(name)
        if m:
            if m.group(1) != region:
                raise error(
                    "AutomationDefinitionNotFoundException",
                    f"Document {name} is in region {m.group(1)}; shared documents run in their own region only.",
                )
            owner, doc_name = m.group(2) or account, m.group(3)
        elif name.startswith("arn:"):
            raise error("AutomationDefinitionNotFoundException", f"Document {name} does not exist.")
        documents = self._ssm(owner, region)._documents.get(doc_name)
        if documents is None:
            raise error(
                "AutomationDefinitionNotFoundException",
                f"Document {doc_name} does not exist in account {owner} and region {region}.",
            )
        if owner != account and not ({account, "all"} & set(documents.permissions)):
            raise error(
                "AutomationDefinitionNotFoundException", f"Document {name} is not shared with account {account}."
            )
        if version in (None, "", "$DEFAULT"):
            document = documents.get_default_version()
        elif version == "$LATEST":
            document = documents.get_latest_version()
        else:
            document = documents.find_by_version(version)
            if document is None:
                raise error(
                    "AutomationDefinitionVersionNotFoundException", f"Document {doc_name} has no version {version}."
                )
        if document.document_type != "Automation":
            raise error(
                "AutomationDefinitionNotFoundException",
                f"Document {doc_name} is a {document.document_type} document, not an Automation runbook.",
            )
        try:
            parsed = rb.parse(document.content_json if isinstance(document.content_json, dict) else document.content)
        except (ValueError, TypeError) as exc:
            raise invalid_params(
                f"Document {doc_name} version {document.document_version} is not a valid runbook: {exc}"
            ) from None
        return doc_name, str(document.document_version), parsed

    def ssm_parameter(self, account: str, region: str, name: str) -> str | None:
        try:
            param = self._ssm(account, region).get_parameter(name)
        except Exception:
            return None
        return getattr(param, "value", None) if param is not None else None

    # -- targets -------------------------------------------------------------------------------------------------
    def _ec2_instances(self, account: str, region: str) -> list:
        try:
            backend = self.sb.moto_backend("ec2", account, region)
            return [i for i in backend.all_instances() if i.state != "terminated"]
        except Exception:
            return []

    def resolve_targets(self, account: str, region: str, targets: list, for_run_command: bool = False) -> list[str]:
        """Target values in one account/region for Targets (tag:K, tag-key, AWS::EC2::Instance, ResourceGroup,
        ParameterValues, InstanceIds), in instance launch order."""
        values: list[str] = []
        for target in targets or []:
            key, wanted = target.get("Key", ""), list(target.get("Values") or [])
            if key == "ParameterValues" and not for_run_command:
                values.extend(wanted)
                continue
            if key == "InstanceIds" and for_run_command:
                values.extend(wanted)
                continue
            instances = self._ec2_instances(account, region)
            if for_run_command:  # Run Command targets managed nodes only
                instances = [
                    i for i in instances if (w := self.instance(account, region, i.id)) is not None and w.managed
                ]
            if key.startswith("tag:"):
                tag = key[4:]
                values.extend(i.id for i in instances if _tags(i).get(tag) in wanted)
            elif key == "tag-key":
                values.extend(i.id for i in instances if set(wanted) & set(_tags(i)))
            elif key == "AWS::EC2::Instance":
                if wanted != ["*"]:
                    raise invalid_params("Target AWS::EC2::Instance takes the single value *.")
                values.extend(i.id for i in instances)
            elif key == "ResourceGroup":
                values.extend(self._resource_group(account, region, wanted, instances))
            else:
                raise error(
                    "InvalidTarget",
                    f"Target key {key} is not supported (tag:<key>, tag-key, AWS::EC2::Instance, ResourceGroup, ParameterValues).",
                )
        return list(dict.fromkeys(values))

    def _resource_group(self, account: str, region: str, names: list[str], instances: list) -> list[str]:
        try:
            backend = self.sb.moto_backend("resource-groups", account, region)
        except Exception:
            return []
        out = []
        for name in names:
            group = backend.groups.by_name.get(name) if hasattr(backend.groups, "by_name") else None
            if group is None:
                continue
            query = (group.resource_query or {}).get("Query")
            try:
                q = json.loads(query) if isinstance(query, str) else (query or {})
            except ValueError:
                continue
            wanted_types = q.get("ResourceTypeFilters") or ["AWS::AllSupported"]
            if not ({"AWS::AllSupported", "AWS::EC2::Instance"} & set(wanted_types)):
                continue
            for inst in instances:
                tags = _tags(inst)
                if all(
                    tags.get(f["Key"]) in (f.get("Values") or [tags.get(f["Key"])]) and f["Key"] in tags
                    for f in q.get("TagFilters") or []
                ):
                    out.append(inst.id)
        return out

    def _org(self):
        return self.sb.client("organizations", self.sb.world.management_account_id)

    def _org_children(self, parent: str) -> tuple[list[str], list[str]]:
        org = self._org()
        accounts, ous = [], []
        try:
            token = None
            while True:
                page = org.list_accounts_for_parent(ParentId=parent, **({"NextToken": token} if token else {}))
                accounts.extend(a["Id"] for a in page["Accounts"] if a.get("Status", "ACTIVE") == "ACTIVE")
                token = page.get("NextToken")
                if not token:
                    break
            while True:
                page = org.list_children(
                    ParentId=parent, ChildType="ORGANIZATIONAL_UNIT", **({"NextToken": token} if token else {})
                )
                ous.extend(c["Id"] for c in page["Children"])
                token = page.get("NextToken")
                if not token:
                    break
        except botocore.exceptions.ClientError as exc:
            raise error(
                "InvalidTarget",
                f"{parent} is not an organizational unit or root of the organization: {exc.response['Error'].get('Message', '')}",
            ) from None
        return accounts, ous

    def _expand(self, target: str, include_children: bool) -> list[str]:
        """Accounts under an OU/root: with children, child OUs first (depth first), then the accounts directly under
        the OU (the management account, directly under the root, comes last)."""
        accounts, ous = self._org_children(target)
        found = []
        if include_children:
            for ou in ous:
                found.extend(self._expand(ou, True))
        found.extend(accounts)
        return found

    def expand_location(self, caller: str, loc: dict) -> list[str]:
        include = bool(loc.get("IncludeChildOrganizationUnits", False))
        accounts: list[str] = []
        for entry in loc.get("Accounts") or []:
            if ACCOUNT_RE.match(entry):
                accounts.append(entry)
            elif OU_RE.match(entry) or ROOT_RE.match(entry):
                if caller != self.sb.world.management_account_id:
                    raise error(
                        "InvalidTarget",
                        f"Only the organization's management account can target organizational units ({entry}).",
                    )
                accounts.extend(self._expand(entry, include))
            else:
                raise invalid_params(
                    f"TargetLocations Accounts value {entry} is neither an account id (12 digits) nor an organizational unit id (ou-... or r-...)."
                )
        excluded: set[str] = set()
        for entry in loc.get("ExcludeAccounts") or []:
            if ACCOUNT_RE.match(entry):
                excluded.add(entry)
            else:
                excluded.update(self._expand(entry, True))
        return [a for a in dict.fromkeys(accounts) if a not in excluded]

    # -- handlers ------------------------------------------------------------------------------------------------
    def handlers(self) -> dict:
        rc = self.runcommand
        return {
            "StartAutomationExecution": self.h_start,
            "GetAutomationExecution": self.h_get,
            "DescribeAutomationExecutions": self.h_describe,
            "DescribeAutomationStepExecutions": self.h_describe_steps,
            "StopAutomationExecution": self.h_stop,
            "SendCommand": rc.handle_send_command,
            "CancelCommand": rc.handle_cancel_command,
            "ListCommands": rc.handle_list_commands,
            "ListCommandInvocations": rc.handle_list_command_invocations,
            "GetCommandInvocation": rc.handle_get_command_invocation,
            "DescribeInstanceInformation": self.h_describe_instance_information,
        }

    def wrap(self, action: str, fn):
        def handler(call):
            problems = fidelity.validate_input("ssm", action, call.params)
            if problems:
                raise validation(fidelity.validation_message(problems))
            with self.lock:
                self._sync_world()
                return fn(call)

        handler.__name__ = f"engine_{action}"
        return handler

    # StartAutomationExecution ---------------------------------------------------------------------------------
    def h_start(self, call) -> dict:
        p = dict(call.params)
        acct, region = call.account_id, call.region
        token = p.get("ClientToken")
        fingerprint = json.dumps({k: v for k, v in p.items() if k != "ClientToken"}, sort_keys=True)
        if token:
            seen = self.store.tokens.get((acct, region, token.lower()))
            if seen is not None:
                if seen[1] != fingerprint:
                    raise error(
                        "IdempotentParameterMismatch",
                        "Error returned when an idempotent operation is retried and the parameters don't match the "
                        "original call to the API with the same idempotency token.",
                    )
                return {"AutomationExecutionId": seen[0]}
        if len(p.get("Tags") or []) > 5:  # API reference: "you can specify a maximum of 5 tags" at start
            raise validation("StartAutomationExecution accepts at most 5 tags (add more with AddTagsToResource).")
        if p.get("TargetLocationsURL"):
            raise validation("TargetLocationsURL is not supported by the sandbox; pass TargetLocations.")
        mode = p.get("Mode", "Auto")
        targets, tpn, tmaps, tls = (
            p.get("Targets"),
            p.get("TargetParameterName"),
            p.get("TargetMaps"),
            p.get("TargetLocations"),
        )
        loc_targets = any(loc.get("Targets") for loc in tls or [])
        if targets and tmaps:
            raise invalid_params("Both Targets and TargetMaps can't be specified together.")
        if (targets or loc_targets) and not tpn:
            raise invalid_params("TargetParameterName is required when Targets are specified.")
        if tpn and not (targets or loc_targets):
            raise invalid_params("Targets are required when TargetParameterName is specified.")
        for tlist in [targets or []] + [loc.get("Targets") or [] for loc in tls or []]:
            if len(tlist) > 1:
                raise invalid_params("Only one resource group or tag can be specified at a time")
            for t in tlist:
                if t.get("Key") == "AWS::EC2::Instance" and t.get("Values") != ["*"]:
                    raise invalid_params("Target AWS::EC2::Instance takes the single value *.")
        if mode == "Interactive" and (targets or tmaps or tls):
            raise invalid_params("Interactive mode can't be used with Targets, TargetMaps or TargetLocations.")
        if mode == "Interactive":
            raise validation(
                "Mode Interactive (step-by-step execution with SendAutomationSignal) is not supported by the sandbox; use Auto."
            )
        doc_name, version, runbook = self.resolve_document(acct, region, p["DocumentName"], p.get("DocumentVersion"))
        if tpn and tpn not in runbook.parameters:
            raise invalid_params(f"TargetParameterName {tpn} is not a parameter of document {doc_name}.")
        exempt = {tpn} if tpn else set()
        for tmap in tmaps or []:
            unknown = [k for k in tmap if k not in runbook.parameters]
            if unknown:
                raise invalid_params(
                    f"TargetMaps parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} not defined in document {doc_name}."
                )
            exempt.update(tmap)
        typed, api_form = rb.resolve_parameters(runbook, p.get("Parameters"), exempt=exempt)
        supplied = {k: list(v) for k, v in (p.get("Parameters") or {}).items()}
        locations = []
        if tls:
            for index, loc in enumerate(tls):
                regions = list(loc.get("Regions") or [region])
                bad = [r for r in regions if r not in known_regions()]
                if bad:
                    raise invalid_params(
                        f"TargetLocations Regions value{'s' if len(bad) > 1 else ''} {', '.join(bad)} {'are' if len(bad) > 1 else 'is'} not a valid AWS Region."
                    )
                for account in self.expand_location(acct, loc):
                    for r in dict.fromkeys(regions):
                        locations.append((index, account, r))
        now = self.now()
        common = {
            "account": acct,
            "region": region,
            "document_name": doc_name,
            "document_version": version,
            "executed_by": call.principal_arn,
            "start": now,
            "tags": list(p.get("Tags") or []),
        }
        if tls:
            ex = Execution(
                id=new_id(),
                kind="cross-account",
                automation_type="CrossAccount",
                parameters=supplied,
                target_parameter_name=tpn,
                targets=targets,
                target_maps=tmaps,
                max_concurrency=p.get("MaxConcurrency"),
                max_errors=p.get("MaxErrors"),
                target_locations=[self._echo_location(loc) for loc in tls],
                **common,
            )
            ex.runbook = runbook
            ex.plan = {"typed": typed, "api_form": api_form, "tls": tls, "request": p, "locations": locations}
            for index, account, r in locations:
                loc = tls[index]
                step = StepExecution(location_step_name(account, r), "aws:executeAutomation")
                step.target_location = {
                    "Accounts": [account],
                    "Regions": [r],
                    "TargetLocationMaxConcurrency": loc.get("TargetLocationMaxConcurrency", "1"),
                    "TargetLocationMaxErrors": loc.get("TargetLocationMaxErrors", "0"),
                    "ExecutionRoleName": loc.get("ExecutionRoleName") or DEFAULT_EXECUTION_ROLE,
                }
                for key in (
                    "Targets",
                    "TargetsMaxConcurrency",
                    "TargetsMaxErrors",
                    "IncludeChildOrganizationUnits",
                    "ExcludeAccounts",
                ):
                    if key in loc:
                        step.target_location[key] = loc[key]
                step.plan_index = index
                ex.steps.append(step)
        elif targets or tmaps:
            ex = Execution(
                id=new_id(),
                kind="rate",
                parameters=supplied,
                target_parameter_name=tpn,
                targets=targets or [],
                target_maps=tmaps,
                max_concurrency=p.get("MaxConcurrency") or "10",
                max_errors=p.get("MaxErrors"),
                **common,
            )
            ex.runbook = runbook
            ex.plan = {
                "typed": typed,
                "api_form": api_form,
                "targets": targets,
                "target_maps": tmaps,
                "check_role": True,
            }
        else:
            ex = Execution(id=new_id(), kind="runbook", parameters=api_form, **common)
            ex.runbook = runbook
            ex.plan = {"typed": typed, "check_role": True}
            self._prepare_runbook(ex, typed)
        self.store.add(ex)
        if token:
            self.store.tokens[(acct, region, token.lower())] = (ex.id, fingerprint)
        self.scheduler.call_soon(lambda: self.locked(self._launch, ex))
        return {"AutomationExecutionId": ex.id}

    @staticmethod
    def _echo_location(loc: dict) -> dict:
        out = dict(loc)
        out.setdefault("ExecutionRoleName", DEFAULT_EXECUTION_ROLE)
        return out

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
        entries = self._location_entries(ex)
        for entry in entries:
            steps = entry["steps"]
            # Location errors: locations where the automation could not run at all (execution role not assumable).
            # What fails inside a location (its targets) is that location's own rate control; see the docs.
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
        failed = [s for s in ex.steps if s.status in ("Failed", "TimedOut", "Cancelled") or s.start is None]
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

    # StopAutomationExecution -------------------------------------------------------------------------------------
    def h_stop(self, call) -> dict:
        ex = self._execution(call)
        if call.params.get("Type", "Cancel") == "Complete":
            raise validation("StopAutomationExecution Type Complete is not supported by the sandbox; use Cancel.")
        if ex.terminal:
            raise error(
                "InvalidAutomationStatusUpdateException",
                f"The automation execution {ex.id} is already in a terminal state ({ex.status}) and can't be stopped.",
            )
        self.request_cancel(ex)
        return {}

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

    # Get / Describe ----------------------------------------------------------------------------------------------
    @staticmethod
    def _not_found(execution_id: str) -> AwsError:
        return error("AutomationExecutionNotFoundException", f"Automation execution {execution_id} does not exist.")

    def _execution(self, call) -> Execution:
        """The request's AutomationExecutionId, as the caller's account and region see it; not found otherwise."""
        ex = self.store.get(call.account_id, call.region, call.params["AutomationExecutionId"])
        if ex is None:
            raise self._not_found(call.params["AutomationExecutionId"])
        return ex

    def h_get(self, call) -> dict:
        ex = self._execution(call)
        return {"AutomationExecution": ex.render()}

    def h_describe(self, call) -> dict:
        p = call.params
        acct, region = call.account_id, call.region
        filters: dict[str, list[str]] = {}
        for f in p.get("Filters") or []:
            filters.setdefault(f["Key"], []).extend(f["Values"])
        if "ExecutionId" in filters:
            pool = [ex for i in filters["ExecutionId"] if (ex := self.store.get(acct, region, i)) is not None]
        elif "ParentExecutionId" in filters:
            pool = [
                ex for pid in filters["ParentExecutionId"] for ex in self.store.by_parent.get((acct, region, pid), [])
            ]
        else:
            pool = self.store.by_location.get((acct, region), [])
        checks = []
        for key, values in filters.items():
            if key == "ExecutionId":
                continue
            if key == "ParentExecutionId":
                if "ExecutionId" in filters:
                    checks.append(lambda ex, v=set(values): ex.parent_id in v)
                continue
            if key == "ExecutionStatus":
                bad = [v for v in values if v not in EXECUTION_STATUSES and v not in TERMINAL]
                if bad:
                    raise error("InvalidFilterValue", f"The filter value {bad[0]} is not valid for ExecutionStatus.")
                checks.append(lambda ex, v=set(values): ex.status in v)
            elif key == "DocumentNamePrefix":
                checks.append(lambda ex, v=tuple(values): ex.document_name.startswith(v))
            elif key == "CurrentAction":
                checks.append(lambda ex, v=set(values): ex.current_action in v)
            elif key in ("StartTimeBefore", "StartTimeAfter"):
                checks.append(paging.start_time_filter(key, values, lambda ex: ex.start))
            elif key == "AutomationType":
                bad = [v for v in values if v not in ("CrossAccount", "Local")]
                if bad:
                    raise error(
                        "InvalidFilterValue",
                        f"The filter value {bad[0]} is not valid for AutomationType (CrossAccount, Local).",
                    )
                checks.append(lambda ex, v=set(values): ex.automation_type in v)
            elif key == "TagKey":
                checks.append(lambda ex, v=set(values): any(t.get("Key") in v for t in ex.tags))
            elif key == "TargetResourceGroup":
                checks.append(
                    lambda ex, v=set(values): any(
                        t.get("Key") == "ResourceGroup" and set(t.get("Values") or []) & v for t in ex.targets or []
                    )
                )
            elif key in ("AutomationSubtype", "OpsItemId"):
                checks.append(lambda ex: False)  # no change requests or OpsItems in the sandbox
            else:
                raise paging.invalid_filter_key(key)
        items, next_token = paging.page(pool, checks, p, "dae")
        return paging.listing("AutomationExecutionMetadataList", [ex.metadata() for ex in items], next_token)

    def h_describe_steps(self, call) -> dict:
        p = call.params
        ex = self._execution(call)
        steps = list(reversed(ex.steps)) if p.get("ReverseOrder") else ex.steps
        checks = []
        for f in p.get("Filters") or []:
            key, values = f["Key"], f["Values"]
            if key == "StepName":
                checks.append(lambda s, v=set(values): s.step_name in v)
            elif key == "Action":
                checks.append(lambda s, v=set(values): s.action in v)
            elif key == "StepExecutionId":
                checks.append(lambda s, v=set(values): s.step_execution_id in v)
            elif key == "StepExecutionStatus":
                checks.append(lambda s, v=set(values): s.status in v)
            elif key in ("StartTimeBefore", "StartTimeAfter"):
                checks.append(paging.start_time_filter(key, values, lambda s: s.start))
            elif key in ("ParentStepExecutionId", "ParentStepIteration", "ParentStepIteratorValue"):
                checks.append(lambda s: False)  # no aws:loop in the sandbox
            else:
                raise paging.invalid_filter_key(key)
        items, next_token = paging.page(steps, checks, p, "dase")
        return paging.listing("StepExecutions", [s.render() for s in items], next_token)

    # DescribeInstanceInformation ---------------------------------------------------------------------------------
    def h_describe_instance_information(self, call) -> dict:
        p = call.params
        acct, region = call.account_id, call.region
        instances = [i for i in self._instances.get((acct, region), {}).values() if i.managed]
        checks = []
        for f in p.get("InstanceInformationFilterList") or []:
            checks.append(self._info_filter(f["key"], f["valueSet"], acct, region))
        for f in p.get("Filters") or []:
            checks.append(self._info_filter(f["Key"], f["Values"], acct, region))
        infos = {}  # each instance rendered once: the filters read the rendering, the page is made of it

        def info(inst) -> dict:
            if inst.instance_id not in infos:
                infos[inst.instance_id] = self._instance_info(inst)
            return infos[inst.instance_id]

        keep = [lambda inst, check=check: check(inst, info(inst)) for check in checks]
        items, next_token = paging.page(instances, keep, p, "dii")
        return paging.listing("InstanceInformationList", [info(inst) for inst in items], next_token)

    def _info_filter(self, key: str, values: list[str], acct: str, region: str):
        wanted = set(values)
        if key in ("InstanceIds", "instanceIds"):
            return lambda inst, info: inst.instance_id in wanted
        if key == "PingStatus":
            return lambda inst, info: info["PingStatus"] in wanted
        if key == "PlatformTypes":
            return lambda inst, info: info["PlatformType"] in wanted
        if key == "ResourceType":
            return lambda inst, info: info["ResourceType"] in wanted
        if key == "AgentVersion":
            return lambda inst, info: info["AgentVersion"] in wanted
        if key == "AssociationStatus":
            return lambda inst, info: info.get("AssociationStatus") in wanted
        if key.startswith("tag:"):
            tag = key[4:]
            return lambda inst, info: inst.tags.get(tag) in wanted
        if key == "tag-key":
            return lambda inst, info: bool(wanted & set(inst.tags))
        if key in ("ActivationIds", "IamRole", "SourceIds", "SourceTypes"):
            return lambda inst, info: False
        raise error(
            "InvalidInstanceInformationFilterValue" if key else "InvalidFilterKey",
            f"The filter key {key} is not valid.",
        )

    def _instance_info(self, inst) -> dict:
        from .profiles import Facts

        profile = self.profile(inst.os_profile)
        facts = Facts(inst.instance_id, inst.account_id, inst.region, inst.name, inst.platform, self.now())
        online = self.instance_online(inst)
        now = self.now()
        return {
            "InstanceId": inst.instance_id,
            "PingStatus": "Online" if online else "ConnectionLost",
            "LastPingDateTime": now if online else now - 86400,
            "AgentVersion": "3.3.1142.0",
            "IsLatestVersion": True,
            "PlatformType": profile.platform if profile.platform else inst.platform,
            "PlatformName": profile.platform_name,
            "PlatformVersion": profile.platform_version,
            "ResourceType": "EC2Instance",
            "IPAddress": facts.private_ip,
            "ComputerName": facts.hostname,
            "AssociationStatus": "Success",
            "SourceId": inst.instance_id,
            "SourceType": "AWS::EC2::Instance",
        }


def _shared(text: str) -> str:
    return sys.intern(text) if len(text) <= 8192 else text


def _tags(instance) -> dict:
    """An EC2 instance's tags from moto's tag index (resource id -> {key: value})."""
    try:
        return dict(instance.ec2_backend.tags.get(instance.id) or {})
    except Exception:
        return {}


def botocore_xform(api: str) -> str:
    from botocore import xform_name

    return xform_name(api) if any(c.isupper() for c in api) else api
