"""The organization's tree, walked in one place for the whole sandbox: the accounts under an OU or the root.

Used by the Automation engine (TargetLocations with OU ids, ExcludeAccounts), by StackSets (service-managed
deployment targets) and by the world model (``World.descendants``).  Each passes how to read one level of its tree
(``children``); the walk and its order are this module's.

Order (AWS documents none; the sandbox's choice, docs/sandbox-engine.md): with child OUs, each child OU first (depth
first, in the order the tree lists them), then the accounts directly under the OU, so the management account,
directly under the root, comes last.
"""

from __future__ import annotations

from collections.abc import Callable

Children = Callable[[str], tuple[list[str], list[str]]]


def accounts_under(parent_id: str, children: Children, include_children: bool = True) -> list[str]:
    """Account ids under ``parent_id`` (an OU or the root); only those directly under it without ``include_children``."""
    found: list[str] = []
    stack: list[tuple[str, bool]] = [(parent_id, False)]
    # Iterative post-order walk: an OU's children (pushed last, popped first) before its own accounts.
    while stack:
        node, expanded = stack.pop()
        accounts, ous = children(node)
        if expanded or not include_children or not ous:
            found.extend(accounts)
            continue
        stack.append((node, True))
        stack.extend((ou, False) for ou in reversed(ous))
    return found


def moto_children(org_backend, active_only: bool = True) -> Children:
    """``children`` over moto's Organizations backend (its accounts and OUs, in creation order); with
    ``active_only``, accounts whose Status is not ACTIVE are left out (suspended or pending closure)."""
    by_parent_accounts: dict[str, list[str]] = {}
    by_parent_ous: dict[str, list[str]] = {}
    if getattr(org_backend, "org", None) is not None:
        for acct in org_backend.accounts:
            if active_only and getattr(acct, "status", "ACTIVE") != "ACTIVE":
                continue
            by_parent_accounts.setdefault(acct.parent_id, []).append(acct.id)
        for ou in org_backend.ou:
            if getattr(ou, "type", "") != "ROOT" and ou.parent_id is not None:
                by_parent_ous.setdefault(ou.parent_id, []).append(ou.id)
    return lambda parent: (by_parent_accounts.get(parent, []), by_parent_ous.get(parent, []))


def moto_node_exists(org_backend, node_id: str) -> bool:
    """``node_id`` is an OU or the root of moto's organization."""
    return getattr(org_backend, "org", None) is not None and any(ou.id == node_id for ou in org_backend.ou)
