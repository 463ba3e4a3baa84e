"""CloudFormation StackSets, served by the layer (moto's StackSets stop at one OU level and know no auto-deployment).

What AWS does and this reproduces (AWS CloudFormation User Guide, "StackSets concepts" and "Manage automatic
deployments for a stack set with service-managed permissions"; API reference of each action):

- SERVICE_MANAGED stack sets deploy to every account under the target OUs, at any depth, and never to the
  organization's management account, even when it sits under a targeted root or OU.
- AutoDeployment: an account created in, or moved into, a targeted OU gets the stack instances (in the regions the
  stack set is deployed to for that OU); an account that leaves every targeted OU loses them, unless
  RetainStacksOnAccountRemoval is true (then the instance leaves the stack set and the stack stays).
- Operations are asynchronous (RUNNING, then SUCCEEDED / FAILED / STOPPED). While one runs, another write answers
  ``OperationInProgressException`` "Another Operation on StackSet <arn> is in progress" (409), unless
  ManagedExecution is active (then the operation is QUEUED).
- Every stack instance is a real stack in its account (CreateStack through the API, so the template's IAM roles
  exist there), with Status CURRENT / OUTDATED / INOPERABLE, StackInstanceStatus.DetailedStatus and StatusReason.
  A deliberately broken account (world ``stacksets.broken_accounts``) ends OUTDATED / FAILED with the given reason;
  past the failure tolerance the remaining instances are CANCELLED and the operation FAILED.
- DeleteStackInstances for SERVICE_MANAGED is by OU (DeploymentTargets.OrganizationalUnitIds).

The duration of an operation is ``stacksets.operation_seconds`` (simulated seconds, scaled by the world's
time_scale), or a fault rule's ``stackset_operation_seconds``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import yaml

from sandbox import orgtree, paging
from sandbox.server import AwsError, Call

log = logging.getLogger("sandbox.stacksets")

ACTIONS = (
    "CreateStackSet",
    "DescribeStackSet",
    "UpdateStackSet",
    "DeleteStackSet",
    "ListStackSets",
    "CreateStackInstances",
    "UpdateStackInstances",
    "DeleteStackInstances",
    "ListStackInstances",
    "DescribeStackInstance",
    "DescribeStackSetOperation",
    "ListStackSetOperations",
    "ListStackSetOperationResults",
    "StopStackSetOperation",
    "ListStackSetAutoDeploymentTargets",
)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", message, 400)


@dataclass
class Instance:
    account: str
    region: str
    ou_id: str = ""
    status: str = "OUTDATED"  # CURRENT | OUTDATED | INOPERABLE
    detailed: str = "PENDING"  # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED | INOPERABLE | ...
    reason: str = ""
    stack_id: str = ""
    stack_name: str = ""
    overrides: list = field(default_factory=list)
    last_operation_id: str = ""


@dataclass
class Operation:
    id: str
    action: str  # CREATE | UPDATE | DELETE
    status: str  # QUEUED | RUNNING | SUCCEEDED | FAILED | STOPPING | STOPPED
    preferences: dict
    created: _dt.datetime
    due: float  # monotonic time at which the work is applied
    items: list  # [(account, region, ou_id)]
    deployment_targets: dict | None = None
    retain_stacks: bool | None = None
    ended: _dt.datetime | None = None
    reason: str = ""
    results: dict = field(default_factory=dict)  # (account, region) -> {Status, StatusReason, OrganizationalUnitId}
    stop_requested: bool = False


@dataclass
class StackSet:
    name: str
    id: str
    arn: str
    owner: str
    region: str
    template: str
    parameters: list
    capabilities: list
    tags: list
    description: str | None
    permission_model: str
    auto_deployment: dict | None
    managed_execution: bool
    admin_role_arn: str | None
    execution_role_name: str | None
    status: str = "ACTIVE"
    ou_targets: dict = field(default_factory=dict)  # ou id -> set of regions
    instances: dict = field(default_factory=dict)  # (account, region) -> Instance
    operations: list = field(default_factory=list)


class StackSets:
    def __init__(self, sb):
        self.sb = sb
        self.lock = threading.RLock()
        self.done = threading.Condition(self.lock)
        self.sets: dict[tuple[str, str], dict[str, StackSet]] = {}
        self.generation = 0
        self.queue: list[tuple[int, StackSet, Operation]] = []
        self.wake = threading.Event()
        self.worker = threading.Thread(target=self._work, name="sandbox-stacksets", daemon=True)
        self.worker.start()

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.generation += 1
            self.sets.clear()
            self.queue.clear()
            self.done.notify_all()

    def wait_idle(self, timeout: float) -> None:
        """Wait (bounded) until an operation finishes; used by the world build."""
        with self.done:
            self.done.wait(timeout)

    def instances_of(self, name: str) -> list[Instance]:
        with self.lock:
            out = []
            for sets in self.sets.values():
                ss = sets.get(name)
                if ss is not None and ss.status == "ACTIVE":
                    out.extend(ss.instances.values())
            return out

    # -- helpers -----------------------------------------------------------------------------------------------------
    def _get(self, call: Call, name: str | None = None) -> StackSet:
        name = name if name is not None else call.params.get("StackSetName", "")
        sets = self.sets.get((call.account_id, call.region), {})
        ss = sets.get(name)
        if ss is None:
            for candidate in sets.values():
                if name in (candidate.id, candidate.arn):
                    ss = candidate
        if ss is None or ss.status != "ACTIVE":
            raise AwsError("StackSetNotFoundException", f"StackSet {name} not found", 404)
        return ss

    def _busy(self, ss: StackSet) -> Operation | None:
        for op in ss.operations:
            if op.status in ("RUNNING", "STOPPING"):
                return op
        return None

    def _duration(self, call: Call) -> float:
        world = self.sb.world
        seconds = float((world.stacksets or {}).get("operation_seconds", 0) or 0)
        fault = self.sb.faults.value(
            "stackset_operation_seconds", "cloudformation", call.action, call.account_id, call.region
        )
        if fault is not None:
            seconds = fault
        if call.internal:
            seconds = 0.0  # the world build does not wait
        return seconds * world.time_scale

    def _org(self):
        return self.sb.org_backend()

    def _accounts_under(self, ou_id: str) -> list[str]:
        """Active accounts under an OU or root, at any depth (sandbox.orgtree's walk), in creation order."""
        org = self._org()
        if org.org is None:
            return []
        under = set(orgtree.accounts_under(ou_id, orgtree.moto_children(org)))
        return [acct.id for acct in org.accounts if acct.id in under]

    def _ou_exists(self, ou_id: str) -> bool:
        return orgtree.moto_node_exists(self._org(), ou_id)

    def _nearest_target(self, ss: StackSet, account: str) -> str | None:
        """The deepest targeted OU (or root) above ``account``, or None."""
        org = self._org()
        acct = next((a for a in org.accounts if a.id == account), None)
        if acct is None or acct.status != "ACTIVE":
            return None
        parents = {ou.id: ou.parent_id for ou in org.ou if getattr(ou, "type", "") != "ROOT"}
        node = acct.parent_id
        while node is not None:
            if node in ss.ou_targets:
                return node
            node = parents.get(node)
        return None

    def _resolve_targets(self, ss: StackSet, call: Call, regions: list[str]) -> list[tuple[str, str, str]]:
        p = call.params
        targets = p.get("DeploymentTargets") or {}
        accounts = p.get("Accounts") or []
        mgmt = self.sb.world.management_account_id
        if ss.permission_model == "SERVICE_MANAGED":
            if accounts or not targets.get("OrganizationalUnitIds"):
                raise _validation(
                    "StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target"
                )
            ous = targets.get("OrganizationalUnitIds") or []
            for ou in ous:
                if not self._ou_exists(ou):
                    raise _validation(f"Organizational unit {ou} does not exist in the organization")
            filter_type = targets.get("AccountFilterType", "NONE")
            listed = set(targets.get("Accounts") or [])
            items = []
            seen = set()
            for ou in ous:
                for acct in self._accounts_under(ou):
                    if acct == mgmt:
                        continue  # never the management account (service-managed permissions)
                    if filter_type == "INTERSECTION" and acct not in listed:
                        continue
                    if filter_type == "DIFFERENCE" and acct in listed:
                        continue
                    if acct not in seen:
                        seen.add(acct)
                        items.append((acct, ou))
            if filter_type == "UNION":
                for acct in listed:
                    if acct not in seen and acct != mgmt:
                        seen.add(acct)
                        items.append((acct, ""))
            return [(a, r, ou) for r in regions for a, ou in items]
        if targets.get("OrganizationalUnitIds"):
            raise _validation("StackSets with SELF_MANAGED permission model can only have accounts as target")
        accounts = accounts or targets.get("Accounts") or []
        if not accounts:
            raise _validation("Accounts or DeploymentTargets.Accounts must be specified")
        return [(a, r, "") for r in regions for a in accounts]

    def _new_operation(self, ss: StackSet, call: Call, action: str, items, **extra) -> Operation:
        busy = self._busy(ss)
        op_id = call.params.get("OperationId") or str(uuid.uuid4())
        if any(o.id == op_id for o in ss.operations):
            raise AwsError(
                "OperationIdAlreadyExistsException", f"The specified operation ID already exists: {op_id}", 409
            )
        if busy is not None and not ss.managed_execution:
            raise AwsError(
                "OperationInProgressException", f"Another Operation on StackSet {ss.arn} is in progress", 409
            )
        prefs = call.params.get("OperationPreferences") or {}
        op = Operation(
            id=op_id,
            action=action,
            status="QUEUED" if busy is not None else "RUNNING",
            preferences=prefs,
            created=_now(),
            due=time.monotonic() + self._duration(call),
            items=items,
            **extra,
        )
        for account, region, ou in items:
            op.results[(account, region)] = {
                "Account": account,
                "Region": region,
                "Status": "PENDING",
                "OrganizationalUnitId": ou,
            }
        ss.operations.append(op)
        self.queue.append((self.generation, ss, op))
        self.wake.set()
        return op

    # -- the worker ----------------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            self.wake.wait()
            with self.lock:
                runnable = [(g, ss, op) for g, ss, op in self.queue if g == self.generation]
                self.queue = runnable
                if not runnable:
                    self.wake.clear()
                    continue
                # The first operation of each stack set, in arrival order.
                chosen = None
                busy_sets = set()
                for entry in runnable:
                    g, ss, op = entry
                    if id(ss) in busy_sets:
                        continue
                    busy_sets.add(id(ss))
                    if chosen is None or op.due < chosen[2].due:
                        chosen = entry
                g, ss, op = chosen
                op.status = "RUNNING" if op.status == "QUEUED" else op.status
                wait = op.due - time.monotonic()
            if wait > 0:
                # Not a test synchronisation: the operation's simulated duration. Woken early by new work or reset.
                self.wake.clear()
                self.wake.wait(min(wait, 0.5))
                self.wake.set()
                continue
            try:
                self._run(g, ss, op)
            except Exception:
                log.exception("sandbox: StackSet operation %s failed unexpectedly", op.id)
                with self.lock:
                    op.status = "FAILED"
                    op.reason = "Internal error in the sandbox"
                    op.ended = _now()
            with self.lock:
                if (g, ss, op) in self.queue:
                    self.queue.remove((g, ss, op))
                self.done.notify_all()

    def _tolerance(self, op: Operation, total: int) -> int:
        prefs = op.preferences or {}
        if "FailureToleranceCount" in prefs:
            return int(prefs["FailureToleranceCount"])
        if "FailureTolerancePercentage" in prefs:
            return int(total * int(prefs["FailureTolerancePercentage"]) / 100)
        return 0

    def _run(self, gen: int, ss: StackSet, op: Operation) -> None:
        order = list((op.preferences or {}).get("RegionOrder") or [])
        regions = order + sorted({r for _a, r, _o in op.items if r not in order})
        by_region = {r: [(a, rr, o) for a, rr, o in op.items if rr == r] for r in regions}
        failures = 0
        tolerance = self._tolerance(op, len({a for a, _r, _o in op.items}))
        cancelled = False
        for region in regions:
            for account, _region, ou in by_region[region]:
                if gen != self.generation:
                    return
                if op.stop_requested:
                    cancelled = True
                if cancelled:
                    self._finish_item(
                        ss,
                        op,
                        account,
                        region,
                        "CANCELLED",
                        "Cancelled since failure tolerance has exceeded"
                        if not op.stop_requested
                        else "Operation stopped",
                    )
                    continue
                ok, reason = self._apply(ss, op, account, region, ou)
                if not ok:
                    failures += 1
                    if failures > tolerance:
                        cancelled = True
        with self.lock:
            if gen != self.generation:
                return
            if op.stop_requested:
                op.status = "STOPPED"
            elif failures > tolerance:
                op.status = "FAILED"
                op.reason = "The Operation failed because the failure tolerance was exceeded."
            else:
                op.status = "SUCCEEDED"
            op.ended = _now()

    def _finish_item(self, ss: StackSet, op: Operation, account: str, region: str, status: str, reason: str) -> None:
        with self.lock:
            res = op.results.setdefault((account, region), {"Account": account, "Region": region})
            res["Status"] = status
            if reason:
                res["StatusReason"] = reason
            inst = ss.instances.get((account, region))
            if inst is not None and status == "CANCELLED":
                inst.status = "OUTDATED"
                inst.detailed = "CANCELLED"
                inst.reason = reason

    def _apply(self, ss: StackSet, op: Operation, account: str, region: str, ou: str) -> tuple[bool, str]:
        """Create, update or delete the stack of one instance, through the CloudFormation API of its account."""
        broken = (self.sb.world.stacksets or {}).get("broken_accounts", {}) or {}
        with self.lock:
            inst = ss.instances.get((account, region))
        if op.action == "DELETE":
            if inst is None:
                self._finish_item(ss, op, account, region, "SUCCEEDED", "")
                return True, ""
            if not op.retain_stacks and inst.stack_id:
                try:
                    self.sb.client("cloudformation", account, region).delete_stack(StackName=inst.stack_id)
                except Exception as exc:  # the stack vanished already: nothing to delete
                    log.info("sandbox: deleting %s in %s/%s: %s", inst.stack_name, account, region, exc)
            with self.lock:
                ss.instances.pop((account, region), None)
            self._finish_item(ss, op, account, region, "SUCCEEDED", "")
            return True, ""

        if inst is None:
            return self._fail(ss, op, account, region, "Stack instance not found")
        with self.lock:
            inst.detailed = "RUNNING"
            inst.last_operation_id = op.id
        if account in broken:
            return self._fail(ss, op, account, region, broken[account])
        params = _merge_params(ss.parameters, inst.overrides)
        cfn = self.sb.client("cloudformation", account, region)
        try:
            if inst.stack_id:
                try:
                    cfn.update_stack(
                        StackName=inst.stack_id,
                        TemplateBody=ss.template,
                        Parameters=params,
                        Capabilities=ss.capabilities,
                    )
                except cfn.exceptions.ClientError as exc:
                    if "No updates are to be performed" not in str(exc):
                        raise
            else:
                name = f"StackSet-{ss.name}-{uuid.uuid4()}"
                resp = cfn.create_stack(
                    StackName=name, TemplateBody=ss.template, Parameters=params, Capabilities=ss.capabilities
                )
                with self.lock:
                    inst.stack_id = resp["StackId"]
                    inst.stack_name = name
                status = cfn.describe_stacks(StackName=resp["StackId"])["Stacks"][0]
                if status["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                    return self._fail(ss, op, account, region, status.get("StackStatusReason") or status["StackStatus"])
        except Exception as exc:
            error = getattr(exc, "response", {}).get("Error", {})
            message = error.get("Message") or str(exc)
            if error.get("Code") == "EntityAlreadyExists":
                return self._fail(ss, op, account, region, _already_exists(ss.template, params, message))
            return self._fail(ss, op, account, region, f"ResourceStatusReason: {message}")
        with self.lock:
            inst.status = "CURRENT"
            inst.detailed = "SUCCEEDED"
            inst.reason = ""
        self._finish_item(ss, op, account, region, "SUCCEEDED", "")
        return True, ""

    def _fail(self, ss, op, account, region, reason) -> tuple[bool, str]:
        with self.lock:
            inst = ss.instances.get((account, region))
            if inst is not None:
                inst.status = "OUTDATED"
                inst.detailed = "FAILED"
                inst.reason = reason
        self._finish_item(ss, op, account, region, "FAILED", reason)
        return False, reason

    # -- auto-deployment -------------------------------------------------------------------------------------------
    def on_account_change(self, account: str) -> None:
        """After CreateAccount / MoveAccount / RemoveAccountFromOrganization: deploy or remove per AutoDeployment."""
        mgmt = self.sb.world.management_account_id
        if account == mgmt:
            return
        with self.lock:
            candidates = [
                ss
                for (owner, _region), sets in self.sets.items()
                if owner == mgmt
                for ss in sets.values()
                if ss.status == "ACTIVE"
                and ss.permission_model == "SERVICE_MANAGED"
                and (ss.auto_deployment or {}).get("Enabled")
            ]
        for ss in candidates:
            target = self._nearest_target(ss, account)
            with self.lock:
                have = {r: i for (a, r), i in ss.instances.items() if a == account}
            if target is not None:
                wanted = ss.ou_targets.get(target, set())
                op = Operation(str(uuid.uuid4()), "CREATE", "RUNNING", {}, _now(), time.monotonic(), [])
                for region in sorted(wanted):
                    if region in have:
                        with self.lock:
                            have[region].ou_id = target
                        continue
                    with self.lock:
                        ss.instances[(account, region)] = Instance(account, region, ou_id=target)
                    self._apply(ss, op, account, region, target)
            elif have:
                retain = bool((ss.auto_deployment or {}).get("RetainStacksOnAccountRemoval"))
                op = Operation(
                    str(uuid.uuid4()), "DELETE", "RUNNING", {}, _now(), time.monotonic(), [], retain_stacks=retain
                )
                for region in list(have):
                    self._apply(ss, op, account, region, "")
            with self.lock:
                self.done.notify_all()

    # -- API ---------------------------------------------------------------------------------------------------------
    def create_stack_set(self, call: Call) -> dict:
        p = call.params
        name = p.get("StackSetName", "")
        if not name or len(name) > 128 or not (name[0].isalpha() and all(c.isalnum() or c == "-" for c in name)):
            raise _validation(
                "1 validation error detected: Value at 'stackSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
            )
        if p.get("TemplateURL") and not p.get("TemplateBody"):
            raise _validation("TemplateURL is not supported by the sandbox: pass TemplateBody")
        body = p.get("TemplateBody")
        if not body:
            raise _validation("Either TemplateBody or TemplateURL must be specified")
        _check_template(body, p.get("Capabilities") or [])
        model = p.get("PermissionModel", "SELF_MANAGED")
        with self.lock:
            sets = self.sets.setdefault((call.account_id, call.region), {})
            if name in sets and sets[name].status == "ACTIVE":
                raise AwsError("NameAlreadyExistsException", f"StackSet {name} already exists", 409)
            sid = f"{name}:{uuid.uuid4()}"
            auto = p.get("AutoDeployment")
            if model == "SERVICE_MANAGED" and auto is not None:
                auto = {
                    "Enabled": bool(auto.get("Enabled", False)),
                    "RetainStacksOnAccountRemoval": bool(auto.get("RetainStacksOnAccountRemoval", False)),
                }
            if model == "SELF_MANAGED" and auto:
                raise _validation(
                    "AutoDeployment is only supported for stack sets with SERVICE_MANAGED permission model"
                )
            ss = StackSet(
                name=name,
                id=sid,
                arn=f"arn:aws:cloudformation:{call.region}:{call.account_id}:stackset/{sid}",
                owner=call.account_id,
                region=call.region,
                template=body,
                parameters=list(p.get("Parameters") or []),
                capabilities=list(p.get("Capabilities") or []),
                tags=list(p.get("Tags") or []),
                description=p.get("Description"),
                permission_model=model,
                auto_deployment=auto if model == "SERVICE_MANAGED" else None,
                managed_execution=bool((p.get("ManagedExecution") or {}).get("Active", False)),
                admin_role_arn=(
                    p.get("AdministrationRoleARN")
                    or f"arn:aws:iam::{call.account_id}:role/AWSCloudFormationStackSetAdministrationRole"
                )
                if model == "SELF_MANAGED"
                else None,
                execution_role_name=(p.get("ExecutionRoleName") or "AWSCloudFormationStackSetExecutionRole")
                if model == "SELF_MANAGED"
                else None,
            )
            sets[name] = ss
        return {"StackSetId": sid}

    def describe_stack_set(self, call: Call) -> dict:
        with self.lock:
            ss = self._get(call)
            out = {
                "StackSetName": ss.name,
                "StackSetId": ss.id,
                "Status": ss.status,
                "TemplateBody": ss.template,
                "Parameters": [
                    {"ParameterKey": x["ParameterKey"], "ParameterValue": x.get("ParameterValue", "")}
                    for x in ss.parameters
                ],
                "Capabilities": ss.capabilities,
                "Tags": ss.tags,
                "StackSetARN": ss.arn,
                "StackSetDriftDetectionDetails": {"DriftStatus": "NOT_CHECKED"},
                "PermissionModel": ss.permission_model,
                "ManagedExecution": {"Active": ss.managed_execution},
                "Regions": sorted({r for _a, r in ss.instances} | {r for regs in ss.ou_targets.values() for r in regs}),
            }
            if ss.description is not None:
                out["Description"] = ss.description
            if ss.permission_model == "SERVICE_MANAGED":
                out["AutoDeployment"] = dict(ss.auto_deployment or {"Enabled": False})
                out["OrganizationalUnitIds"] = sorted(ss.ou_targets)
            else:
                out["AdministrationRoleARN"] = ss.admin_role_arn
                out["ExecutionRoleName"] = ss.execution_role_name
            return {"StackSet": out}

    def list_stack_sets(self, call: Call) -> dict:
        status = call.params.get("Status")
        with self.lock:
            summaries = []
            for ss in self.sets.get((call.account_id, call.region), {}).values():
                if status and ss.status != status:
                    continue
                item = {
                    "StackSetName": ss.name,
                    "StackSetId": ss.id,
                    "Status": ss.status,
                    "PermissionModel": ss.permission_model,
                    "DriftStatus": "NOT_CHECKED",
                    "ManagedExecution": {"Active": ss.managed_execution},
                }
                if ss.description is not None:
                    item["Description"] = ss.description
                if ss.permission_model == "SERVICE_MANAGED":
                    item["AutoDeployment"] = dict(ss.auto_deployment or {"Enabled": False})
                summaries.append(item)
        return _page(call, summaries)

    def update_stack_set(self, call: Call) -> dict:
        p = call.params
        with self.lock:
            ss = self._get(call)
            if p.get("PermissionModel") and p["PermissionModel"] != ss.permission_model:
                raise _validation(
                    "The PermissionModel of a stack set cannot be changed once it has instances"
                    if ss.instances
                    else "Changing PermissionModel is not supported by the sandbox"
                )
            if p.get("TemplateURL") and not p.get("TemplateBody"):
                raise _validation("TemplateURL is not supported by the sandbox: pass TemplateBody")
            body = ss.template if p.get("UsePreviousTemplate") or not p.get("TemplateBody") else p["TemplateBody"]
            caps = list(p.get("Capabilities") or ss.capabilities)
            _check_template(body, caps)
            if self._busy(ss) is not None and not ss.managed_execution:
                raise AwsError(
                    "OperationInProgressException", f"Another Operation on StackSet {ss.arn} is in progress", 409
                )
            regions = p.get("Regions") or sorted({r for _a, r in ss.instances})
            targets = p.get("DeploymentTargets")
            if targets or p.get("Accounts"):
                selected = {(a, r) for a, r, _o in self._resolve_targets(ss, call, regions)}
                items = [(a, r, i.ou_id) for (a, r), i in ss.instances.items() if (a, r) in selected]
            else:
                items = [(a, r, i.ou_id) for (a, r), i in ss.instances.items() if r in regions]
            ss.template = body
            ss.capabilities = caps
            if "Parameters" in p:
                ss.parameters = _merge_previous(ss.parameters, p["Parameters"] or [])
            if "Tags" in p:
                ss.tags = list(p["Tags"] or [])
            if "Description" in p:
                ss.description = p["Description"]
            if p.get("AutoDeployment") is not None and ss.permission_model == "SERVICE_MANAGED":
                auto = p["AutoDeployment"]
                ss.auto_deployment = {
                    "Enabled": bool(auto.get("Enabled", False)),
                    "RetainStacksOnAccountRemoval": bool(auto.get("RetainStacksOnAccountRemoval", False)),
                }
            if p.get("ManagedExecution") is not None:
                ss.managed_execution = bool(p["ManagedExecution"].get("Active", False))
            if ss.permission_model == "SELF_MANAGED":
                ss.admin_role_arn = p.get("AdministrationRoleARN") or ss.admin_role_arn
                ss.execution_role_name = p.get("ExecutionRoleName") or ss.execution_role_name
            for a, r, _o in items:
                ss.instances[(a, r)].status = "OUTDATED"
                ss.instances[(a, r)].detailed = "PENDING"
            op = self._new_operation(ss, call, "UPDATE", items, deployment_targets=targets)
        return {"OperationId": op.id}

    def delete_stack_set(self, call: Call) -> dict:
        with self.lock:
            ss = self._get(call)
            if ss.instances:
                raise AwsError("StackSetNotEmptyException", f"StackSet is not empty: {ss.name}", 409)
            if self._busy(ss) is not None:
                raise AwsError(
                    "OperationInProgressException", f"Another Operation on StackSet {ss.arn} is in progress", 409
                )
            ss.status = "DELETED"
            del self.sets[(call.account_id, call.region)][ss.name]
        return {}

    def create_stack_instances(self, call: Call) -> dict:
        p = call.params
        regions = list(p.get("Regions") or [])
        if not regions:
            raise _validation("Regions must not be empty")
        with self.lock:
            ss = self._get(call)
            items = self._resolve_targets(ss, call, regions)
            if self._busy(ss) is not None and not ss.managed_execution:
                raise AwsError(
                    "OperationInProgressException", f"Another Operation on StackSet {ss.arn} is in progress", 409
                )
            targets = p.get("DeploymentTargets")
            if ss.permission_model == "SERVICE_MANAGED":
                for ou in (targets or {}).get("OrganizationalUnitIds") or []:
                    ss.ou_targets.setdefault(ou, set()).update(regions)
            overrides = list(p.get("ParameterOverrides") or [])
            for account, region, ou in items:
                inst = ss.instances.get((account, region))
                if inst is None:
                    ss.instances[(account, region)] = Instance(account, region, ou_id=ou, overrides=overrides)
                elif overrides:
                    inst.overrides = overrides
            op = self._new_operation(ss, call, "CREATE", items, deployment_targets=targets)
        return {"OperationId": op.id}

    def update_stack_instances(self, call: Call) -> dict:
        p = call.params
        regions = list(p.get("Regions") or [])
        with self.lock:
            ss = self._get(call)
            items = self._resolve_targets(ss, call, regions)
            missing = [(a, r) for a, r, _o in items if (a, r) not in ss.instances]
            if missing:
                raise AwsError(
                    "StackInstanceNotFoundException",
                    f"Stack instance {missing[0][0]}/{missing[0][1]} not found in StackSet {ss.name}",
                    404,
                )
            if self._busy(ss) is not None and not ss.managed_execution:
                raise AwsError(
                    "OperationInProgressException", f"Another Operation on StackSet {ss.arn} is in progress", 409
                )
            overrides = list(p.get("ParameterOverrides") or [])
            for a, r, _o in items:
                ss.instances[(a, r)].overrides = overrides
                ss.instances[(a, r)].status = "OUTDATED"
                ss.instances[(a, r)].detailed = "PENDING"
            op = self._new_operation(ss, call, "UPDATE", items, deployment_targets=p.get("DeploymentTargets"))
        return {"OperationId": op.id}

    def delete_stack_instances(self, call: Call) -> dict:
        p = call.params
        regions = list(p.get("Regions") or [])
        if "RetainStacks" not in p:
            raise _validation(
                "1 validation error detected: Value null at 'retainStacks' failed to satisfy constraint: Member must not be null"
            )
        with self.lock:
            ss = self._get(call)
            if ss.permission_model == "SERVICE_MANAGED":
                ous = ((p.get("DeploymentTargets") or {}).get("OrganizationalUnitIds")) or []
                if p.get("Accounts") or not ous:
                    raise _validation(
                        "StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target"
                    )
                items = [
                    (a, r, i.ou_id)
                    for (a, r), i in ss.instances.items()
                    if r in regions and (i.ou_id in ous or self._under_any(a, ous))
                ]
            else:
                items = [(a, r, "") for a, r, _o in self._resolve_targets(ss, call, regions) if (a, r) in ss.instances]
            if self._busy(ss) is not None and not ss.managed_execution:
                raise AwsError(
                    "OperationInProgressException", f"Another Operation on StackSet {ss.arn} is in progress", 409
                )
            if ss.permission_model == "SERVICE_MANAGED":
                for ou in ous:
                    if ou in ss.ou_targets:
                        ss.ou_targets[ou] -= set(regions)
                        if not ss.ou_targets[ou]:
                            del ss.ou_targets[ou]
            op = self._new_operation(
                ss,
                call,
                "DELETE",
                items,
                deployment_targets=p.get("DeploymentTargets"),
                retain_stacks=bool(p["RetainStacks"]),
            )
        return {"OperationId": op.id}

    def _under_any(self, account: str, ous: list[str]) -> bool:
        return any(account in self._accounts_under(ou) for ou in ous)

    def list_stack_instances(self, call: Call) -> dict:
        p = call.params
        with self.lock:
            ss = self._get(call)
            out = []
            for (account, region), inst in ss.instances.items():
                if p.get("StackInstanceAccount") and account != p["StackInstanceAccount"]:
                    continue
                if p.get("StackInstanceRegion") and region != p["StackInstanceRegion"]:
                    continue
                if not _filters_match(inst, p.get("Filters") or []):
                    continue
                out.append(_instance_summary(ss, inst))
        return _page(call, out)

    def describe_stack_instance(self, call: Call) -> dict:
        p = call.params
        with self.lock:
            ss = self._get(call)
            inst = ss.instances.get((p.get("StackInstanceAccount"), p.get("StackInstanceRegion")))
            if inst is None:
                raise AwsError(
                    "StackInstanceNotFoundException",
                    f"Stack instance {p.get('StackInstanceAccount')}/{p.get('StackInstanceRegion')} not found in StackSet {ss.name}",
                    404,
                )
            out = _instance_summary(ss, inst)
            out.pop("StackInstanceStatus", None)
            out["StackInstanceStatus"] = {"DetailedStatus": inst.detailed}
            out["ParameterOverrides"] = inst.overrides
            return {"StackInstance": out}

    def _op(self, call: Call) -> tuple[StackSet, Operation]:
        ss = self._get(call)
        op_id = call.params.get("OperationId")
        for op in ss.operations:
            if op.id == op_id:
                return ss, op
        raise AwsError("OperationNotFoundException", f"Operation {op_id} not found", 404)

    def describe_stack_set_operation(self, call: Call) -> dict:
        with self.lock:
            ss, op = self._op(call)
            out = _op_summary(op)
            out.pop("OperationId")
            out = {"OperationId": op.id, "StackSetId": ss.id, **out}
            if op.retain_stacks is not None:
                out["RetainStacks"] = op.retain_stacks
            if op.deployment_targets:
                out["DeploymentTargets"] = op.deployment_targets
            if ss.permission_model == "SELF_MANAGED":
                out["AdministrationRoleARN"] = ss.admin_role_arn
                out["ExecutionRoleName"] = ss.execution_role_name
            return {"StackSetOperation": out}

    def list_stack_set_operations(self, call: Call) -> dict:
        with self.lock:
            ss = self._get(call)
            out = [_op_summary(op) for op in reversed(ss.operations)]
        return _page(call, out)

    def list_stack_set_operation_results(self, call: Call) -> dict:
        with self.lock:
            _ss, op = self._op(call)
            wanted = None
            for flt in call.params.get("Filters") or []:
                if flt.get("Name") == "OPERATION_RESULT_STATUS":
                    wanted = flt.get("Values")
            out = []
            for res in op.results.values():
                if wanted and res.get("Status") != wanted:
                    continue
                item = {k: v for k, v in res.items() if v not in (None, "")}
                item["AccountGateResult"] = {
                    "Status": "SKIPPED",
                    "StatusReason": "Function not found: arn:aws:lambda:::function:AWSCloudFormationStackSetAccountGate",
                }
                out.append(item)
        return _page(call, out)

    def stop_stack_set_operation(self, call: Call) -> dict:
        with self.lock:
            _ss, op = self._op(call)
            if op.status in ("SUCCEEDED", "FAILED", "STOPPED"):
                raise AwsError("InvalidOperationException", f"Operation {op.id} is already complete", 400)
            op.stop_requested = True
            op.status = "STOPPING"
            op.due = min(op.due, time.monotonic())
            self.wake.set()
        return {}

    def list_auto_deployment_targets(self, call: Call) -> dict:
        with self.lock:
            ss = self._get(call)
            out = [{"OrganizationalUnitId": ou, "Regions": sorted(regs)} for ou, regs in sorted(ss.ou_targets.items())]
        return _page(call, out)


# -------------------------------------------------------------------------------------------------------------------
def _merge_params(base: list, overrides: list) -> list:
    values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in base}
    for o in overrides:
        if not o.get("UsePreviousValue"):
            values[o["ParameterKey"]] = o.get("ParameterValue", "")
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _merge_previous(old: list, new: list) -> list:
    previous = {p["ParameterKey"]: p.get("ParameterValue", "") for p in old}
    out = []
    for p in new:
        if p.get("UsePreviousValue"):
            out.append({"ParameterKey": p["ParameterKey"], "ParameterValue": previous.get(p["ParameterKey"], "")})
        else:
            out.append({"ParameterKey": p["ParameterKey"], "ParameterValue": p.get("ParameterValue", "")})
    return out


class _CfnLoader(yaml.SafeLoader):
    pass


def _cfn_tag(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def _check_template(body: str, capabilities: list) -> None:
    try:
        doc = yaml.load(body, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass that also reads CloudFormation tags
    except yaml.YAMLError as exc:
        raise _validation(f"Template format error: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise _validation("Template format error: At least one Resources member must be defined.")
    needs = None
    for res in doc["Resources"].values():
        rtype = (res or {}).get("Type", "") if isinstance(res, dict) else ""
        if rtype.startswith("AWS::IAM::"):
            props = res.get("Properties") or {}
            named = any(
                k in props for k in ("RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName")
            )
            if named:
                needs = "CAPABILITY_NAMED_IAM"
            elif needs is None:
                needs = "CAPABILITY_IAM"
    if needs == "CAPABILITY_NAMED_IAM" and "CAPABILITY_NAMED_IAM" not in capabilities:
        raise AwsError("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]", 400)
    if needs == "CAPABILITY_IAM" and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(capabilities):
        raise AwsError("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]", 400)


_IAM_NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}


def _already_exists(template: str, params: list, message: str) -> str:
    """A stack instance's StatusReason when its template creates an IAM resource whose name exists in the account.

    IAM is global: a fixed-name role deployed by a StackSet to a second region (or made before by another stack or by
    hand) fails in CloudFormation with the resource handler's message "Resource of type 'AWS::IAM::Role' with
    identifier '<name>' already exists." (HandlerErrorCode AlreadyExists; quoted in
    awslabs/stable-diffusion-aws-extension#233), which a stack instance reports as ``ResourceLogicalId:...,
    ResourceType:..., ResourceStatusReason:...``. moto refuses the CreateStack itself with EntityAlreadyExists; this
    turns that into AWS's reason, naming the resource.
    """
    values = {p["ParameterKey"]: p.get("ParameterValue") for p in params or []}
    try:
        doc = yaml.load(template, Loader=_CfnLoader) or {}  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        doc = {}
    for key, spec in ((doc.get("Parameters") or {}) if isinstance(doc, dict) else {}).items():
        values.setdefault(key, (spec or {}).get("Default"))
    for logical_id, resource in ((doc.get("Resources") or {}) if isinstance(doc, dict) else {}).items():
        prop = _IAM_NAME_PROPERTIES.get((resource or {}).get("Type"))
        name = ((resource or {}).get("Properties") or {}).get(prop) if prop else None
        if isinstance(name, dict) and set(name) == {"Ref"}:
            name = values.get(name["Ref"])
        elif isinstance(name, str) and values.get(name):  # !Ref short form: this loader keeps the parameter's name
            name = values[name] if f" {name} " not in f" {message} " else name
        if isinstance(name, str) and f" {name} " in f" {message.replace('.', ' ')} ":
            return (
                f"ResourceLogicalId:{logical_id}, ResourceType:{resource['Type']}, ResourceStatusReason:Resource of "
                f"type '{resource['Type']}' with identifier '{name}' already exists."
            )
    return f"ResourceStatusReason: {message}"


def _filters_match(inst: Instance, filters: list) -> bool:
    for flt in filters:
        name, values = flt.get("Name"), flt.get("Values")
        if name == "DETAILED_STATUS" and inst.detailed != values:
            return False
        if name == "LAST_OPERATION_ID" and inst.last_operation_id != values:
            return False
        if name == "DRIFT_STATUS" and values != "NOT_CHECKED":
            return False
    return True


def _instance_summary(ss: StackSet, inst: Instance) -> dict:
    out = {
        "StackSetId": ss.id,
        "Region": inst.region,
        "Account": inst.account,
        "Status": inst.status,
        "StackInstanceStatus": {"DetailedStatus": inst.detailed},
        "DriftStatus": "NOT_CHECKED",
    }
    if inst.stack_id:
        out["StackId"] = inst.stack_id
    if inst.reason:
        out["StatusReason"] = inst.reason
    if inst.ou_id:
        out["OrganizationalUnitId"] = inst.ou_id
    if inst.last_operation_id:
        out["LastOperationId"] = inst.last_operation_id
    return out


def _op_summary(op: Operation) -> dict:
    out = {"OperationId": op.id, "Action": op.action, "Status": op.status, "CreationTimestamp": op.created}
    if op.ended:
        out["EndTimestamp"] = op.ended
    if op.reason:
        out["StatusReason"] = op.reason
    if op.preferences:
        out["OperationPreferences"] = op.preferences
    failed = sum(1 for r in op.results.values() if r.get("Status") == "FAILED")
    out["StatusDetails"] = {"FailedStackInstancesCount": failed}
    return out


def _page(call: Call, items: list) -> dict:
    page, token = paging.page(
        items, [], call.params, "cfn", default_size=100, invalid=lambda: _validation("Invalid NextToken")
    )
    return paging.listing("Summaries", page, token)


def install(sb) -> StackSets:
    ss = StackSets(sb)
    table = {
        "CreateStackSet": ss.create_stack_set,
        "DescribeStackSet": ss.describe_stack_set,
        "UpdateStackSet": ss.update_stack_set,
        "DeleteStackSet": ss.delete_stack_set,
        "ListStackSets": ss.list_stack_sets,
        "CreateStackInstances": ss.create_stack_instances,
        "UpdateStackInstances": ss.update_stack_instances,
        "DeleteStackInstances": ss.delete_stack_instances,
        "ListStackInstances": ss.list_stack_instances,
        "DescribeStackInstance": ss.describe_stack_instance,
        "DescribeStackSetOperation": ss.describe_stack_set_operation,
        "ListStackSetOperations": ss.list_stack_set_operations,
        "ListStackSetOperationResults": ss.list_stack_set_operation_results,
        "StopStackSetOperation": ss.stop_stack_set_operation,
        "ListStackSetAutoDeploymentTargets": ss.list_auto_deployment_targets,
    }
    for action, fn in table.items():
        sb.register("cloudformation", action, fn)

    def account_changed(call: Call, response) -> None:
        account = call.params.get("AccountId")
        if call.action == "CreateAccount":
            import json

            try:
                account = json.loads(response)["CreateAccountStatus"]["AccountId"]
            except (TypeError, ValueError, KeyError):
                return
        if account and not call.internal:
            ss.on_account_change(account)

    for action in ("MoveAccount", "CreateAccount", "RemoveAccountFromOrganization", "CloseAccount"):
        sb.after("organizations", action, account_changed)
    return ss
