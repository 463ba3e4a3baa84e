"""Organizations, where moto is not AWS: who may call what, and keeping the world view in step.

- Member accounts may call ``DescribeOrganization`` (AWS Organizations API reference: "This operation can be called
  from any account in the organization"); every other Organizations operation answers
  ``AccessDeniedException`` "You don't have permissions to access this resource." from a member account, as AWS
  does for accounts that are not the management account (delegated administrators are not modelled).
  moto alone would answer with empty lists or an ``AWSOrganizationsNotInUseException``.
- ``Account.Status`` is retired on 2026-09-09 in favour of ``State`` (botocore organizations model, the
  documentation of ``Account.Status``). moto sends both; with the world's ``organization.legacy_account_status:
  false`` (the demo world) the Account objects of ``DescribeAccount``, ``ListAccounts``, ``ListAccountsForParent``
  and ``ListAccountsWithInvalidEffectivePolicy`` carry ``State`` only, as AWS will, so a caller still reading
  ``Status`` fails its tests.
- After MoveAccount / CreateAccount / RemoveAccountFromOrganization / CloseAccount, the :class:`World` object
  (``world.accounts``) is updated, so ``World.descendants`` follows the organization as it changes.
"""

from __future__ import annotations

import json

from sandbox.server import AwsError, Call, PassThrough
from sandbox.world import Account

MEMBER_ALLOWED = frozenset(
    {"DescribeOrganization", "LeaveOrganization", "AcceptHandshake", "DeclineHandshake", "ListHandshakesForAccount"}
)
# The operations whose output holds Account objects (derived from the model in sandbox/tests/test_fidelity_organizations.py).
ACCOUNT_OUTPUTS = {
    "DescribeAccount": "Account",
    "ListAccounts": "Accounts",
    "ListAccountsForParent": "Accounts",
    "ListAccountsWithInvalidEffectivePolicy": "Accounts",
}


def without_status(body: dict, key: str) -> dict:
    """``body`` with the retired ``Status`` removed from its Account object(s) under ``key``."""
    value = body.get(key)
    for account in value if isinstance(value, list) else [value] if isinstance(value, dict) else []:
        account.pop("Status", None)
    return body


def install(sb) -> None:
    from sandbox import protocols

    def guard(call: Call) -> dict:
        if call.account_id != sb.world.management_account_id and call.action not in MEMBER_ALLOWED:
            raise AwsError("AccessDeniedException", "You don't have permissions to access this resource.", 400)
        key = ACCOUNT_OUTPUTS.get(call.action)
        if key is None or sb.world.legacy_account_status:
            raise PassThrough()
        return without_status(call.forward_json(), key)

    for op in protocols.service_model("organizations").operation_names:
        sb.register("organizations", op, guard)

    def moved(call: Call, _response) -> None:
        acct = sb.world.accounts.get(call.params.get("AccountId"))
        if acct is not None:
            acct.parent_id = call.params.get("DestinationParentId", acct.parent_id)

    def created(call: Call, response) -> None:
        if call.internal:
            return  # the world build adds its accounts itself, under the world's ids
        try:
            status = json.loads(response)["CreateAccountStatus"]
        except (TypeError, ValueError, KeyError):
            return
        aid = status.get("AccountId")
        if aid and aid not in sb.world.accounts:
            sb.world.accounts[aid] = Account(
                aid, call.params.get("AccountName", aid), call.params.get("Email", ""), sb.world.root_id
            )

    def removed(call: Call, _response) -> None:
        sb.world.accounts.pop(call.params.get("AccountId"), None)

    sb.after("organizations", "MoveAccount", moved)
    sb.after("organizations", "CreateAccount", created)
    sb.after("organizations", "RemoveAccountFromOrganization", removed)
    sb.after("organizations", "CloseAccount", removed)
