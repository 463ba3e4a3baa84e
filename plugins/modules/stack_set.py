#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: stack_set
short_description: Manage CloudFormation StackSets, SERVICE_MANAGED (OU targets, auto-deployment) or SELF_MANAGED
version_added: 0.1.0
description:
  - Creates, updates and deletes an AWS CloudFormation StackSet and its stack instances.
  - With I(permission_model=SERVICE_MANAGED) (the default) the StackSet deploys through AWS Organizations to
    organizational units at any depth, with optional automatic deployment to accounts that join them. AWS never
    deploys a SERVICE_MANAGED StackSet to the management account; deploy a plain stack there if you need one.
  - The StackSet is updated only when its template, parameters, capabilities, tags, description, auto-deployment,
    managed execution or roles really differ. Templates are compared as data, so YAML or JSON formatting and key
    order do not count.
  - Instances are compared per target and region. Missing ones are created. With I(purge_instances=true), the
    instances of targets or regions no longer listed are deleted; a SERVICE_MANAGED StackSet deletes by OU.
  - Every operation is waited for and reported with its per-account failures. When another operation runs on the
    StackSet (C(OperationInProgressException)), the module waits for it and retries instead of failing.
  - A run with nothing to change makes read calls only.
  - Supports check mode (reports the operations it would run) and diff mode (template, parameters, settings and
    targets before and after).
author:
  - orgops maintainers (@orgops)
options:
  name:
    description:
      - Name of the StackSet. Letters, digits and hyphens, starting with a letter, at most 128 characters.
    type: str
    required: true
  state:
    description:
      - C(present) creates or updates the StackSet and its instances.
      - C(absent) deletes every instance of the StackSet, then the StackSet.
    type: str
    choices: [present, absent]
    default: present
  description:
    description:
      - Description of the StackSet. Left unchanged when not given.
    type: str
  template_body:
    description:
      - The template, as JSON or YAML text.
      - Mutually exclusive with I(template) and I(template_url).
      - One of the three is required to create the StackSet; when none is given, an existing StackSet keeps its template.
    type: str
  template:
    description:
      - Path to a template file (JSON or YAML) on the host that runs the module.
    type: path
  template_url:
    description:
      - HTTPS URL of a template in Amazon S3.
      - The module tries to read the URL to compare the template; when it cannot, it warns and does not detect template changes.
    type: str
  parameters:
    description:
      - Template parameters, as a dict of name to value. Lists are joined with commas (C(CommaDelimitedList)).
      - Names the template does not declare are rejected before any AWS call, as are missing parameters that have no C(Default).
      - Values of C(NoEcho) parameters are never shown by AWS, so changes to them are not detected.
      - When not given, an existing StackSet keeps its parameter values.
    type: dict
  capabilities:
    description:
      - Capabilities the template needs. When not given, an existing StackSet keeps its capabilities.
    type: list
    elements: str
    choices: [CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND]
  tags:
    description:
      - Tags of the StackSet, propagated by AWS to its stacks. When not given, tags are left unchanged.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description:
      - Remove the tags not listed in I(tags). Ignored when I(tags) is not given.
    type: bool
    default: true
  permission_model:
    description:
      - C(SERVICE_MANAGED) deploys through AWS Organizations trusted access to OU targets.
      - C(SELF_MANAGED) deploys to accounts through I(administration_role_arn) and I(execution_role_name).
    type: str
    choices: [SERVICE_MANAGED, SELF_MANAGED]
    default: SERVICE_MANAGED
  auto_deployment:
    description:
      - Automatic deployment to accounts that join a target OU (SERVICE_MANAGED only). Left unchanged when not given.
    type: dict
    suboptions:
      enabled:
        description:
          - Deploy to accounts added to a target OU, and remove stacks from accounts that leave it.
        type: bool
        required: true
      retain_stacks_on_account_removal:
        description:
          - Keep the stacks (and their resources) of accounts that leave a target OU. Needs I(enabled=true).
        type: bool
        default: false
  call_as:
    description:
      - C(SELF) when running from the management account, C(DELEGATED_ADMIN) from a delegated administrator account
        (SERVICE_MANAGED only).
    type: str
    choices: [SELF, DELEGATED_ADMIN]
    default: SELF
  managed_execution:
    description:
      - Let CloudFormation run non-conflicting operations concurrently. Left unchanged when not given.
    type: dict
    suboptions:
      active:
        description:
          - Turn managed execution on or off.
        type: bool
        required: true
  deployment_targets:
    description:
      - Where the StackSet's instances go. When not given, instances are left as they are.
    type: dict
    suboptions:
      organizational_unit_ids:
        description:
          - OU ids (C(ou-xxxx-xxxxxxxx)) or the root id (C(r-xxxx)); SERVICE_MANAGED only. Every account below an OU,
            at any depth, gets an instance.
        type: list
        elements: str
      accounts:
        description:
          - For SELF_MANAGED, the 12-digit account ids to deploy to.
          - For SERVICE_MANAGED, accounts that filter the OUs according to I(account_filter_type).
        type: list
        elements: str
      account_filter_type:
        description:
          - How I(accounts) filter the OUs of a SERVICE_MANAGED StackSet when instances are created.
          - Changing the filter of an OU and region that already have instances is not detected.
        type: str
        choices: [NONE, INTERSECTION, DIFFERENCE, UNION]
        default: NONE
  regions:
    description:
      - Regions to deploy the instances to. Required with I(deployment_targets).
    type: list
    elements: str
  operation_preferences:
    description:
      - How AWS runs each StackSet operation. Counts and percentages of the same setting are mutually exclusive.
    type: dict
    suboptions:
      failure_tolerance_count:
        description: Number of accounts per region that may fail before AWS stops the operation in that region.
        type: int
      failure_tolerance_percentage:
        description: Percentage of accounts per region that may fail before AWS stops the operation in that region.
        type: int
      max_concurrent_count:
        description: Maximum number of accounts per region processed at the same time.
        type: int
      max_concurrent_percentage:
        description: Maximum percentage of accounts per region processed at the same time.
        type: int
      region_concurrency_type:
        description: Deploy to the regions one after the other or in parallel.
        type: str
        choices: [SEQUENTIAL, PARALLEL]
      region_order:
        description: Order of the regions when I(region_concurrency_type=SEQUENTIAL).
        type: list
        elements: str
      concurrency_mode:
        description: How the failure tolerance affects the concurrency.
        type: str
        choices: [STRICT_FAILURE_TOLERANCE, SOFT_FAILURE_TOLERANCE]
  administration_role_arn:
    description:
      - ARN of the administration role (SELF_MANAGED only). Giving it with SERVICE_MANAGED is an error.
    type: str
  execution_role_name:
    description:
      - Name of the execution role in the target accounts (SELF_MANAGED only). Giving it with SERVICE_MANAGED is an error.
    type: str
  purge_instances:
    description:
      - Delete the instances of targets and regions no longer listed in I(deployment_targets) and I(regions).
      - A SERVICE_MANAGED StackSet deletes them by OU.
    type: bool
    default: false
  wait:
    description:
      - Wait for the last operation to end. Earlier operations are always waited for, because a StackSet runs one
        operation at a time.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait, overall, for the operations (and for other operations that hold the StackSet).
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds between two polls of a running operation.
    type: float
    default: 5
extends_documentation_fragment:
  - orgops.ssm_automation.trace
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - SERVICE_MANAGED StackSets need AWS Organizations trusted access for CloudFormation StackSets, enabled once from
    the management account (C(aws cloudformation activate-organizations-access)).
  - Module default group C(group/orgops.ssm_automation.ssm_automation).
"""

EXAMPLES = r"""
- name: Deploy the SSM Automation execution role to two OUs, in Tokyo, with auto-deployment
  orgops.ssm_automation.stack_set:
    name: AWS-SystemsManager-AutomationExecutionRole
    template_body: "{{ lookup('ansible.builtin.file', 'execution-role.yml') }}"
    parameters:
      AdminAccountId: "111111111111"
      OrganizationID: o-abcdefghij
    capabilities: [CAPABILITY_NAMED_IAM]
    permission_model: SERVICE_MANAGED
    auto_deployment:
      enabled: true
    deployment_targets:
      organizational_unit_ids: [ou-ab12-11111111, ou-ab12-22222222]
    regions: [ap-northeast-1]
    operation_preferences:
      failure_tolerance_percentage: 10
      max_concurrent_percentage: 100
      region_concurrency_type: PARALLEL

- name: Stop deploying to an OU and remove its instances
  orgops.ssm_automation.stack_set:
    name: AWS-SystemsManager-AutomationExecutionRole
    deployment_targets:
      organizational_unit_ids: [ou-ab12-11111111]
    regions: [ap-northeast-1]
    purge_instances: true

- name: A SELF_MANAGED StackSet to two accounts
  orgops.ssm_automation.stack_set:
    name: baseline
    permission_model: SELF_MANAGED
    template: files/baseline.yml
    administration_role_arn: arn:aws:iam::111111111111:role/AWSCloudFormationStackSetAdministrationRole
    execution_role_name: AWSCloudFormationStackSetExecutionRole
    deployment_targets:
      accounts: ["222222222222", "333333333333"]
    regions: [eu-west-1]

- name: Delete the StackSet and every instance
  orgops.ssm_automation.stack_set:
    name: baseline
    state: absent
"""

RETURN = r"""
stack_set:
  description: The StackSet after the run (before it, in check mode); null when it does not exist.
  returned: always
  type: dict
  contains:
    stack_set_name:
      description: Name of the StackSet.
      type: str
      sample: AWS-SystemsManager-AutomationExecutionRole
    stack_set_id:
      description: Id of the StackSet.
      type: str
      sample: AWS-SystemsManager-AutomationExecutionRole:1b4c5f3e-0d0a-4a3e-9a51-4b2d0f7d1c11
    stack_set_arn:
      description: ARN of the StackSet.
      type: str
    status:
      description: C(ACTIVE).
      type: str
    description:
      description: Description of the StackSet.
      type: str
    template_body:
      description: The template, as AWS holds it.
      type: str
    parameters:
      description: Parameter values, as a dict of name to value (C(****) for NoEcho parameters).
      type: dict
      sample: {"AdminAccountId": "111111111111", "OrganizationID": "o-abcdefghij"}
    capabilities:
      description: Capabilities of the StackSet.
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
      description: Automatic deployment settings (SERVICE_MANAGED).
      type: dict
      sample: {"enabled": true, "retain_stacks_on_account_removal": false}
    managed_execution:
      description: Managed execution settings.
      type: dict
      sample: {"active": false}
    organizational_unit_ids:
      description: OUs the StackSet targets (SERVICE_MANAGED).
      type: list
      elements: str
    regions:
      description: Regions the StackSet has instances in.
      type: list
      elements: str
instances:
  description: Every stack instance of the StackSet, sorted by account and region.
  returned: always
  type: list
  elements: dict
  contains:
    account:
      description: Account of the instance.
      type: str
      sample: "222222222222"
    region:
      description: Region of the instance.
      type: str
      sample: ap-northeast-1
    organizational_unit_id:
      description: The target OU that deployed the instance (SERVICE_MANAGED).
      type: str
      sample: ou-ab12-11111111
    status:
      description: C(CURRENT), C(OUTDATED) or C(INOPERABLE).
      type: str
    status_reason:
      description: Why the instance is not C(CURRENT), when AWS says.
      type: str
    detailed_status:
      description: C(SUCCEEDED), C(FAILED), C(RUNNING), C(PENDING), C(CANCELLED), C(INOPERABLE) ...
      type: str
    stack_id:
      description: Id of the instance's stack.
      type: str
    drift_status:
      description: Drift status of the instance's stack.
      type: str
    last_operation_id:
      description: Last operation on the instance.
      type: str
operations:
  description:
    - The operations the run made, in order, or in check mode the ones it would make (C(status=PLANNED)).
    - Empty when nothing had to change.
  returned: always
  type: list
  elements: dict
  contains:
    operation_id:
      description: Id of the StackSet operation (null for CreateStackSet, DeleteStackSet and planned ones).
      type: str
    action:
      description: C(CREATE_STACK_SET), C(UPDATE), C(CREATE) (instances), C(DELETE) (instances) or C(DELETE_STACK_SET).
      type: str
    status:
      description: C(SUCCEEDED), C(FAILED), C(STOPPED), C(RUNNING) (with I(wait=false) or on timeout) or C(PLANNED).
      type: str
    status_reason:
      description: Why the operation failed, when AWS says.
      type: str
    timed_out:
      description: Whether I(wait_timeout) passed before the operation ended.
      type: bool
    targets:
      description: OU ids or accounts the operation is about.
      type: list
      elements: str
    regions:
      description: Regions the operation is about.
      type: list
      elements: str
    fields:
      description: For C(UPDATE), the settings that differed (template, parameters, tags ...).
      type: list
      elements: str
    failures:
      description: Per-account results that did not succeed.
      type: list
      elements: dict
      contains:
        account:
          description: Account.
          type: str
        region:
          description: Region.
          type: str
        organizational_unit_id:
          description: OU the account was targeted through.
          type: str
        status:
          description: C(FAILED) or C(CANCELLED).
          type: str
        status_reason:
          description: AWS's reason.
          type: str
"""

from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible.module_utils.urls import open_url  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402

from ansible_collections.orgops.ssm_automation.plugins.module_utils import stack_set, trace  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils._aws import OrgOpsAWSError, fail  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput  # noqa: E402


def argument_spec():
    return {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "description": {"type": "str"},
        "template_body": {"type": "str"},
        "template": {"type": "path"},
        "template_url": {"type": "str"},
        "parameters": {"type": "dict"},
        "capabilities": {"type": "list", "elements": "str", "choices": list(stack_set.CAPABILITIES)},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
        "permission_model": {"type": "str", "default": "SERVICE_MANAGED", "choices": list(stack_set.PERMISSION_MODELS)},
        "auto_deployment": {
            "type": "dict",
            "options": {
                "enabled": {"type": "bool", "required": True},
                "retain_stacks_on_account_removal": {"type": "bool", "default": False},
            },
        },
        "call_as": {"type": "str", "default": "SELF", "choices": list(stack_set.CALL_AS)},
        "managed_execution": {"type": "dict", "options": {"active": {"type": "bool", "required": True}}},
        "deployment_targets": {
            "type": "dict",
            "options": {
                "organizational_unit_ids": {"type": "list", "elements": "str"},
                "accounts": {"type": "list", "elements": "str"},
                "account_filter_type": {
                    "type": "str",
                    "default": "NONE",
                    "choices": list(stack_set.ACCOUNT_FILTER_TYPES),
                },
            },
        },
        "regions": {"type": "list", "elements": "str"},
        "operation_preferences": {
            "type": "dict",
            "options": {
                "failure_tolerance_count": {"type": "int"},
                "failure_tolerance_percentage": {"type": "int"},
                "max_concurrent_count": {"type": "int"},
                "max_concurrent_percentage": {"type": "int"},
                "region_concurrency_type": {"type": "str", "choices": list(stack_set.REGION_CONCURRENCY_TYPES)},
                "region_order": {"type": "list", "elements": "str"},
                "concurrency_mode": {"type": "str", "choices": list(stack_set.CONCURRENCY_MODES)},
            },
        },
        "administration_role_arn": {"type": "str"},
        "execution_role_name": {"type": "str"},
        "purge_instances": {"type": "bool", "default": False},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 1800},
        "poll_interval": {"type": "float", "default": 5},
    }


def read_template(module):
    """The template text from whichever option gives it, and the option's name."""
    params = module.params
    if params["template"] is not None:
        try:
            with open(params["template"], "r") as handle:
                return handle.read(), "template"
        except (IOError, OSError) as e:
            raise InvalidInput("template", "cannot read %s: %s" % (params["template"], e)) from e
    if params["template_body"] is not None:
        return params["template_body"], "template_body"
    if params["template_url"] is not None:
        try:
            return to_text(open_url(params["template_url"], timeout=30).read()), "template_url"
        except Exception as e:  # pylint: disable=broad-except
            module.warn(
                "Could not read template_url %s (%s): changes of the template are not detected"
                % (params["template_url"], e)
            )
    return None, None


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(argument_spec(), **trace.ARGUMENT_SPEC),
        mutually_exclusive=[["template_body", "template", "template_url"]],
        supports_check_mode=True,
    )
    trace.install(module)
    params = dict(module.params)
    try:
        if params["state"] == "present":
            text, source = read_template(module)
            params["template_body"] = text
            params["template_source"] = source
        spec = stack_set.validate_spec(params)
    except InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field)

    client = module.client("cloudformation", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = stack_set.ensure(client, spec, check_mode=module.check_mode)
    except InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field)
    except OrgOpsAWSError as e:  # StackSetError: with the operations done so far
        fail(module, e)

    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    if result.pop("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
