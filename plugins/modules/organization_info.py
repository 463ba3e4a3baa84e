#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: organization_info
short_description: Read the AWS Organization, its OU tree, and the accounts a list of targets stands for
version_added: 0.1.0
description:
  - Returns the organization the caller belongs to, its id and its management account, read with
    C(organizations:DescribeOrganization).
  - With I(tree=true), or when I(targets) are given, also reads the whole OU tree at every depth, with every account.
  - With I(targets), resolves account ids, OU ids and the root id into the sorted list of accounts they stand for.
  - Validates I(management_account_id), I(organization_id), I(targets) and I(exclude) before any AWS call, and fails
    naming the option when one is malformed, does not match the organization, or is not in it.
  - When both I(management_account_id) and I(organization_id) are given and neither I(tree) nor I(targets) is, the
    module makes no AWS call at all and returns them as given (C(discovered=false)).
  - Makes read calls only.
author:
  - orgops maintainers (@orgops)
options:
  tree:
    description:
      - Also return the OU tree and every account.
    type: bool
    default: false
  management_account_id:
    description:
      - The management account id you expect (12 digits). Checked against the organization when it is read.
    type: str
  organization_id:
    description:
      - The organization id you expect (C(o-) and 10 to 32 lowercase letters or digits). Checked against the organization
        when it is read.
    type: str
  targets:
    description:
      - Account ids, OU ids or the root id to resolve into accounts. Each must exist in the organization.
    type: list
    elements: str
  include_children:
    description:
      - With I(targets), include the accounts of the OUs below each target OU, at every depth.
    type: bool
    default: true
  exclude:
    description:
      - Account ids or OU ids removed from the resolved accounts; an OU removes every account below it.
    type: list
    elements: str
extends_documentation_fragment:
  - orgops.ssm_automation.trace
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Discover the management account and the organization id
  orgops.ssm_automation.organization_info:
  register: org

- name: Use them
  ansible.builtin.debug:
    msg: "{{ org.organization.master_account_id }} {{ org.organization.id }}"

- name: The accounts below two OUs, at every depth, but one
  orgops.ssm_automation.organization_info:
    targets: [ou-ab12-11111111, ou-ab12-22222222]
    exclude: ["333333333333"]
  register: targets

- name: Check given ids and OU targets before deploying anything
  orgops.ssm_automation.organization_info:
    management_account_id: "111111111111"
    organization_id: o-abcdefghij
    targets: [ou-ab12-11111111]
"""

RETURN = r"""
organization:
  description: The organization.
  returned: always
  type: dict
  contains:
    id:
      description: Organization id.
      type: str
      sample: o-abcdefghij
    arn:
      description: Organization ARN (null when not read).
      type: str
    master_account_id:
      description: Management account id.
      type: str
      sample: "111111111111"
    master_account_arn:
      description: Management account ARN (null when not read).
      type: str
    master_account_email:
      description: Management account e-mail (null when not read).
      type: str
    feature_set:
      description: C(ALL) or C(CONSOLIDATED_BILLING) (null when not read).
      type: str
discovered:
  description: Whether the organization was read from AWS (false when both ids were given and nothing else was asked).
  returned: always
  type: bool
tree:
  description: The OU tree, with I(tree=true) or I(targets).
  returned: when tree or targets
  type: dict
  contains:
    root_id:
      description: Id of the root.
      type: str
      sample: r-ab12
    ous:
      description: Every OU, by id, with its C(name) and C(parent_id).
      type: dict
      sample: {"ou-ab12-11111111": {"name": "Workloads", "parent_id": "r-ab12"}}
    accounts:
      description:
        - Every account, by id, with its C(name), C(email), C(status) and C(parent_id).
        - C(status) is the account's C(State) (C(ACTIVE), C(SUSPENDED), C(PENDING_ACTIVATION), C(PENDING_CLOSURE),
          C(CLOSED)), or the retired C(Status) when AWS sends no C(State).
      type: dict
      sample: {"222222222222": {"name": "payments", "email": "payments@example.com", "status": "ACTIVE", "parent_id": "ou-ab12-11111111"}}
accounts:
  description: The sorted account ids I(targets) stand for.
  returned: when targets
  type: list
  elements: str
  sample: ["222222222222", "444444444444"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402

from ansible_collections.orgops.ssm_automation.plugins.module_utils import organization, trace, validation  # noqa: E402

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it


def main():
    module = AnsibleAWSModule(
        argument_spec={
            **trace.ARGUMENT_SPEC,
            "tree": {"type": "bool", "default": False},
            "management_account_id": {"type": "str"},
            "organization_id": {"type": "str"},
            "targets": {"type": "list", "elements": "str"},
            "include_children": {"type": "bool", "default": True},
            "exclude": {"type": "list", "elements": "str"},
        },
        supports_check_mode=True,
    )
    trace.install(module)
    params = module.params
    try:
        if params["management_account_id"] is not None:
            validation.account_id(params["management_account_id"], "management_account_id")
        if params["organization_id"] is not None:
            validation.organization_id(params["organization_id"], "organization_id")
        validation.each(params["targets"], validation.account_or_ou, "targets")
        validation.each(params["exclude"], validation.account_or_ou, "exclude")
    except validation.InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field)

    want_tree = params["tree"] or params["targets"] is not None
    result = {"changed": False}
    if params["management_account_id"] and params["organization_id"] and not want_tree:
        result["organization"] = {
            "id": params["organization_id"],
            "arn": None,
            "master_account_id": params["management_account_id"],
            "master_account_arn": None,
            "master_account_email": None,
            "feature_set": None,
        }
        result["discovered"] = False
        module.exit_json(**result)

    client = module.client("organizations", retry_decorator=AWSRetry.jittered_backoff())
    try:
        org = organization.describe_organization(client)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to describe the organization (organizations:DescribeOrganization)")
    result["organization"] = org
    result["discovered"] = True
    if params["management_account_id"] and params["management_account_id"] != org["master_account_id"]:
        module.fail_json(
            msg="management_account_id: %s is not the management account of organization %s, which is %s"
            % (params["management_account_id"], org["id"], org["master_account_id"]),
            field="management_account_id",
            **result,
        )
    if params["organization_id"] and params["organization_id"] != org["id"]:
        module.fail_json(
            msg="organization_id: %s is not the organization of these credentials, which is %s"
            % (params["organization_id"], org["id"]),
            field="organization_id",
            **result,
        )
    if want_tree:
        try:
            tree = organization.list_tree(client)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg="Failed to read the organization's OU tree", **result)
        result["tree"] = tree
        if params["targets"] is not None:
            try:
                result["accounts"] = organization.resolve_accounts(
                    tree, params["targets"], params["include_children"], params["exclude"]
                )
            except validation.InvalidInput as e:
                module.fail_json(msg=str(e), field=e.field, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
