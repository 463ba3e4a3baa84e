#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: stack_set_info
short_description: Read a CloudFormation StackSet and its stack instances
version_added: 0.1.0
description:
  - Reads a StackSet (SERVICE_MANAGED or SELF_MANAGED) and every one of its stack instances, with each instance's
    account, region, OU, status and status reason.
  - The automation preflight uses it to check that every target account has the execution role.
  - Makes read calls only.
author:
  - orgops maintainers (@orgops)
options:
  name:
    description:
      - Name (or id) of the StackSet.
    type: str
    required: true
  call_as:
    description:
      - C(SELF) from the management account, C(DELEGATED_ADMIN) from a delegated administrator account.
    type: str
    choices: [SELF, DELEGATED_ADMIN]
    default: SELF
  instances:
    description:
      - Also list the StackSet's instances.
    type: bool
    default: true
extends_documentation_fragment:
  - orgops.ssm_automation.trace
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the execution-role StackSet
  orgops.ssm_automation.stack_set_info:
    name: AWS-SystemsManager-AutomationExecutionRole
  register: execution_role

- name: Accounts whose instance is not CURRENT
  ansible.builtin.debug:
    msg: "{{ execution_role.instances | rejectattr('status', 'equalto', 'CURRENT') | map(attribute='account') | list }}"
"""

RETURN = r"""
exists:
  description: Whether the StackSet exists.
  returned: always
  type: bool
  sample: true
stack_set:
  description: The StackSet, null when it does not exist. Same keys as the C(stack_set) module's C(stack_set) return.
  returned: always
  type: dict
  contains:
    stack_set_name:
      description: Name of the StackSet.
      type: str
    stack_set_id:
      description: Id of the StackSet.
      type: str
    stack_set_arn:
      description: ARN of the StackSet.
      type: str
    status:
      description: C(ACTIVE).
      type: str
    description:
      description: Description.
      type: str
    template_body:
      description: The template.
      type: str
    parameters:
      description: Parameter values, as a dict.
      type: dict
    capabilities:
      description: Capabilities.
      type: list
      elements: str
    tags:
      description: Tags, as a dict.
      type: dict
    permission_model:
      description: C(SERVICE_MANAGED) or C(SELF_MANAGED).
      type: str
    administration_role_arn:
      description: Administration role (SELF_MANAGED).
      type: str
    execution_role_name:
      description: Execution role name (SELF_MANAGED).
      type: str
    auto_deployment:
      description: Automatic deployment settings.
      type: dict
    managed_execution:
      description: Managed execution settings.
      type: dict
    organizational_unit_ids:
      description: Target OUs (SERVICE_MANAGED).
      type: list
      elements: str
    regions:
      description: Regions with instances.
      type: list
      elements: str
instances:
  description: The StackSet's stack instances, sorted by account and region (empty when I(instances=false)).
  returned: always
  type: list
  elements: dict
  contains:
    account:
      description: Account.
      type: str
      sample: "222222222222"
    region:
      description: Region.
      type: str
      sample: ap-northeast-1
    organizational_unit_id:
      description: Target OU that deployed the instance (SERVICE_MANAGED).
      type: str
    status:
      description: C(CURRENT), C(OUTDATED) or C(INOPERABLE).
      type: str
    status_reason:
      description: Why the instance is not C(CURRENT).
      type: str
    detailed_status:
      description: Detailed status of the last operation on the instance.
      type: str
    stack_id:
      description: Id of the instance's stack.
      type: str
    drift_status:
      description: Drift status.
      type: str
    last_operation_id:
      description: Last operation on the instance.
      type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402

from ansible_collections.orgops.ssm_automation.plugins.module_utils import stack_set, trace  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils._aws import OrgOpsAWSError, fail  # noqa: E402


def main():
    module = AnsibleAWSModule(
        argument_spec={
            **trace.ARGUMENT_SPEC,
            "name": {"type": "str", "required": True},
            "call_as": {"type": "str", "default": "SELF", "choices": list(stack_set.CALL_AS)},
            "instances": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    trace.install(module)
    name = module.params["name"]
    call_as = module.params["call_as"]
    client = module.client("cloudformation", retry_decorator=AWSRetry.jittered_backoff())
    try:
        current = stack_set.describe_stack_set(client, name, call_as)
        instances = (
            stack_set.list_stack_instances(client, name, call_as) if current and module.params["instances"] else []
        )
    except OrgOpsAWSError as e:
        fail(module, e)
    module.exit_json(changed=False, exists=current is not None, stack_set=current, instances=instances)


if __name__ == "__main__":
    main()
