"""IAM SimulatePrincipalPolicy, served by the layer (moto does not implement it), as AWS answers it.

Sources: botocore's iam model (SimulatePrincipalPolicy, SimulatePolicyResponse, EvaluationResult,
ResourceSpecificResult) and the IAM API reference:

- ``PolicySourceArn`` is a user, group or role; for a user, its groups' policies are included. An entity that does
  not exist answers ``NoSuchEntity`` (404).
- ``ResourceArns`` defaults to ``*``; "each API in the ActionNames parameter is evaluated for each resource".
- The current model's EvaluationResult documentation: "The simulator now returns a single EvaluationResult per
  action, regardless of how many resource ARNs are provided"; its ``EvalDecision`` "reflects the most restrictive
  decision across all resources" (explicitDeny over implicitDeny over allowed) and the per-resource decisions are in
  ``ResourceSpecificResults``. ``EvalResourceName`` is AWS's ARN template of the resource type, or ``*``; the
  sandbox has no templates and answers ``*`` (docs/aws-differences.md).
- ``EvalDecision`` is one of ``allowed``, ``explicitDeny``, ``implicitDeny`` (the model's enum).
- Paging: ``MaxItems`` (1..1000, IAM's default 100) and ``Marker``; ``IsTruncated`` and ``Marker`` in the answer.
- ``ContextEntries`` give the values of condition keys (``iam:PassedToService``...).

The decision itself is the sandbox's identity-policy evaluation (``iam_enforcement.evaluate``): the same one every
call of a judged principal gets, so a simulation and the real call agree. Only identity policies are simulated
(no resource policy, no permissions boundary, no SCP): the collection passes none.
"""

from __future__ import annotations

import re

from sandbox import iam_enforcement
from sandbox.server import AwsError, Call

ENTITY_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(user|role|group)/(?:.*/)?([\w+=,.@-]+)$")
DEFAULT_MAX_ITEMS = 100  # IAM's default page size (IAM API reference, "MaxItems")
RANK = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}


def install(sb) -> None:
    sb.register("iam", "SimulatePrincipalPolicy", lambda call: simulate_principal_policy(sb, call))


def _entity_policies(sb, arn: str) -> list[tuple[str, dict]]:
    m = ENTITY_RE.match(arn or "")
    if not m:
        raise AwsError("InvalidInput", f"ARN {arn} is not valid.", 400)
    account, kind, name = m.groups()
    try:
        iam = sb.moto_backend("iam", account)
    except KeyError as exc:
        raise AwsError("NoSuchEntity", f"The {kind} with name {name} cannot be found.", 404) from exc
    if kind == "role":
        role = next((r for r in iam.roles.values() if r.name == name and r.arn == arn), None)
        if role is None:
            raise AwsError("NoSuchEntity", f"The role with name {name} cannot be found.", 404)
        return iam_enforcement._documents(role.policies, role.managed_policies)  # noqa: SLF001
    if kind == "group":
        group = next((g for g in iam.groups.values() if g.name == name), None)
        if group is None:
            raise AwsError("NoSuchEntity", f"The group with name {name} cannot be found.", 404)
        return iam_enforcement._documents(group.policies, group.managed_policies)  # noqa: SLF001
    user = iam.users.get(name)
    if user is None:
        raise AwsError("NoSuchEntity", f"The user with name {name} cannot be found.", 404)
    if account == sb.world.management_account_id and name == sb.world.management_user:
        # the world's static management credentials: an administrator, as iam_enforcement treats them
        return [("AdministratorAccess", iam_enforcement.ADMIN_POLICY)]
    out = iam_enforcement._documents(user.policies, user.managed_policies)  # noqa: SLF001
    for group in iam.get_groups_for_user(name):
        out += iam_enforcement._documents(group.policies, group.managed_policies)  # noqa: SLF001
    return out


def _decision(decision) -> str:
    if decision.allowed:
        return "allowed"
    return "explicitDeny" if decision.reason.startswith("explicitly") else "implicitDeny"


def _context(entries, account: str) -> dict:
    ctx = {"aws:principalaccount": account}
    for entry in entries or []:
        values = entry.get("ContextKeyValues") or []
        if entry.get("ContextKeyName") and values:
            ctx[entry["ContextKeyName"].lower()] = values[0] if len(values) == 1 else values
    return ctx


def simulate_principal_policy(sb, call: Call) -> dict:
    p = call.params
    source = p.get("PolicySourceArn")
    actions = list(p.get("ActionNames") or [])
    resources = list(p.get("ResourceArns") or []) or ["*"]
    policies = _entity_policies(sb, source)
    account = ENTITY_RE.match(source).group(1)
    ctx = _context(p.get("ContextEntries"), account)
    results = []
    for action in actions:
        per_resource = []
        for resource in resources:
            decision = _decision(iam_enforcement.evaluate(policies, action, [resource], ctx))
            per_resource.append(
                {"EvalResourceName": resource, "EvalResourceDecision": decision, "MatchedStatements": []}
            )
        overall = max((r["EvalResourceDecision"] for r in per_resource), key=RANK.__getitem__)
        results.append(
            {
                "EvalActionName": action,
                "EvalResourceName": "*",
                "EvalDecision": overall,
                "MatchedStatements": [],
                "MissingContextValues": [],
                "ResourceSpecificResults": per_resource,
            }
        )
    start = int(p.get("Marker") or 0)
    size = int(p.get("MaxItems") or DEFAULT_MAX_ITEMS)
    page = results[start : start + size]
    out = {"EvaluationResults": page, "IsTruncated": start + size < len(results)}
    if out["IsTruncated"]:
        out["Marker"] = str(start + size)
    return out
