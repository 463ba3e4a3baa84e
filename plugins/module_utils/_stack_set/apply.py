# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying the plan: create/update the StackSet, create/delete instances, wait for every operation (private)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
import uuid

try:
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover - the module reports missing botocore
    ClientError = Exception

from ansible_collections.orgops.ssm_automation.plugins.module_utils._aws import call
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.common import (
    ACTIVE_OPERATION_STATUSES,
    TERMINAL_OPERATION_STATUSES,
    StackSetError,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.plan import (
    _merged_tags,
    build_diff,
    plan,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.reads import (
    _call_as_kwargs,
    _dict_to_tags,
    _error_code,
    describe_stack_set,
    list_stack_instances,
    operation_failures,
)


class _Runner(object):
    """Submits operations one after the other, waits for each, and records what happened."""

    def __init__(self, client, spec, sleep, clock):
        self.client = client
        self.spec = spec
        self.sleep = sleep
        self.clock = clock
        self.deadline = clock() + spec["wait_timeout"]
        self.operations = []
        self.kwargs = _call_as_kwargs(spec["call_as"])

    def _time_left(self):
        return self.deadline - self.clock()

    def _pause(self):
        self.sleep(max(0, min(self.spec["poll_interval"], self._time_left())))

    def _record(self, operation):
        self.operations.append(operation)
        return operation

    def _fail(self, message, exception=None):
        raise StackSetError(message, self.operations, exception)

    def wait_for_others(self):
        """Wait for the StackSet's running operations (someone else's): OperationInProgressException."""
        running = []
        kwargs = dict(StackSetName=self.spec["name"], **self.kwargs)
        page = call(self.client, "list_stack_set_operations", **kwargs)
        running = [
            o["OperationId"] for o in page.get("Summaries") or [] if o.get("Status") in ACTIVE_OPERATION_STATUSES
        ]
        if not running:
            self._pause()
            return
        for operation_id in running:
            self.wait_for(operation_id, record=False)

    def submit(self, operation, description, **kwargs):
        """Call a write operation that returns an OperationId, retrying while another operation runs."""
        operation_id = str(uuid.uuid4())
        kwargs.update(self.kwargs)
        kwargs["StackSetName"] = self.spec["name"]
        kwargs["OperationId"] = operation_id
        if self.spec.get("operation_preferences"):
            kwargs["OperationPreferences"] = self.spec["operation_preferences"]
        while True:
            try:
                response = call(self.client, operation, **kwargs)
                return response.get("OperationId") or operation_id
            except ClientError as e:
                code = _error_code(e)
                if code == "OperationIdAlreadyExistsException":
                    return operation_id  # a retried request that AWS had already accepted
                if code not in ("OperationInProgressException", "StaleRequestException"):
                    self._fail("Failed to %s: %s" % (description, e), e)
                if self._time_left() <= 0:
                    self._fail(
                        "Timed out after %ss waiting for the StackSet's other operations to finish, so as to %s"
                        % (self.spec["wait_timeout"], description),
                        e,
                    )
                self.wait_for_others()

    def wait_for(self, operation_id, record=True, step=None):
        """Poll an operation until it ends or wait_timeout passes; return its report."""
        while True:
            op = call(
                self.client,
                "describe_stack_set_operation",
                StackSetName=self.spec["name"],
                OperationId=operation_id,
                **self.kwargs,
            )["StackSetOperation"]
            status = op.get("Status")
            if status in TERMINAL_OPERATION_STATUSES or (
                record and not self.spec["wait"] and step and step.get("last")
            ):
                break
            if self._time_left() <= 0:
                break
            self._pause()
        report = {
            "operation_id": operation_id,
            "action": op.get("Action"),
            "status": status,
            "status_reason": op.get("StatusReason"),
            "timed_out": status not in TERMINAL_OPERATION_STATUSES and self.spec["wait"],
            "failures": [],
        }
        details = op.get("StatusDetails") or {}
        if not record:
            return report  # someone else's operation: only its end matters
        if status in TERMINAL_OPERATION_STATUSES and (
            status != "SUCCEEDED" or details.get("FailedStackInstancesCount")
        ):
            report["failures"] = operation_failures(self.client, self.spec["name"], operation_id, self.spec["call_as"])
        if step is not None:
            report["targets"] = step.get("targets") or []
            report["regions"] = step.get("regions") or []
            if step.get("fields"):
                report["fields"] = step["fields"]
        return self._record(report)


def _deployment_targets(spec, step):
    if step["service"]:
        targets = {"OrganizationalUnitIds": step["targets"]}
        spec_targets = spec.get("targets") or {}
        if step["action"] == "create_instances" and spec_targets.get("account_filter_type", "NONE") != "NONE":
            targets["Accounts"] = spec_targets["accounts"]
            targets["AccountFilterType"] = spec_targets["account_filter_type"]
        return {"DeploymentTargets": targets}
    return {"Accounts": step["targets"]}


def _stack_set_request(spec, current):
    """The arguments common to CreateStackSet and UpdateStackSet."""
    request = {}
    if spec.get("template_url"):
        request["TemplateURL"] = spec["template_url"]
    elif spec.get("template_body") is not None:
        request["TemplateBody"] = spec["template_body"]
    elif current is not None:
        request["UsePreviousTemplate"] = True
    if spec.get("parameters") is not None:
        request["Parameters"] = [
            {"ParameterKey": k, "ParameterValue": v} for k, v in sorted(spec["parameters"].items())
        ]
    elif current is not None and current.get("parameters"):
        request["Parameters"] = [{"ParameterKey": k, "UsePreviousValue": True} for k in sorted(current["parameters"])]
    capabilities = spec.get("capabilities")
    if capabilities is None and current is not None:
        capabilities = current.get("capabilities")
    if capabilities:
        request["Capabilities"] = list(capabilities)
    if spec.get("description") is not None:
        request["Description"] = spec["description"]
    if spec.get("tags") is not None:
        request["Tags"] = _dict_to_tags(_merged_tags(spec, current or {}))
    if current is None or spec["permission_model"] != current.get("permission_model"):
        request["PermissionModel"] = spec["permission_model"]
    if spec.get("auto_deployment") is not None:
        auto = {"Enabled": spec["auto_deployment"]["enabled"]}
        if spec["auto_deployment"]["enabled"]:
            auto["RetainStacksOnAccountRemoval"] = spec["auto_deployment"]["retain_stacks_on_account_removal"]
        request["AutoDeployment"] = auto
    if spec.get("managed_execution") is not None:
        request["ManagedExecution"] = {"Active": spec["managed_execution"]["active"]}
    for option, key in (
        ("administration_role_arn", "AdministrationRoleARN"),
        ("execution_role_name", "ExecutionRoleName"),
    ):
        value = spec.get(option) or (current or {}).get(option)
        if value and spec["permission_model"] == "SELF_MANAGED":
            request[key] = value
    return request


def _planned(step):
    names = {
        "create_stack_set": "CREATE_STACK_SET",
        "update_stack_set": "UPDATE",
        "create_instances": "CREATE",
        "delete_instances": "DELETE",
        "delete_stack_set": "DELETE_STACK_SET",
    }
    report = {
        "operation_id": None,
        "action": names[step["action"]],
        "status": "PLANNED",
        "status_reason": None,
        "timed_out": False,
        "failures": [],
        "targets": step.get("targets") or [],
        "regions": step.get("regions") or [],
    }
    if step.get("fields"):
        report["fields"] = step["fields"]
    return report


def apply(client, spec, current, steps, sleep=time.sleep, clock=time.monotonic):
    """Run the planned steps in order and return the operations' reports.

    An operation that fails (per-account failures beyond tolerance, STOPPED) does not stop the next ones: each is
    reported with its failures. An API error or a timeout stops the run with :class:`StackSetError`, carrying the
    operations done so far.
    """
    runner = _Runner(client, spec, sleep, clock)
    writes = [s for s in steps if s["action"] in ("update_stack_set", "create_instances", "delete_instances")]
    if writes:
        writes[-1]["last"] = True
    for step in steps:
        action = step["action"]
        if action == "create_stack_set":
            request = _stack_set_request(spec, None)
            request.update(runner.kwargs)
            request["StackSetName"] = spec["name"]
            request["ClientRequestToken"] = str(uuid.uuid4())
            try:
                response = call(client, "create_stack_set", **request)
            except ClientError as e:
                runner._fail("Failed to create StackSet %s: %s" % (spec["name"], e), e)
            runner._record(
                {
                    "operation_id": None,
                    "action": "CREATE_STACK_SET",
                    "status": "SUCCEEDED",
                    "status_reason": None,
                    "timed_out": False,
                    "failures": [],
                    "targets": [],
                    "regions": [],
                    "stack_set_id": response.get("StackSetId"),
                }
            )
        elif action == "update_stack_set":
            request = _stack_set_request(spec, current)
            operation_id = runner.submit("update_stack_set", "update StackSet %s" % spec["name"], **request)
            runner.wait_for(operation_id, step=step)
        elif action == "create_instances":
            operation_id = runner.submit(
                "create_stack_instances",
                "create instances of %s in %s for %s"
                % (spec["name"], ", ".join(step["regions"]), ", ".join(step["targets"])),
                Regions=step["regions"],
                **_deployment_targets(spec, step),
            )
            runner.wait_for(operation_id, step=step)
        elif action == "delete_instances":
            operation_id = runner.submit(
                "delete_stack_instances",
                "delete instances of %s in %s for %s"
                % (spec["name"], ", ".join(step["regions"]), ", ".join(step["targets"])),
                Regions=step["regions"],
                RetainStacks=False,
                **_deployment_targets(spec, step),
            )
            runner.wait_for(operation_id, step=step)
        elif action == "delete_stack_set":
            failed = [o for o in runner.operations if o["status"] != "SUCCEEDED"]
            if failed:
                runner._fail("Not deleting StackSet %s: some of its instances could not be deleted" % spec["name"])
            while True:
                try:
                    call(client, "delete_stack_set", StackSetName=spec["name"], **runner.kwargs)
                    break
                except ClientError as e:
                    if _error_code(e) != "OperationInProgressException" or runner._time_left() <= 0:
                        runner._fail("Failed to delete StackSet %s: %s" % (spec["name"], e), e)
                    runner.wait_for_others()
            runner._record(
                {
                    "operation_id": None,
                    "action": "DELETE_STACK_SET",
                    "status": "SUCCEEDED",
                    "status_reason": None,
                    "timed_out": False,
                    "failures": [],
                    "targets": [],
                    "regions": [],
                }
            )
        if runner.operations and runner.operations[-1].get("timed_out"):
            runner._fail(
                "Timed out after %ss waiting for operation %s (%s); it goes on in AWS"
                % (spec["wait_timeout"], runner.operations[-1]["operation_id"], runner.operations[-1]["action"])
            )
    return runner.operations


def ensure(client, spec, check_mode=False, sleep=time.sleep, clock=time.monotonic):
    """Bring the StackSet to ``spec`` (from :func:`validate_spec`) and return the module's result.

    Returns ``{"changed", "stack_set", "instances", "operations", "diff", "failed", "msg"}``; ``failed`` is True when
    an operation ended FAILED or STOPPED or left per-account failures. Raises :class:`StackSetError` on API errors.
    """
    current = describe_stack_set(client, spec["name"], spec["call_as"])
    instances = list_stack_instances(client, spec["name"], spec["call_as"]) if current else []
    steps = plan(spec, current, instances)
    diff = build_diff(spec, current, instances, steps)
    result = {"changed": bool(steps), "diff": diff, "failed": False}
    if check_mode or not steps:
        result["operations"] = [_planned(s) for s in steps]
        result["stack_set"] = current
        result["instances"] = instances
        result["msg"] = _summary(spec, steps, check_mode)
        return result
    operations = apply(client, spec, current, steps, sleep=sleep, clock=clock)
    result["operations"] = operations
    result["stack_set"] = describe_stack_set(client, spec["name"], spec["call_as"])
    result["instances"] = list_stack_instances(client, spec["name"], spec["call_as"]) if result["stack_set"] else []
    bad = [o for o in operations if o["status"] not in ("SUCCEEDED", "RUNNING", "QUEUED") or o["failures"]]
    if bad:
        result["failed"] = True
        failures = [f for o in bad for f in o["failures"]]
        result["msg"] = "%d StackSet operation(s) of %s did not fully succeed (%s); %d per-account failure(s): %s" % (
            len(bad),
            spec["name"],
            ", ".join("%s %s" % (o["action"], o["status"]) for o in bad),
            len(failures),
            "; ".join("%s %s: %s" % (f["account"], f["region"], f["status_reason"]) for f in failures[:10]),
        )
    else:
        result["msg"] = _summary(spec, steps, False)
    return result


def _summary(spec, steps, check_mode):
    if not steps:
        return "StackSet %s is up to date" % spec["name"]
    verbs = []
    for step in steps:
        if step["action"] in ("create_instances", "delete_instances"):
            verbs.append(
                "%s instances for %s in %s"
                % (step["action"].split("_")[0], ", ".join(step["targets"]), ", ".join(step["regions"]))
            )
        elif step["action"] == "update_stack_set":
            verbs.append("update StackSet (%s)" % ", ".join(step["fields"]))
        else:
            verbs.append(step["action"].replace("_", " ").replace("stack set", "StackSet"))
    return "%s %s: %s" % ("Would change" if check_mode else "Changed", spec["name"], "; ".join(verbs))
