"""Organizations, where moto is not AWS: who may call what, and keeping the world view in step.

- Member accounts may call ``DescribeOrganization`` (AWS Organizations API reference: "This operation can be called
  from any account in the organization"); every other Organizations operation answers
  ``AccessDeniedException`` "You don't have permissions to access this resource." from a member account, as AWS
  does for accounts that are not the management account (delegated administrators are not modelled).
  moto alone would answer with empty lists or an ``AWSOrganizationsNotInUseException``.
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


def install(sb) -> None:
    from sandbox import protocols

    def guard(call: Call) -> dict:
        if call.account_id != sb.world.management_account_id and call.action not in MEMBER_ALLOWED:
            raise AwsError("AccessDeniedException", "You don't have permissions to access this resource.", 400)
        raise PassThrough()

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
