# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight: which accounts each location reaches, and whether each has the execution role (read-only; private)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import fnmatch
import json

try:
    from urllib.parse import unquote
except ImportError:  # pragma: no cover - Python 2
    from urllib import unquote

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, organization, stack_set, validation
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.common import (
    DEFAULT_EXECUTION_ROLE,
    DEFAULT_EXECUTION_STACK_SET,
    DEFAULT_MANAGEMENT_STACK,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.status import _plural


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
    stack_set_regions=None,
    problems=None,
):
    """Pure preflight: which accounts each location reaches, and which of them lack the execution role.

    ``stack_set_regions`` (optional) are the regions where the execution-role StackSet was found (None: not
    searched); ``problems`` (optional) are more findings, each a sentence naming what to set or deploy.

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
                    "%s (the management account: the role is not there; deploy it with include_management_account, "
                    "which creates the %s stack, or exclude the account)" % (account, management_stack_name)
                )
            elif stack_set_regions == []:
                described.append("%s (StackSet %s was found in no region)" % (account, stack_set_name))
            else:
                described.append(
                    "%s (no CURRENT instance of StackSet %s%s)"
                    % (account, stack_set_name, " in " + ", ".join(stack_set_regions) if stack_set_regions else "")
                )
        messages.append("accounts without %s: %s" % (", ".join(roles), ", ".join(described)))
    messages.extend(problems or [])
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


def _client_error(e):
    return isinstance(getattr(e, "response", None), dict)


def search_regions(run_region, locations, partition="aws"):
    """Where to look for the execution-role StackSet: the run's region, the locations' regions, then every other
    region botocore knows for CloudFormation in the partition (``[preferred, others]``)."""
    preferred = []
    for region in [run_region] + [r for loc in locations or [] for r in loc.get("regions") or []]:
        if region and region not in preferred:
            preferred.append(region)
    try:
        import botocore.session

        known = botocore.session.get_session().get_available_regions("cloudformation", partition_name=partition)
    except Exception:  # pylint: disable=broad-except  # noqa: BLE001 - no botocore data: the preferred ones only
        known = []
    return [preferred, sorted(r for r in known if r not in preferred)]


def find_stack_set(cfn_for, regions, stack_set_name, call_as="SELF"):
    """The regions where the StackSet ``stack_set_name`` has instances, and those instances.

    A StackSet lives in the region it was created in (its administration region), while the roles it deploys are
    IAM, so global: the preflight of a run in one region must find a StackSet created in another. ``regions`` are
    searched in order; a region that cannot be read (not enabled, no endpoint) is skipped and reported. Returns
    ``{"regions": [...], "instances": [...], "unreadable": {region: error}}``.
    """
    found = {"regions": [], "instances": [], "unreadable": {}}
    if regions and isinstance(regions[0], list):  # [preferred, others]: the others only when not found before
        for group in regions:
            if not found["regions"]:
                more = find_stack_set(cfn_for, group, stack_set_name, call_as)
                found["regions"].extend(more["regions"])
                found["instances"].extend(more["instances"])
                found["unreadable"].update(more["unreadable"])
        return found
    for region in regions:
        try:
            # ListStackInstances alone (an absent StackSet has none): one read per region, and the run phase's
            # documented policy allows it on the StackSet in every region
            instances = stack_set.list_stack_instances(cfn_for(region), stack_set_name, call_as=call_as)
            if instances:
                found["instances"].extend(instances)
                found["regions"].append(region)
        except _aws.OrgOpsAWSError as e:
            found["unreadable"][region] = _aws.error_info(e)
    return found


def find_role(iam, role_name):
    """IAM GetRole in the caller's account: ``{"arn", "stack", "stack_id"}``, or None when absent.

    ``stack`` and ``stack_id`` are the ``aws:cloudformation:stack-name``/``stack-id`` tags CloudFormation documents
    for what it creates, else None: IAM roles do not get them on AWS (aws-cloudformation/cloudformation-coverage-
    roadmap#277, #1159, #1966), so None does not mean "made by hand" (see existing_roles.stack_owning)."""
    try:
        role = _aws.call(iam, "get_role", RoleName=role_name)["Role"]
    except Exception as e:  # pylint: disable=broad-except
        if _aws.error_code(e) == "NoSuchEntity":
            return None
        raise
    tags = {t.get("Key"): t.get("Value") for t in role.get("Tags") or []}
    return {
        "arn": role.get("Arn"),
        "stack": tags.get("aws:cloudformation:stack-name"),
        "stack_id": tags.get("aws:cloudformation:stack-id"),
    }


def _statements(document):
    statements = (document or {}).get("Statement") or []
    return statements if isinstance(statements, list) else [statements]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _allows(document, action, resource):
    """True when an Allow statement of the policy ``document`` names ``action`` on ``resource`` (IAM wildcards).

    Only Action/Resource Allow statements are read: a Deny, a NotAction or a condition can only narrow this, and the
    run itself reports a refused assume with AWS's reason.
    """
    for statement in _statements(document):
        if statement.get("Effect") != "Allow" or "Action" not in statement or "Resource" not in statement:
            continue
        actions = [str(a).lower() for a in _as_list(statement["Action"])]
        if not any(fnmatch.fnmatchcase(action.lower(), a) for a in actions):
            continue
        if any(fnmatch.fnmatchcase(resource, str(r)) for r in _as_list(statement["Resource"])):
            return True
    return False


def _policy_document(raw):
    """A policy document as data. botocore decodes AWS's URL-encoded JSON into a dict; text is decoded here. moto
    answers an inline policy that CloudFormation created with its Python repr, which ``ast.literal_eval`` reads
    safely (literals only); anything else is refused as unreadable."""
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    text = unquote(raw)
    try:
        return json.loads(text)
    except ValueError:
        document = ast.literal_eval(text)
        if not isinstance(document, dict):
            raise
        return document


def role_policies(iam, role_name):
    """Every identity policy document of the role: inline, and the default version of each attached one."""
    documents = []
    for name in _aws.paginate_marker(iam, "list_role_policies", "PolicyNames", RoleName=role_name):
        raw = _aws.call(iam, "get_role_policy", RoleName=role_name, PolicyName=name)["PolicyDocument"]
        documents.append(_policy_document(raw))
    attached = _aws.paginate_marker(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=role_name)
    for policy in attached:
        version = _aws.call(iam, "get_policy", PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        raw = _aws.call(iam, "get_policy_version", PolicyArn=policy["PolicyArn"], VersionId=version)
        documents.append(_policy_document(raw["PolicyVersion"]["Document"]))
    return documents


def check_assume_role(iam, assume_role_arn, locations, accounts):
    """The findings about the role the automation runs as (its ``AutomationAssumeRole``, such as the admin role).

    On AWS, a cross-account assume needs the caller's permission and the target's trust: the execution role's trust
    names the admin role, and the admin role's own policy must allow ``sts:AssumeRole`` on each location's
    ``execution_role_name`` (the seed's admin role allows only ``AWS-SystemsManager-AutomationExecutionRole``).
    Returns a list of sentences, each naming what to set or deploy.
    """
    if not assume_role_arn or ":role/" not in assume_role_arn:
        return []
    role_name = assume_role_arn.split(":role/", 1)[1].split("/")[-1]
    if find_role(iam, role_name) is None:
        return [
            "automation_assume_role: the role %s does not exist in the management account; deploy it (the "
            "execution_roles role's admin stack) or set automation_assume_role / admin_role_name" % assume_role_arn
        ]
    documents = role_policies(iam, role_name)
    partition = assume_role_arn.split(":")[1]
    problems = []
    for index, loc in enumerate(locations):
        sample = sorted(accounts.get(index) or []) or ["123456789012"]
        target = "arn:%s:iam::%s:role/%s" % (partition, sample[0], loc["execution_role_name"])
        if not any(_allows(d, "sts:AssumeRole", target) for d in documents):
            problems.append(
                "target_locations[%d].execution_role_name: %s may not be assumed by %s (its policies allow "
                "sts:AssumeRole on no role of that name; the seed's admin role, shipped unchanged, allows only "
                "AWS-SystemsManager-AutomationExecutionRole); use that name, or give the assume role a policy that "
                "allows sts:AssumeRole on role/%s"
                % (index, loc["execution_role_name"], assume_role_arn, loc["execution_role_name"])
            )
    return problems


def preflight(
    org_client,
    cfn_client,
    locations,
    stack_set_name=DEFAULT_EXECUTION_STACK_SET,
    management_stack_name=DEFAULT_MANAGEMENT_STACK,
    call_as="SELF",
    cfn_for=None,
    search_regions=None,
    iam_client=None,
    assume_role_arn=None,
):
    """Resolve the locations against the live organization and check the execution role everywhere.

    Read-only. Where the roles are: the execution-role StackSet is searched in ``search_regions`` (in order; with
    ``cfn_for(region)`` giving a CloudFormation client there), since it may have been created in another region than
    the run's; the management account's role is read from IAM (``iam_client``), which is global, and its owning stack
    named. Without ``cfn_for``/``iam_client`` only ``cfn_client``'s region and the management stack are read.
    """
    tree = organization.list_tree(org_client)
    management_account = (organization.describe_organization(org_client) or {}).get("master_account_id")
    if cfn_for is not None:
        found = find_stack_set(cfn_for, search_regions or [], stack_set_name, call_as=call_as)
        instances, regions = found["instances"], found["regions"]
    else:
        found = None
        instances, regions = stack_set.list_stack_instances(cfn_client, stack_set_name, call_as=call_as), None
    role = None
    warnings = []
    mgmt_ok = None
    if iam_client is not None and management_account:
        names = sorted({loc["execution_role_name"] for loc in locations}) or [DEFAULT_EXECUTION_ROLE]
        try:
            role = find_role(iam_client, names[0])
            mgmt_ok = role is not None
        except Exception as e:  # pylint: disable=broad-except
            if not _denied(e):
                raise
            warnings.append("iam:GetRole is not allowed: the management account's role was looked for as a stack")
    if mgmt_ok is None:
        mgmt_ok = stack_exists(cfn_client, management_stack_name) if management_account else False
    partial = evaluate_preflight(
        tree,
        locations,
        instances,
        management_account,
        mgmt_ok,
        organization.resolve_accounts,
        stack_set_name=stack_set_name,
        management_stack_name=management_stack_name,
    )
    problems = []
    if iam_client is not None and assume_role_arn:
        per_location = {loc["location"]: loc["accounts"] for loc in partial["locations"]}
        try:
            problems = check_assume_role(iam_client, assume_role_arn, locations, per_location)
        except Exception as e:  # pylint: disable=broad-except
            if not (_denied(e) or isinstance(e, (ValueError, SyntaxError))):  # denied, or a policy not readable
                raise
            warnings.append(
                "the assume role's policies could not be read (%s): whether it may assume each location's execution "
                "role was not checked" % _aws.error_info(e)["code"]
            )
    result = evaluate_preflight(
        tree,
        locations,
        instances,
        management_account,
        mgmt_ok,
        organization.resolve_accounts,
        stack_set_name=stack_set_name,
        management_stack_name=management_stack_name,
        stack_set_regions=regions,
        problems=problems,
    )
    result["management_stack_exists"] = mgmt_ok
    result["management_role"] = role
    result["stack_set_instances"] = len(instances)
    result["stack_set_regions"] = regions
    result["unreadable_regions"] = (found or {}).get("unreadable") or {}
    result["warnings"] = warnings
    return result


def _denied(error):
    return _aws.error_code(error) in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
