# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles the execution_roles role would create that already exist, made by something else (read-only).

IAM is global: a role with a fixed name (``RoleName`` in the template) exists once per account, whatever the region
of the stack that made it. A stack of ours that would create it fails with ``EntityAlreadyExists`` (a StackSet
instance: "already exists") after the role has changed other things. This module finds such roles before any
write, says which stack or StackSet owns them, and decides per conflict: fail with the variable to set, or use the
role as it is (the stack or StackSet of ours that would create it is not deployed).

- Management account: ``iam:GetRole`` for each role one of our plain stacks would create. Its owner: the
  ``aws:cloudformation:stack-id`` tag when present, else ``cloudformation:DescribeStackResources`` with
  ``PhysicalResourceId`` = the role name, region by region (the execution_roles region first). AWS documents that
  CloudFormation tags what it creates with ``aws:cloudformation:stack-name``/``stack-id``, but IAM roles do not
  get them (open issues aws-cloudformation/cloudformation-coverage-roadmap#277, #1159, #1966), so the tag is only a
  shortcut, never required. A role no stack owns was made by hand (or by a stack in a region that could not be read:
  those regions are named).
- Member accounts: every StackSet (any name, every region, with the configured ``CallAs``) whose template creates a
  role of the same name (``DescribeStackSet``'s ``TemplateBody``, CloudFormation short forms understood), and our
  own StackSet's instances in regions other than the ones asked for. A role made by hand in a member account, or by a
  plain stack there, cannot be seen from the management account without assuming a role in each account: such a role
  still fails the StackSet instance with "already exists", reported by the StackSet operation, not here.

Pure Python over boto3 clients; no Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, organization, stack_set, validation
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.preflight import (
    find_role,
    search_regions,
)

ON_EXISTING = ("fail", "use")
STACK_ID_TAG = "aws:cloudformation:stack-id"
# A resource of a stack that no longer holds it (deleted stack, or DeletionPolicy Retain): the role is nobody's.
_RELEASED = ("DELETE_COMPLETE", "DELETE_SKIPPED")
_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
# What AWS answers a call to a region the account has not enabled (opt-in regions; AWS General Reference, "Managing
# AWS Regions"): the credentials are not valid there. Such a region, when it is not one the caller named, is skipped
# without a warning: nothing can have been deployed to it.
NOT_ENABLED = ("InvalidClientTokenId", "UnrecognizedClientException", "OptInRequired", "AuthFailure")


def _unreachable_or_refused(error):
    """An AWS error answer, or no answer at all (no endpoint, no connection): the region is skipped and named."""
    if getattr(error, "response", None):
        return True
    try:
        import botocore.exceptions

        return isinstance(error, botocore.exceptions.BotoCoreError)
    except ImportError:  # pragma: no cover
        return False


def fixed_role_names(template_body, parameters=None, field="template_body"):
    """The names of the ``AWS::IAM::Role`` resources a template creates with a fixed name (parameters resolved)."""
    template = stack_set.parse_template(template_body, field)
    return sorted(
        {
            r["name"]
            for r in stack_set.global_named_resources(template, parameters)
            if r["type"] == "AWS::IAM::Role" and r["name"]
        }
    )


def ordered_regions(first_region, regions, partition="aws"):
    """Every region to search: ``first_region``, then ``regions``, then every other region botocore knows for
    CloudFormation in the partition."""
    preferred, others = search_regions(first_region, [{"regions": regions or []}], partition)
    return preferred + others


def stack_id_parts(stack_id):
    """``{"region", "stack_name", "stack_id"}`` of a stack ARN (``arn:aws:cloudformation:R:A:stack/NAME/ID``)."""
    parts = (stack_id or "").split(":", 5)
    if len(parts) < 6 or not parts[5].startswith("stack/"):
        return None
    return {"region": parts[3], "stack_name": parts[5].split("/")[1], "stack_id": stack_id}


def stack_owning(cfn_for, regions, physical_id, resource_type="AWS::IAM::Role"):
    """The stack that holds the resource ``physical_id`` (DescribeStackResources with PhysicalResourceId), searched
    region by region in order. Returns ``({"region", "stack_name", "stack_id", "logical_id"} or None, unreadable)``;
    ``unreadable`` is ``{region: {"code", "message"}}`` for the regions that could not be read."""
    unreadable = {}
    for region in regions:
        try:
            resources = _aws.call(cfn_for(region), "describe_stack_resources", PhysicalResourceId=physical_id)
        except Exception as e:  # pylint: disable=broad-except
            # AWS answers a physical id no stack holds with ValidationError "Stack for <id> does not exist"
            if _aws.error_code(e) == "ValidationError":
                continue
            if not _unreachable_or_refused(e):
                raise
            unreadable[region] = _aws.error_info(e)
            continue
        for res in resources.get("StackResources") or []:
            if (
                res.get("PhysicalResourceId") == physical_id
                and res.get("ResourceType") == resource_type
                and res.get("ResourceStatus") not in _RELEASED
            ):
                return {
                    "region": region,
                    "stack_name": res.get("StackName"),
                    "stack_id": res.get("StackId"),
                    "logical_id": res.get("LogicalResourceId"),
                }, unreadable
    return None, unreadable


def management_conflicts(iam, cfn_for, stacks, region, regions):
    """The roles our management-account ``stacks`` would create that exist and are not that stack's, in ``region``.

    ``stacks``: ``[{"name", "roles": [role names], "name_variable"}]``; ``regions``: where to look for the owner,
    in order. Returns ``(conflicts, unreadable)``.
    """
    conflicts = []
    unreadable = {}
    for stack in stacks:
        for role_name in stack.get("roles") or []:
            try:
                found = find_role(iam, role_name)
            except Exception as e:  # pylint: disable=broad-except
                if _aws.error_code(e) not in _DENIED:
                    raise
                unreadable["iam:GetRole %s" % role_name] = _aws.error_info(e)
                continue
            if found is None:
                continue
            owner = stack_id_parts(found.get("stack_id"))
            if owner is None:
                owner, more = stack_owning(cfn_for, regions, role_name)
                unreadable.update(more)
            if owner and owner["stack_name"] == stack["name"] and owner["region"] == region:
                continue  # the stack of ours, where we manage it: an update, not a conflict
            conflicts.append(
                {
                    "role_name": role_name,
                    "scope": "management_account",
                    "accounts": [_account_of(found.get("arn"))],
                    "role_arn": found.get("arn"),
                    "wanted_by": {
                        "kind": "stack",
                        "name": stack["name"],
                        "region": region,
                        "name_variable": stack.get("name_variable"),
                    },
                    "owner": dict(owner, kind="stack") if owner else {"kind": "none"},
                }
            )
    return conflicts, unreadable


def _account_of(arn):
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 4 else None


def member_conflicts(cfn_for, stack_sets, region, deploy_regions, regions, call_as="SELF", target_accounts=None):
    """The StackSets (any name, every region in ``regions``) that already deploy, to accounts we target, a role one
    of our ``stack_sets`` would create; and our own StackSet's instances in regions other than ``deploy_regions``.

    ``stack_sets``: ``[{"name", "roles", "name_variable"}]``; ``region``: where ours live (their administration
    region); ``target_accounts``: the accounts our StackSets reach (None: every account counts). Returns
    ``(conflicts, unreadable, notes)``.
    """
    wanted = {}
    for ours in stack_sets:
        for role_name in ours.get("roles") or []:
            wanted.setdefault(role_name, ours)
    conflicts, unreadable, notes = [], {}, []
    if not wanted:
        return conflicts, unreadable, notes
    kwargs = {"CallAs": call_as} if call_as and call_as != "SELF" else {}
    for here in regions:
        cfn = cfn_for(here)
        try:
            summaries = _aws.paginate(cfn, "list_stack_sets", "Summaries", Status="ACTIVE", **kwargs)
        except Exception as e:  # pylint: disable=broad-except
            if not _unreachable_or_refused(e):
                raise
            unreadable[here] = _aws.error_info(e)
            continue
        for summary in summaries:
            name = summary.get("StackSetName")
            ours = next((s for s in stack_sets if s["name"] == name), None)
            try:
                if ours is not None and here == region:
                    conflicts.extend(_own_other_regions(cfn, ours, region, deploy_regions, call_as, target_accounts))
                    continue
                described = stack_set.describe_stack_set(cfn, name, call_as)
                if not described:
                    continue
                try:
                    names = fixed_role_names(described["template_body"], described["parameters"])
                except validation.InvalidInput as e:
                    notes.append("StackSet %s in %s: its template could not be read (%s)" % (name, here, e))
                    continue
                clash = [n for n in names if n in wanted]
                if not clash:
                    continue
                instances = stack_set.list_stack_instances(cfn, name, call_as)
            except _aws.OrgOpsAWSError as e:
                unreadable["%s (StackSet %s)" % (here, name)] = _aws.error_info(e)
                continue
            accounts = _overlap(instances, target_accounts)
            if not accounts:
                continue
            owner = {
                "kind": "stack_set",
                "name": name,
                "region": here,
                "permission_model": described.get("permission_model"),
                "organizational_unit_ids": described.get("organizational_unit_ids") or [],
                "regions": sorted({i["region"] for i in instances if i.get("region")}),
            }
            for role_name in clash:
                conflicts.append(_member_conflict(role_name, wanted[role_name], region, accounts, owner))
    return conflicts, unreadable, notes


def _overlap(instances, target_accounts):
    accounts = {i["account"] for i in instances if i.get("account")}
    if target_accounts is not None:
        accounts &= set(target_accounts)
    return sorted(accounts)


def _member_conflict(role_name, ours, region, accounts, owner):
    return {
        "role_name": role_name,
        "scope": "member_accounts",
        "accounts": accounts,
        "role_arn": None,
        "wanted_by": {
            "kind": "stack_set",
            "name": ours["name"],
            "region": region,
            "name_variable": ours.get("name_variable"),
        },
        "owner": owner,
    }


def _own_other_regions(cfn, ours, region, deploy_regions, call_as, target_accounts):
    """Our StackSet, where we manage it, with instances outside ``deploy_regions``: adding a region makes a second
    stack per account that fails with "already exists" (the first region's already created the role)."""
    instances = stack_set.list_stack_instances(cfn, ours["name"], call_as)
    outside = [i for i in instances if i.get("region") not in (deploy_regions or [])]
    if not outside:
        return []
    covered = {i["account"] for i in instances if i.get("region") in (deploy_regions or [])}
    accounts = [a for a in _overlap(outside, target_accounts) if a not in covered]
    if not accounts:
        return []
    described = stack_set.describe_stack_set(cfn, ours["name"], call_as) or {}
    owner = {
        "kind": "stack_set",
        "name": ours["name"],
        "region": region,
        "permission_model": described.get("permission_model"),
        "organizational_unit_ids": described.get("organizational_unit_ids") or [],
        "regions": sorted({i["region"] for i in outside}),
    }
    return [_member_conflict(n, ours, region, accounts, owner) for n in ours.get("roles") or []]


def target_accounts_of(tree, target_ous, management_account_id=None):
    """The accounts a SERVICE_MANAGED StackSet targeting ``target_ous`` reaches (never the management account)."""
    if not tree:
        return None
    return [a for a in organization.resolve_accounts(tree, target_ous or []) if a != management_account_id]


def _where(owner):
    if owner["kind"] == "none":
        return "made outside CloudFormation (by hand, or by a stack in a region that could not be read)"
    if owner["kind"] == "stack":
        return "made by the stack %s in %s" % (owner["stack_name"], owner["region"])
    targets = owner.get("organizational_unit_ids") or []
    return "made by the StackSet %s (administration region %s%s), whose instances in %s create it" % (
        owner["name"],
        owner["region"],
        ", targets %s" % ", ".join(targets) if targets else "",
        ", ".join(owner.get("regions") or []) or "(no region)",
    )


def fixes(conflict, variables):
    """What the user can set, each ``variable: value``, the first the most likely."""
    v = dict(variables or {})
    owner, wanted = conflict["owner"], conflict["wanted_by"]
    out = []
    if owner["kind"] == "stack" and owner["stack_name"] == wanted["name"]:
        out.append("%s: %s (manage that stack where it is)" % (v.get("region", "region"), owner["region"]))
    elif owner["kind"] == "stack" and not owner["stack_name"].startswith("StackSet-"):
        if owner["region"] != wanted["region"]:
            out.append(
                "%s: %s and %s: %s (manage that stack)"
                % (v.get("region", "region"), owner["region"], wanted.get("name_variable"), owner["stack_name"])
            )
        else:
            out.append("%s: %s (manage that stack)" % (wanted.get("name_variable"), owner["stack_name"]))
    elif owner["kind"] == "stack_set" and owner["name"] == wanted["name"] and owner["region"] == wanted["region"]:
        out.append("%s: [%s] (where its instances are)" % (v.get("regions", "regions"), ", ".join(owner["regions"])))
    elif owner["kind"] == "stack_set" and owner["name"] == wanted["name"]:
        out.append("%s: %s (manage that StackSet where it is)" % (v.get("region", "region"), owner["region"]))
    elif owner["kind"] == "stack_set" and owner["region"] == wanted["region"]:
        out.append("%s: %s (manage that StackSet)" % (wanted.get("name_variable"), owner["name"]))
    elif owner["kind"] == "stack_set":
        out.append(
            "%s: %s and %s: %s (manage that StackSet)"
            % (v.get("region", "region"), owner["region"], wanted.get("name_variable"), owner["name"])
        )
    out.append(
        "%s: use (use the role as it is; %s %s is not deployed)"
        % (
            v.get("on_existing", "on_existing"),
            "the stack" if wanted["kind"] == "stack" else "the StackSet",
            wanted["name"],
        )
    )
    if v.get("skip"):
        out.append("%s (deploy no role)" % v["skip"])
    return out


def describe(conflict, variables=None):
    """One sentence: which role exists where, who made it, what deploying ours would do, and what to set."""
    where = (
        "in the management account %s" % conflict["accounts"][0]
        if conflict["scope"] == "management_account"
        else "in %s (%s)"
        % (
            _plural(len(conflict["accounts"]), "member account"),
            ", ".join(conflict["accounts"][:5]) + (", ..." if len(conflict["accounts"]) > 5 else ""),
        )
    )
    wanted = conflict["wanted_by"]
    return "the IAM role %s already exists %s, %s; the %s %s (in %s) would create it again and fail with %s. Set %s" % (
        conflict["role_name"],
        where,
        _where(conflict["owner"]),
        "stack" if wanted["kind"] == "stack" else "StackSet",
        wanted["name"],
        wanted["region"],
        "EntityAlreadyExists" if wanted["kind"] == "stack" else "'already exists' in each of those accounts",
        ", or ".join(fixes(conflict, variables)),
    )


def _plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def decide(conflicts, on_existing="fail", variables=None, unreadable=None, notes=None, named_regions=None):
    """The plan's verdict. ``on_existing`` ``fail``: every conflict blocks; ``use``: each stack or StackSet of ours
    that would create an existing role is not deployed and the role is used as it is.

    ``named_regions`` are the regions the caller named (its own and the StackSets'); another region that answers as
    a region not enabled does (:data:`NOT_ENABLED`) is listed in ``not_enabled_regions``, not warned about.

    Returns ``{"ok", "conflicts" (each with "message" and "fixes"), "skip_stacks", "skip_stack_sets",
    "used_stack_sets" ({our StackSet: the StackSet whose role is used instead}), "message", "warnings",
    "not_enabled_regions"}``.
    """
    if on_existing not in ON_EXISTING:
        raise validation.InvalidInput(
            (variables or {}).get("on_existing", "on_existing"),
            "must be one of %s, not %r" % (", ".join(ON_EXISTING), on_existing),
        )
    out = []
    for conflict in conflicts:
        out.append(
            dict(
                conflict,
                fixes=fixes(conflict, variables),
                message=describe(conflict, variables),
                decision="use" if on_existing == "use" else "fail",
            )
        )
    warnings, not_enabled = [], []
    for region, err in sorted((unreadable or {}).items()):
        if err.get("code") in NOT_ENABLED and named_regions is not None and region not in named_regions:
            not_enabled.append(region)
            continue
        warnings.append("%s could not be read (%s): a role made there was not looked for" % (region, err.get("code")))
    warnings.extend(notes or [])
    skip_stacks = sorted(
        {c["wanted_by"]["name"] for c in out if c["decision"] == "use" and c["wanted_by"]["kind"] == "stack"}
    )
    skip_sets = sorted(
        {c["wanted_by"]["name"] for c in out if c["decision"] == "use" and c["wanted_by"]["kind"] == "stack_set"}
    )
    # our StackSet -> the StackSet whose instances hold its role instead (the first, when several do)
    used_stack_sets = {}
    for c in out:
        if c["decision"] == "use" and c["wanted_by"]["kind"] == "stack_set" and c["owner"]["kind"] == "stack_set":
            used_stack_sets.setdefault(c["wanted_by"]["name"], c["owner"]["name"])
    blocking = [c for c in out if c["decision"] == "fail"]
    if blocking:
        message = "%s before any change: %s" % (
            _plural(len(blocking), "existing role conflict"),
            "; ".join(c["message"] for c in blocking),
        )
    elif out:
        message = "used as they are, not deployed: %s" % "; ".join(
            "%s (%s)" % (c["role_name"], _where(c["owner"])) for c in out
        )
    else:
        message = "no role of ours exists under another owner"
    return {
        "ok": not blocking,
        "conflicts": out,
        "skip_stacks": skip_stacks,
        "skip_stack_sets": skip_sets,
        "used_stack_sets": used_stack_sets,
        "message": message,
        "warnings": warnings,
        "not_enabled_regions": not_enabled,
    }
