#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: check_inputs
short_description: Normalise and validate a role's inputs, naming the variables the user set, with no AWS call
version_added: 0.2.0
description:
  - The first task of the collection's roles. Turns list inputs given as text (an AWX survey's text or textarea
    answer, such as C(ou-a, ou-b) or one id per line) into lists, splitting on commas, spaces and new lines, and
    checks every input against the form the collection's modules accept (account, OU and root ids, regions, rate
    values, role names, tags, step names, report formats, numbers).
  - Reports every bad input at once, in one message that starts with C(Invalid input) and names each variable as
    the user set it (the wrapping role's variable through I(field_aliases), such as C(check_os_target_ous)), with
    the form it accepts.
  - With I(organization), checks what needs the organization read by M(orgops.ssm_automation.organization_info)
    (the ids match it, the target OUs are in it, the trusted principals are of its management account).
  - Makes no AWS call and changes nothing; the rules live in the collection's C(inputs) module_utils.
author:
  - orgops maintainers (@orgops)
options:
  role:
    description:
      - Whose inputs these are. C(run_automation) takes C(run_automation_*) variables, C(check_os) the C(check_os_*)
        variables, C(execution_roles) the C(execution_roles_*) variables.
    type: str
    required: true
    choices: [run_automation, check_os, execution_roles]
  inputs:
    description:
      - The role's variables, by name, as the user gave them (lists or survey text, booleans or C(true)/C(false) text).
    type: dict
    required: true
  field_aliases:
    description:
      - Maps a variable of I(role) to the name the user set (for roles that wrap another), so that messages name it.
    type: dict
    default: {}
  runbook:
    description:
      - With I(role=check_os), the runbook that will run (its YAML or JSON text). A required step then also requires
        the steps that run the same check on the other platform and the C(AssertOnline) step, when the runbook has them.
    type: str
  organization:
    description:
      - With I(role=execution_roles), the C(organization) returned by M(orgops.ssm_automation.organization_info).
        The given management account and organization ids must be its own, and the results-reader role's trusted
        principals must be of its management account.
    type: dict
  tree:
    description:
      - With I(organization), the C(tree) returned by M(orgops.ssm_automation.organization_info); every target OU
        must be in it.
    type: dict
notes:
  - Supports check mode; it never changes anything.
"""

EXAMPLES = r"""
- name: Check run_automation's inputs before anything is sent to AWS
  orgops.ssm_automation.check_inputs:
    role: run_automation
    inputs:
      run_automation_document_name: check-os
      run_automation_target_ous: "ou-ab12-11111111, ou-ab12-22222222"
      run_automation_regions: "ap-northeast-1\neu-west-1"
      run_automation_target_tags: {ssm-automation: "true"}
  register: checked

- name: The normalised lists
  ansible.builtin.debug:
    msg: "{{ checked.inputs.target_ous }} in {{ checked.inputs.regions }}"

- name: A wrapping role names its own variables
  orgops.ssm_automation.check_inputs:
    role: run_automation
    inputs:
      run_automation_target_ous: "{{ my_ous }}"
      run_automation_regions: "{{ my_regions }}"
    field_aliases:
      run_automation_target_ous: my_ous
      run_automation_regions: my_regions
"""

RETURN = r"""
inputs:
  description:
    - The normalised inputs. For C(run_automation) and C(check_os) - C(target_ous), C(exclude_accounts), C(regions),
      C(required_steps), C(report_formats) (lists), C(include_management_account), C(all_instances), C(reattach)
      (booleans), C(execution_id), C(max_failed_percent), C(wait_timeout), C(poll_interval), C(gather_concurrency);
      for C(check_os) also C(checked_steps) (the required steps as given) and C(field_aliases).
    - For C(execution_roles) - C(target_ous), C(regions), C(reader_trusted_principals), C(include_management_account),
      C(deploy_reader_role), C(management_account_id), C(organization_id); with I(organization), the discovered
      C(management_account_id) and C(organization_id).
  returned: success
  type: dict
  sample: {"target_ous": ["ou-ab12-11111111"], "regions": ["ap-northeast-1"], "reattach": false}
problems:
  description: Each bad input, as C(field) (the user's variable, with the list index) and C(message).
  returned: failure
  type: list
  elements: dict
  sample: [{"field": "check_os_target_ous[0]", "message": "\"ou-x;\" is not a 12-digit account id, ..."}]
field:
  description: The first bad input's variable.
  returned: failure
  type: str
  sample: check_os_target_ous[0]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.orgops.ssm_automation.plugins.module_utils import inputs
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput


def main():
    module = AnsibleModule(
        argument_spec={
            "role": {"type": "str", "required": True, "choices": ["run_automation", "check_os", "execution_roles"]},
            "inputs": {"type": "dict", "required": True},
            "field_aliases": {"type": "dict", "default": {}},
            "runbook": {"type": "str"},
            "organization": {"type": "dict"},
            "tree": {"type": "dict"},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["role"] == "run_automation":
            out = inputs.check_run_automation(p["inputs"], p["field_aliases"])
        elif p["role"] == "check_os":
            out = inputs.check_check_os(p["inputs"], p["runbook"])
        else:
            out = inputs.check_execution_roles(p["inputs"], p["field_aliases"])
            if p["organization"] is not None:
                out.update(inputs.check_organization(out, p["organization"], p["tree"], p["field_aliases"]))
    except inputs.InvalidInputs as e:
        problems = [{"field": field, "message": message} for field, message in e.problems]
        module.fail_json(msg=str(e), field=e.field, problems=problems)
    except InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field, problems=[{"field": e.field, "message": e.message}])
    module.exit_json(changed=False, inputs=out)


if __name__ == "__main__":
    main()
