# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start, validate, split, preflight, follow and stop a multi-account SSM Automation execution.

Pure Python on boto3 clients; no Ansible. The ``automation_execution`` module is a thin wrapper around
:func:`build_request`, :func:`preflight`, :func:`find_by_token`, :func:`start`, :func:`wait` and :func:`stop`.

Shapes follow the SSM API reference (StartAutomationExecution, TargetLocation, AutomationExecution):
a TargetLocation takes at most 50 ``Accounts`` and 50 ``Regions`` and at most 5,000 ``ExcludeAccounts``;
a request takes at most 100 TargetLocations and one Target (one tag key, with up to 50 values). The limits are
read from botocore's ssm model.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import time
import uuid

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, organization, stack_set, validation
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

DEFAULT_EXECUTION_ROLE = "AWS-SystemsManager-AutomationExecutionRole"
DEFAULT_ADMIN_ROLE = "AWS-SystemsManager-AutomationAdministrationRole"
DEFAULT_EXECUTION_STACK_SET = "AWS-SystemsManager-AutomationExecutionRole"
DEFAULT_MANAGEMENT_STACK = "AWS-SystemsManager-AutomationExecutionRole-org"

# AWS's limits, read from botocore's ssm model (the documented value as the fallback for an older botocore).
MAX_ACCOUNTS_PER_LOCATION = _aws.model_limit("ssm", "TargetLocation", "Accounts", default=50)
MAX_REGIONS_PER_LOCATION = _aws.model_limit("ssm", "TargetLocation", "Regions", default=50)
MAX_EXCLUDE_ACCOUNTS = _aws.model_limit("ssm", "TargetLocation", "ExcludeAccounts", default=5000)
MAX_TARGET_LOCATIONS = _aws.model_limit("ssm", "StartAutomationExecutionRequest", "TargetLocations", default=100)
# AutomationTargets: max 1. AWS answers "Only one resource group or tag can be specified at a time".
MAX_TARGETS = _aws.model_limit("ssm", "StartAutomationExecutionRequest", "Targets", default=1)
MAX_TARGET_KEY_LENGTH = _aws.model_limit("ssm", "Target", "Key", default=163)
MAX_TARGET_VALUES = _aws.model_limit("ssm", "Target", "Values", default=50)
MAX_PARAMETER_VALUES = _aws.model_limit("ssm", "AutomationParameterValueList", default=50)
MAX_PARAMETER_VALUE_LENGTH = _aws.model_limit("ssm", "AutomationParameterValue", default=512)
# The collection's TargetLocationMaxErrors / TargetLocationMaxConcurrency when none is given. AWS's own are 0 and 1
# (botocore's ssm model, TargetLocation): one location error stops queueing the rest, and locations run one at a
# time. AWS does not document what counts as a location error (a location that could not start, such as a role it
# cannot assume, or also one whose execution ends Failed); with 100% no reading stops queueing, so every location
# runs and reports its own outcome, and the pass/fail policy judges the run. 10 locations at once stays well below
# the 100 concurrently running automations per account (Systems Manager service quotas).
DEFAULT_LOCATION_MAX_ERRORS = "100%"
DEFAULT_LOCATION_MAX_CONCURRENCY = "10"
MAX_TAGS = 5  # "You can specify a maximum of five tags for an automation" (API reference, StartAutomationExecution)

# AutomationExecutionStatus values (API reference) after which nothing changes any more.
TERMINAL_STATUSES = frozenset(
    [
        "Success",
        "TimedOut",
        "Cancelled",
        "Failed",
        "Rejected",
        "CompletedWithSuccess",
        "CompletedWithFailure",
        "Exited",
        "ChangeCalendarOverrideRejected",
    ]
)
SUCCESS_STATUSES = frozenset(["Success", "CompletedWithSuccess"])

# Every pattern lives in validation.py; these names are kept for the callers that import them from here.
DOCUMENT_NAME_RE = validation.DOCUMENT_NAME_RE
DOCUMENT_ARN_RE = validation.DOCUMENT_ARN_RE
DOCUMENT_VERSION_RE = validation.DOCUMENT_VERSION_RE
CLIENT_TOKEN_RE = validation.UUID_RE
EXECUTION_ID_RE = validation.UUID_RE
PARAMETER_NAME_RE = validation.PARAMETER_NAME_RE
TAG_KEY_RE = validation.TAG_KEY_RE
ASSUME_ROLE_TEMPLATE_RE = validation.ASSUME_ROLE_TEMPLATE_RE
ROLE_ARN_RE = validation.ROLE_ARN_RE

# A fixed namespace: the same idempotency key and request always give the same ClientToken.
TOKEN_NAMESPACE = uuid.UUID("5b0c6f4e-3a4b-5d7e-9f10-6f7267f70001")
# Tag put on executions started with an idempotency key, so that a later run finds them with a read
# (DescribeAutomationExecutions filter TagKey) instead of calling StartAutomationExecution again.
TOKEN_TAG_PREFIX = "orgops-ssm-automation:client-token:"  # noqa: S105 - a tag key, not a secret

DOCUMENT_NAME_FORM = "a runbook name of 3-128 characters from [a-zA-Z0-9_-.], or a document ARN"
DOCUMENT_VERSION_FORM = "$DEFAULT, $LATEST or a version number such as 6"
EXECUTION_ID_FORM = "an automation execution id (36-character UUID such as 7e3c1d0a-1b2c-4d5e-8f90-123456789abc)"


# ---------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------


def chunks(values, size):
    return [values[i : i + size] for i in range(0, len(values), size)] or [[]]


def is_terminal(status):
    return status in TERMINAL_STATUSES


def partition_from_arn(arn, default="aws"):
    parts = (arn or "").split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else default


def role_arn(account, role_name, partition="aws"):
    return "arn:%s:iam::%s:role/%s" % (partition, account, role_name)


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


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
    if not isinstance(value, str) or not EXECUTION_ID_RE.match(value):
        raise InvalidInput(field, "%r is not %s" % (value, EXECUTION_ID_FORM))
    return value


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


def fetch_runbook(ssm, name, version=None):
    """GetDocument for the pinned (or default) version; returns the raw content string and its format."""
    kwargs = {"Name": name}
    if version:
        kwargs["DocumentVersion"] = version
    response = _aws.call(ssm, "get_document", **kwargs)
    return response.get("Content") or "", response.get("DocumentFormat") or "JSON", response.get("DocumentVersion")


# ---------------------------------------------------------------------------------------------------------
# Preflight
# ---------------------------------------------------------------------------------------------------------


def stack_exists(cfn, name):
    """True when the plain stack ``name`` exists in a usable state (CloudFormation DescribeStacks)."""
    try:
        stacks = _aws.call(cfn, "describe_stacks", StackName=name).get("Stacks") or []
    except Exception as e:  # pylint: disable=broad-except
        code = getattr(e, "response", {}).get("Error", {}).get("Code")
        message = getattr(e, "response", {}).get("Error", {}).get("Message", "")
        if code == "ValidationError" and "does not exist" in message:
            return False
        raise
    for stack in stacks:
        status = stack.get("StackStatus", "")
        if status.endswith("_COMPLETE") and status not in ("DELETE_COMPLETE", "ROLLBACK_COMPLETE", "CREATE_FAILED"):
            return True
    return False


def evaluate_preflight(
    tree,
    locations,
    stack_instances,
    management_account,
    management_stack_exists,
    resolve_accounts,
    stack_set_name=DEFAULT_EXECUTION_STACK_SET,
    management_stack_name=DEFAULT_MANAGEMENT_STACK,
):
    """Pure preflight: which accounts each location reaches, and which of them lack the execution role.

    ``tree`` is organization.list_tree's result; ``resolve_accounts`` is organization.resolve_accounts;
    ``stack_instances`` is stack_set.list_stack_instances's result for the execution-role StackSet.
    Returns ``{"ok", "locations": [...], "accounts", "missing_role", "unknown_targets", "inactive_accounts", "message"}``.
    """
    known_accounts = tree.get("accounts") or {}
    known_ous = set((tree.get("ous") or {}).keys())
    root_id = tree.get("root_id")
    with_role = {i["account"] for i in stack_instances or [] if i.get("status") == "CURRENT"}
    if management_stack_exists and management_account:
        with_role.add(management_account)
    resolved = []
    unknown = []
    ignored_excludes = []
    all_accounts = set()
    for index, loc in enumerate(locations):
        for i, target in enumerate(loc["accounts"]):
            if validation.ACCOUNT_ID_RE.match(target):
                if target not in known_accounts:
                    unknown.append(
                        {
                            "field": "target_locations[%d].accounts[%d]" % (index, i),
                            "value": target,
                            "reason": "account is not in the organization",
                        }
                    )
            elif target != root_id and target not in known_ous:
                unknown.append(
                    {
                        "field": "target_locations[%d].accounts[%d]" % (index, i),
                        "value": target,
                        "reason": "OU is not in the organization",
                    }
                )
        known = [t for t in loc["accounts"] if t in known_accounts or t in known_ous or t == root_id]
        excluded = [e for e in loc["exclude_accounts"] if e in known_accounts or e in known_ous]
        ignored_excludes.extend(e for e in loc["exclude_accounts"] if e not in excluded)
        accounts = (
            list(resolve_accounts(tree, known, include_children=loc["include_child_ous"], exclude=excluded or None))
            if known
            else []
        )
        resolved.append(
            {
                "location": index,
                "targets": list(loc["accounts"]),
                "regions": list(loc["regions"]),
                "include_child_ous": loc["include_child_ous"],
                "exclude_accounts": list(loc["exclude_accounts"]),
                "execution_role_name": loc["execution_role_name"],
                "accounts": sorted(accounts),
            }
        )
        all_accounts.update(accounts)
    missing = sorted(a for a in all_accounts if a not in with_role)
    # status is the account's State (or the retired Status); an account that reports neither is not called inactive
    states = {a: (known_accounts.get(a) or {}).get("status") or "ACTIVE" for a in all_accounts}
    inactive = sorted(a for a in all_accounts if states[a] != "ACTIVE")
    messages = []
    if unknown:
        messages.append(
            "targets not found in the organization: " + ", ".join("%s (%s)" % (u["value"], u["field"]) for u in unknown)
        )
    if missing:
        roles = sorted({loc["execution_role_name"] for loc in locations}) or [DEFAULT_EXECUTION_ROLE]
        described = []
        for account in missing:
            if account == management_account:
                described.append(
                    "%s (the management account: set include_management_account so that the %s stack is deployed there, "
                    "or exclude it)" % (account, management_stack_name)
                )
            else:
                described.append("%s (no CURRENT instance of StackSet %s)" % (account, stack_set_name))
        messages.append("accounts without %s: %s" % (", ".join(roles), ", ".join(described)))
    if inactive:
        messages.append(
            "accounts not ACTIVE in the organization: " + ", ".join("%s (%s)" % (a, states[a]) for a in inactive)
        )
    return {
        "ok": not messages,
        "locations": resolved,
        "accounts": sorted(all_accounts),
        "account_count": len(all_accounts),
        "missing_role": missing,
        "unknown_targets": unknown,
        "inactive_accounts": inactive,
        "ignored_excludes": sorted(set(ignored_excludes)),
        "management_account": management_account,
        "message": "; ".join(messages)
        if messages
        else "%s checked: every targeted account has the execution role" % _plural(len(all_accounts), "account"),
    }


def preflight(
    org_client,
    cfn_client,
    locations,
    stack_set_name=DEFAULT_EXECUTION_STACK_SET,
    management_stack_name=DEFAULT_MANAGEMENT_STACK,
    call_as="SELF",
):
    """Resolve the locations against the live organization and check the execution role everywhere."""
    tree = organization.list_tree(org_client)
    management_account = (organization.describe_organization(org_client) or {}).get("master_account_id")
    instances = stack_set.list_stack_instances(cfn_client, stack_set_name, call_as=call_as)
    mgmt_ok = stack_exists(cfn_client, management_stack_name) if management_account else False
    result = evaluate_preflight(
        tree,
        locations,
        instances,
        management_account,
        mgmt_ok,
        organization.resolve_accounts,
        stack_set_name=stack_set_name,
        management_stack_name=management_stack_name,
    )
    result["management_stack_exists"] = mgmt_ok
    result["stack_set_instances"] = len(instances)
    return result


# ---------------------------------------------------------------------------------------------------------
# Start, find, stop, wait
# ---------------------------------------------------------------------------------------------------------


def find_by_token(ssm, token):
    """The execution previously started with ``token`` (found by its tag), or None. Read-only."""
    items = _aws.paginate(
        ssm,
        "describe_automation_executions",
        "AutomationExecutionMetadataList",
        Filters=[{"Key": "TagKey", "Values": [token_tag_key(token)]}],
        MaxResults=50,
    )
    found = [item for item in items if not item.get("ParentAutomationExecutionId")]
    if not found:
        return None
    found.sort(key=lambda m: str(m.get("ExecutionStartTime") or ""))
    return found[0]


def start(ssm, request):
    """StartAutomationExecution; returns the execution id."""
    return _aws.call(ssm, "start_automation_execution", **request)["AutomationExecutionId"]


def with_token_tag(request, token):
    request = copy.deepcopy(request)
    request["ClientToken"] = token
    tags = [t for t in request.get("Tags") or [] if not t["Key"].startswith(TOKEN_TAG_PREFIX)]
    tags.append({"Key": token_tag_key(token), "Value": "true"})
    request["Tags"] = tags
    return request


def get_execution(ssm, execution_id):
    return _aws.call(ssm, "get_automation_execution", AutomationExecutionId=execution_id)["AutomationExecution"]


def stop(ssm, execution_id):
    _aws.call(ssm, "stop_automation_execution", AutomationExecutionId=execution_id, Type="Cancel")


def wait(ssm, execution_id, timeout, poll_interval, on_poll=None, clock=time.monotonic, sleep=time.sleep):
    """Poll GetAutomationExecution until the execution is terminal or ``timeout`` seconds pass.

    Returns ``(execution, timed_out)``. A timeout is not an error: the caller reports the current state.
    ``on_poll(execution)`` is called after each poll.
    """
    deadline = clock() + max(0, timeout)
    while True:
        execution = get_execution(ssm, execution_id)
        if on_poll:
            on_poll(execution)
        if is_terminal(execution.get("AutomationExecutionStatus")):
            return execution, False
        remaining = deadline - clock()
        if remaining <= 0:
            return execution, True
        sleep(min(max(poll_interval, 0.05), remaining))


def summarize_execution(execution):
    """The parent's status, counters and per-location step statuses, JSON-safe and without secrets."""
    counters = execution.get("ProgressCounters") or {}
    locations = []
    for step in execution.get("StepExecutions") or []:
        target = step.get("TargetLocation") or {}
        locations.append(
            {
                "step_name": step.get("StepName"),
                "accounts": list(target.get("Accounts") or []),
                "regions": list(target.get("Regions") or []),
                "status": step.get("StepStatus"),
                "failure_message": step.get("FailureMessage"),
            }
        )
    return {
        "automation_execution_id": execution.get("AutomationExecutionId"),
        "status": execution.get("AutomationExecutionStatus"),
        "document_name": execution.get("DocumentName"),
        "document_version": execution.get("DocumentVersion"),
        "start_time": _aws.iso(execution.get("ExecutionStartTime")),
        "end_time": _aws.iso(execution.get("ExecutionEndTime")),
        "failure_message": execution.get("FailureMessage"),
        "location_progress": {
            "total": counters.get("TotalSteps", 0),
            "success": counters.get("SuccessSteps", 0),
            "failed": counters.get("FailedSteps", 0),
            "cancelled": counters.get("CancelledSteps", 0),
            "timed_out": counters.get("TimedOutSteps", 0),
        },
        "location_steps": locations,
    }


# ---------------------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------------------


def progress_line(counts, noun="instances"):
    """``{"done": 37, "total": 120, "by_status": {...}}`` -> "37/120 instances done: 30 Success, 5 Failed, 2 TimedOut".

    Statuses still running are appended in parentheses: "(83 InProgress)".
    """
    by_status = counts.get("by_status") or {}
    done_parts = sorted(((n, s) for s, n in by_status.items() if n and is_terminal(s)), key=lambda p: (-p[0], p[1]))
    running_parts = sorted(
        ((n, s) for s, n in by_status.items() if n and not is_terminal(s)), key=lambda p: (-p[0], p[1])
    )
    done = counts.get("done")
    if done is None:
        done = sum(part[0] for part in done_parts)
    total = counts.get("total")
    if total is None:
        total = sum(by_status.values())
    line = "%d/%d %s done" % (done, total, noun)
    if done_parts:
        line += ": " + ", ".join("%d %s" % p for p in done_parts)
    if running_parts:
        line += " (" + ", ".join("%d %s" % p for p in running_parts) + ")"
    unreadable = counts.get("unreadable_locations")
    if unreadable:
        line += "; %s unreadable" % _plural(unreadable, "location")
    return line


def count_statuses(statuses):
    by_status = {}
    for status in statuses:
        by_status[status] = by_status.get(status, 0) + 1
    done = sum(n for s, n in by_status.items() if is_terminal(s))
    return {"done": done, "total": sum(by_status.values()), "by_status": by_status}
