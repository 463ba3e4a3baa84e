"""Role trust policies, judged as STS does for ``sts:AssumeRole``.

Only the trust (resource) policy of the role is judged; the caller's identity policies are not (the sandbox's
principals are administrators). Explicit Deny wins; otherwise an Allow statement must match the action, the
principal and every condition. Anything not understood does not match, so nothing is admitted by accident.

Principals understood: ``*``, ``{"AWS": "*"}``, an account id or ``arn:aws:iam::<acct>:root`` (any principal of
that account), a role ARN (sessions of that role), a user ARN, an assumed-role session ARN, and service principals
(``{"Service": "ssm.amazonaws.com"}``, only when the caller is that service).

Condition operators: String(Not)Equals(IgnoreCase), String(Not)Like, Arn(Not)Equals, Arn(Not)Like, Bool, Null,
each with the ``...IfExists`` suffix, and the ``ForAnyValue:`` / ``ForAllValues:`` prefixes. Keys: aws:PrincipalOrgID,
aws:PrincipalAccount, aws:PrincipalArn, aws:PrincipalType, aws:SourceArn, aws:SourceAccount, aws:SourceOrgID,
aws:PrincipalServiceName, sts:ExternalId, sts:RoleSessionName, sts:SourceIdentity.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]{1,64})$")
ASSUMED_RE = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([\w+=,.@-]+)/([\w+=,.@-]+)$")
USER_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):user/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$")
ROOT_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")


@dataclass
class Request:
    """Who is asking, with the context keys STS would have."""

    principal_arn: str | None = None  # caller ARN (user, root or assumed-role session)
    account: str | None = None  # caller account
    org_id: str | None = None  # caller account's organization id
    service: str | None = None  # e.g. "ssm.amazonaws.com" when a service assumes the role
    context: dict = field(default_factory=dict)  # extra condition keys (lower-cased)

    def keys(self) -> dict:
        ctx = {}
        if self.principal_arn:
            ctx["aws:principalarn"] = _principal_arn_for_conditions(self.principal_arn)
            ctx["aws:principaltype"] = (
                "AssumedRole"
                if ":assumed-role/" in self.principal_arn
                else "Account"
                if self.principal_arn.endswith(":root")
                else "User"
            )
        if self.account:
            ctx["aws:principalaccount"] = self.account
        if self.org_id:
            ctx["aws:principalorgid"] = self.org_id
        if self.service:
            ctx["aws:principalservicename"] = self.service
        ctx.update({k.lower(): v for k, v in self.context.items() if v is not None})
        return ctx


def _principal_arn_for_conditions(arn: str) -> str:
    """aws:PrincipalArn of an assumed-role session is the role's ARN (AWS global condition keys reference)."""
    m = ASSUMED_RE.match(arn)
    if m:
        return f"arn:aws:iam::{m.group(1)}:role/{m.group(2)}"
    return arn


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _action_matches(actions, wanted: str) -> bool:
    return any(fnmatch.fnmatchcase(wanted.lower(), str(a).lower()) for a in _as_list(actions))


def _aws_principal_matches(entry: str, req: Request) -> bool:
    if req.principal_arn is None or req.account is None:
        return False
    entry = str(entry).strip()
    if entry == "*":
        return True
    if re.fullmatch(r"\d{12}", entry):
        return entry == req.account
    m = ROOT_RE.match(entry)
    if m:
        return m.group(1) == req.account
    m = ROLE_ARN_RE.match(entry)
    if m:
        sess = ASSUMED_RE.match(req.principal_arn)
        return bool(sess) and sess.group(1) == m.group(1) and sess.group(2) == m.group(2)
    if USER_RE.match(entry) or ASSUMED_RE.match(entry):
        return entry == req.principal_arn
    return False


def _principal_matches(principal, req: Request) -> bool:
    if principal == "*":
        return req.principal_arn is not None or req.service is not None
    if not isinstance(principal, dict):
        return False
    for kind, values in principal.items():
        for entry in _as_list(values):
            if kind == "AWS" and _aws_principal_matches(entry, req):
                return True
            if kind == "Service" and req.service is not None and str(entry) == req.service:
                return True
    return False


def _str_eq(a, b, ci=False):
    return a.lower() == b.lower() if ci else a == b


def _like(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _arn_like(value: str, pattern: str) -> bool:
    # ARN matching is per colon-separated field, each field a glob (IAM condition operators reference).
    vparts = value.split(":", 5)
    pparts = pattern.split(":", 5)
    if len(vparts) != 6 or len(pparts) != 6:
        return False
    return all(fnmatch.fnmatchcase(v, p) for v, p in zip(vparts, pparts, strict=True))


_OPERATORS = {
    "stringequals": _str_eq,
    "stringnotequals": lambda v, p: not _str_eq(v, p),
    "stringequalsignorecase": lambda v, p: _str_eq(v, p, True),
    "stringnotequalsignorecase": lambda v, p: not _str_eq(v, p, True),
    "stringlike": _like,
    "stringnotlike": lambda v, p: not _like(v, p),
    "arnequals": _arn_like,
    "arnlike": _arn_like,
    "arnnotequals": lambda v, p: not _arn_like(v, p),
    "arnnotlike": lambda v, p: not _arn_like(v, p),
    "bool": lambda v, p: str(v).lower() == str(p).lower(),
}
_NEGATED = {"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike"}


def _condition_holds(operator: str, key: str, expected, ctx: dict) -> bool:
    op = operator.lower()
    set_op = None
    if op.startswith("foranyvalue:"):
        set_op, op = "any", op.split(":", 1)[1]
    elif op.startswith("forallvalues:"):
        set_op, op = "all", op.split(":", 1)[1]
    if_exists = op.endswith("ifexists")
    if if_exists:
        op = op[: -len("ifexists")]
    actual = ctx.get(key.lower())
    patterns = [str(p) for p in _as_list(expected)]
    if op == "null":
        want_null = str(_as_list(expected)[0]).lower() == "true"
        return (actual is None) == want_null
    fn = _OPERATORS.get(op)
    if fn is None:
        return False  # unknown operator: never admits
    if actual is None:
        return if_exists or (set_op == "all")
    values = [str(v) for v in _as_list(actual)]
    if op in _NEGATED:
        # Negated operators: the value must match none of the patterns.
        return all(all(fn(v, p) for p in patterns) for v in values)
    if set_op == "all":
        return all(any(fn(v, p) for p in patterns) for v in values)
    return any(any(fn(v, p) for p in patterns) for v in values)


def _conditions_hold(condition, ctx: dict) -> bool:
    if not condition:
        return True
    if not isinstance(condition, dict):
        return False
    for operator, pairs in condition.items():
        if not isinstance(pairs, dict):
            return False
        for key, expected in pairs.items():
            if not _condition_holds(operator, key, expected, ctx):
                return False
    return True


def parse_policy(document) -> dict:
    if isinstance(document, dict):
        return document
    text = unquote(document) if isinstance(document, str) and document.startswith("%7B") else document
    return json.loads(text)


def evaluate(document, req: Request, action: str = "sts:AssumeRole") -> tuple[bool, str]:
    """(allowed, reason) for ``req`` performing ``action`` under the trust policy ``document``."""
    try:
        policy = parse_policy(document)
    except (TypeError, ValueError) as exc:
        return False, f"trust policy is not valid JSON: {exc}"
    ctx = req.keys()
    allowed_by = None
    for i, stmt in enumerate(_as_list(policy.get("Statement"))):
        if not isinstance(stmt, dict):
            continue
        if "NotPrincipal" in stmt or "NotAction" in stmt:
            continue  # not modelled: never admits
        if not _action_matches(stmt.get("Action"), action):
            continue
        if not _principal_matches(stmt.get("Principal"), req):
            continue
        if not _conditions_hold(stmt.get("Condition"), ctx):
            continue
        label = stmt.get("Sid") or f"Statement[{i}]"
        if stmt.get("Effect") == "Deny":
            return False, f"explicitly denied by {label}"
        if stmt.get("Effect") == "Allow" and allowed_by is None:
            allowed_by = label
    if allowed_by:
        return True, f"allowed by {allowed_by}"
    return False, "no statement of the trust policy allows this principal"
