# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS Organizations: the organization, its OU tree, and the accounts a list of targets stands for.

Pure Python over a boto3 ``organizations`` client (plain, or amazon.aws's retrying wrapper, whose retries are
then used). Every list call goes through ``_aws.paginate``, so that each page gets the client's retries.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, validation

# The shared call and pager, kept under their old names for the callers that import them from here.
call = _aws.call
paginate = _aws.paginate


def describe_organization(client):
    """The organization the caller belongs to, snake_case.

    Returns ``{"id", "arn", "master_account_id", "master_account_arn", "master_account_email", "feature_set"}``.
    """
    org = call(client, "describe_organization")["Organization"]
    return {
        "id": org.get("Id"),
        "arn": org.get("Arn"),
        "master_account_id": org.get("MasterAccountId"),
        "master_account_arn": org.get("MasterAccountArn"),
        "master_account_email": org.get("MasterAccountEmail"),
        "feature_set": org.get("FeatureSet"),
    }


def account_state(account):
    """An Account's lifecycle state: ``State``, else the retired ``Status``, else None.

    botocore's organizations model (``Account.Status``) says ``Status`` is retired on 2026-09-09 in favour of
    ``State`` (ACTIVE, SUSPENDED, PENDING_ACTIVATION, PENDING_CLOSURE, CLOSED). AWS returns both until then and only
    ``State`` after, so ``State`` wins when both are present and ``Status`` is read only when ``State`` is absent.
    """
    return account.get("State") or account.get("Status") or None


def list_tree(client):
    """The whole organization: its root, every OU at every depth, and every account with its parent.

    Returns ``{"root_id": "r-..", "ous": {ou_id: {"name", "parent_id"}},
    "accounts": {account_id: {"name", "email", "status", "parent_id"}}}``, where ``status`` is the account's
    ``State`` (or the retired ``Status`` when AWS sends no ``State``; see :func:`account_state`).
    """
    roots = paginate(client, "list_roots", "Roots")
    if not roots:
        raise ValueError("ListRoots returned no root: is this account part of an organization?")
    root_id = roots[0]["Id"]
    ous = {}
    accounts = {}
    pending = [root_id]
    while pending:
        parent = pending.pop(0)
        for ou in paginate(client, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent):
            ous[ou["Id"]] = {"name": ou.get("Name"), "parent_id": parent}
            pending.append(ou["Id"])
        for account in paginate(client, "list_accounts_for_parent", "Accounts", ParentId=parent):
            accounts[account["Id"]] = {
                "name": account.get("Name"),
                "email": account.get("Email"),
                "status": account_state(account),
                "parent_id": parent,
            }
    return {"root_id": root_id, "ous": ous, "accounts": accounts}


def _children(tree):
    children = {}
    for ou_id, ou in tree["ous"].items():
        children.setdefault(ou["parent_id"], []).append(ou_id)
    return children


def _containers(tree, parent_id, include_children, children):
    """``parent_id`` and, with ``include_children``, every OU below it at any depth."""
    found = [parent_id]
    if include_children:
        stack = list(children.get(parent_id, []))
        while stack:
            ou_id = stack.pop()
            found.append(ou_id)
            stack.extend(children.get(ou_id, []))
    return set(found)


def _expand(tree, target, field, include_children, children):
    validation.account_or_ou(target, field)
    if validation.ACCOUNT_ID_RE.match(target):
        if target not in tree["accounts"]:
            raise validation.InvalidInput(field, "account %s is not in the organization" % target)
        return {target}
    if target != tree["root_id"] and target not in tree["ous"]:
        kind = "root" if validation.ROOT_ID_RE.match(target) else "OU"
        raise validation.InvalidInput(
            field, "%s %s is not in the organization (its root is %s)" % (kind, target, tree["root_id"])
        )
    containers = _containers(tree, target, include_children, children)
    return {acct for acct, info in tree["accounts"].items() if info["parent_id"] in containers}


def resolve_accounts(tree, targets, include_children=True, exclude=None):
    """The sorted account ids that ``targets`` (account ids, OU ids or the root id) stand for.

    ``include_children`` False keeps only the accounts directly under each OU. ``exclude`` (account or OU ids) is
    applied after expansion; an excluded OU removes every account below it at any depth. The root stands for every
    account, the management account included. Unknown or malformed ids raise ``validation.InvalidInput`` naming
    ``targets[i]`` or ``exclude[i]``.
    """
    children = _children(tree)
    selected = set()
    for index, target in enumerate(targets or []):
        selected |= _expand(tree, target, "targets[%d]" % index, include_children, children)
    for index, excluded in enumerate(exclude or []):
        selected -= _expand(tree, excluded, "exclude[%d]" % index, True, children)
    return sorted(selected)


def ou_path(tree, ou_id):
    """The names from the root down to ``ou_id``, such as ``Root/Workloads/Prod``."""
    names = []
    current = ou_id
    while current in tree["ous"]:
        names.append(tree["ous"][current]["name"])
        current = tree["ous"][current]["parent_id"]
    names.append("Root")
    return "/".join(reversed(names))
