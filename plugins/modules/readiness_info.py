#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: readiness_info
short_description: Find everything that would stop a real multi-account automation run, with read calls only
version_added: 0.2.0
description:
  - The first-run check of the C(check_os) role's C(--check). Makes read calls only (no AWS write, also outside
    check mode) and returns every finding, each naming what to set or deploy; RV(ok) is false when one would stop the
    real run.
  - C(trusted_access) - with I(deploy_roles), AWS Organizations trusted access for CloudFormation StackSets
    (C(member.org.stacksets.cloudformation.amazonaws.com) in C(organizations:ListAWSServiceAccessForOrganization)).
  - C(roles) - where the roles are, from the preflight of C(automation_execution) (the execution-role StackSet
    searched in every region, the management account's role read from IAM) - accounts without the execution role,
    blocking unless I(deploy_roles). A role the roles phase would create again (made by a StackSet of another region,
    a stack of another name, or by hand) is refused by that phase's own plan (C(existing_roles_info)).
  - C(permissions) - the caller's own permissions for each phase of I(policies), simulated with
    C(iam:SimulatePrincipalPolicy) against the phase's documented policy (an assumed-role session is simulated as
    its role, whose path is read with C(iam:GetRole) when allowed). A refused simulation is a finding, not a failure.
  - C(reader_role) - the results-reader role assumed (C(sts:AssumeRole), nothing else) in every targeted account.
  - C(quotas) - the TargetLocations of one StartAutomationExecution call (at most 100, botocore's ssm model) and the
    automations running at once per account and region (100 by default, the Systems Manager User Guide; the excess
    waits in a queue of 1,000).
author:
  - orgops maintainers (@orgops)
options:
  target_locations:
    description:
      - The run's target locations, as C(automation_execution)'s I(target_locations) (C(accounts), C(regions),
        C(include_child_ous), C(exclude_accounts), C(execution_role_name)). Empty skips the C(roles),
        C(reader_role) and C(quotas) checks.
    type: list
    elements: dict
    default: []
  include_management_account:
    description:
      - Add the management account (found with C(organizations:DescribeOrganization)) to every location's accounts,
        as the C(run_automation) role does.
    type: bool
    default: false
  policies:
    description:
      - The documented policy of each phase that will run, as read from the collection's
        C(plugins/module_utils/policies/<phase>.json) (the placeholder C(MANAGEMENT_ACCOUNT_ID) is replaced by the
        management account id). Empty skips the C(permissions) check.
    type: list
    elements: dict
    default: []
    suboptions:
      phase:
        description: The phase.
        type: str
        required: true
        choices: [roles, runbook, run, report]
      policy:
        description: The policy document (a dict, or its JSON text).
        type: raw
        required: true
      name:
        description: The policy's name, as the finding tells the user to attach it.
        type: str
  deploy_roles:
    description:
      - Whether the run deploys the roles (the C(roles) phase). Then trusted access is needed, and accounts without
        the roles are not blocking.
    type: bool
    default: false
  execution_role_stack_set:
    description: Name of the StackSet that deploys the execution role to member accounts.
    type: str
    default: AWS-SystemsManager-AutomationExecutionRole
  management_execution_stack:
    description: Name of the plain stack that deploys the execution role in the management account.
    type: str
    default: AWS-SystemsManager-AutomationExecutionRole-org
  stack_set_call_as:
    description: C(SELF) from the management account, C(DELEGATED_ADMIN) from a delegated administrator account.
    type: str
    choices: [SELF, DELEGATED_ADMIN]
    default: SELF
  reader_role_name:
    description: The results-reader role assumed in every targeted account; empty skips the C(reader_role) check.
    type: str
    default: AWS-SystemsManager-AutomationResultsReaderRole
  max_concurrency:
    description:
      - The run's I(max_concurrency) (instances per account and region at once), for the concurrency quota; a
        percentage is not judged.
    type: str
    default: "10"
extends_documentation_fragment:
  - orgops.ssm_automation.trace
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Permissions - C(sts:GetCallerIdentity) (none needed), C(organizations:DescribeOrganization),
    C(organizations:ListAWSServiceAccessForOrganization), C(iam:SimulatePrincipalPolicy) on the caller, the
    preflight's reads (C(organizations:List*) of the tree, C(cloudformation:ListStackInstances),
    C(cloudformation:DescribeStacks), C(iam:GetRole)), C(sts:AssumeRole) on the reader role,
    C(ssm:DescribeAutomationExecutions). A refused one is reported as a finding where the check can go on.
"""

EXAMPLES = r"""
- name: What would stop the real run
  orgops.ssm_automation.readiness_info:
    target_locations:
      - accounts: [ou-o2pk-wrkloads]
        regions: [ap-northeast-1]
    deploy_roles: true
    policies:
      - phase: run
        name: orgops-ssm-automation-run
        policy: "{{ lookup('ansible.builtin.file', 'policies/run.json') }}"
  register: readiness

- name: Stop here if anything would
  ansible.builtin.assert:
    that: readiness.ok
    fail_msg: "{{ readiness.blocking | join('; ') }}"
"""

RETURN = r"""
ok:
  description: True when no finding would stop the real run.
  returned: always
  type: bool
  sample: false
findings:
  description:
    - Every finding, C(check) (C(trusted_access), C(roles), C(permissions), C(reader_role), C(quotas)),
      C(blocking) (whether it would stop the real run) and C(message) (what is wrong and what to set or deploy).
  returned: always
  type: list
  elements: dict
  sample:
    - check: permissions
      blocking: true
      message: "permissions: phase run: arn:aws:iam::111122223333:user/ops may not call ssm:StartAutomationExecution
        (implicitDeny on arn:aws:ssm:ap-northeast-1:111122223333:automation-definition/*); attach the run phase's
        policy (orgops-ssm-automation-run, docs/permissions.md)"
      phase: run
      denied: [ssm:StartAutomationExecution]
blocking:
  description: The messages of the blocking findings.
  returned: always
  type: list
  elements: str
message:
  description: One line, how many findings would stop the real run.
  returned: always
  type: str
  sample: 2 finding(s) would stop the real run
caller:
  description: The caller's C(arn), C(account), and the IAM C(principal) simulated (C(arn), C(kind)).
  returned: always
  type: dict
management_account:
  description: The management account id.
  returned: always
  type: str
  sample: "111122223333"
accounts:
  description: Every targeted account (from the preflight).
  returned: always
  type: list
  elements: str
preflight:
  description: The preflight's result (see C(automation_execution)'s RV(preflight)); null without target locations.
  returned: always
  type: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, readiness, trace  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput  # noqa: E402

try:
    import botocore.exceptions

    BOTO_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
except ImportError:  # pragma: no cover - AnsibleAWSModule reports a missing botocore
    BOTO_ERRORS = ()


def main():
    module = AnsibleAWSModule(
        argument_spec={
            **trace.ARGUMENT_SPEC,
            "target_locations": {"type": "list", "elements": "dict", "default": []},
            "include_management_account": {"type": "bool", "default": False},
            "policies": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "phase": {"type": "str", "required": True, "choices": list(readiness.PHASES)},
                    "policy": {"type": "raw", "required": True},
                    "name": {"type": "str"},
                },
            },
            "deploy_roles": {"type": "bool", "default": False},
            "execution_role_stack_set": {"type": "str", "default": "AWS-SystemsManager-AutomationExecutionRole"},
            "management_execution_stack": {
                "type": "str",
                "default": "AWS-SystemsManager-AutomationExecutionRole-org",
            },
            "stack_set_call_as": {"type": "str", "default": "SELF", "choices": ["SELF", "DELEGATED_ADMIN"]},
            "reader_role_name": {"type": "str", "default": "AWS-SystemsManager-AutomationResultsReaderRole"},
            "max_concurrency": {"type": "str", "default": "10"},
        },
        supports_check_mode=True,
    )
    trace.install(module)

    def client(service, region=None):
        kwargs = {"retry_decorator": AWSRetry.jittered_backoff()}
        if region:
            kwargs["region"] = region
        return module.client(service, **kwargs)

    clients = {name: client(name) for name in ("organizations", "cloudformation", "iam", "sts", "ssm")}
    clients["cloudformation_for"] = lambda region: client("cloudformation", region)
    options = dict(module.params, region=module.region)
    try:
        result = readiness.check(clients, options)
    except InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field)
    except _aws.OrgOpsAWSError as e:
        _aws.fail(module, e)
    except BOTO_ERRORS as e:
        module.fail_json_aws(e, msg="readiness check: a read call failed")
    except ValueError as e:  # a policy that is not JSON
        module.fail_json(msg="policies: %s" % e, field="policies")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
