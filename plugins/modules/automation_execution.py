#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: automation_execution
short_description: Start, follow or cancel a multi-account, multi-region SSM Automation execution
version_added: 0.1.0
description:
  - Starts an SSM Automation runbook from the management account (C(ssm:StartAutomationExecution)) on EC2 instances
    in many accounts, OUs and regions, or attaches to an execution already started, or cancels one.
  - Everything is validated before any AWS call that could change anything. First the formats of account ids, OU ids
    and regions, rate-control values, targets, tags and tokens, before any AWS call at all. Then the runbook's parameters
    against the runbook itself, fetched with C(ssm:GetDocument) for the pinned or default version (unknown names,
    missing required ones, values not in C(allowedValues) or not matching C(allowedPattern)).
  - A target location with more than 50 accounts/OUs or 50 regions (AWS's limits) is split transparently into
    several TargetLocations; the result says so in RV(split).
  - The preflight (on by default) resolves every target OU (with its child OUs, minus I(target_locations[].exclude_accounts))
    into accounts, checks that each has the execution role (a C(CURRENT) instance of the execution-role StackSet,
    found in whichever region it was created, the run's and the locations' regions first, then every other one; for
    the management account, the role itself, read from IAM, which is global), checks that the automation assume role
    may assume each location's I(target_locations[].execution_role_name), and fails before starting with what to set
    or deploy, instead of letting the locations fail one by one.
  - With I(idempotency_key), the ClientToken is derived from the key and the request, and the execution is tagged with
    it; a second run with the same key and request finds that execution with a read call and starts nothing
    (C(changed=false)), so that a retried AWX job cannot start a second execution.
  - With I(wait), returns when the execution is finished or I(wait_timeout) passes; a timeout is not a failure, the
    result has RV(timed_out=true) and the id to re-attach with I(execution_id). With I(progress), the result also
    counts the instance executions by status in every member account (read through I(reader_role_name)).
  - In check mode, validates, runs the preflight and returns the request that would be sent, without starting anything.
author:
  - orgops maintainers (@orgops)
options:
  state:
    description:
      - C(started) starts an execution (or attaches to I(execution_id)); C(cancelled) stops I(execution_id)
        (C(ssm:StopAutomationExecution), type C(Cancel)). Cancelling a finished execution changes nothing.
    type: str
    choices: [started, cancelled]
    default: started
  execution_id:
    description:
      - Attach to this existing automation execution instead of starting one (to wait for it or cancel it).
      - Mutually exclusive with every option that describes a new execution.
    type: str
    aliases: [automation_execution_id]
  document_name:
    description:
      - Name (or ARN) of the Automation runbook to start, such as C(check-os).
    type: str
  document_version:
    description:
      - Runbook version to run, C($DEFAULT), C($LATEST) or a number. Omitted runs the default version.
    type: str
  parameters:
    description:
      - Runbook parameters, name to value. A value may be a scalar or a list (StringList); booleans are sent as
        C(true)/C(false), dicts (StringMap) as JSON.
      - Checked against the runbook's declared parameters before starting.
    type: dict
  automation_assume_role:
    description:
      - The role the runbook runs as, passed in the parameter the runbook's C(assumeRole) names
        (C(AutomationAssumeRole) in the seed's C(check-os)).
      - An IAM role ARN is used as given.
      - C(true) always builds C(arn:<partition>:iam::<caller account>:role/<admin_role_name>) (the caller account comes
        from C(sts:GetCallerIdentity)); it is an error when the runbook declares no assume-role parameter.
      - Omitted (or C(auto)) builds that ARN only when the runbook declares the parameter and I(parameters) does not set it.
      - C(false) never sets it.
    type: raw
  admin_role_name:
    description:
      - Name of the Automation administration role in the management account, used to build I(automation_assume_role).
    type: str
    default: AWS-SystemsManager-AutomationAdministrationRole
  target_parameter_name:
    description:
      - The runbook parameter that receives each target's id when I(targets) is set.
    type: str
    default: InstanceId
  targets:
    description:
      - Which resources to run on in each account and region; give exactly one of I(targets.tags),
        I(targets.all_instances) and I(targets.key_values).
      - Omitted runs the runbook once per location, without fan-out.
    type: dict
    suboptions:
      tags:
        description:
          - Instances carrying this tag, key to value (or list of values, any of which matches); sent as C(tag:KEY).
          - One key only; AWS accepts one target per execution (C(AutomationTargets) max 1 in botocore's ssm model,
            "Only one resource group or tag can be specified at a time"). More keys are refused before any AWS call.
        type: dict
      all_instances:
        description:
          - Every EC2 instance (C(AWS::EC2::Instance) = C(*)).
        type: bool
      key_values:
        description:
          - Raw C(Targets) entries, as in the API. One entry only (AWS's limit, as for I(targets.tags)).
        type: list
        elements: dict
        suboptions:
          key:
            description:
              - The target key, such as C(tag:Env), C(tag-key), C(ResourceGroup), C(ParameterValues).
            type: str
            required: true
          values:
            description:
              - The values.
            type: list
            elements: str
            required: true
  target_locations:
    description:
      - Where to run. Each entry is one or more TargetLocations (split when over 50 accounts or 50 regions).
    type: list
    elements: dict
    suboptions:
      accounts:
        description:
          - Account ids (12 digits), OU ids (C(ou-xxxx-xxxxxxxx)) or the root id (C(r-xxxx)).
        type: list
        elements: str
        required: true
      include_child_ous:
        description:
          - Include the accounts of every OU below the listed OUs, at any depth (C(IncludeChildOrganizationUnits)).
        type: bool
        default: true
      exclude_accounts:
        description:
          - Account ids or OU ids to leave out after expansion (at most 5,000).
        type: list
        elements: str
      regions:
        description:
          - Regions to run in.
        type: list
        elements: str
        required: true
      execution_role_name:
        description:
          - The execution role in each target account.
        type: str
        default: AWS-SystemsManager-AutomationExecutionRole
      max_concurrency:
        description:
          - C(TargetLocationMaxConcurrency), how many account-regions run at once, a number or a percentage.
          - Always sent. Omitted sends C(10); AWS's own default (when the field is absent) is C(1), one location at
            a time.
        type: str
      max_errors:
        description:
          - C(TargetLocationMaxErrors), how many failed account-regions stop AWS from queueing the others, a number
            or a percentage.
          - Always sent. Omitted sends C(100%), so that every location runs and reports its own outcome whatever AWS
            counts as a location error (AWS does not document whether a location whose execution ends C(Failed)
            counts, or only one that could not start); the pass/fail policy then judges the run. AWS's own default
            is C(0), which stops queueing after the first error and leaves the other locations never started.
        type: str
  max_concurrency:
    description:
      - C(MaxConcurrency) for the targets, a number (C(10)) or a percentage (C(10%)).
    type: str
  max_errors:
    description:
      - C(MaxErrors) for the targets, a number (C(0), C(10)) or a percentage (C(0%) to C(100%)).
    type: str
  tags:
    description:
      - Tags put on the execution, key to value. AWS accepts at most 5 at start; with I(idempotency_key) or
        I(client_token) one of them holds the key, so at most 4 here.
    type: dict
  idempotency_key:
    description:
      - Any string that identifies this run, such as an AWX job template id and a date. The same key with the same
        request starts at most one execution; the next runs return it with C(changed=false).
      - Mutually exclusive with I(client_token).
    type: str
  client_token:
    description:
      - An explicit C(ClientToken) (a UUID). Like I(idempotency_key), a later run with the same token returns the
        execution it started.
    type: str
  preflight:
    description:
      - Check, before starting, that every account the target locations resolve to exists and has the execution role.
    type: bool
    default: true
  execution_role_stack_set:
    description:
      - Name of the StackSet that deploys the execution role to member accounts, for the preflight.
    type: str
    default: AWS-SystemsManager-AutomationExecutionRole
  management_execution_stack:
    description:
      - Name of the plain stack that deploys the execution role in the management account, for the preflight.
    type: str
    default: AWS-SystemsManager-AutomationExecutionRole-org
  stack_set_call_as:
    description:
      - C(CallAs) for reading the StackSet, C(DELEGATED_ADMIN) when running from a delegated administrator account.
    type: str
    choices: [SELF, DELEGATED_ADMIN]
    default: SELF
  wait:
    description:
      - Wait until the execution is finished (or I(wait_timeout) passes).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait. At the timeout the module returns the current state with RV(timed_out=true); it does not fail.
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between two polls of the execution while waiting.
    type: int
    default: 10
  progress:
    description:
      - With I(wait), also count the instance executions by status in every member account (RV(progress)),
        reading them through I(reader_role_name). Failures to read an account are counted, not fatal.
    type: bool
    default: true
  reader_role_name:
    description:
      - Role assumed in member accounts to count instance executions for RV(progress).
    type: str
    default: AWS-SystemsManager-AutomationResultsReaderRole
  concurrency:
    description:
      - Member account-regions read at once for RV(progress).
    type: int
    default: 16
extends_documentation_fragment:
  - orgops.ssm_automation.trace
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(ssm:GetDocument), C(ssm:StartAutomationExecution), C(ssm:DescribeAutomationExecutions),
    C(ssm:GetAutomationExecution), C(ssm:StopAutomationExecution) (to cancel), C(sts:GetCallerIdentity), and for the
    preflight C(organizations:ListRoots), C(organizations:ListOrganizationalUnitsForParent),
    C(organizations:ListAccountsForParent), C(organizations:DescribeOrganization), C(cloudformation:ListStackInstances)
    (in every region until the StackSet is found, since it may live in another region than the run's),
    C(cloudformation:DescribeStacks), and, optional (without them the preflight says what it could not check),
    C(iam:GetRole) (the management account's execution role and the automation assume role), C(iam:ListRolePolicies),
    C(iam:GetRolePolicy), C(iam:ListAttachedRolePolicies), C(iam:GetPolicy), C(iam:GetPolicyVersion) (whether the
    assume role may assume each location's execution role).
seealso:
  - module: orgops.ssm_automation.automation_execution_info
  - module: orgops.ssm_automation.automation_report
"""

EXAMPLES = r"""
- name: The seed's first command, tag targets below an OU, waiting for the end
  orgops.ssm_automation.automation_execution:
    document_name: check-os
    parameters:
      CheckHostname: check
      CheckTimezone: check
      CheckLocale: check
      CheckUpdate: check
      CheckNTP: check
    targets:
      tags:
        ssm-automation: "true"
    target_locations:
      - accounts: [ou-o2pk-xxxxxxxx]
        regions: [ap-northeast-1]
    idempotency_key: "check-os-{{ awx_job_id | default('manual') }}"
    wait: true
    wait_timeout: 1800
  register: run

- name: Pinned version, every EC2 instance, the whole organization including the management account
  orgops.ssm_automation.automation_execution:
    document_name: check-os
    document_version: "6"
    targets:
      all_instances: true
    target_locations:
      - accounts: [r-o2pk]
        regions: [ap-northeast-1, eu-west-1]
        exclude_accounts: [ou-o2pk-sandboxes]

- name: What would start (check mode runs the validation and the preflight only)
  orgops.ssm_automation.automation_execution:
    document_name: check-os
    targets:
      tags:
        ssm-automation: "true"
    target_locations:
      - accounts: [ou-o2pk-xxxxxxxx]
        regions: [ap-northeast-1]
  check_mode: true

- name: Re-attach to a run that timed out, and wait again
  orgops.ssm_automation.automation_execution:
    execution_id: "{{ run.automation_execution_id }}"
    wait: true

- name: Cancel it
  orgops.ssm_automation.automation_execution:
    execution_id: "{{ run.automation_execution_id }}"
    state: cancelled
"""

RETURN = r"""
automation_execution_id:
  description: The execution's id (the one started, found by its idempotency key, or attached to). Absent in check mode when nothing exists yet.
  returned: when an execution exists
  type: str
  sample: 4b1e3f9a-2c5d-4e6f-8a7b-9c0d1e2f3a4b
status:
  description: The execution's C(AutomationExecutionStatus) (C(WouldStart) in check mode when nothing exists yet).
  returned: always
  type: str
  sample: InProgress
timed_out:
  description: True when I(wait) was set and the execution was still running at I(wait_timeout).
  returned: always
  type: bool
existing:
  description: True when the execution already existed (attached by I(execution_id), or found by its idempotency key).
  returned: always
  type: bool
client_token:
  description: The ClientToken sent (derived from I(idempotency_key), or I(client_token)).
  returned: when starting
  type: str
request:
  description: The StartAutomationExecution request, as sent (or as it would be sent in check mode).
  returned: when starting
  type: dict
target_locations:
  description: The TargetLocations of the request, after splitting.
  returned: when starting
  type: list
  elements: dict
split:
  description: One entry per I(target_locations) entry that was split into several TargetLocations, with the reason.
  returned: when starting
  type: list
  elements: dict
  sample:
    - location: 0
      into: 2
      accounts: 60
      regions: 1
      reason: "target_locations[0] has 60 accounts/OUs (limit 50): split into 2 TargetLocations"
locations:
  description:
    - Per I(target_locations) entry, the accounts it resolves to (from the preflight), its regions and execution role.
  returned: when starting with target_locations
  type: list
  elements: dict
accounts:
  description: Every account the execution targets (from the preflight).
  returned: when the preflight ran
  type: list
  elements: str
targets:
  description:
    - The expected target set of the request, computed with or without the preflight - C(locations) (every account x
      region, each with C(from), the target location and OU, root or account id it came from), C(excluded),
      C(unresolved) (targets that could not be expanded, with the reason), C(source). The run_automation role keeps
      it as C(targets.json) in the run's report directory; C(automation_execution_info) reconciles the report with it.
  returned: when an execution is (or would be) started with target locations, or was found already started with
    the same I(idempotency_key)
  type: dict
preflight:
  description:
    - The preflight's findings, C(ok), C(missing_role) (accounts without the execution role), C(unknown_targets),
      C(inactive_accounts), C(management_account), C(message).
  returned: when the preflight ran
  type: dict
execution:
  description:
    - The parent execution, C(status), C(document_name), C(document_version), C(start_time), C(end_time),
      C(failure_message), C(location_progress) (its ProgressCounters), C(location_steps) (one per account and region).
  returned: when an execution exists
  type: dict
progress:
  description: Instance executions counted by status across every member account, C(done), C(total), C(by_status), C(unreadable_locations).
  returned: with wait and progress
  type: dict
  sample: {"done": 37, "total": 120, "by_status": {"Success": 30, "Failed": 5, "TimedOut": 2, "InProgress": 83}, "unreadable_locations": 0}
progress_line:
  description: RV(progress) as one line.
  returned: with wait and progress
  type: str
  sample: "37/120 instances done: 30 Success, 5 Failed, 2 TimedOut (83 InProgress)"
"""

import uuid  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, automation, runbook, trace  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation import calls  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import clients, common, expected, harvest  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput  # noqa: E402

START_OPTIONS = (
    "document_name",
    "document_version",
    "parameters",
    "automation_assume_role",
    "targets",
    "target_locations",
    "max_concurrency",
    "max_errors",
    "tags",
    "idempotency_key",
    "client_token",
)


def argument_spec():
    location = {
        "accounts": {"type": "list", "elements": "str", "required": True},
        "include_child_ous": {"type": "bool", "default": True},
        "exclude_accounts": {"type": "list", "elements": "str"},
        "regions": {"type": "list", "elements": "str", "required": True},
        "execution_role_name": {"type": "str", "default": automation.DEFAULT_EXECUTION_ROLE},
        "max_concurrency": {"type": "str"},
        "max_errors": {"type": "str"},
    }
    targets = {
        "tags": {"type": "dict"},
        "all_instances": {"type": "bool"},
        "key_values": {
            "type": "list",
            "no_log": False,
            "elements": "dict",
            "options": {
                "key": {"type": "str", "required": True, "no_log": False},
                "values": {"type": "list", "elements": "str", "required": True},
            },
        },
    }
    return {
        "state": {"type": "str", "choices": ["started", "cancelled"], "default": "started"},
        "execution_id": {"type": "str", "aliases": ["automation_execution_id"]},
        "document_name": {"type": "str"},
        "document_version": {"type": "str"},
        "parameters": {"type": "dict"},
        "automation_assume_role": {"type": "raw"},
        "admin_role_name": {"type": "str", "default": automation.DEFAULT_ADMIN_ROLE},
        "target_parameter_name": {"type": "str", "default": "InstanceId"},
        "targets": {
            "type": "dict",
            "options": targets,
            "mutually_exclusive": [["tags", "all_instances", "key_values"]],
        },
        "target_locations": {"type": "list", "elements": "dict", "options": location},
        "max_concurrency": {"type": "str"},
        "max_errors": {"type": "str"},
        "tags": {"type": "dict"},
        "idempotency_key": {"type": "str", "no_log": False},
        "client_token": {"type": "str", "no_log": False},
        "preflight": {"type": "bool", "default": True},
        "execution_role_stack_set": {"type": "str", "default": automation.DEFAULT_EXECUTION_STACK_SET},
        "management_execution_stack": {"type": "str", "default": automation.DEFAULT_MANAGEMENT_STACK},
        "stack_set_call_as": {"type": "str", "choices": ["SELF", "DELEGATED_ADMIN"], "default": "SELF"},
        "wait": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 3600},
        "poll_interval": {"type": "int", "default": 10},
        "progress": {"type": "bool", "default": True},
        "reader_role_name": {"type": "str", "default": common.DEFAULT_READER_ROLE},
        "concurrency": {"type": "int", "default": 16},
    }


def _client(module, service):
    return module.client(service, retry_decorator=AWSRetry.jittered_backoff())


def follow(module, ssm, execution_id, result):
    """Wait (if asked), then fill in status, the execution summary and the progress counts."""
    params = module.params
    execution, timed_out = calls.follow(
        ssm, execution_id, params["wait"], params["wait_timeout"], params["poll_interval"]
    )
    result["timed_out"] = timed_out
    result["status"] = execution.get("AutomationExecutionStatus")
    result["execution"] = automation.summarize_execution(execution)
    if params["wait"] and params["progress"]:
        region, endpoint_url, connect = get_aws_connection_info(module)
        try:
            factory = clients.factory_from_connection(
                region, endpoint_url, connect, role_name=params["reader_role_name"]
            )
            if getattr(module, "orgops_tracer", None):  # trace (or replay) the progress reads too
                factory.observers.append(module.orgops_tracer)
            counted = harvest.gather(
                factory, execution_id, region, concurrency=params["concurrency"], summary_only=True, keep=False
            )
            result["progress"] = counted["progress"]
            result["progress_line"] = automation.progress_line(counted["progress"])
        except Exception as e:  # pylint: disable=broad-except  # progress is a bonus: its failure is reported, not fatal
            result["progress"] = None
            result["progress_error"] = common.error_info(e)
    if timed_out:
        result["msg"] = "automation execution %s still %s after %ss; re-attach with execution_id=%s" % (
            execution_id,
            result["status"],
            params["wait_timeout"],
            execution_id,
        )
    return result


def do_cancel(module, ssm, result):
    execution_id = module.params["execution_id"]
    execution = calls.read_execution(ssm, execution_id, module.region)
    status = execution.get("AutomationExecutionStatus")
    result.update(changed=False, automation_execution_id=execution_id, existing=True, timed_out=False, status=status)
    if automation.is_terminal(status) or status == "Cancelling":
        result["execution"] = automation.summarize_execution(execution)
        result["msg"] = "automation execution %s is already %s" % (execution_id, status)
        module.exit_json(**result)
    result["changed"] = True
    if module._diff:
        result["diff"] = {"before": {"status": status}, "after": {"status": "Cancelled"}}
    if module.check_mode:
        result["msg"] = "would cancel automation execution %s (%s)" % (execution_id, status)
        result["execution"] = automation.summarize_execution(execution)
        module.exit_json(**result)
    result["changed"] = calls.cancel(ssm, execution_id)  # False: it finished in between
    follow(module, ssm, execution_id, result)
    module.exit_json(**result)


def do_attach(module, ssm, result):
    execution_id = module.params["execution_id"]
    calls.read_execution(ssm, execution_id, module.region)
    result.update(changed=False, automation_execution_id=execution_id, existing=True)
    follow(module, ssm, execution_id, result)
    module.exit_json(**result)


def do_start(module, ssm, result):
    params = module.params
    built = automation.build_request(params)
    request = built["request"]
    doc, resolved_version = calls.load_runbook(
        ssm, request["DocumentName"], request.get("DocumentVersion"), module.region
    )
    caller_arn = calls.caller_arn(_client(module, "sts")) if automation.needs_caller_identity(doc, params) else None
    request = automation.apply_runbook(request, doc, params, runbook.check_parameters, caller_arn=caller_arn)
    result.update(
        changed=False,
        existing=False,
        timed_out=False,
        split=built["split"],
        target_locations=request.get("TargetLocations") or [],
        runbook_version=resolved_version,
    )
    token = params["client_token"]
    if params["idempotency_key"]:
        token = automation.client_token(params["idempotency_key"], request)
    if token:
        found = calls.find_by_token(ssm, token)
        if found:
            result.update(existing=True, automation_execution_id=found["AutomationExecutionId"], client_token=token)
            if request.get("TargetLocations"):
                # a relaunched job keeps its expected set too (the key's request is the one that was started)
                result["targets"] = expected.for_request(module, request["TargetLocations"])
            result["msg"] = (
                "automation execution %s was already started with this idempotency key" % found["AutomationExecutionId"]
            )
            follow(module, ssm, found["AutomationExecutionId"], result)
            module.exit_json(**result)
        request = automation.with_token_tag(request, token)
    else:
        token = str(uuid.uuid4())  # still idempotent across the SDK's own retries of this one call
        request = dict(request, ClientToken=token)
    result["client_token"] = token
    result["request"] = request

    if params["preflight"] and built["locations"]:
        assume_param = automation.assume_role_parameter(doc)
        checked = calls.run_preflight(
            _client(module, "organizations"),
            _client(module, "cloudformation"),
            built["locations"],
            stack_set_name=params["execution_role_stack_set"],
            management_stack_name=params["management_execution_stack"],
            call_as=params["stack_set_call_as"],
            cfn_for=lambda region: module.client(
                "cloudformation", retry_decorator=AWSRetry.jittered_backoff(), region=region
            ),
            search_regions=automation.search_regions(module.region, built["locations"]),
            iam_client=_client(module, "iam"),
            assume_role_arn=((request.get("Parameters") or {}).get(assume_param) or [None])[0],
        )
        result["preflight"] = checked
        result["locations"] = checked["locations"]
        result["accounts"] = checked["accounts"]
        if not checked["ok"]:
            module.fail_json(msg="preflight: " + checked["message"] + "; nothing was started", **result)
    elif built["locations"]:
        result["locations"] = [
            {
                "location": i,
                "targets": loc["accounts"],
                "regions": loc["regions"],
                "execution_role_name": loc["execution_role_name"],
                "accounts": None,
            }
            for i, loc in enumerate(built["locations"])
        ]

    if request.get("TargetLocations"):
        result["targets"] = expected.for_request(module, request["TargetLocations"])  # the expected set (issue 15)
    result["changed"] = True
    if module._diff:
        result["diff"] = {"before": {}, "after": {"automation_execution": request}}
    if module.check_mode:
        result["status"] = "WouldStart"
        result["msg"] = "would start %s across %d TargetLocations" % (
            request["DocumentName"],
            len(result["target_locations"]),
        )
        module.exit_json(**result)
    # With an idempotency token, a start refused as a reuse of it (another job with the same key started at the same
    # time) attaches to the execution started with it (calls.start_or_attach).
    tagged = bool(params["idempotency_key"] or params["client_token"])
    result["automation_execution_id"], attached = calls.start_or_attach(ssm, request, token if tagged else None)
    if attached:
        result.update(changed=False, existing=True)
        result["msg"] = (
            "automation execution %s was started at the same time with this idempotency key; attached to it"
            % result["automation_execution_id"]
        )
    follow(module, ssm, result["automation_execution_id"], result)
    module.exit_json(**result)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(argument_spec(), **trace.ARGUMENT_SPEC),
        supports_check_mode=True,
        mutually_exclusive=[["execution_id", option] for option in START_OPTIONS]
        + [["idempotency_key", "client_token"]],
        required_if=[["state", "cancelled", ["execution_id"]]],
        required_one_of=[["execution_id", "document_name"]],
    )
    attached = module.params.get("execution_id")
    trace.install(module, reads=("GetAutomationExecution", {"AutomationExecutionId": attached}) if attached else None)
    params = module.params
    if params["wait_timeout"] < 0:
        module.fail_json(msg="wait_timeout: must be 0 or more seconds", field="wait_timeout")
    if params["poll_interval"] < 1:
        module.fail_json(msg="poll_interval: must be at least 1 second", field="poll_interval")
    if params["concurrency"] < 1:
        module.fail_json(msg="concurrency: must be at least 1", field="concurrency")
    result = {}  # what is known so far, returned with any failure
    try:
        # Static validation before any client is even created.
        if params["execution_id"]:
            automation.check_execution_id(params["execution_id"])
        else:
            automation.build_request(params)
        ssm = _client(module, "ssm")
        if params["state"] == "cancelled":
            do_cancel(module, ssm, result)
        elif params["execution_id"]:
            do_attach(module, ssm, result)
        else:
            do_start(module, ssm, result)
    except InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field, **result)
    except _aws.OrgOpsAWSError as e:  # AutomationError, StackSetError: one error style
        _aws.fail(module, e, **result)


if __name__ == "__main__":
    main()
