# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input validation and the StartAutomationExecution request (no AWS call; private; import from ``automation``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import uuid

from ansible_collections.orgops.ssm_automation.plugins.module_utils import validation
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.common import (
    ASSUME_ROLE_TEMPLATE_RE,
    CLIENT_TOKEN_RE,
    DEFAULT_ADMIN_ROLE,
    DEFAULT_EXECUTION_ROLE,
    DEFAULT_LOCATION_MAX_CONCURRENCY,
    DEFAULT_LOCATION_MAX_ERRORS,
    DOCUMENT_ARN_RE,
    DOCUMENT_NAME_FORM,
    DOCUMENT_NAME_RE,
    DOCUMENT_VERSION_FORM,
    DOCUMENT_VERSION_RE,
    MAX_ACCOUNTS_PER_LOCATION,
    MAX_EXCLUDE_ACCOUNTS,
    MAX_PARAMETER_VALUE_LENGTH,
    MAX_PARAMETER_VALUES,
    MAX_REGIONS_PER_LOCATION,
    MAX_TAGS,
    MAX_TARGET_KEY_LENGTH,
    MAX_TARGET_LOCATIONS,
    MAX_TARGET_VALUES,
    MAX_TARGETS,
    PARAMETER_NAME_RE,
    ROLE_ARN_RE,
    TAG_KEY_RE,
    TOKEN_NAMESPACE,
    TOKEN_TAG_PREFIX,
    chunks,
    partition_from_arn,
    role_arn,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

# ---------------------------------------------------------------------------------------------------------
# Input validation and request building (no AWS call)
# ---------------------------------------------------------------------------------------------------------


def check_document(name, version):
    if not isinstance(name, str) or not (DOCUMENT_NAME_RE.match(name) or DOCUMENT_ARN_RE.match(name)):
        raise InvalidInput("document_name", "%r is not %s" % (name, DOCUMENT_NAME_FORM))
    if version is not None and not DOCUMENT_VERSION_RE.match(str(version)):
        raise InvalidInput("document_version", "%r is not %s" % (version, DOCUMENT_VERSION_FORM))
    return name, (str(version) if version is not None else None)


def check_execution_id(value, field="execution_id"):
    return validation.execution_id(value, field)


def build_targets(targets, field="targets"):
    """Turn the ``targets`` shorthand into the API's ``Targets`` list.

    ``{"tags": {"ssm-automation": "true"}}`` -> ``[{"Key": "tag:ssm-automation", "Values": ["true"]}]``;
    ``{"all_instances": true}`` -> ``[{"Key": "AWS::EC2::Instance", "Values": ["*"]}]``;
    ``{"key_values": [{"key": "tag-key", "values": ["Env"]}]}`` is passed through. Exactly one style.
    """
    if not targets:
        return []
    if not isinstance(targets, dict):
        raise InvalidInput(field, "must be a dict with one of tags, all_instances or key_values")
    tags = targets.get("tags")
    all_instances = targets.get("all_instances")
    key_values = targets.get("key_values")
    given = [k for k, v in (("tags", tags), ("all_instances", all_instances), ("key_values", key_values)) if v]
    if len(given) > 1:
        raise InvalidInput(
            field,
            "%s are mutually exclusive: give exactly one of tags ({key: value}), all_instances (true) "
            "or key_values ([{key, values}])" % " and ".join(given),
        )
    if all_instances:
        return [{"Key": "AWS::EC2::Instance", "Values": ["*"]}]
    out = []
    if tags:
        if not isinstance(tags, dict):
            raise InvalidInput(field + ".tags", "must be a dict of tag key to value (or list of values)")
        for key in sorted(tags):
            values = tags[key] if isinstance(tags[key], list) else [tags[key]]
            out.append({"Key": "tag:%s" % key, "Values": [_scalar(v, "%s.tags.%s" % (field, key)) for v in values]})
    elif key_values:
        for i, item in enumerate(key_values):
            where = "%s.key_values[%d]" % (field, i)
            if not isinstance(item, dict) or not item.get("key"):
                raise InvalidInput(where, "must be {key: ..., values: [...]}, such as {key: 'tag:Env', values: [prod]}")
            values = item.get("values")
            values = values if isinstance(values, list) else [values]
            out.append({"Key": str(item["key"]), "Values": [_scalar(v, where + ".values") for v in values]})
    if len(out) > MAX_TARGETS:
        style = "tags" if tags else "key_values"
        raise InvalidInput(
            "%s.%s" % (field, style),
            "has %d keys (%s); StartAutomationExecution accepts %s (AutomationTargets max %d in botocore's ssm model: "
            "'Only one resource group or tag can be specified at a time'). Give one tag key, with one or more values"
            % (
                len(out),
                ", ".join(t["Key"] for t in out),
                "one target key" if MAX_TARGETS == 1 else "at most %d target keys" % MAX_TARGETS,
                MAX_TARGETS,
            ),
        )
    for i, target in enumerate(out):
        if len(target["Key"]) > MAX_TARGET_KEY_LENGTH:
            raise InvalidInput(
                "%s[%d]" % (field, i),
                "target key %r is longer than %d characters" % (target["Key"], MAX_TARGET_KEY_LENGTH),
            )
        if len(target["Values"]) > MAX_TARGET_VALUES:
            raise InvalidInput("%s[%d]" % (field, i), "at most %d values per target key" % MAX_TARGET_VALUES)
    return out


def _scalar(value, field):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise InvalidInput(field, "must be a string, number or boolean")
    if value is None:
        raise InvalidInput(field, "must not be empty")
    return str(value)


def normalize_parameters(parameters, field="parameters"):
    """``{name: scalar | list}`` -> ``{name: [str, ...]}`` as StartAutomationExecution wants it.

    Booleans become ``true``/``false``; dicts (StringMap) and lists of dicts (MapList) are JSON-encoded.
    """
    out = {}
    for name, value in (parameters or {}).items():
        where = "%s.%s" % (field, name)
        if not isinstance(name, str) or not PARAMETER_NAME_RE.match(name):
            raise InvalidInput(where, "parameter names are 1-50 characters from [A-Za-z0-9_.-:]")
        values = value if isinstance(value, list) else [value]
        if value is None:
            values = []
        strings = []
        for item in values:
            if isinstance(item, dict):
                strings.append(json.dumps(item, sort_keys=True, separators=(",", ":")))
            elif isinstance(item, bool):
                strings.append("true" if item else "false")
            elif item is None:
                raise InvalidInput(where, "values must not be null")
            else:
                strings.append(str(item))
        if len(strings) > MAX_PARAMETER_VALUES:
            raise InvalidInput(
                where, "at most %d values per parameter (AWS limit); got %d" % (MAX_PARAMETER_VALUES, len(strings))
            )
        for s in strings:
            if not s or len(s) > MAX_PARAMETER_VALUE_LENGTH:
                raise InvalidInput(where, "each value must be 1-%d characters" % MAX_PARAMETER_VALUE_LENGTH)
        out[name] = strings
    return out


def check_location(location, index, regions=None):
    """Validate one ``target_locations`` entry (our snake_case form) and return it normalized."""
    field = "target_locations[%d]" % index
    if not isinstance(location, dict):
        raise InvalidInput(field, "must be a dict with accounts and regions")
    accounts = location.get("accounts") or []
    if isinstance(accounts, str):
        accounts = [accounts]
    if not accounts:
        raise InvalidInput(
            field + ".accounts",
            "is empty: list account ids (123456789012), OU ids (ou-xxxx-xxxxxxxx) or the root id (r-xxxx)",
        )
    accounts = validation.each([str(a) for a in accounts], validation.account_or_ou, field + ".accounts")
    region_list = location.get("regions") or []
    if isinstance(region_list, str):
        region_list = [region_list]
    if not region_list:
        raise InvalidInput(field + ".regions", "is empty: list at least one region such as eu-west-1")
    region_list = validation.each(region_list, validation.region, field + ".regions", regions=regions)
    exclude = location.get("exclude_accounts") or []
    if isinstance(exclude, str):
        exclude = [exclude]
    if len(exclude) > MAX_EXCLUDE_ACCOUNTS:
        raise InvalidInput(
            field + ".exclude_accounts",
            "has %d entries; AWS accepts at most %d excluded accounts or OUs per target location"
            % (len(exclude), MAX_EXCLUDE_ACCOUNTS),
        )
    for i, raw in enumerate(exclude):
        where = "%s.exclude_accounts[%d]" % (field, i)
        value = str(raw)
        if not (validation.ACCOUNT_ID_RE.match(value) or validation.OU_ID_RE.match(value)):
            raise InvalidInput(
                where, "%r is not %s, nor an OU id (ou-xxxx-xxxxxxxx)" % (value, validation.ACCOUNT_FORM)
            )
    role = location.get("execution_role_name") or DEFAULT_EXECUTION_ROLE
    validation.role_name(role, field + ".execution_role_name")
    out = {
        "accounts": _dedupe(accounts),
        "regions": _dedupe(region_list),
        "include_child_ous": True
        if location.get("include_child_ous") is None
        else bool(location.get("include_child_ous")),
        "exclude_accounts": _dedupe([str(e) for e in exclude]),
        "execution_role_name": role,
        "max_concurrency": DEFAULT_LOCATION_MAX_CONCURRENCY,
        "max_errors": DEFAULT_LOCATION_MAX_ERRORS,
    }
    if location.get("max_concurrency") not in (None, ""):
        out["max_concurrency"] = validation.max_concurrency(location["max_concurrency"], field + ".max_concurrency")
    if location.get("max_errors") not in (None, ""):
        out["max_errors"] = validation.max_errors(location["max_errors"], field + ".max_errors")
    return out


def _dedupe(values):
    seen = set()
    out = []
    for v in values:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def split_locations(locations):
    """Split locations over AWS's 50-account / 50-region limit into several TargetLocations.

    Returns ``(api_locations, split)``: the API's TargetLocation dicts, and one entry per split location
    ``{"location": i, "into": n, "accounts": len, "regions": len, "reason": "..."}`` (empty when nothing was split).
    """
    api = []
    split = []
    for index, loc in enumerate(locations):
        account_chunks = chunks(loc["accounts"], MAX_ACCOUNTS_PER_LOCATION)
        region_chunks = chunks(loc["regions"], MAX_REGIONS_PER_LOCATION)
        pieces = 0
        for accounts in account_chunks:
            for regions in region_chunks:
                item = {
                    "Accounts": list(accounts),
                    "Regions": list(regions),
                    "IncludeChildOrganizationUnits": loc["include_child_ous"],
                    "ExecutionRoleName": loc["execution_role_name"],
                }
                if loc["exclude_accounts"]:
                    item["ExcludeAccounts"] = list(loc["exclude_accounts"])
                if loc.get("max_concurrency"):
                    item["TargetLocationMaxConcurrency"] = loc["max_concurrency"]
                if loc.get("max_errors"):
                    item["TargetLocationMaxErrors"] = loc["max_errors"]
                api.append(item)
                pieces += 1
        if pieces > 1:
            reasons = []
            if len(loc["accounts"]) > MAX_ACCOUNTS_PER_LOCATION:
                reasons.append("%d accounts/OUs (limit %d)" % (len(loc["accounts"]), MAX_ACCOUNTS_PER_LOCATION))
            if len(loc["regions"]) > MAX_REGIONS_PER_LOCATION:
                reasons.append("%d regions (limit %d)" % (len(loc["regions"]), MAX_REGIONS_PER_LOCATION))
            split.append(
                {
                    "location": index,
                    "into": pieces,
                    "accounts": len(loc["accounts"]),
                    "regions": len(loc["regions"]),
                    "reason": "target_locations[%d] has %s: split into %d TargetLocations"
                    % (index, " and ".join(reasons), pieces),
                }
            )
    if len(api) > MAX_TARGET_LOCATIONS:
        raise InvalidInput(
            "target_locations",
            "needs %d TargetLocations after splitting at %d accounts and %d regions each; AWS accepts at most %d. "
            "Target OUs instead of listing accounts one by one"
            % (len(api), MAX_ACCOUNTS_PER_LOCATION, MAX_REGIONS_PER_LOCATION, MAX_TARGET_LOCATIONS),
        )
    return api, split


def client_token(idempotency_key, request):
    """A deterministic ClientToken: uuid5 over the key and the canonical request (without the token itself).

    The same key with the same request gives the same token, so a retried job cannot start a second execution;
    the same key with a different request gives a different token (AWS rejects reusing a token for other input).
    """
    body = {k: v for k, v in request.items() if k not in ("ClientToken", "Tags")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return str(uuid.uuid5(TOKEN_NAMESPACE, "%s\n%s" % (idempotency_key, canonical)))


def token_tag_key(token):
    return TOKEN_TAG_PREFIX + token


def assume_role_parameter(doc):
    """Name of the parameter the runbook's ``assumeRole`` refers to (``'{{ AutomationAssumeRole }}'``), or None."""
    template = (doc or {}).get("assumeRole")
    if not isinstance(template, str):
        return None
    match = ASSUME_ROLE_TEMPLATE_RE.match(template.strip())
    if not match:
        return None
    name = match.group(1)
    return name if name in ((doc or {}).get("parameters") or {}) else None


def assume_role_mode(value):
    """``automation_assume_role`` -> ``("auto"|"always"|"never"|"arn", arn_or_None)``."""
    if value is None:
        return "auto", None
    if isinstance(value, bool):
        return ("always" if value else "never"), None
    text = str(value).strip()
    lowered = text.lower()
    if lowered in ("auto", ""):
        return "auto", None
    if lowered in ("true", "yes", "on", "1"):
        return "always", None
    if lowered in ("false", "no", "off", "0", "none"):
        return "never", None
    if ROLE_ARN_RE.match(text):
        return "arn", text
    raise InvalidInput(
        "automation_assume_role",
        "%r is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME), true, false or auto" % value,
    )


def build_request(options, regions=None):
    """Validate the module's start options and build the StartAutomationExecution request.

    ``options`` uses the module's option names. Returns ``{"request", "locations", "split"}``; no AWS call.
    The runbook-dependent parts (parameters against the runbook, the assume-role ARN) come later, in
    :func:`apply_runbook`.
    """
    name, version = check_document(options.get("document_name"), options.get("document_version"))
    request = {"DocumentName": name}
    if version:
        request["DocumentVersion"] = version
    parameters = normalize_parameters(options.get("parameters"))
    targets = build_targets(options.get("targets"))
    target_parameter_name = options.get("target_parameter_name") or "InstanceId"
    if targets:
        if not PARAMETER_NAME_RE.match(target_parameter_name):
            raise InvalidInput("target_parameter_name", "%r is not a runbook parameter name" % target_parameter_name)
        if target_parameter_name in parameters:
            raise InvalidInput(
                "parameters.%s" % target_parameter_name,
                "is filled per target by Automation (target_parameter_name); remove it from parameters or drop targets",
            )
        request["TargetParameterName"] = target_parameter_name
        request["Targets"] = targets
    if options.get("max_concurrency") not in (None, ""):
        request["MaxConcurrency"] = validation.max_concurrency(options["max_concurrency"], "max_concurrency")
    if options.get("max_errors") not in (None, ""):
        request["MaxErrors"] = validation.max_errors(options["max_errors"], "max_errors")
    raw_locations = options.get("target_locations") or []
    locations = [check_location(loc, i, regions=regions) for i, loc in enumerate(raw_locations)]
    split = []
    if locations:
        request["TargetLocations"], split = split_locations(locations)
    tags = options.get("tags") or {}
    if not isinstance(tags, dict):
        raise InvalidInput("tags", "must be a dict of tag key to value")
    tag_list = []
    for key in sorted(tags):
        if not TAG_KEY_RE.match(str(key)) or str(key).lower().startswith("aws:"):
            raise InvalidInput(
                "tags.%s" % key,
                "tag keys are 1-128 characters, letters, digits, spaces and _.:/=+-@, not starting with aws:",
            )
        value = "" if tags[key] is None else str(tags[key])
        if len(value) > 256:
            raise InvalidInput("tags.%s" % key, "tag values are at most 256 characters")
        tag_list.append({"Key": str(key), "Value": value})
    keyed = bool(options.get("idempotency_key") or options.get("client_token"))
    limit = MAX_TAGS - 1 if keyed else MAX_TAGS
    if len(tag_list) > limit:
        raise InvalidInput(
            "tags",
            "has %d tags; StartAutomationExecution accepts at most %d%s"
            % (
                len(tag_list),
                MAX_TAGS,
                " and one holds the idempotency key, so at most %d here" % limit if keyed else "",
            ),
        )
    if tag_list:
        request["Tags"] = tag_list
    token = options.get("client_token")
    key = options.get("idempotency_key")
    if token and key:
        raise InvalidInput("client_token", "give either client_token or idempotency_key, not both")
    if token:
        if not CLIENT_TOKEN_RE.match(str(token)):
            raise InvalidInput(
                "client_token", "%r is not a 36-character UUID such as 3f2b8c1e-8d4a-4b2e-9c1d-0a1b2c3d4e5f" % token
            )
        request["ClientToken"] = str(token)
    if parameters:
        request["Parameters"] = parameters
    assume_role_mode(options.get("automation_assume_role"))  # fail early on a malformed value
    return {"request": request, "locations": locations, "split": split}


def apply_runbook(request, doc, options, check_parameters, caller_arn=None):
    """Fill in the assume-role ARN and validate parameters against the runbook ``doc`` (parsed content).

    ``check_parameters(doc, parameters)`` is runbook.check_parameters: it raises InvalidInput naming
    ``parameters.<name>`` and returns the normalized map. The target parameter is filled per target by
    Automation, so it is not required here when targets are set. ``caller_arn`` is the STS caller identity
    ARN, needed only when the admin role ARN has to be built. Returns the updated request (a copy).
    """
    request = copy.deepcopy(request)
    parameters = dict(request.get("Parameters") or {})
    mode, arn = assume_role_mode(options.get("automation_assume_role"))
    param = assume_role_parameter(doc)
    if mode == "always" and not param:
        raise InvalidInput(
            "automation_assume_role",
            "the runbook %s declares no assumeRole parameter ('{{ AutomationAssumeRole }}'), so there is nothing to set"
            % request["DocumentName"],
        )
    if mode in ("always", "arn") and param and param in parameters:
        raise InvalidInput(
            "automation_assume_role", "parameters.%s is already set; give the role in one place only" % param
        )
    if mode == "arn":
        parameters[param or "AutomationAssumeRole"] = [arn]
    elif mode == "always" or (mode == "auto" and param and param not in parameters):
        if not caller_arn:
            raise ValueError("caller_arn is required to build the automation assume role ARN")
        account = caller_arn.split(":")[4]
        admin = options.get("admin_role_name") or DEFAULT_ADMIN_ROLE
        parameters[param] = [role_arn(account, admin, partition_from_arn(caller_arn))]
    target = request.get("TargetParameterName")
    doc_for_check = doc
    if target and target in ((doc or {}).get("parameters") or {}):
        doc_for_check = copy.deepcopy(doc)
        doc_for_check["parameters"].pop(target, None)
    elif request.get("Targets"):
        raise InvalidInput(
            "target_parameter_name",
            "the runbook %s has no parameter %r to receive each target; declared: %s"
            % (
                request["DocumentName"],
                target,
                ", ".join(sorted(((doc or {}).get("parameters") or {}).keys())) or "none",
            ),
        )
    checked = check_parameters(doc_for_check, parameters)
    if checked is not None:
        parameters = checked
    if parameters:
        request["Parameters"] = parameters
    else:
        request.pop("Parameters", None)
    return request


def needs_caller_identity(doc, options):
    mode = assume_role_mode(options.get("automation_assume_role"))[0]
    if mode == "always":
        return True
    if mode == "auto":
        param = assume_role_parameter(doc)
        return bool(param) and param not in (options.get("parameters") or {})
    return False
