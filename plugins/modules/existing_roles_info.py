#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: existing_roles_info
short_description: Find the fixed-name IAM roles that stacks and StackSets would create and that already exist
version_added: 0.2.0
description:
  - IAM is global. A role with a fixed name exists once per account, whatever the region of the stack that made it.
    A stack that would create it again fails with C(EntityAlreadyExists), and a StackSet instance fails with
    C(already exists), after other changes have been made. This module finds these roles before any write, names
    the stack or StackSet that owns each one, and says which variable to set.
  - "Management account: C(iam:GetRole) for every role that one of O(stacks) would create. The owner comes from the
    C(aws:cloudformation:stack-id) tag when the role has one. Otherwise C(cloudformation:DescribeStackResources) with
    the role name as C(PhysicalResourceId) is called region by region, O(region) first. On AWS, CloudFormation does not
    tag IAM roles, so the tag is rarely there. A role that is not held by any stack was made by hand."
  - "Member accounts: every StackSet (any name, in every searched region, read with O(call_as)) whose template
    creates a role with the same name, found with C(cloudformation:ListStackSets) and C(DescribeStackSet)'s
    C(TemplateBody). With the accounts it reaches. Also the instances of our own StackSet in regions other than
    O(deploy_regions). A role made by hand or by a plain stack inside a member account cannot be seen from here
    without assuming a role in each account. It is not reported."
  - Each conflict is either blocking (O(on_existing=fail)), or the role is used as it is (O(on_existing=use)). In the
    second case, the stack or StackSet that would create the role is listed in RV(skip_stacks) or RV(skip_stack_sets)
    so that the caller leaves it out. This module never fails because of a conflict. The caller fails on RV(ok).
  - Makes read calls only. Runs in check mode.
author:
  - orgops maintainers (@orgops)
options:
  stacks:
    description:
      - The management account's plain stacks that the caller would deploy in O(region).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Stack name.
        type: str
        required: true
      template_body:
        description: The template (YAML or JSON; CloudFormation short forms such as C(!Ref) are understood).
        type: str
        required: true
      parameters:
        description: Parameter values, to resolve a C(RoleName) given as C(!Ref).
        type: dict
        default: {}
      name_variable:
        description: The variable that sets O(stacks[].name), named in the messages.
        type: str
  stack_sets:
    description:
      - The StackSets that the caller would deploy (administration region O(region)) to O(deploy_regions).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: StackSet name.
        type: str
        required: true
      template_body:
        description: The template.
        type: str
        required: true
      parameters:
        description: Parameter values.
        type: dict
        default: {}
      name_variable:
        description: The variable that sets O(stack_sets[].name), named in the messages.
        type: str
  deploy_regions:
    description:
      - The regions of the StackSets' instances.
    type: list
    elements: str
    default: []
  search_regions:
    description:
      - The regions to look in for owning stacks and for StackSets. Empty means O(region), then O(deploy_regions),
        then every region that botocore knows for CloudFormation. A region that cannot be read (not enabled) is
        skipped and named in RV(warnings).
    type: list
    elements: str
    default: []
  call_as:
    description:
      - C(SELF) from the management account, C(DELEGATED_ADMIN) from a delegated administrator account.
    type: str
    choices: [SELF, DELEGATED_ADMIN]
    default: SELF
  target_ous:
    description:
      - The OUs (or root) that O(stack_sets) target. With O(tree), only the StackSets that reach one of their accounts
        are conflicts. Without O(tree), every account counts.
    type: list
    elements: str
    default: []
  tree:
    description:
      - The organization's tree, as returned in the C(tree) value of M(orgops.ssm_automation.organization_info).
    type: dict
  management_account_id:
    description:
      - The management account. Service-managed StackSets never reach it.
    type: str
  on_existing:
    description:
      - C(fail) makes each conflict blocking (RV(ok) is false). C(use) uses each existing role as it is. The stack or
        StackSet of ours that would create it is then listed in RV(skip_stacks) or RV(skip_stack_sets).
    type: str
    choices: [fail, use]
    default: fail
  variables:
    description:
      - The names of the caller's variables, for the messages. The keys are C(region) (the administration region),
        C(regions) (O(deploy_regions)), C(search_regions), C(on_existing), and C(skip) (a setting that deploys no
        role, such as C(check_os_deploy_roles=false)).
    type: dict
    default: {}
extends_documentation_fragment:
  - orgops.ssm_automation.trace
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - "AWS documents that CloudFormation tags what it creates with C(aws:cloudformation:stack-name). IAM roles do not get
    these tags (aws-cloudformation/cloudformation-coverage-roadmap#277, #1159, #1966). The owning stack is found with
    C(DescribeStackResources) instead."
  - Without O(search_regions), a StackSet search reads every CloudFormation region (one C(ListStackSets) per region,
    one C(DescribeStackSet) per StackSet).
"""

EXAMPLES = r"""
- name: Look for the roles before deploying them
  orgops.ssm_automation.existing_roles_info:
    region: ap-northeast-1
    stacks:
      - name: AWS-SystemsManager-AutomationAdministrationRole
        template_body: "{{ lookup('ansible.builtin.file', 'admin-role.yml') }}"
    stack_sets:
      - name: AWS-SystemsManager-AutomationExecutionRole
        template_body: "{{ lookup('ansible.builtin.file', 'execution-role.yml') }}"
        parameters:
          AdminAccountId: "111111111111"
          OrganizationID: o-abcdefghij
    deploy_regions: [ap-northeast-1]
  register: existing

- name: Stop before any write
  ansible.builtin.fail:
    msg: "{{ existing.message }}"
  when: not existing.ok
"""

RETURN = r"""
ok:
  description: False when a conflict blocks (O(on_existing=fail)).
  returned: always
  type: bool
  sample: false
message:
  description: Every blocking conflict, each naming the role, the accounts, the owner and the variable to set.
  returned: always
  type: str
  sample: >-
    1 existing role conflict before any change: the IAM role AWS-SystemsManager-AutomationAdministrationRole already
    exists in the management account 111111111111, made by the stack seed-admin in eu-west-1; ...
conflicts:
  description: Every role that exists under another owner.
  returned: always
  type: list
  elements: dict
  contains:
    role_name:
      description: The role's name.
      type: str
    scope:
      description: C(management_account) or C(member_accounts).
      type: str
    accounts:
      description: The accounts where it exists (the member accounts of ours that the owner reaches).
      type: list
      elements: str
    role_arn:
      description: The role's ARN (management account only).
      type: str
    wanted_by:
      description: The stack or StackSet of ours that would create it. This includes C(kind), C(name), C(region),
        and C(name_variable).
      type: dict
    owner:
      description: >-
        Who made it. C(kind) is C(stack) (with C(stack_name), C(stack_id), C(region), and C(logical_id)),
        C(stack_set) (with C(name), C(region), C(permission_model), C(organizational_unit_ids), and the instances'
        C(regions)), or C(none) (no stack holds it).
      type: dict
    decision:
      description: C(fail) or C(use).
      type: str
    fixes:
      description: What to set, each as C(variable) C(value), the most likely first.
      type: list
      elements: str
    message:
      description: One sentence about this conflict.
      type: str
skip_stacks:
  description: With O(on_existing=use), the stacks of ours not to deploy.
  returned: always
  type: list
  elements: str
skip_stack_sets:
  description: With O(on_existing=use), the StackSets of ours not to deploy.
  returned: always
  type: list
  elements: str
used_stack_sets:
  description: >-
    With O(on_existing=use), for each StackSet of ours that is not deployed, the StackSet whose instances hold its role
    instead. The run's preflight must look for the role among that StackSet's instances.
  returned: always
  type: dict
  sample: {"AWS-SystemsManager-AutomationExecutionRole": "my-exec-roles"}
warnings:
  description: The regions (or calls) that could not be read, and templates that could not be parsed.
  returned: always
  type: list
  elements: str
not_enabled_regions:
  description: >-
    The searched regions, other than O(region), O(deploy_regions), and O(search_regions), that answered as a region
    the account has not enabled (such as C(InvalidClientTokenId)). They are skipped without a warning.
  returned: always
  type: list
  elements: str
searched_regions:
  description: The regions searched, in order.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402

from ansible_collections.orgops.ssm_automation.plugins.module_utils import (  # noqa: E402
    existing_roles,
    trace,
    validation,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._aws import OrgOpsAWSError, fail  # noqa: E402

_ITEM = {
    "name": {"type": "str", "required": True},
    "template_body": {"type": "str", "required": True},
    "parameters": {"type": "dict", "default": {}},
    "name_variable": {"type": "str"},
}


def _with_roles(items, option):
    out = []
    for index, item in enumerate(items or []):
        params = {k: "" if v is None else str(v) for k, v in (item.get("parameters") or {}).items()}
        roles = existing_roles.fixed_role_names(
            item["template_body"], params, field="%s[%d].template_body" % (option, index)
        )
        out.append({"name": item["name"], "roles": roles, "name_variable": item.get("name_variable")})
    return out


def main():
    module = AnsibleAWSModule(
        argument_spec={
            **trace.ARGUMENT_SPEC,
            "stacks": {"type": "list", "elements": "dict", "default": [], "options": _ITEM},
            "stack_sets": {"type": "list", "elements": "dict", "default": [], "options": _ITEM},
            "deploy_regions": {"type": "list", "elements": "str", "default": []},
            "search_regions": {"type": "list", "elements": "str", "default": []},
            "call_as": {"type": "str", "default": "SELF", "choices": ["SELF", "DELEGATED_ADMIN"]},
            "target_ous": {"type": "list", "elements": "str", "default": []},
            "tree": {"type": "dict"},
            "management_account_id": {"type": "str"},
            "on_existing": {"type": "str", "default": "fail", "choices": list(existing_roles.ON_EXISTING)},
            "variables": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    trace.install(module)
    p = module.params
    try:
        validation.each(
            p["search_regions"],
            validation.region,
            (p["variables"] or {}).get("search_regions") or "search_regions",
            regions=validation.known_regions(),
        )
        stacks = _with_roles(p["stacks"], "stacks")
        stack_sets = _with_roles(p["stack_sets"], "stack_sets")
        target_accounts = (
            existing_roles.target_accounts_of(p["tree"], p["target_ous"], p["management_account_id"])
            if p["tree"] and p["target_ous"]
            else None
        )
    except validation.InvalidInput as e:
        module.fail_json(msg=str(e), field=getattr(e, "field", None))
    region = module.region
    if not region:
        module.fail_json(
            msg="region is required: the region of the stacks and StackSets (set region, AWS_REGION or a profile's region)",
            field="region",
        )
    regions = p["search_regions"] or existing_roles.ordered_regions(region, p["deploy_regions"])

    def cfn_for(where):
        return module.client("cloudformation", retry_decorator=AWSRetry.jittered_backoff(), region=where)

    try:
        conflicts, unreadable = existing_roles.management_conflicts(
            module.client("iam", retry_decorator=AWSRetry.jittered_backoff()), cfn_for, stacks, region, regions
        )
        more, unreadable_sets, notes = existing_roles.member_conflicts(
            cfn_for, stack_sets, region, p["deploy_regions"], regions, p["call_as"], target_accounts
        )
    except OrgOpsAWSError as e:
        fail(module, e)
    except Exception as e:  # pylint: disable=broad-except
        module.fail_json_aws(e, msg="Failed to look for the existing roles")
    unreadable.update(unreadable_sets)
    named = [region] + list(p["deploy_regions"]) + list(p["search_regions"])
    verdict = existing_roles.decide(conflicts + more, p["on_existing"], p["variables"], unreadable, notes, named)
    for warning in verdict["warnings"]:
        module.warn(warning)
    module.exit_json(changed=False, searched_regions=regions, **verdict)


if __name__ == "__main__":
    main()
