"""Identity policies enforced for the caller, as AWS evaluates them: the action AND the resource ARN.

Who is judged (``principal_policies``):

- an **assumed-role session** (credentials from the layer's ``sts:AssumeRole``): the role's inline policies and its
  attached customer managed policies, read from moto's IAM backend of the role's account at every call (a policy
  changed or removed takes effect at once, as on AWS);
- an **IAM user created in the sandbox** (``iam:CreateUser`` + ``iam:CreateAccessKey``): its access keys work on the
  wire (``user_identity``), and the user's inline, attached and group policies are judged the same way. A key
  deleted or made ``Inactive`` stops working at once.

Not judged: the world file's static credentials of the management account (``sandbox-admin``, an administrator as
on AWS, and what every test uses), and the layer's internal calls. With ``credentials.enforce_identity_policies:
false`` in the world file nobody is judged (the behaviour before this module).

How (AWS IAM User Guide, "Policy evaluation logic", identity-based policies in one account): an explicit ``Deny``
in any statement wins; otherwise an ``Allow`` statement must match the action and every resource of the request;
otherwise the request is implicitly denied. Action and resource matching reuse moto's statement matcher
(``moto.iam.access_control.IAMPolicyStatement``, whose own enforcement judges every call against resource ``*``),
here given the real resource ARN (``resources``). Actions are matched case-insensitively (IAM: action names are
not case sensitive). Conditions are judged with the trust evaluator's operators (``sandbox.trust``); a condition it
does not understand does not hold (an Allow does not grant, a Deny does not deny). ``NotResource`` is understood;
``NotAction`` too.

AWS managed policies: moto loads none, and cannot attach them. The role AWS gives an account created in the
organization, ``OrganizationAccountAccessRole``, has ``AdministratorAccess`` on AWS; here it carries an inline
policy of the same content named ``AdministratorAccess`` (``grant_org_access_admin``). Other AWS managed policies
grant nothing (docs/aws-differences.md).

The ARNs of ``resources`` follow the Service Authorization Reference's resource types for the actions the
collection calls; an action without resource-level permissions (or one not listed) is judged against ``*``, which
only a statement with ``Resource: "*"`` matches, as on AWS.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sandbox import trust

ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "allowed by <policy>/<sid>", "explicitly denied by ...", "no identity-based policy allows ..."
    action: str = ""
    resources: tuple = ()
    judged: tuple = ()  # every (action, resource ARNs) the request was judged on, for the request log

    def message(self, principal_arn: str) -> str:
        """AWS's AccessDenied message for this denial (IAM User Guide, "Troubleshoot access denied error messages")."""
        head = f"User: {principal_arn} is not authorized to perform: {self.action} on resource: {', '.join(self.resources)}"
        if self.reason.startswith("explicitly"):
            return f"{head} with an explicit deny in an identity-based policy"
        return f"{head} because {self.reason}"


# -- who --------------------------------------------------------------------------------------------------------------
def principal_policies(sb, ident) -> list[tuple[str, dict]] | None:
    """The identity policies of the caller as (label, document), or None when the caller is not judged."""
    if not (sb.world.credentials or {}).get("enforce_identity_policies", True):
        return None
    source = getattr(ident, "policy_source", None)
    if source is None:
        return None
    kind, account, name = source
    iam = sb.moto_backend("iam", account)
    if kind == "role":
        role = next((r for r in iam.roles.values() if r.name == name), None)
        if role is None:
            return []  # the role was deleted: its sessions keep nothing
        return _documents(role.policies, role.managed_policies)
    user = iam.users.get(name)
    if user is None:
        return []
    out = _documents(user.policies, user.managed_policies)
    for group in iam.get_groups_for_user(name):
        out += _documents(group.policies, group.managed_policies)
    return out


def _documents(inline: dict, managed: dict) -> list[tuple[str, dict]]:
    out = []
    for name, doc in inline.items():
        out.append((name, trust.parse_policy(doc)))
    for arn, policy in managed.items():
        version = next((v for v in getattr(policy, "versions", []) if v.is_default), None)
        text = version.document if version is not None else getattr(policy, "document", None)
        if text:
            out.append((arn.rsplit("/", 1)[-1], trust.parse_policy(text)))
    return out


def user_identity(sb, access_key: str):
    """(account, user name, secret) for an active access key of an IAM user created in the sandbox, or None."""
    from moto.iam.models import iam_backends

    for account in list(sb.world.accounts) + [a for a in iam_backends if a not in sb.world.accounts]:
        try:
            iam = sb.moto_backend("iam", account)
        except KeyError:
            continue
        for user in list(iam.users.values()):
            for key in user.access_keys:
                if key.access_key_id == access_key:
                    if key.status != "Active":
                        return None
                    return account, user.name, key.secret_access_key, user.id
    return None


def grant_org_access_admin(sb, account: str) -> None:
    """``OrganizationAccountAccessRole`` of ``account`` gets ``AdministratorAccess``'s content (see module doc)."""
    sb.client("iam", account, "us-east-1").put_role_policy(
        RoleName=ORG_ACCESS_ROLE, PolicyName="AdministratorAccess", PolicyDocument=json.dumps(ADMIN_POLICY)
    )


# -- judging ----------------------------------------------------------------------------------------------------------
def evaluate(policies: list[tuple[str, dict]], action: str, resources: list[str], context: dict) -> Decision:
    """AWS's evaluation for identity-based policies in one account: explicit Deny wins, then an Allow for every
    resource, else implicit deny."""
    from moto.iam.access_control import IAMPolicyStatement

    allowed: dict[str, str] = {}
    for label, doc in policies:
        for i, stmt in enumerate(_as_list(doc.get("Statement"))):
            if not isinstance(stmt, dict):
                continue
            sid = f"{label}/{stmt.get('Sid') or f'Statement[{i}]'}"
            matcher = IAMPolicyStatement(_lowered_actions(stmt))
            key = "NotAction" if "NotAction" in stmt else "Action"
            hit = matcher._check_element_matches(key, action.lower())  # noqa: SLF001 - moto's matcher, reused
            if hit == (key == "NotAction"):
                continue
            if not trust._conditions_hold(stmt.get("Condition"), context):  # noqa: SLF001 - the shared operators
                continue
            for resource in resources:
                if _resource_matches(matcher, stmt, resource):
                    if stmt.get("Effect") == "Deny":
                        return Decision(False, f"explicitly denied by {sid}")
                    if stmt.get("Effect") == "Allow":
                        allowed.setdefault(resource, sid)
    if resources and all(r in allowed for r in resources):
        return Decision(True, "allowed by " + ", ".join(sorted(set(allowed.values()))))
    return Decision(False, f"no identity-based policy allows the {action} action")


def _lowered_actions(stmt: dict) -> dict:
    out = dict(stmt)
    for key in ("Action", "NotAction"):
        if key in out:
            out[key] = [str(a).lower() for a in _as_list(out[key])]
    return out


def _resource_matches(matcher, stmt: dict, resource: str) -> bool:
    if "NotResource" in stmt:
        return not any(_glob(p, resource) for p in _as_list(stmt["NotResource"]))
    if "Resource" not in stmt:
        return False
    return matcher._check_element_matches("Resource", resource)  # noqa: SLF001 - moto's matcher, reused


def _glob(pattern: str, value: str) -> bool:
    return re.fullmatch(re.escape(str(pattern)).replace(r"\*", ".*").replace(r"\?", "."), value) is not None


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# -- what: the resource ARNs of a request ------------------------------------------------------------------------------
def _name(value: str | None, arn_prefix: str) -> str | None:
    if not value:
        return None
    return value if value.startswith("arn:") else arn_prefix + value


def resources(service: str, action: str, params: dict, account: str, region: str) -> list[str]:
    """The resource ARNs AWS authorizes ``action`` against (Service Authorization Reference), ``["*"]`` when the
    action has no resource-level permissions or is not modelled here."""
    p = params or {}
    if service == "cloudformation":
        stack = f"arn:aws:cloudformation:{region}:{account}:stack/"
        stackset = f"arn:aws:cloudformation:{region}:{account}:stackset/"
        name = p.get("StackName")
        if name and action in _STACK_ACTIONS:
            return [name if name.startswith("arn:") else f"{stack}{name}/*"]
        sset = p.get("StackSetName")
        if sset and action in _STACKSET_ACTIONS:
            return [sset if sset.startswith("arn:") else f"{stackset}{sset}:*"]
        return ["*"]
    if service == "iam":
        if p.get("RoleName") and action != "CreateServiceLinkedRole":
            return [f"arn:aws:iam::{account}:role/{p['RoleName']}"]
        if p.get("UserName"):
            return [f"arn:aws:iam::{account}:user/{p['UserName']}"]
        if p.get("PolicyArn"):
            return [p["PolicyArn"]]
        if action == "SimulatePrincipalPolicy" and p.get("PolicySourceArn"):
            return [p["PolicySourceArn"]]
        return ["*"]
    if service == "sts":
        if action == "AssumeRole" and p.get("RoleArn"):
            return [p["RoleArn"]]
        return ["*"]
    if service == "ssm":
        return _ssm_resources(action, p, account, region)
    return ["*"]


_STACK_ACTIONS = frozenset(
    {
        "CreateStack",
        "UpdateStack",
        "DeleteStack",
        "DescribeStacks",
        "DescribeStackEvents",
        "DescribeStackResource",
        "DescribeStackResources",
        "ListStackResources",
        "GetTemplate",
        "GetTemplateSummary",
        "CreateChangeSet",
        "DescribeChangeSet",
        "DeleteChangeSet",
        "ExecuteChangeSet",
        "ListChangeSets",
        "UpdateTerminationProtection",
    }
)
_STACKSET_ACTIONS = frozenset(
    {
        "CreateStackSet",
        "UpdateStackSet",
        "DeleteStackSet",
        "DescribeStackSet",
        "DescribeStackSetOperation",
        "ListStackInstances",
        "DescribeStackInstance",
        "CreateStackInstances",
        "UpdateStackInstances",
        "DeleteStackInstances",
        "ListStackSetOperations",
        "ListStackSetOperationResults",
        "StopStackSetOperation",
        "DetectStackSetDrift",
    }
)
_SSM_DOCUMENT_ACTIONS = frozenset(
    {
        "CreateDocument",
        "UpdateDocument",
        "DeleteDocument",
        "DescribeDocument",
        "GetDocument",
        "ListDocumentVersions",
        "UpdateDocumentDefaultVersion",
        "DescribeDocumentPermission",
        "ModifyDocumentPermission",
        "UpdateDocumentMetadata",
        "ListDocumentMetadataHistory",
    }
)
_SSM_EXECUTION_ACTIONS = frozenset(
    {"GetAutomationExecution", "DescribeAutomationStepExecutions", "StopAutomationExecution", "SendAutomationSignal"}
)


def _document_arn(name: str, account: str, region: str) -> str:
    if name.startswith("arn:"):
        return name
    owner = "" if name.startswith(("AWS-", "AWSSupport-", "AWSEC2-", "AWSConfigRemediation-")) else account
    return f"arn:aws:ssm:{region}:{owner}:document/{name}"


def _ssm_resources(action: str, p: dict, account: str, region: str) -> list[str]:
    if action in _SSM_DOCUMENT_ACTIONS and p.get("Name"):
        return [_document_arn(p["Name"], account, region)]
    if action in ("AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource") and p.get("ResourceId"):
        if p.get("ResourceType") == "Document":
            return [_document_arn(p["ResourceId"], account, region)]
        return ["*"]
    if action in _SSM_EXECUTION_ACTIONS and p.get("AutomationExecutionId"):
        return [f"arn:aws:ssm:{region}:{account}:automation-execution/{p['AutomationExecutionId']}"]
    if action == "StartAutomationExecution" and p.get("DocumentName"):
        doc = p["DocumentName"]
        if doc.startswith("arn:"):
            doc = doc.split(":document/", 1)[-1]
        owner = "" if _document_arn(doc, account, region).split(":")[4] == "" else account
        version = p.get("DocumentVersion") or "$DEFAULT"
        return [f"arn:aws:ssm:{region}:{owner}:automation-definition/{doc}:{version}"]
    return ["*"]


def extra_checks(service: str, action: str, params: dict) -> list[tuple[str, list[str]]]:
    """Further (action, resources) a request needs: ``iam:PassRole`` on the role a StartAutomationExecution
    passes (``AutomationAssumeRole``), as AWS checks it (Systems Manager User Guide, "Configuring a service role
    for Automation": the user needs iam:PassRole for the role)."""
    if service == "ssm" and action == "StartAutomationExecution":
        roles = (params.get("Parameters") or {}).get("AutomationAssumeRole") or []
        roles = [r for r in _as_list(roles) if isinstance(r, str) and r.startswith("arn:")]
        if roles:
            return [("iam:PassRole", roles)]
    return []


def requested(service: str, action: str, params: dict, account: str, region: str) -> list[tuple[str, list[str]]]:
    """Every (IAM action, resource ARNs) a request needs: its own, then the extra ones (``extra_checks``)."""
    if (service, action) in NO_PERMISSION_NEEDED:
        return []
    wanted = [(f"{service}:{action}", resources(service, action, params, account, region))]
    return wanted + extra_checks(service, action, params)


def with_role_paths(sb, wanted: list[tuple[str, list[str]]], account: str) -> list[tuple[str, list[str]]]:
    """An IAM request names a role by ``RoleName`` alone, but AWS authorizes it against the role's ARN, which holds
    its path (Service Authorization Reference, IAM resource type ``role``:
    ``arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}``): the ARN of an existing role is its real one."""
    prefix = f"arn:aws:iam::{account}:role/"
    out = []
    for full_action, arns in wanted:
        fixed = list(arns)
        if full_action.startswith("iam:"):
            for i, arn in enumerate(arns):
                name = arn[len(prefix) :] if arn.startswith(prefix) else ""
                role = sb.find_role(account, name) if name and "/" not in name else None
                if role is not None:
                    fixed[i] = role.arn
        out.append((full_action, fixed))
    return out


def check(sb, ident, service: str, action: str, params: dict, region: str) -> Decision | None:
    """None when the caller is not judged; else the decision for the request and every extra permission it
    needs (the first denial wins)."""
    policies = principal_policies(sb, ident)
    if policies is None:
        return None
    context = {
        "aws:principalarn": trust._principal_arn_for_conditions(ident.principal_arn),  # noqa: SLF001
        "aws:principalaccount": ident.account_id,
        "aws:requestedregion": region,
    }
    org_id = sb.organization_id_of(ident.account_id)
    if org_id:
        context["aws:principalorgid"] = org_id
    if (service, action) in NO_PERMISSION_NEEDED:
        return Decision(True, "no permission is needed", f"{service}:{action}", ("*",))
    wanted = with_role_paths(sb, requested(service, action, params, ident.account_id, region), ident.account_id)
    judged = tuple((a, tuple(arns)) for a, arns in wanted)
    last = None
    for full_action, arns in wanted:
        ctx = context
        if full_action == "iam:PassRole":  # the service the role is passed to (IAM condition key iam:PassedToService)
            ctx = {**context, "iam:passedtoservice": f"{service}.amazonaws.com"}
        last = evaluate(policies, full_action, arns, ctx)
        last = Decision(last.allowed, last.reason, full_action, tuple(arns), judged)
        if not last.allowed:
            return last
    return last


# STS GetCallerIdentity: "No permissions are required to perform this operation" (STS API reference).
NO_PERMISSION_NEEDED = frozenset({("sts", "GetCallerIdentity")})


def install(sb) -> None:
    """``OrganizationAccountAccessRole`` gets AdministratorAccess's content wherever it is made: by the world build
    (iam:CreateRole) and by organizations:CreateAccount at runtime (moto makes the role itself)."""

    def role_created(call, _response) -> None:
        name = call.raw_params.get("RoleName") or (call.params or {}).get("RoleName")
        if name == ORG_ACCESS_ROLE:
            grant_org_access_admin(sb, call.account_id)

    def account_created(call, response) -> None:
        if call.internal:
            return  # the world build renames the account and makes the role through iam:CreateRole
        try:
            account = json.loads(response)["CreateAccountStatus"]["AccountId"]
        except (TypeError, ValueError, KeyError):
            return
        if sb.find_role(account, ORG_ACCESS_ROLE) is not None:
            grant_org_access_admin(sb, account)

    sb.after("iam", "CreateRole", role_created)
    sb.after("organizations", "CreateAccount", account_created)
    from sandbox import iam_simulate

    iam_simulate.install(sb)
