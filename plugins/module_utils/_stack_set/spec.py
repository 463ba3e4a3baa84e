# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of the desired StackSet (the module's options) before any AWS call (private)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils import validation
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.common import (
    ACCOUNT_FILTER_TYPES,
    CALL_AS,
    CAPABILITIES,
    CONCURRENCY_MODES,
    PERMISSION_MODELS,
    REGION_CONCURRENCY_TYPES,
    ROLE_ARN_FORM,
    ROLE_ARN_RE,
    STACK_SET_NAME_FORM,
    STACK_SET_NAME_RE,
    TEMPLATE_URL_RE,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.template import (
    _param_text,
    global_named_resources,
    parse_template,
    template_parameters,
)


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
    _one_region_for_global_names(spec)
    spec["operation_preferences"] = validate_operation_preferences(params.get("operation_preferences"), known_regions)
    return spec


def _one_region_for_global_names(spec):
    """Refuse a second region when the template names an IAM resource the same way in every region.

    IAM is global: the stack instance of the second region in each account fails with "already exists" after the
    first region's has created the resource. An IAM role is usable from every region, so one region is enough.
    """
    if spec.get("template") is None or spec.get("state") == "absent" or len(spec.get("regions") or []) < 2:
        return
    named = global_named_resources(spec["template"], spec.get("parameters"))
    if named:
        raise validation.InvalidInput(
            "regions",
            "lists %d regions (%s), but the template creates %s with a fixed name; IAM is global, so the stack "
            "instance of every region after the first fails with 'already exists'. IAM roles work from every "
            "region: deploy to one region only (such as %s)"
            % (
                len(spec["regions"]),
                ", ".join(spec["regions"]),
                ", ".join("%s %s (%s)" % (r["type"], r["name"] or "(computed name)", r["logical_id"]) for r in named),
                spec["regions"][0],
            ),
        )
