"""STS served by the layer: AssumeRole judged against the role's real trust policy, GetCallerIdentity.

AWS behaviour reproduced (STS API reference, AssumeRole):
- a role that does not exist, or whose trust policy does not admit the caller, answers ``AccessDenied`` (403)
  "User: <caller arn> is not authorized to perform: sts:AssumeRole on resource: <role arn>";
- DurationSeconds is 900..MaxSessionDuration (ValidationError otherwise), and at most 3600 when the caller is
  itself an assumed role (role chaining);
- the credentials are ``ASIA...`` keys with a session token and an expiration; calls with them after expiry
  answer ``ExpiredTokenException`` / ``ExpiredToken``.
"""

from __future__ import annotations

import datetime as _dt
import re

from sandbox import trust
from sandbox.server import AwsError, Call

SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")


def install(sb) -> None:
    sb.register("sts", "AssumeRole", lambda call: assume_role(sb, call))
    sb.register("sts", "GetCallerIdentity", lambda call: get_caller_identity(sb, call))


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", message, 400)


def assume_role(sb, call: Call) -> dict:
    p = call.params
    role_arn = p.get("RoleArn")
    session = p.get("RoleSessionName")
    if not role_arn or len(role_arn) < 20:
        raise _validation(
            "1 validation error detected: Value at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"
        )
    if not session or not SESSION_NAME_RE.match(session):
        raise _validation(
            "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )
    duration = int(p.get("DurationSeconds", 3600))
    if duration < 900:
        raise _validation(
            "1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: "
            "Member must have value greater than or equal to 900" % duration
        )
    denied = AwsError(
        "AccessDenied",
        f"User: {call.principal_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        403,
    )
    m = trust.ROLE_ARN_RE.match(role_arn)
    if not m:
        raise _validation(f"{role_arn} is invalid")
    account, name = m.group(1), m.group(2)
    role = sb.find_role(account, name)
    if role is None:
        raise denied
    context = {
        "sts:RoleSessionName": session,
        "sts:ExternalId": p.get("ExternalId"),
        "sts:SourceIdentity": p.get("SourceIdentity"),
    }
    allowed, _reason = sb.can_assume(role_arn, call.principal_arn, context=context)
    if not allowed:
        raise denied
    max_duration = int(getattr(role, "max_session_duration", 3600) or 3600)
    if duration > max_duration:
        raise _validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    if ":assumed-role/" in call.principal_arn and duration > 3600:
        raise _validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
        )

    reported = float(duration)
    cap = sb.world.credentials.get("assumed_role_expiry_seconds")
    if cap:
        reported = min(reported, float(cap))
    lifetime = reported
    # Fault: the credentials stop working early, while the reported Expiration stays what was asked for.
    fault = sb.faults.value("credential_expiry_seconds", "sts", "AssumeRole", account, call.region)
    if fault is not None:
        lifetime = min(lifetime, fault)
    access_key, ident = sb.issue_credentials(account, f"arn:aws:iam::{account}:role/{name}", session, role.id, lifetime)
    now = _dt.datetime.now(_dt.UTC)
    out = {
        "Credentials": {
            "AccessKeyId": access_key,
            "SecretAccessKey": ident.secret_key,
            "SessionToken": ident.session_token,
            "Expiration": now + _dt.timedelta(seconds=reported),
        },
        "AssumedRoleUser": {"AssumedRoleId": ident.user_id, "Arn": ident.principal_arn},
    }
    if p.get("Policy") or p.get("PolicyArns"):
        out["PackedPolicySize"] = 6
    if p.get("SourceIdentity"):
        out["SourceIdentity"] = p["SourceIdentity"]
    return out


def get_caller_identity(sb, call: Call) -> dict:
    ident = sb.identities.get(call.access_key) or sb.user_identity(call.access_key)
    user_id = ident.user_id if ident else call.account_id
    return {"UserId": user_id, "Account": call.account_id, "Arn": call.principal_arn}
