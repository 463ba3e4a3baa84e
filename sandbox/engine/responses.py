"""Request handling: the engine's SSM API actions, parsed and checked, rendered in AWS's response shapes.

moto's split, applied to the engine: moto keeps a service's request parsing in ``responses.py`` (``SimpleSystemManagerResponse``)
and its state in ``models.py``; this mixin holds what reads the request (parameters, filters, paging tokens) and
renders the answer, and hands the work to the scheduling (:mod:`.scheduling`) and step actions (:mod:`.steps`).
"""

from __future__ import annotations

import functools
import json

import boto3

from sandbox import paging

from . import runbook as rb
from .errors import AwsError, error, invalid_params, validation
from .executions import TERMINAL, Execution, StepExecution, new_id
from .scheduling import DEFAULT_EXECUTION_ROLE, location_step_name

EXECUTION_STATUSES = {"Pending", "InProgress", "Waiting", "Success", "TimedOut", "Cancelling", "Cancelled", "Failed"}


@functools.cache
def known_regions() -> frozenset:
    session = boto3.session.Session()
    regions = set()
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        regions.update(session.get_available_regions("ssm", partition_name=partition))
    return frozenset(regions)


class Responses:
    """The API handlers (mixed into :class:`sandbox.engine.engine.Engine`, which holds the state they read)."""

    # StartAutomationExecution ---------------------------------------------------------------------------------
    def h_start(self, call) -> dict:
        p = dict(call.params)
        acct, region = call.account_id, call.region
        token = p.get("ClientToken")
        fingerprint = json.dumps({k: v for k, v in p.items() if k != "ClientToken"}, sort_keys=True)
        if token:
            seen = self.store.tokens.get((acct, region, token.lower()))
            if seen is not None:
                # botocore's model (StartAutomationExecution.ClientToken): "The token must be unique, is case
                # insensitive, enforces the UUID format, and can't be reused." Same parameters: the first call's id
                # (the usual idempotent retry), unless the client_token_reuse_refused fault takes the other reading.
                refused = self.sb.faults.value(
                    "client_token_reuse_refused", "ssm", "StartAutomationExecution", acct, region
                )
                if seen[1] != fingerprint or refused:
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
                field = {
                    "ParentStepExecutionId": "StepExecutionId",
                    "ParentStepIteration": "Iteration",
                    "ParentStepIteratorValue": "IteratorValue",
                }[key]
                checks.append(
                    lambda s, v=set(values), f=field: (
                        s.parent_step_details is not None and str(s.parent_step_details.get(f)) in v
                    )
                )
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
