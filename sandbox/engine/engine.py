"""The SSM Automation engine's state: the world it serves, documents, target resolution, the execution store.

Its three concerns live in their own modules and are mixed into :class:`Engine`: request handling
(:mod:`.responses`: parse, check and render the API actions), scheduling (:mod:`.scheduling`: launch, fan out,
rate control, finish, cancel) and step actions (:mod:`.steps`: run one runbook step and choose the next).

Every execution lives in one account and region and is visible only there.  All state is guarded by one lock; the
scheduler's dispatcher thread and the HTTP handler threads take it for short, bounded work only.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

from sandbox import fidelity, orgtree

from . import runbook as rb
from .clock import Scheduler, VirtualClock
from .errors import error, invalid_params, validation
from .executions import Store
from .profiles import Profile, build_profiles
from .responses import Responses
from .runcommand import RunCommand
from .scheduling import Scheduling
from .steps import StepActions

log = logging.getLogger(__name__)

ACCOUNT_RE = re.compile(r"^\d{12}$")
OU_RE = re.compile(r"^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$")
ROOT_RE = re.compile(r"^r-[a-z0-9]{4,32}$")
DOC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:ssm:([a-z0-9-]+):(\d{12})?:document/([a-zA-Z0-9_\-.]+)$")


class Engine(Responses, Scheduling, StepActions):
    """The engine's state (world, documents, targets, executions) with its three concerns mixed in, as moto composes
    its larger backends and responses from mixins (moto.ec2: ``EC2Backend``, ``EC2Response``): request handling
    (:mod:`.responses`), scheduling (:mod:`.scheduling`) and step actions (:mod:`.steps`)."""

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

    def _expand(self, target: str, include_children: bool) -> list[str]:
        """Active accounts under an OU or the root (sandbox.orgtree's walk and order); InvalidTarget if ``target``
        is neither."""
        org = self.sb.org_backend()
        if not orgtree.moto_node_exists(org, target):
            raise error("InvalidTarget", f"{target} is not an organizational unit or root of the organization.")
        return orgtree.accounts_under(target, orgtree.moto_children(org), include_children)

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


def _tags(instance) -> dict:
    """An EC2 instance's tags from moto's tag index (resource id -> {key: value})."""
    try:
        return dict(instance.ec2_backend.tags.get(instance.id) or {})
    except Exception:
        return {}
