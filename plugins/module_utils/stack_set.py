# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudFormation StackSets, SERVICE_MANAGED (OU targets, auto-deployment) and SELF_MANAGED.

Pure Python over a boto3 ``cloudformation`` client, testable without Ansible. The module
``orgops.ssm_automation.stack_set`` is a thin wrapper around :func:`validate_spec` and :func:`ensure`;
``stack_set_info`` and the automation preflight use :func:`describe_stack_set` and :func:`list_stack_instances`.

Desired state is compared with the real one before anything is written:

* the StackSet is created, or updated only when its template (parsed, so YAML/JSON formatting and key order do not
  count), parameters, capabilities, tags, description, auto-deployment, managed execution or roles differ;
* instances are compared per (target, region): SERVICE_MANAGED targets are OUs (the OU recorded on each instance, and
  the StackSet's ``OrganizationalUnitIds`` for OUs that hold no account yet), SELF_MANAGED targets are accounts;
  missing pairs are created, and with ``purge_instances`` pairs no longer wanted are deleted (by OU for
  SERVICE_MANAGED);
* a run with nothing to change makes read calls only.

Every operation is waited for (``OperationInProgressException`` means someone else's operation runs: wait for it,
then retry) and reported with its per-account failures.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time
import uuid

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False

try:
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover - the module reports missing botocore
    ClientError = Exception

from ansible_collections.orgops.ssm_automation.plugins.module_utils import validation
from ansible_collections.orgops.ssm_automation.plugins.module_utils.organization import call

CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
PERMISSION_MODELS = ("SERVICE_MANAGED", "SELF_MANAGED")
CALL_AS = ("SELF", "DELEGATED_ADMIN")
ACCOUNT_FILTER_TYPES = ("NONE", "INTERSECTION", "DIFFERENCE", "UNION")
REGION_CONCURRENCY_TYPES = ("SEQUENTIAL", "PARALLEL")
CONCURRENCY_MODES = ("STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE")
TERMINAL_OPERATION_STATUSES = ("SUCCEEDED", "FAILED", "STOPPED")
ACTIVE_OPERATION_STATUSES = ("RUNNING", "QUEUED", "STOPPING")
NO_ECHO_MASK = "****"

STACK_SET_NAME_RE = validation.STACK_SET_NAME_RE
STACK_SET_NAME_FORM = "1-128 characters, letters, digits and hyphens, starting with a letter"
ROLE_ARN_RE = validation.ROLE_ARN_RE
ROLE_ARN_FORM = "an IAM role ARN such as arn:aws:iam::123456789012:role/AWSCloudFormationStackSetAdministrationRole"
TEMPLATE_URL_RE = validation.TEMPLATE_URL_RE


class StackSetError(Exception):
    """An AWS-side failure while changing a StackSet. Carries what was done so far, so nothing is lost."""

    def __init__(self, message, operations=None, exception=None):
        super(StackSetError, self).__init__(message)
        self.message = message
        self.operations = operations or []
        self.exception = exception


# --------------------------------------------------------------------------------------------------------------------
# Templates


if HAS_YAML:

    class _CfnLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """YAML loader that understands CloudFormation short forms (!Ref, !Sub, !GetAtt ...) and keeps dates as text."""

    def _cfn_tag(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "Condition":
            return {"Condition": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {"Fn::" + suffix: value}

    _CfnLoader.add_multi_constructor("!", _cfn_tag)
    # CloudFormation reads AWSTemplateFormatVersion: 2010-09-09 as text, not as a date.
    _CfnLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def parse_template(body, field="template_body"):
    """A template (JSON or YAML text, or already parsed) as data, so that formatting and key order do not count."""
    if body is None:
        return None
    if isinstance(body, dict):
        return json.loads(json.dumps(body))
    try:
        data = json.loads(body)
    except ValueError as e:
        if not HAS_YAML:
            raise validation.InvalidInput(field, "is not JSON, and PyYAML is needed to read a YAML template") from e
        try:
            data = yaml.load(body, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as e:
            raise validation.InvalidInput(field, "is neither valid JSON nor valid YAML: %s" % e) from e
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise validation.InvalidInput(field, "is not a CloudFormation template: it needs a Resources mapping")
    return data


def template_parameters(template):
    """``{name: {"default": str or None, "no_echo": bool}}`` for the parameters a parsed template declares."""
    declared = {}
    for name, raw in ((template or {}).get("Parameters") or {}).items():
        spec = raw if isinstance(raw, dict) else {}
        default = spec.get("Default")
        if isinstance(default, list):
            default = ",".join(str(v) for v in default)
        declared[name] = {
            "default": None if default is None else _param_text(default),
            "no_echo": str(spec.get("NoEcho", "false")).lower() == "true",
        }
    return declared


def _param_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_param_text(v) for v in value)
    return str(value)


def template_text(template):
    """A parsed template as stable YAML text, for diffs."""
    if template is None:
        return ""
    if HAS_YAML:
        return yaml.safe_dump(template, sort_keys=True, default_flow_style=False, width=160)
    return json.dumps(template, sort_keys=True, indent=2) + "\n"  # pragma: no cover


# --------------------------------------------------------------------------------------------------------------------
# Reading


def _tags_to_dict(tags):
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def _dict_to_tags(tags):
    return [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())]


def _params_to_dict(params):
    return {p["ParameterKey"]: p.get("ParameterValue") for p in params or [] if "ParameterKey" in p}


def _call_as_kwargs(call_as):
    return {"CallAs": call_as} if call_as and call_as != "SELF" else {}


def _error_code(exc):
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")


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


def list_stack_instances(client, name, call_as="SELF"):
    """Every instance of the StackSet, sorted by account then region.

    Each is ``{"account", "region", "organizational_unit_id", "status", "status_reason", "detailed_status",
    "stack_id", "drift_status", "last_operation_id"}``. An absent StackSet has no instances.
    """
    instances = []
    kwargs = dict(StackSetName=name, **_call_as_kwargs(call_as))
    try:
        while True:
            page = call(client, "list_stack_instances", **kwargs)
            instances.extend(instance_to_dict(s) for s in page.get("Summaries") or [])
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    except ClientError as e:
        if _error_code(e) == "StackSetNotFoundException":
            return []
        raise
    return sorted(instances, key=lambda i: (i["account"] or "", i["region"] or ""))


def operation_failures(client, name, operation_id, call_as="SELF"):
    """The per-account results of an operation that did not succeed (FAILED, CANCELLED, ...)."""
    failures = []
    kwargs = dict(StackSetName=name, OperationId=operation_id, **_call_as_kwargs(call_as))
    while True:
        page = call(client, "list_stack_set_operation_results", **kwargs)
        for result in page.get("Summaries") or []:
            if result.get("Status") != "SUCCEEDED":
                failures.append(
                    {
                        "account": result.get("Account"),
                        "region": result.get("Region"),
                        "organizational_unit_id": result.get("OrganizationalUnitId"),
                        "status": result.get("Status"),
                        "status_reason": result.get("StatusReason")
                        or (result.get("AccountGateResult") or {}).get("StatusReason"),
                    }
                )
        if not page.get("NextToken"):
            return failures
        kwargs["NextToken"] = page["NextToken"]


# --------------------------------------------------------------------------------------------------------------------
# Validation


def _positive_int(value, field, minimum):
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < minimum or str(number) != str(value).strip():
        raise validation.InvalidInput(field, "%r is not an integer >= %d" % (value, minimum))
    return number


def _percentage(value, field, minimum):
    number = _positive_int(value, field, minimum)
    if number > 100:
        raise validation.InvalidInput(field, "%r is not a percentage from %d to 100" % (value, minimum))
    return number


def validate_operation_preferences(prefs, regions=None, field="operation_preferences"):
    """Operation preferences in boto3 form, or None."""
    if not prefs:
        return None
    out = {}
    pairs = (
        ("failure_tolerance_count", "failure_tolerance_percentage"),
        ("max_concurrent_count", "max_concurrent_percentage"),
    )
    for count, percentage in pairs:
        if prefs.get(count) is not None and prefs.get(percentage) is not None:
            raise validation.InvalidInput(
                "%s.%s" % (field, count), "set either %s or %s, not both" % (count, percentage)
            )
    if prefs.get("failure_tolerance_count") is not None:
        out["FailureToleranceCount"] = _positive_int(
            prefs["failure_tolerance_count"], field + ".failure_tolerance_count", 0
        )
    if prefs.get("failure_tolerance_percentage") is not None:
        out["FailureTolerancePercentage"] = _percentage(
            prefs["failure_tolerance_percentage"], field + ".failure_tolerance_percentage", 0
        )
    if prefs.get("max_concurrent_count") is not None:
        out["MaxConcurrentCount"] = _positive_int(prefs["max_concurrent_count"], field + ".max_concurrent_count", 1)
    if prefs.get("max_concurrent_percentage") is not None:
        out["MaxConcurrentPercentage"] = _percentage(
            prefs["max_concurrent_percentage"], field + ".max_concurrent_percentage", 1
        )
    if prefs.get("region_concurrency_type") is not None:
        if prefs["region_concurrency_type"] not in REGION_CONCURRENCY_TYPES:
            raise validation.InvalidInput(
                field + ".region_concurrency_type",
                "%r is not one of %s" % (prefs["region_concurrency_type"], ", ".join(REGION_CONCURRENCY_TYPES)),
            )
        out["RegionConcurrencyType"] = prefs["region_concurrency_type"]
    if prefs.get("concurrency_mode") is not None:
        if prefs["concurrency_mode"] not in CONCURRENCY_MODES:
            raise validation.InvalidInput(
                field + ".concurrency_mode",
                "%r is not one of %s" % (prefs["concurrency_mode"], ", ".join(CONCURRENCY_MODES)),
            )
        out["ConcurrencyMode"] = prefs["concurrency_mode"]
    if prefs.get("region_order"):
        out["RegionOrder"] = validation.each(
            prefs["region_order"], validation.region, field + ".region_order", regions=regions
        )
    return out or None


def validate_spec(params, known_regions=None):
    """Check every option before any AWS call and return the normalised spec the rest of this file uses.

    ``params`` are the module's options (snake_case); ``template_body`` holds the template text, whatever option it
    came from (``template_source`` names that option for messages). Raises ``validation.InvalidInput``.
    """
    name = params.get("name")
    if not isinstance(name, str) or not STACK_SET_NAME_RE.match(name):
        raise validation.InvalidInput("name", "%r is not a StackSet name: %s" % (name, STACK_SET_NAME_FORM))
    state = params.get("state") or "present"
    call_as = params.get("call_as") or "SELF"
    if call_as not in CALL_AS:
        raise validation.InvalidInput("call_as", "%r is not one of %s" % (call_as, ", ".join(CALL_AS)))
    model = params.get("permission_model") or "SERVICE_MANAGED"
    if model not in PERMISSION_MODELS:
        raise validation.InvalidInput("permission_model", "%r is not one of %s" % (model, ", ".join(PERMISSION_MODELS)))
    spec = {
        "name": name,
        "state": state,
        "call_as": call_as,
        "permission_model": model,
        "purge_instances": bool(params.get("purge_instances")),
        "wait": params.get("wait", True) is not False,
        "wait_timeout": 1800 if params.get("wait_timeout") is None else params["wait_timeout"],
        "poll_interval": params.get("poll_interval") if params.get("poll_interval") is not None else 5,
    }
    if not isinstance(spec["wait_timeout"], (int, float)) or spec["wait_timeout"] <= 0:
        raise validation.InvalidInput("wait_timeout", "%r is not a positive number of seconds" % spec["wait_timeout"])
    if not isinstance(spec["poll_interval"], (int, float)) or spec["poll_interval"] < 0:
        raise validation.InvalidInput("poll_interval", "%r is not a number of seconds >= 0" % spec["poll_interval"])
    if state == "absent":
        return spec

    service = model == "SERVICE_MANAGED"
    if call_as == "DELEGATED_ADMIN" and not service:
        raise validation.InvalidInput(
            "call_as", "DELEGATED_ADMIN works with permission_model SERVICE_MANAGED only (got SELF_MANAGED)"
        )
    for option in ("administration_role_arn", "execution_role_name"):
        if service and params.get(option):
            raise validation.InvalidInput(
                option,
                "is for SELF_MANAGED StackSets only; a SERVICE_MANAGED StackSet deploys through the roles AWS "
                "Organizations trusted access creates. Remove %s, or set permission_model: SELF_MANAGED" % option,
            )
    if params.get("administration_role_arn"):
        if not ROLE_ARN_RE.match(params["administration_role_arn"]):
            raise validation.InvalidInput(
                "administration_role_arn", "%r is not %s" % (params["administration_role_arn"], ROLE_ARN_FORM)
            )
        spec["administration_role_arn"] = params["administration_role_arn"]
    if params.get("execution_role_name"):
        spec["execution_role_name"] = validation.role_name(params["execution_role_name"], "execution_role_name")

    auto = params.get("auto_deployment")
    if auto is not None:
        if not service:
            raise validation.InvalidInput(
                "auto_deployment", "works with permission_model SERVICE_MANAGED only (AWS Organizations targets)"
            )
        enabled = auto.get("enabled")
        if enabled is None:
            raise validation.InvalidInput("auto_deployment.enabled", "is required: true or false")
        retain = auto.get("retain_stacks_on_account_removal")
        if retain and not enabled:
            raise validation.InvalidInput(
                "auto_deployment.retain_stacks_on_account_removal", "needs auto_deployment.enabled: true"
            )
        spec["auto_deployment"] = {"enabled": bool(enabled), "retain_stacks_on_account_removal": bool(retain)}
    managed = params.get("managed_execution")
    if managed is not None and managed.get("active") is not None:
        spec["managed_execution"] = {"active": bool(managed["active"])}

    if params.get("description") is not None:
        if len(params["description"]) > 1024:
            raise validation.InvalidInput("description", "is longer than 1024 characters")
        spec["description"] = params["description"]
    capabilities = params.get("capabilities")
    if capabilities is not None:
        for index, cap in enumerate(capabilities):
            if cap not in CAPABILITIES:
                raise validation.InvalidInput(
                    "capabilities[%d]" % index, "%r is not one of %s" % (cap, ", ".join(CAPABILITIES))
                )
        spec["capabilities"] = sorted(set(capabilities))
    tags = params.get("tags")
    if tags is not None:
        if len(tags) > 50:
            raise validation.InvalidInput("tags", "has %d tags; a StackSet takes at most 50" % len(tags))
        for key in tags:
            if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                raise validation.InvalidInput("tags", "key %r is not 1-128 characters, or starts with aws:" % key)
        spec["tags"] = {k: "" if v is None else str(v) for k, v in tags.items()}
    spec["purge_tags"] = params.get("purge_tags", True) is not False

    source = params.get("template_source") or "template_body"
    if params.get("template_url"):
        if not TEMPLATE_URL_RE.match(params["template_url"]):
            raise validation.InvalidInput("template_url", "%r is not an https:// URL" % params["template_url"])
        spec["template_url"] = params["template_url"]
    if params.get("template_body") is not None:
        spec["template"] = parse_template(params["template_body"], source)
        spec["template_body"] = params["template_body"]
        spec["template_source"] = source

    parameters = params.get("parameters")
    if parameters is not None:
        declared = template_parameters(spec.get("template")) if spec.get("template") is not None else None
        normalised = {}
        for key, value in parameters.items():
            if declared is not None and key not in declared:
                raise validation.InvalidInput(
                    "parameters.%s" % key,
                    "is not a parameter of the template; it declares: %s" % (", ".join(sorted(declared)) or "none"),
                )
            if value is None:
                raise validation.InvalidInput("parameters.%s" % key, "has no value")
            normalised[key] = _param_text(value)
        spec["parameters"] = normalised
    if spec.get("template") is not None:
        given = spec.get("parameters") or {}
        missing = [
            k
            for k, v in sorted(template_parameters(spec["template"]).items())
            if v["default"] is None and k not in given
        ]
        if missing:
            raise validation.InvalidInput(
                "parameters",
                "the template requires %s (no Default), which parameters does not set" % ", ".join(missing),
            )

    if known_regions is None:
        known_regions = validation.known_regions()
    targets = params.get("deployment_targets")
    regions = params.get("regions")
    if regions is not None:
        spec["regions"] = sorted(set(validation.each(regions, validation.region, "regions", regions=known_regions)))
    if targets is not None:
        ous = targets.get("organizational_unit_ids") or []
        accounts = targets.get("accounts") or []
        filter_type = targets.get("account_filter_type") or "NONE"
        if filter_type not in ACCOUNT_FILTER_TYPES:
            raise validation.InvalidInput(
                "deployment_targets.account_filter_type",
                "%r is not one of %s" % (filter_type, ", ".join(ACCOUNT_FILTER_TYPES)),
            )
        validation.each(ous, validation.ou_id, "deployment_targets.organizational_unit_ids")
        validation.each(accounts, validation.account_id, "deployment_targets.accounts")
        if service:
            if accounts and filter_type == "NONE":
                raise validation.InvalidInput(
                    "deployment_targets.accounts",
                    "on a SERVICE_MANAGED StackSet, accounts only filter the OUs: set account_filter_type to "
                    "INTERSECTION, DIFFERENCE or UNION, or list OUs in organizational_unit_ids",
                )
            if filter_type != "NONE" and not accounts:
                raise validation.InvalidInput(
                    "deployment_targets.accounts", "account_filter_type %s needs a list of accounts" % filter_type
                )
            if accounts and not ous:
                raise validation.InvalidInput(
                    "deployment_targets.organizational_unit_ids",
                    "a SERVICE_MANAGED StackSet deploys to OUs: list at least one OU id (%s)" % validation.OU_FORM,
                )
        else:
            if ous:
                raise validation.InvalidInput(
                    "deployment_targets.organizational_unit_ids",
                    "OU targets need permission_model SERVICE_MANAGED; a SELF_MANAGED StackSet deploys to accounts",
                )
            if filter_type != "NONE":
                raise validation.InvalidInput(
                    "deployment_targets.account_filter_type", "works with permission_model SERVICE_MANAGED only"
                )
        spec["targets"] = {
            "organizational_unit_ids": sorted(set(ous)),
            "accounts": sorted(set(accounts)),
            "account_filter_type": filter_type,
        }
        if (ous or accounts) and not spec.get("regions"):
            raise validation.InvalidInput(
                "regions", "is required with deployment_targets: list the regions to deploy to"
            )
    elif spec.get("regions"):
        raise validation.InvalidInput(
            "deployment_targets", "is required with regions: list the OU ids (or accounts) to deploy to"
        )
    spec["operation_preferences"] = validate_operation_preferences(params.get("operation_preferences"), known_regions)
    return spec


# --------------------------------------------------------------------------------------------------------------------
# Planning


def _current_targets(current, instances, service):
    """``{target: set(regions)}``: OU (SERVICE_MANAGED) or account (SELF_MANAGED) -> regions deployed."""
    deployed = {}
    for inst in instances:
        target = inst.get("organizational_unit_id") if service else inst.get("account")
        if target:
            deployed.setdefault(target, set()).add(inst["region"])
    if service and current:
        # An OU that holds no account has no instance, yet AWS records it as a target.
        for ou_id in current.get("organizational_unit_ids") or []:
            deployed.setdefault(ou_id, set()).update(current.get("regions") or [])
    return deployed


def _group(pairs):
    """``{target: set(regions)}`` -> ``[(targets, regions)]``: one operation per distinct region set."""
    by_regions = {}
    for target, regions in pairs.items():
        if regions:
            by_regions.setdefault(tuple(sorted(regions)), []).append(target)
    return [(sorted(targets), list(regions)) for regions, targets in sorted(by_regions.items())]


def _stack_set_differences(spec, current):
    """The fields of the StackSet to update, and the before/after diff of each."""
    changed = []
    if spec.get("template") is not None:
        try:
            current_template = parse_template(current.get("template_body"), "current template")
        except validation.InvalidInput:
            current_template = None
        if current_template != spec["template"]:
            changed.append("template")
    template = spec.get("template")
    if template is None:
        try:
            template = parse_template(current.get("template_body"), "current template")
        except validation.InvalidInput:
            template = None
    declared = template_parameters(template)
    if spec.get("parameters") is not None:
        wanted = _effective_parameters(spec["parameters"], declared)
        have = _effective_parameters(current.get("parameters") or {}, declared)
        keys = set(wanted) | set(have)
        if declared:
            keys &= set(declared)
        for key in keys:
            if declared.get(key, {}).get("no_echo") or have.get(key) == NO_ECHO_MASK:
                continue  # AWS never shows a NoEcho value; it cannot be compared
            if wanted.get(key) != have.get(key):
                changed.append("parameters")
                break
    if spec.get("capabilities") is not None and spec["capabilities"] != sorted(current.get("capabilities") or []):
        changed.append("capabilities")
    if spec.get("tags") is not None and _merged_tags(spec, current) != (current.get("tags") or {}):
        changed.append("tags")
    if spec.get("description") is not None and spec["description"] != (current.get("description") or ""):
        changed.append("description")
    if spec.get("auto_deployment") is not None:
        have = current.get("auto_deployment") or {"enabled": False, "retain_stacks_on_account_removal": False}
        want = spec["auto_deployment"]
        if want["enabled"] != have["enabled"] or (
            want["enabled"] and want["retain_stacks_on_account_removal"] != have["retain_stacks_on_account_removal"]
        ):
            changed.append("auto_deployment")
    if spec.get("managed_execution") is not None:
        have = (current.get("managed_execution") or {}).get("active", False)
        if spec["managed_execution"]["active"] != have:
            changed.append("managed_execution")
    if spec["permission_model"] != current.get("permission_model"):
        changed.append("permission_model")
    for option in ("administration_role_arn", "execution_role_name"):
        if spec.get(option) and spec[option] != current.get(option):
            changed.append(option)
    return changed, declared


def _effective_parameters(values, declared):
    out = {k: d["default"] for k, d in declared.items() if d["default"] is not None}
    out.update(values)
    return out


def _merged_tags(spec, current):
    if spec.get("tags") is None:
        return current.get("tags") or {}
    if spec.get("purge_tags", True):
        return dict(spec["tags"])
    merged = dict(current.get("tags") or {})
    merged.update(spec["tags"])
    return merged


def plan(spec, current, instances):
    """What to do, as a list of steps, without calling AWS.

    Each step is ``{"action": "create_stack_set"|"update_stack_set"|"create_instances"|"delete_instances"|
    "delete_stack_set", "targets": [...], "regions": [...], "fields": [...]}``.
    """
    steps = []
    service = spec["permission_model"] == "SERVICE_MANAGED" if spec["state"] == "present" else None
    if spec["state"] == "absent":
        if current is None:
            return steps
        service = current.get("permission_model") == "SERVICE_MANAGED"
        deployed = _current_targets(current, instances, service)
        for targets, regions in _group(deployed):
            steps.append({"action": "delete_instances", "targets": targets, "regions": regions, "service": service})
        steps.append({"action": "delete_stack_set"})
        return steps

    if current is None:
        if spec.get("template") is None and not spec.get("template_url"):
            raise validation.InvalidInput(
                "template_body",
                "StackSet %s does not exist: give template_body, template or template_url to create it" % spec["name"],
            )
        steps.append({"action": "create_stack_set"})
        deployed = {}
    else:
        fields, _declared = _stack_set_differences(spec, current)
        if fields:
            steps.append({"action": "update_stack_set", "fields": fields})
        deployed = _current_targets(current, instances, service)

    targets = spec.get("targets")
    if targets is None:
        return steps
    wanted_targets = targets["organizational_unit_ids"] if service else targets["accounts"]
    regions = set(spec.get("regions") or [])
    missing = {}
    for target in wanted_targets:
        todo = regions - deployed.get(target, set())
        if todo:
            missing[target] = todo
    for group_targets, group_regions in _group(missing):
        steps.append(
            {"action": "create_instances", "targets": group_targets, "regions": group_regions, "service": service}
        )
    if spec["purge_instances"]:
        extra = {}
        for target, have in deployed.items():
            unwanted = have if target not in wanted_targets else have - regions
            if unwanted:
                extra[target] = unwanted
        for group_targets, group_regions in _group(extra):
            steps.append(
                {"action": "delete_instances", "targets": group_targets, "regions": group_regions, "service": service}
            )
    return steps


def describe_targets(current, instances, service):
    deployed = _current_targets(current, instances, service)
    return {target: sorted(regions) for target, regions in sorted(deployed.items())}


def build_diff(spec, current, instances, steps):
    """``{"before": ..., "after": ...}`` for Ansible's diff mode: template, parameters, settings and targets."""
    service = (
        spec["permission_model"] == "SERVICE_MANAGED"
        if spec["state"] == "present"
        else (current or {}).get("permission_model") == "SERVICE_MANAGED"
    )
    if current is None:
        before = {}
    else:
        try:
            current_template = parse_template(current.get("template_body"), "current template")
        except validation.InvalidInput:
            current_template = None
        before = {
            "template": template_text(current_template)
            if current_template is not None
            else current.get("template_body"),
            "parameters": dict(current.get("parameters") or {}),
            "capabilities": sorted(current.get("capabilities") or []),
            "tags": dict(current.get("tags") or {}),
            "description": current.get("description") or "",
            "permission_model": current.get("permission_model"),
            "auto_deployment": current.get("auto_deployment"),
            "managed_execution": current.get("managed_execution"),
            "targets": describe_targets(current, instances, service),
        }
    if spec["state"] == "absent":
        return {"before": before, "after": {}}
    after = dict(before)
    if spec.get("template") is not None:
        after["template"] = template_text(spec["template"])
    elif spec.get("template_url") and current is None:
        after["template"] = "(from %s)" % spec["template_url"]
    declared = template_parameters(spec.get("template"))
    if spec.get("parameters") is not None:
        params = dict(spec["parameters"])
        for key, info in declared.items():
            if info["no_echo"] and key in params:
                params[key] = NO_ECHO_MASK
        after["parameters"] = params
    for key in ("capabilities", "description", "auto_deployment", "managed_execution", "permission_model"):
        if spec.get(key) is not None:
            after[key] = spec[key]
    if spec.get("tags") is not None:
        after["tags"] = _merged_tags(spec, current or {})
    targets = {k: set(v) for k, v in (before.get("targets") or {}).items()}
    for step in steps:
        if step["action"] == "create_instances":
            for target in step["targets"]:
                targets.setdefault(target, set()).update(step["regions"])
        elif step["action"] == "delete_instances":
            for target in step["targets"]:
                targets[target] = targets.get(target, set()) - set(step["regions"])
                if not targets[target]:
                    del targets[target]
    after["targets"] = {k: sorted(v) for k, v in sorted(targets.items())}
    return {"before": before, "after": after}


# --------------------------------------------------------------------------------------------------------------------
# Applying


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
