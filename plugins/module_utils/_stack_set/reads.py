# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading StackSets, their instances and their operations' results, in snake_case (private)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover - the module reports missing botocore
    ClientError = Exception

from ansible_collections.orgops.ssm_automation.plugins.module_utils._aws import call, error_code, paginate
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.common import StackSetErrorHandler


def _tags_to_dict(tags):
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def _dict_to_tags(tags):
    return [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())]


def _params_to_dict(params):
    return {p["ParameterKey"]: p.get("ParameterValue") for p in params or [] if "ParameterKey" in p}


def _call_as_kwargs(call_as):
    return {"CallAs": call_as} if call_as and call_as != "SELF" else {}


_error_code = error_code


def stack_set_to_dict(raw):
    """A DescribeStackSet ``StackSet`` in snake_case; parameters and tags as dicts."""
    auto = raw.get("AutoDeployment")
    managed = raw.get("ManagedExecution")
    return {
        "stack_set_name": raw.get("StackSetName"),
        "stack_set_id": raw.get("StackSetId"),
        "stack_set_arn": raw.get("StackSetARN"),
        "description": raw.get("Description"),
        "status": raw.get("Status"),
        "template_body": raw.get("TemplateBody"),
        "parameters": _params_to_dict(raw.get("Parameters")),
        "capabilities": sorted(raw.get("Capabilities") or []),
        "tags": _tags_to_dict(raw.get("Tags")),
        "permission_model": raw.get("PermissionModel") or "SELF_MANAGED",
        "administration_role_arn": raw.get("AdministrationRoleARN"),
        "execution_role_name": raw.get("ExecutionRoleName"),
        "auto_deployment": None
        if auto is None
        else {
            "enabled": bool(auto.get("Enabled")),
            "retain_stacks_on_account_removal": bool(auto.get("RetainStacksOnAccountRemoval")),
        },
        "managed_execution": None if managed is None else {"active": bool(managed.get("Active"))},
        "organizational_unit_ids": sorted(raw.get("OrganizationalUnitIds") or []),
        "regions": sorted(raw.get("Regions") or []),
    }


@StackSetErrorHandler.common_error_handler("describe the StackSet")
def describe_stack_set(client, name, call_as="SELF"):
    """The StackSet ``name`` in snake_case (see :func:`stack_set_to_dict`), or None when it does not exist."""
    try:
        raw = call(client, "describe_stack_set", StackSetName=name, **_call_as_kwargs(call_as))["StackSet"]
    except ClientError as e:
        if _error_code(e) == "StackSetNotFoundException":
            return None
        raise
    if raw.get("Status") == "DELETED":
        return None
    return stack_set_to_dict(raw)


def instance_to_dict(raw):
    return {
        "account": raw.get("Account"),
        "region": raw.get("Region"),
        "organizational_unit_id": raw.get("OrganizationalUnitId"),
        "status": raw.get("Status"),
        "status_reason": raw.get("StatusReason"),
        "detailed_status": (raw.get("StackInstanceStatus") or {}).get("DetailedStatus"),
        "stack_id": raw.get("StackId"),
        "drift_status": raw.get("DriftStatus"),
        "last_operation_id": raw.get("LastOperationId"),
    }


@StackSetErrorHandler.common_error_handler("list the StackSet's instances")
def list_stack_instances(client, name, call_as="SELF"):
    """Every instance of the StackSet, sorted by account then region.

    Each is ``{"account", "region", "organizational_unit_id", "status", "status_reason", "detailed_status",
    "stack_id", "drift_status", "last_operation_id"}``. An absent StackSet has no instances.
    """
    kwargs = dict(StackSetName=name, **_call_as_kwargs(call_as))
    try:
        instances = [instance_to_dict(s) for s in paginate(client, "list_stack_instances", "Summaries", **kwargs)]
    except ClientError as e:
        if _error_code(e) == "StackSetNotFoundException":
            return []
        raise
    return sorted(instances, key=lambda i: (i["account"] or "", i["region"] or ""))


@StackSetErrorHandler.common_error_handler("read the StackSet operation's results")
def operation_failures(client, name, operation_id, call_as="SELF"):
    """The per-account results of an operation that did not succeed (FAILED, CANCELLED, ...)."""
    kwargs = dict(StackSetName=name, OperationId=operation_id, **_call_as_kwargs(call_as))
    return [
        {
            "account": result.get("Account"),
            "region": result.get("Region"),
            "organizational_unit_id": result.get("OrganizationalUnitId"),
            "status": result.get("Status"),
            "status_reason": result.get("StatusReason") or (result.get("AccountGateResult") or {}).get("StatusReason"),
        }
        for result in paginate(client, "list_stack_set_operation_results", "Summaries", **kwargs)
        if result.get("Status") != "SUCCEEDED"
    ]
