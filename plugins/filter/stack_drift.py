# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: stack_drift
short_description: What differs between a deployed CloudFormation stack and the wanted one
version_added: 0.2.0
description:
  - Compares a stack read by amazon.aws.cloudformation_info (with C(stack_template=true)) with the wanted template,
    parameters and tags, and returns what differs - an empty list when the stack is up to date.
  - C(missing) when the stack does not exist; C(status <StackStatus>) when it is not C(CREATE_COMPLETE) or
    C(UPDATE_COMPLETE); C(template), C(parameters), C(tags) when they differ. Templates are compared parsed (YAML or
    JSON), parameters and tags as text.
  - Makes no AWS call. Used by the orgops.ssm_automation.execution_roles role to call amazon.aws.cloudformation only
    for the stacks that differ (it answers an unchanged stack with an UpdateStack call, a write).
author:
  - orgops maintainers (@orgops)
options:
  _input:
    description: The C(cloudformation) dictionary returned by amazon.aws.cloudformation_info (stack name to stack).
    type: dict
    required: true
  stack_name:
    description: The stack to compare.
    type: str
    required: true
  template:
    description: The wanted template, as YAML or JSON text.
    type: str
    required: true
  parameters:
    description: The wanted parameters, name to value.
    type: dict
    default: {}
  tags:
    description: The wanted tags, key to value.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Read the stack
  amazon.aws.cloudformation_info:
    stack_name: my-stack
    stack_template: true
  register: info

- name: Deploy it only when it differs
  amazon.aws.cloudformation:
    stack_name: my-stack
    template_body: "{{ lookup('ansible.builtin.file', 'stack.yml') }}"
  when: info.cloudformation | orgops.ssm_automation.stack_drift('my-stack', lookup('ansible.builtin.file', 'stack.yml')) | length > 0
"""

RETURN = r"""
_value:
  description: What differs (C(missing), C(status ...), C(template), C(parameters), C(tags)); empty when up to date.
  type: list
  elements: str
"""

from ansible_collections.orgops.ssm_automation.plugins.module_utils.drift import stack_differences


def stack_drift(stacks, stack_name, template, parameters=None, tags=None):
    return stack_differences((stacks or {}).get(stack_name) or {}, template, parameters, tags)


class FilterModule(object):
    def filters(self):
        return {"stack_drift": stack_drift}
