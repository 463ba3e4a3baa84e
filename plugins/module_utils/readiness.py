# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A safe first run: everything that would stop a real run of check_os, found with read calls only.

Pure Python on boto3 clients; no Ansible. The ``readiness_info`` module is a thin wrapper around :func:`check`.
Every finding is ``{"check", "blocking", "message"}`` (plus details), and each message names what to set or deploy:

- ``trusted_access``: AWS Organizations trusted access for CloudFormation StackSets (needed by the roles phase's
  service-managed StackSets), read with ``organizations:ListAWSServiceAccessForOrganization``;
- ``roles``: where the roles are, from the run phase's preflight (``_automation.preflight``, reused as it is): the
  execution-role StackSet in every region, the management account's role in IAM, and each targeted account (a
  role that the roles phase would create again is its own plan's refusal, ``existing_roles_info``);
- ``permissions``: the caller's own permissions for every phase that will run, simulated with
  ``iam:SimulatePrincipalPolicy`` against the phase's documented policy (``plugins/module_utils/policies``);
- ``reader_role``: the results-reader role assumed in each targeted account (``sts:AssumeRole``, no other call);
- ``quotas``: the TargetLocations of one StartAutomationExecution call (botocore's ssm model) and the concurrent
  automations per account and region (Systems Manager User Guide).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, organization
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation import preflight as _preflight
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation import request as _request
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.common import (
    DEFAULT_EXECUTION_STACK_SET,
    DEFAULT_MANAGEMENT_STACK,
    MAX_TARGET_LOCATIONS,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

# The service principal of trusted access for CloudFormation StackSets (AWS Organizations User Guide, "AWS
# CloudFormation StackSets and AWS Organizations"); ActivateOrganizationsAccess enables it.
STACKSETS_PRINCIPALS = ("member.org.stacksets.cloudformation.amazonaws.com",)
# "By default, Automation lets you run up to 100 concurrent automations at a time" (Systems Manager User Guide,
# "Allowing Automation to adapt to your concurrency needs"; up to 500 with adaptive concurrency); the count includes
# child and rate-control automations, and the excess waits in a queue of 1,000 (User Guide, Automation concepts,
# "Automation quota" and "Automation queue quota"). Beyond the queue, StartAutomationExecution answers
# AutomationExecutionLimitExceededException (botocore's ssm model).
CONCURRENT_AUTOMATIONS = 100
AUTOMATION_QUEUE = 1000
PHASES = ("roles", "runbook", "run", "report")
PLACEHOLDER = "MANAGEMENT_ACCOUNT_ID"
SESSION_NAME = "orgops-readiness-check"
DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
RANK = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}

ASSUMED_ROLE_RE = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/(.+)$")
IAM_ENTITY_RE = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):(user|role)/(?:[\w+=,.@/-]*/)?[\w+=,.@-]+$")
ROOT_RE = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):root$")
FEDERATED_RE = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):federated-user/")


def finding(check, blocking, message, **details):
    out = {"check": check, "blocking": bool(blocking), "message": message}
    out.update(details)
    return out


# -- the caller --------------------------------------------------------------------------------------------------------
def principal_of(caller_arn, role_arn_of=None):
    """The IAM entity whose policies a simulation reads, from ``sts:GetCallerIdentity``'s ARN.

    An IAM user's ARN is its own. An assumed-role session ``arn:aws:sts::ACCT:assumed-role/NAME/SESSION`` is the role
    ``arn:aws:iam::ACCT:role/PATH/NAME``: the path is not in the session ARN, so ``role_arn_of(name)`` (iam:GetRole)
    gives the role's real ARN; without it (None, or it fails) the path ``/`` is assumed. The root user and federated
    users are not IAM entities: SimulatePrincipalPolicy cannot read them (``kind`` says which, ``arn`` is None).
    Returns ``{"arn", "kind", "account", "assumed_path"}``.
    """
    caller_arn = caller_arn or ""
    m = ASSUMED_ROLE_RE.match(caller_arn)
    if m:
        partition, account, name = m.group(1), m.group(2), m.group(3)
        arn = None
        if role_arn_of is not None:
            try:
                arn = role_arn_of(name)
            except Exception:  # pylint: disable=broad-except  # noqa: BLE001 - no iam:GetRole: the path / fallback
                arn = None
        assumed = not arn
        arn = arn or "arn:%s:iam::%s:role/%s" % (partition, account, name)
        return {"arn": arn, "kind": "role", "account": account, "assumed_path": assumed}
    m = IAM_ENTITY_RE.match(caller_arn)
    if m:
        return {"arn": caller_arn, "kind": m.group(3), "account": m.group(2), "assumed_path": False}
    m = ROOT_RE.match(caller_arn)
    if m:
        return {"arn": None, "kind": "root", "account": m.group(2), "assumed_path": False}
    m = FEDERATED_RE.match(caller_arn)
    if m:
        return {"arn": None, "kind": "federated-user", "account": m.group(2), "assumed_path": False}
    return {"arn": None, "kind": "unknown", "account": None, "assumed_path": False}


# -- the simulation --------------------------------------------------------------------------------------------------
def load_policy(raw, management_account):
    """A phase's documented policy (dict or JSON text), with ``MANAGEMENT_ACCOUNT_ID`` substituted."""
    text = raw if isinstance(raw, str) else json.dumps(raw)
    document = json.loads(text.replace(PLACEHOLDER, management_account))
    if not isinstance(document, dict) or "Statement" not in document:
        raise InvalidInput("policies", "each policy must be an IAM policy document with a Statement")
    return document


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def concrete_arn(resource, region, account):
    """A policy's resource as an ARN the simulator judges like a real request's.

    A request names a real resource: one region and one account. The documented policies put ``*`` there (every
    region, every member account); the simulation asks for the run's region and the given account instead, so the
    caller's own policies are judged the way the real calls will be (a policy naming the region or the account
    explicitly is allowed, as it would be on AWS). The resource part (``stackset/AWS-SystemsManager-Automation*:*``)
    keeps its wildcards: an ARN may contain any character, and a policy matches it the way it matches the names the
    collection uses. ``*`` stays ``*`` (no resource-level permissions).
    """
    if resource == "*" or not str(resource).startswith("arn:"):
        return resource
    parts = str(resource).split(":", 5)
    if len(parts) < 6:
        return resource
    if parts[3] == "*":
        parts[3] = region
    if parts[4] == "*":
        parts[4] = account
    return ":".join(parts)


CONDITION_TYPES = {"String": "string", "Arn": "string", "Bool": "boolean", "Numeric": "numeric", "Date": "date"}


def context_entries(condition):
    """ContextEntries that satisfy a statement's positive conditions (``StringEquals``, ``ArnLike``, ``Bool``...),
    so that a conditional grant (``iam:PassRole`` with ``iam:PassedToService``) is simulated as the run calls it."""
    entries = []
    for operator, pairs in sorted((condition or {}).items()):
        if "Not" in operator or not isinstance(pairs, dict):
            continue
        kind = next((t for p, t in CONDITION_TYPES.items() if operator.replace("IfExists", "").startswith(p)), None)
        if kind is None:
            continue
        for key, raw in sorted(pairs.items()):
            values = [str(v) for v in _as_list(raw)]
            if values:
                entries.append({"ContextKeyName": key, "ContextKeyValues": values[:1], "ContextKeyType": kind})
    return entries


def simulation_batches(policy, region, account, member_account=None):
    """One SimulatePrincipalPolicy request per Allow statement of ``policy``: its actions, its resources made
    concrete (:func:`concrete_arn`: ``*`` in an account position is ``member_account`` when given, the targeted
    member accounts' position, else ``account``) and the context its conditions need."""
    batches = []
    for index, statement in enumerate(_as_list(policy.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or "Action" not in statement:
            continue
        resources = []
        for resource in _as_list(statement.get("Resource", "*")):
            arn = concrete_arn(resource, region, member_account or account)
            if arn not in resources:
                resources.append(arn)
        batches.append(
            {
                "sid": statement.get("Sid") or "Statement[%d]" % index,
                "actions": [str(a) for a in _as_list(statement["Action"])],
                "resources": resources,
                "context": context_entries(statement.get("Condition")),
            }
        )
    return batches


def fold(results):
    """Every denied action of a simulation's EvaluationResults (all pages): ``{action: {"decision", "resources"}}``.

    Correct under both of AWS's answers (botocore's iam model, EvaluationResult): one result per action with the
    most restrictive decision on top and one ``ResourceSpecificResults`` entry per resource (today's), or one result
    per action and resource (before), whose ``EvalResourceName`` is the resource. An action is denied when any
    decision about it is not ``allowed``; its denied resources are listed.
    """
    denied = {}
    for result in results or []:
        action = result.get("EvalActionName")
        decisions = [(result.get("EvalDecision"), None)]
        specific = result.get("ResourceSpecificResults") or []
        decisions += [(r.get("EvalResourceDecision"), r.get("EvalResourceName")) for r in specific]
        if not specific and result.get("EvalResourceName") not in (None, "*"):
            decisions[0] = (result.get("EvalDecision"), result.get("EvalResourceName"))
        for decision, resource in decisions:
            if decision == "allowed":
                continue
            entry = denied.setdefault(action, {"decision": decision, "resources": []})
            if RANK.get(decision, 1) > RANK.get(entry["decision"], 1):
                entry["decision"] = decision
            if resource and resource not in entry["resources"]:
                entry["resources"].append(resource)
    return denied


def simulate(iam, source_arn, batches):
    """Every EvaluationResult of the batches, page by page (``Marker``/``IsTruncated``)."""
    results = []
    for batch in batches:
        kwargs = {"PolicySourceArn": source_arn, "ActionNames": batch["actions"], "ResourceArns": batch["resources"]}
        if batch["context"]:
            kwargs["ContextEntries"] = batch["context"]
        results.extend(_aws.paginate_marker(iam, "simulate_principal_policy", "EvaluationResults", **kwargs))
    return results


def permission_findings(iam, principal, policies, region, management_account, member_account=None):
    """The ``permissions`` findings: per phase, the documented actions the caller's policies deny."""
    phases = ", ".join(p["phase"] for p in policies)
    if not policies:
        return []
    if principal["arn"] is None:
        return [
            finding(
                "permissions",
                False,
                "permissions: the caller is %s, which iam:SimulatePrincipalPolicy cannot read: the permissions of the "
                "%s phases were not checked; run as an IAM user or role with the policies of docs/permissions.md"
                % ("the root user" if principal["kind"] == "root" else "a " + principal["kind"], phases),
            )
        ]
    out = []
    for entry in policies:
        policy = load_policy(entry["policy"], management_account)
        batches = simulation_batches(policy, region, management_account, member_account)
        try:
            denied = fold(simulate(iam, principal["arn"], batches))
        except Exception as e:  # pylint: disable=broad-except
            code = _aws.error_code(e)
            if code in DENIED:
                return [
                    finding(
                        "permissions",
                        False,
                        "permissions: iam:SimulatePrincipalPolicy is not allowed on %s, so the permissions of the %s "
                        "phases were not checked; allow it (docs/permissions.md, --check) or compare the caller's "
                        "policies with docs/permissions.md by hand" % (principal["arn"], phases),
                        error=_aws.error_info(e),
                    )
                ]
            if code == "NoSuchEntity" and principal.get("assumed_path"):
                return [
                    finding(
                        "permissions",
                        False,
                        "permissions: the caller's role was not found as %s (its path is unknown without "
                        "iam:GetRole on it): the permissions of the %s phases were not checked; allow iam:GetRole "
                        "on the caller's role" % (principal["arn"], phases),
                        error=_aws.error_info(e),
                    )
                ]
            raise
        if denied:
            listed = ", ".join(
                "%s (%s%s)"
                % (action, d["decision"], " on " + ", ".join(d["resources"]) if d["resources"] != ["*"] else "")
                for action, d in sorted(denied.items())
            )
            out.append(
                finding(
                    "permissions",
                    True,
                    "permissions: phase %s: %s may not call %s; attach the %s phase's policy (%s, docs/permissions.md)"
                    % (entry["phase"], principal["arn"], listed, entry["phase"], entry.get("name") or entry["phase"]),
                    phase=entry["phase"],
                    denied=sorted(denied),
                )
            )
    return out


# -- trusted access, the reader role ---------------------------------------------------------------------------------
def trusted_access_findings(org):
    """The ``trusted_access`` findings: StackSets' trusted access with AWS Organizations is enabled, or not."""
    try:
        enabled = _aws.paginate(org, "list_aws_service_access_for_organization", "EnabledServicePrincipals")
    except Exception as e:  # pylint: disable=broad-except
        if _aws.error_code(e) not in DENIED:
            raise
        return [
            finding(
                "trusted_access",
                False,
                "trusted_access: organizations:ListAWSServiceAccessForOrganization is not allowed: whether trusted "
                "access for CloudFormation StackSets is enabled was not checked (docs/permissions.md, --check)",
                error=_aws.error_info(e),
            )
        ]
    principals = sorted(p.get("ServicePrincipal") for p in enabled)
    if any(p in STACKSETS_PRINCIPALS for p in principals):
        return []
    return [
        finding(
            "trusted_access",
            True,
            "trusted_access: trusted access for CloudFormation StackSets is not enabled in AWS Organizations, and the "
            "roles phase deploys service-managed StackSets: an administrator runs `aws cloudformation "
            "activate-organizations-access` once in the management account (docs/permissions.md), or set "
            "check_os_deploy_roles: false when the roles are deployed already",
            enabled_service_principals=principals,
        )
    ]


def reader_findings(sts, accounts, role_name, partition, caller_account, blocking=True):
    """The ``reader_role`` findings: each targeted account whose results-reader role the caller cannot assume."""
    refused = {}
    for account in sorted(set(accounts or [])):
        if account == caller_account:
            continue  # the harvest reads the caller's own account with the caller's credentials
        arn = "arn:%s:iam::%s:role/%s" % (partition, account, role_name)
        try:
            _aws.call(sts, "assume_role", RoleArn=arn, RoleSessionName=SESSION_NAME, DurationSeconds=900)
        except Exception as e:  # pylint: disable=broad-except
            if not getattr(e, "response", None):
                raise
            refused[account] = _aws.error_info(e)
    if not refused:
        return []
    listed = ", ".join("%s (%s: %s)" % (a, r["code"], r["message"]) for a, r in sorted(refused.items()))
    return [
        finding(
            "reader_role",
            blocking,
            "reader_role: the results-reader role %s cannot be assumed in %d account(s): %s; deploy it "
            "(check_os_deploy_roles: true deploys it with the roles phase) or set check_os_reader_role_name%s"
            % (
                role_name,
                len(refused),
                listed,
                "" if blocking else " (the roles phase of this run deploys it: not blocking)",
            ),
            accounts=sorted(refused),
        )
    ]


# -- quotas ------------------------------------------------------------------------------------------------------------
def _absolute(value):
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def quota_findings(locations, accounts_by_location, max_concurrency, running_in_run_region, management_account):
    """The ``quotas`` findings (pure).

    ``locations`` are the run's checked target locations; ``accounts_by_location`` their resolved accounts;
    ``max_concurrency`` the instances per account-region at once (TargetsMaxConcurrency; a percentage is of an
    unknown instance count, not judged); ``running_in_run_region`` the automations already running or queued in
    the management account in the run's region.

    - TargetLocations per StartAutomationExecution call: at most ``MAX_TARGET_LOCATIONS`` (botocore's ssm model,
      100), after splitting at 50 accounts and 50 regions per location (the model's TargetLocation limits).
    - Concurrent automations per account and region (:data:`CONCURRENT_AUTOMATIONS`): each targeted account-region
      runs its own automation plus up to ``max_concurrency`` rate-control children; the management account runs the
      parent besides what already runs there. Above the quota the excess waits in the queue (slower, not blocking);
      above quota plus queue (:data:`AUTOMATION_QUEUE`) AWS refuses them (blocking).
    """
    out = []
    try:
        api, _split = _request.split_locations(locations)
    except InvalidInput as e:
        return [
            finding(
                "quotas", True, "quotas: %s (botocore's ssm model: TargetLocations max %d)" % (e, MAX_TARGET_LOCATIONS)
            )
        ]
    per_location = _absolute(max_concurrency)
    loads = {}
    for index, loc in enumerate(locations):
        for account in accounts_by_location.get(index) or []:
            for region in loc["regions"]:
                loads[(account, region)] = loads.get((account, region), 0) + 1 + (per_location or 0)
    run_region = locations[0]["regions"][0] if locations and locations[0]["regions"] else None
    if management_account:
        key = (management_account, run_region)
        loads[key] = loads.get(key, 0) + 1 + int(running_in_run_region or 0)
    over = sorted((k, v) for k, v in loads.items() if v > CONCURRENT_AUTOMATIONS)
    refused = [(k, v) for k, v in over if v > CONCURRENT_AUTOMATIONS + AUTOMATION_QUEUE]
    if refused:
        out.append(
            finding(
                "quotas",
                True,
                "quotas: %d account-region(s) would need more than %d automations at once plus %d queued (Systems "
                "Manager quotas): %s; lower check_os_max_concurrency"
                % (
                    len(refused),
                    CONCURRENT_AUTOMATIONS,
                    AUTOMATION_QUEUE,
                    ", ".join("%s/%s: %d" % (k[0], k[1], v) for k, v in refused[:10]),
                ),
            )
        )
    elif over:
        out.append(
            finding(
                "quotas",
                False,
                "quotas: %d account-region(s) would run more than %d automations at once (Systems Manager's default "
                "concurrency quota; the rest wait in the queue, so the run is slower): %s; lower "
                "check_os_max_concurrency, or turn on adaptive concurrency (up to 500)"
                % (len(over), CONCURRENT_AUTOMATIONS, ", ".join("%s/%s: %d" % (k[0], k[1], v) for k, v in over[:10])),
            )
        )
    return out + [
        finding(
            "quotas",
            False,
            "quotas: %d TargetLocations in one StartAutomationExecution call (at most %d)"
            % (len(api), MAX_TARGET_LOCATIONS),
            informational=True,
        )
    ]


def running_automations(ssm):
    """The automations running or waiting in the caller's account and region (DescribeAutomationExecutions)."""
    count = 0
    for status in ("InProgress", "Pending", "Waiting"):
        count += len(
            _aws.paginate(
                ssm,
                "describe_automation_executions",
                "AutomationExecutionMetadataList",
                Filters=[{"Key": "ExecutionStatus", "Values": [status]}],
            )
        )
    return count


# -- where the roles are ---------------------------------------------------------------------------------------------
def roles_findings(checked, deploy_roles):
    """The ``roles`` findings, from the preflight's result ``checked`` (the execution-role StackSet searched in every
    region, the management account's role read from IAM).

    Without the roles phase, an account without the execution role stops the run; with it, the roles phase deploys
    the role, and its own plan (``existing_roles_info``) refuses before any write a role that exists under another
    owner (a StackSet of another region, a stack of another name, by hand), which check_os lists with these.
    """
    out = []
    found = checked.get("stack_set_regions")
    if found:
        out.append(
            finding(
                "roles",
                False,
                "roles: the execution-role StackSet has instances from %s" % ", ".join(found),
                informational=True,
                stack_set_regions=found,
            )
        )
    role = checked.get("management_role")
    if role:
        out.append(
            finding(
                "roles",
                False,
                "roles: the management account's execution role is %s%s"
                % (role.get("arn"), ", owned by stack %s" % role["stack"] if role.get("stack") else ""),
                informational=True,
            )
        )
    if not checked.get("ok"):
        only_missing = not checked.get("unknown_targets") and not checked.get("inactive_accounts")
        blocking = not (deploy_roles and only_missing)
        out.append(
            finding(
                "roles",
                blocking,
                "preflight: %s%s"
                % (checked.get("message"), "" if blocking else " (the roles phase of this run deploys them)"),
                missing_role=checked.get("missing_role") or [],
            )
        )
    return out


# -- all of it ---------------------------------------------------------------------------------------------------------
def check(clients, options):
    """Every finding, with read calls only. ``clients`` has ``organizations``, ``cloudformation``, ``iam``, ``sts``,
    ``ssm`` and ``cloudformation_for(region)``; ``options`` are readiness_info's checked options (with
    ``include_management_account``, the management account is added to every location's accounts).
    Returns ``{"ok", "findings", "blocking", "caller", "accounts", "message"}``."""
    findings = []
    for i, loc in enumerate(options["target_locations"] or []):
        if not options.get("include_management_account"):  # else checked once the management account is known
            _request.check_location(loc, i)  # bad input is refused before any call
    org = clients["organizations"]
    caller = _aws.call(clients["sts"], "get_caller_identity")
    management_account = (organization.describe_organization(org) or {}).get("master_account_id") or caller["Account"]
    locations = []
    for i, given in enumerate(options["target_locations"] or []):
        loc = dict(given)
        if options.get("include_management_account"):
            loc["accounts"] = list(given.get("accounts") or []) + [management_account]
        locations.append(_request.check_location(loc, i))
    partition = caller["Arn"].split(":")[1]
    run_region = options["region"]
    if options["deploy_roles"]:
        findings += trusted_access_findings(org)
    checked = None
    if locations:
        checked = _preflight.preflight(
            org,
            clients["cloudformation"],
            locations,
            stack_set_name=options.get("execution_role_stack_set") or DEFAULT_EXECUTION_STACK_SET,
            management_stack_name=options.get("management_execution_stack") or DEFAULT_MANAGEMENT_STACK,
            call_as=options.get("stack_set_call_as") or "SELF",
            cfn_for=clients["cloudformation_for"],
            search_regions=_preflight.search_regions(run_region, locations, partition),
            iam_client=clients["iam"],
        )
        findings += roles_findings(checked, options["deploy_roles"])
    accounts = (checked or {}).get("accounts") or []
    members = [a for a in accounts if a != caller["Account"]]

    def role_arn_of(name):
        return _aws.call(clients["iam"], "get_role", RoleName=name)["Role"]["Arn"]

    principal = principal_of(caller["Arn"], role_arn_of)
    findings += permission_findings(
        clients["iam"], principal, options.get("policies") or [], run_region, management_account, (members or [None])[0]
    )
    if options.get("reader_role_name") and accounts:
        findings += reader_findings(
            clients["sts"],
            accounts,
            options["reader_role_name"],
            partition,
            caller["Account"],
            blocking=not options["deploy_roles"],
        )
    if locations:
        per_location = {loc["location"]: loc["accounts"] for loc in checked["locations"]}
        findings += quota_findings(
            locations,
            per_location,
            options.get("max_concurrency"),
            running_automations(clients["ssm"]),
            management_account,
        )
    blocking = [f for f in findings if f["blocking"]]
    return {
        "ok": not blocking,
        "findings": findings,
        "blocking": [f["message"] for f in blocking],
        "caller": {"arn": caller["Arn"], "account": caller["Account"], "principal": principal},
        "management_account": management_account,
        "accounts": accounts,
        "preflight": checked,
        "message": "%d finding(s) would stop the real run" % len(blocking)
        if blocking
        else "nothing found that would stop the real run",
    }
