#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: automation_execution_info
short_description: Harvest every account's, region's, instance's and step's result of a multi-account SSM Automation
version_added: 0.1.0
description:
  - Given the id of a multi-account automation execution started in this (management) account and region, returns
    the whole tree, which AWS only shows account by account. Per location (account and region), its status, failure
    message and member execution id; per instance, its id, status, start and end; per step, its status, outputs and
    failure message.
  - Member accounts are read by assuming I(reader_role_name) in each; the caller's own account is read with the
    caller's credentials. A location that cannot be read (role missing, access denied, throttled past the retries,
    credentials expired) is recorded with its reason in C(read_error) of RV(locations); it is never fatal and never dropped.
  - Locations are read in parallel (I(concurrency)), calls within a location are paced (I(rate)) and retried with
    jittered backoff on throttling (botocore's I(retry_mode)); every list is paginated. Per location it makes one
    C(DescribeAutomationExecutions) call per 50 instance executions and one C(GetAutomationExecution) per instance
    execution (none with I(summary_only)). Assumed-role credentials are cached per account and renewed before expiry.
  - With I(dest), locations are written as JSON Lines while they arrive (for organizations too big for a module
    result) and the module returns only the counts and the summary.
  - Reads only. In check mode it reads as usual but does not write I(dest).
author:
  - orgops maintainers (@orgops)
options:
  automation_execution_id:
    description:
      - Id of the parent (CrossAccount) execution in this account and region.
    type: str
    required: true
    aliases: [execution_id]
  reader_role_name:
    description:
      - Role assumed in each member account to read its executions. The results-reader role deployed by the
        C(execution_roles) role is the least-privileged choice; the execution role or C(OrganizationAccountAccessRole)
        also work.
    type: str
    default: AWS-SystemsManager-AutomationResultsReaderRole
  full_output:
    description:
      - Also fetch each C(aws:runCommand) step's full stdout and stderr (up to 24,000 and 8,000 characters) through
        C(ssm:GetCommandInvocation), instead of only the 2,500 characters of the step output. One more call per step.
    type: bool
    default: false
  details:
    description:
      - Also read who is who, for the reports - per location the account's name and OU path (Organizations, once in
        the caller's account), per instance its C(Name) tag and state (C(ec2:DescribeInstances)), platform name,
        version and type and SSM ping status (C(ssm:DescribeInstanceInformation)), through the reader role, in at
        most one call per 50 instances per location and service. Added as C(account_name), C(ou_path) on each
        location and C(details) on each instance; a read that fails is recorded in C(details_error), never fatal.
    type: bool
    default: false
  summary_only:
    description:
      - Only count instance executions by status (RV(progress)), without reading each one, and return no
        RV(locations), only the counts and RV(summary). Cheap enough to poll.
    type: bool
    default: false
    aliases: [progress]
  concurrency:
    description:
      - Locations (account-regions) read at once, in all worker processes together (see I(processes)).
      - Calls within a location are paced by I(rate), so this bounds the calls in flight, not the rate per account.
      - 64 threads cost little more CPU than 16 (their clients are shared) and hide the calls' latency; see the
        collection's C(docs/performance.md).
    type: int
    default: 64
  processes:
    description:
      - Worker processes that read the locations, each with its share of I(concurrency) and its own clients, so
        that the harvest uses more than one CPU (botocore's per-call work is CPU-bound, and one Python process
        runs Python on one CPU at a time). Every account's locations are read by one process (one
        C(sts:AssumeRole) per account); records are sent back to the module as they complete, so streaming to
        I(dest) and the summary are unchanged. Credentials are inherited by the forked processes, never sent.
      - C(0) (automatic) starts one process per 100 locations, at most the CPUs available to the module and 8.
        C(1) reads everything in the module's own process, with threads.
      - Worker processes are forked, so they are only used on Linux; elsewhere the module reads with threads.
      - A location whose worker process dies is reported with C(read_error.code=WorkerFailed), never dropped.
    type: int
    default: 0
  rate:
    description:
      - Maximum API calls per second within one location (account-region); C(0) does not pace.
    type: float
    default: 10.0
  retry_mode:
    description:
      - botocore retry mode for member-account calls. Both retry throttling and transient errors with jittered
        exponential backoff; C(adaptive) also rate-limits the client after a throttle, which I(rate) already does
        per location, so C(standard) is the default (measured faster under throttling).
    type: str
    choices: [standard, adaptive]
    default: standard
  max_attempts:
    description:
      - botocore's maximum attempts per call (first call included) on throttling and transient errors.
    type: int
    default: 10
  dest:
    description:
      - Write the results as JSON Lines to this file as they arrive (one C(execution) line, one C(location) line per
        account and region, one C(summary) line). The module then returns no RV(locations).
      - Missing parent directories are created.
      - The lines go to a temporary file beside I(dest), renamed onto it when the harvest ends, so that I(dest) is
        always whole - two jobs gathering the same run at once each leave a complete file, and a harvest that stops
        half-way leaves the previous one.
    type: path
  endpoints:
    description:
      - Endpoints per service, and per region where it matters, for the harvest's own clients (C(ssm) in each member
        region, C(sts), C(organizations)), for example an SSM VPC interface endpoint without private DNS in one region.
      - Without it, botocore resolves each service's endpoint as it does for any client - C(AWS_ENDPOINT_URL_SSM),
        C(AWS_ENDPOINT_URL_STS), C(AWS_ENDPOINT_URL), the profile's C(services) section - then AWS's own endpoint for
        the region. Note that botocore applies C(AWS_ENDPOINT_URL_SSM) in every region.
      - I(endpoint_url) (or C(AWS_URL)) still applies to every service in every region, as amazon.aws's modules do;
        use it only for a single-endpoint emulator such as the collection's sandbox. An entry here wins over it.
    type: dict
  targets_file:
    description:
      - The run's expected target set (C(targets.json) in the run's report directory) - every account x region the run
        targeted, and where each came from (OU, account id, exclusions). Every one of them is in the result, even
        when AWS's answer does not mention it (see RV(locations)).
      - When the file exists it is the expected set (a kept set wins over recomputing); otherwise the set is
        recomputed from the parent execution's C(TargetLocations) and the organization (OUs expanded), and written
        there (not in check mode).
      - Without it, the set is recomputed and not kept.
    type: path
  max_failures:
    description:
      - At most this many entries in C(failures) of RV(summary) (the count is always complete).
    type: int
    default: 1000
extends_documentation_fragment:
  - orgops.ssm_automation.trace
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - The reader role needs C(ssm:DescribeAutomationExecutions), C(ssm:GetAutomationExecution),
    C(ssm:DescribeAutomationStepExecutions), for I(full_output) C(ssm:GetCommandInvocation), and for I(details)
    C(ssm:DescribeInstanceInformation) and C(ec2:DescribeInstances); the caller needs C(sts:AssumeRole) on it (and,
    for I(details), C(organizations:ListRoots), C(ListOrganizationalUnitsForParent) and C(ListAccountsForParent)).
  - To recompute the expected set of a run that targeted OUs, the caller needs C(organizations:ListRoots),
    C(organizations:ListOrganizationalUnitsForParent) and C(organizations:ListAccountsForParent); without them the
    OU targets are listed in C(summary.unresolved_targets) with the reason.
  - A targeted location that AWS's answer does not explain gets a status of its own, with a C(reason) -
    C(NoTargets) (the automation ended Success and the location started nothing or matched no instance; passes),
    C(NeverStarted) (the automation ended Failed, Cancelled or TimedOut before starting it; fails) or
    C(NotReported) (anything else, including several candidate member executions; fails). See the collection's
    C(docs/automation.md).
seealso:
  - module: orgops.ssm_automation.automation_execution
  - module: orgops.ssm_automation.automation_report
"""

EXAMPLES = r"""
- name: Everything, in the module result
  orgops.ssm_automation.automation_execution_info:
    automation_execution_id: "{{ run.automation_execution_id }}"
  register: results

- name: A big organization, streamed to a file, with full command output
  orgops.ssm_automation.automation_execution_info:
    automation_execution_id: "{{ run.automation_execution_id }}"
    dest: reports/results.jsonl
    full_output: true
    processes: 4
  register: results

- name: SSM through a VPC interface endpoint (no private DNS) in eu-west-1 only
  orgops.ssm_automation.automation_execution_info:
    automation_execution_id: "{{ run.automation_execution_id }}"
    endpoints:
      ssm:
        eu-west-1: https://vpce-0123456789abcdef0-abcdefgh.ssm.eu-west-1.vpce.amazonaws.com
    trace: reports/trace.jsonl

- name: Rebuild a run's report from its trace alone (a supporter, with no access to the account)
  orgops.ssm_automation.automation_execution_info:
    automation_execution_id: 94b3b674-4560-4a73-a397-49a6aec2f346
    region: ap-northeast-1
    replay: received/trace.jsonl
    dest: received/replayed.jsonl

- name: A cheap progress poll
  orgops.ssm_automation.automation_execution_info:
    automation_execution_id: "{{ run.automation_execution_id }}"
    summary_only: true
  register: poll

- name: Print it
  ansible.builtin.debug:
    msg: "{{ poll.progress_line }}"
"""

RETURN = r"""
execution:
  description: The parent execution, C(automation_execution_id), C(status), C(document_name), C(document_version),
    C(start_time), C(end_time), C(failure_message), C(location_progress).
  returned: always
  type: dict
locations:
  description:
    - One entry per account and region, sorted, each with C(account), C(region), C(status), C(failure_message),
      C(member_execution_id), C(read_status) (C(ok), C(partial), C(failed) or C(skipped)), C(read_error)
      (C(code), C(message)) and C(instances).
    - C(member_road) says how the member execution was found (C(step_output), C(parent_execution_filter) or
      C(document_and_start_time)); C(member_candidates) lists the candidates when a road found several (none is
      picked). C(member_roads_tried) lists the roads tried in order, and C(member_road_errors) (C(road), C(error))
      the roads that failed while another was tried after them; C(search_error) is set only when no road found the
      member execution. C(targeted_by) says where the location came from in the expected set; C(step_present=false)
      marks a targeted location that no parent step names.
    - C(status) is the parent step's status, or for a location AWS's answer does not explain C(NoTargets),
      C(NeverStarted) or C(NotReported) (then C(step_status) keeps the step's own status and C(reason) says why).
    - Each instance has C(instance_id), C(execution_id), C(status), C(start_time), C(end_time), C(failure_message),
      C(read_error) and C(steps); each step C(step_name), C(action), C(status), C(start_time), C(end_time),
      C(outputs), C(failure_message), C(response_code), and with I(full_output) C(stdout) and C(stderr).
  returned: without dest or summary_only
  type: list
  elements: dict
summary:
  description:
    - C(locations), C(locations_by_status), C(unreadable_locations), C(instances), C(instances_by_status),
      C(steps_by_status), C(step_failures) (per step, counts by status), C(failures) (account, region, instance_id,
      step_name, status, message), C(failures_total), C(failures_truncated), C(api_calls), C(retries),
      C(processes) (the worker processes used, see I(processes)).
    - C(lost_locations) counts the locations with no instance to count (could not run, could not be read), each a
      failure the instance counts do not show. C(unexplained_locations) counts C(NoTargets), C(NeverStarted) and
      C(NotReported) locations by status (also in C(locations_by_status)); they are not in C(lost_locations).
    - C(no_instance_matched) is a sentence naming the targets when the run ended and no location matched any
      instance (a run that ran nothing is not a pass), else null. C(uninterpreted_steps) lists the parent steps that
      name no account (raw name and status). C(expected_locations), C(expected_source), C(unresolved_targets)
      describe the expected set. C(execution_kind) says whether the run was read as cross-account or local, and
      what decided it (its TargetLocations or TargetLocationsURL, the expected set, a step's TargetLocation, or
      the AutomationType that DescribeAutomationExecutions gives).
  returned: always
  type: dict
progress:
  description: Instance executions by status, C(done), C(total), C(by_status), C(unreadable_locations).
  returned: always
  type: dict
progress_line:
  description: RV(progress) as one line.
  returned: always
  type: str
  sample: "37/120 instances done: 30 Success, 5 Failed, 2 TimedOut (83 InProgress)"
dest:
  description: The JSON Lines file written.
  returned: with dest, outside check mode
  type: str
targets_file:
  description: The expected target set's file, read or written (see I(targets_file)).
  returned: with targets_file
  type: str
records_written:
  description: Lines written to I(dest).
  returned: with dest, outside check mode
  type: int
replay:
  description:
    - With I(replay), the run of the trace that answered, C(trace), C(run), C(module), and C(answered),
      C(unanswered_count) and C(unanswered) (the first 20 calls the run held no answer for; then the report is not
      the recorded one, and a warning says so).
  returned: with replay
  type: dict
"""

import gc

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.orgops.ssm_automation.plugins.module_utils import trace, validation
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.status import progress_line
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import expected
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.clients import (
    check_endpoints,
    factory_from_connection,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.common import (
    DEFAULT_READER_ROLE,
    HarvestError,
    error_info,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.harvest import gather

# The JSON Lines writer and the file check, not the report facade, and the statuses and progress line from their
# own file, not the automation facade (preflight and stack set code) nor _automation/common.py (whose limits load
# botocore's SSM model at import, a second time here): every module_utils file imported here is shipped in the
# module's AnsiballZ payload and compiled from source at each run.
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.files import check_writable_file
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.jsonl import JsonLinesWriter
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "automation_execution_id": {"type": "str", "required": True, "aliases": ["execution_id"]},
            "reader_role_name": {"type": "str", "default": DEFAULT_READER_ROLE},
            "full_output": {"type": "bool", "default": False},
            "details": {"type": "bool", "default": False},
            "summary_only": {"type": "bool", "default": False, "aliases": ["progress"]},
            "concurrency": {"type": "int", "default": 64},
            "processes": {"type": "int", "default": 0},
            "rate": {"type": "float", "default": 10.0},
            "retry_mode": {"type": "str", "choices": ["standard", "adaptive"], "default": "standard"},
            "max_attempts": {"type": "int", "default": 10},
            "dest": {"type": "path"},
            "max_failures": {"type": "int", "default": 1000},
            "targets_file": {"type": "path"},
            "endpoints": {"type": "dict"},
            **trace.ARGUMENT_SPEC,
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        validation.execution_id(params["automation_execution_id"], "automation_execution_id")
        validation.role_name(params["reader_role_name"], "reader_role_name")
        for name, low in (("concurrency", 1), ("processes", 0), ("max_attempts", 1), ("max_failures", 0)):
            if params[name] < low:
                raise InvalidInput(name, "must be at least %d" % low)
        if params["rate"] < 0:
            raise InvalidInput("rate", "must be 0 (unpaced) or a positive number of calls per second")
        if params["dest"]:
            check_writable_file(params["dest"], "dest")
        check_endpoints(params["endpoints"])
        kept = None
        if params["targets_file"]:
            check_writable_file(params["targets_file"], "targets_file")
            try:
                kept = expected.read_file(params["targets_file"])
            except ValueError as e:
                raise InvalidInput("targets_file", "%s; remove it to recompute the set" % e) from None
    except InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field)

    region, endpoint_url, connect = get_aws_connection_info(module)
    factory = factory_from_connection(
        region,
        endpoint_url,
        connect,
        role_name=params["reader_role_name"],
        retry_mode=params["retry_mode"],
        max_attempts=params["max_attempts"],
        endpoints=params["endpoints"],
    )
    # With replay, the last run of this module in the trace that read this execution answers every call.
    tracer = trace.install(
        module, reads=("GetAutomationExecution", {"AutomationExecutionId": params["automation_execution_id"]})
    )
    if tracer:
        factory.observers.append(tracer)
    writer = None
    if params["dest"] and not module.check_mode:
        writer = JsonLinesWriter(params["dest"])  # opened when the parent execution has been read

    def on_header(header):
        writer.open()
        writer.header(header)

    def keep_expected(recomputed):
        expected.write_file(params["targets_file"], recomputed)

    try:
        result = gather(
            factory,
            params["automation_execution_id"],
            region,
            concurrency=params["concurrency"],
            rate=params["rate"],
            full_output=params["full_output"],
            summary_only=params["summary_only"],
            callback=writer.location if writer else None,
            keep=not params["dest"] and not params["summary_only"],
            max_failures=params["max_failures"],
            on_header=on_header if writer else None,
            processes=0 if params["replay"] else params["processes"],  # a replay counts its answers in one process
            expected=kept,
            on_expected=keep_expected if params["targets_file"] and not module.check_mode else None,
            details=params["details"],
        )
    except HarvestError as e:
        if error_info(e)["code"] in ("AutomationExecutionNotFoundException", "ValidationException"):
            module.fail_json(
                msg="automation_execution_id: execution %s was not found in this account and region (%s)"
                % (params["automation_execution_id"], region),
                field="automation_execution_id",
                error=error_info(e),
            )
        module.fail_json_aws(
            e.exception or e, msg="Failed to read automation execution %s" % params["automation_execution_id"]
        )
    output = {
        "changed": False,
        "execution": result["execution"],
        "summary": result["summary"],
        "progress": result["progress"],
        "progress_line": progress_line(result["progress"]),
    }
    if params["targets_file"]:
        output["targets_file"] = params["targets_file"]
    if params["replay"]:
        output["replay"] = tracer.summary()
        if tracer.unanswered:
            module.warn(
                "replay: %d call(s) had no answer in %s (the first: %s); the report is not the recorded one"
                % (len(tracer.unanswered), params["replay"], output["replay"]["unanswered"][0])
            )
    if writer:
        writer.summary(result["summary"])
        writer.close()
        output["dest"] = params["dest"]
        output["records_written"] = writer.lines
    elif not params["dest"] and not params["summary_only"]:
        output["locations"] = result["locations"]
    # The process ends with the result: frozen, the objects still alive (botocore's loaded models, the clients) are
    # not walked again by the interpreter's collections at exit, which took 0.1-0.4 s of CPU (more wall time on a
    # busy machine) between the result and the end of the task.
    gc.freeze()
    module.exit_json(**output)


if __name__ == "__main__":
    main()
