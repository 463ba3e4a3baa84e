# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight: which accounts each location reaches, and whether each has the execution role (read-only; private)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, organization, stack_set, validation
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.common import (
    DEFAULT_EXECUTION_ROLE,
    DEFAULT_EXECUTION_STACK_SET,
    DEFAULT_MANAGEMENT_STACK,
    _plural,
)


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
