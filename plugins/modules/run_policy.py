#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: run_policy
short_description: Judge a multi-account SSM Automation run against a pass/fail policy, with no AWS call
version_added: 0.2.0
description:
  - The last task of the orgops.ssm_automation.run_automation role, after the reports are written. Computes the
    verdict from the C(summary) of M(orgops.ssm_automation.automation_execution_info) and from how the wait ended,
    and fails with one line naming every rule that was broken.
  - The rules, in order - a target of the automation's TargetLocations could not be resolved
    (C(summary.unresolved_targets)); a parent step could not be interpreted (C(summary.uninterpreted_steps); not when
    the step succeeded and the expected set is complete); no location matched any instance
    (C(summary.no_instance_matched)); more than I(max_failed_percent) percent of the targeted instances did not
    succeed (a location that could not run or could not be read, or that the run never started or AWS never
    reported, counts as one failed target; a location whose targets matched no instance passes); a step of
    I(required_steps) failed, timed out or was cancelled on an instance; the run was still going at the end of the
    wait (with I(fail_on_timeout)); more instances than allowed are noncompliant (with a compliance summary); the
    progress could not be read.
  - Makes no AWS call and changes nothing; the rules live in the collection's C(policy) module_utils.
author:
  - orgops maintainers (@orgops)
options:
  summary:
    description:
      - The C(summary) returned by M(orgops.ssm_automation.automation_execution_info).
    type: dict
    required: true
  execution_id:
    description:
      - The automation execution id, for the messages.
    type: str
    default: ""
  max_failed_percent:
    description:
      - Fail when more than this percentage (0 to 100) of the targeted instances did not succeed.
    type: int
    default: 0
  required_steps:
    description:
      - Fail when any of these steps failed, timed out or was cancelled on any instance.
    type: list
    elements: str
    default: []
  fail_on_timeout:
    description:
      - Fail when the run was still going at the end of the wait (I(wait) C(timed_out)).
    type: bool
    default: true
  wait_timeout:
    description:
      - How long the wait lasted at most (seconds), for the message.
    type: int
  wait:
    description:
      - How the wait ended - C(timed_out) (bool), C(progress) (the last progress line), C(error) (why the progress
        could not be read, or empty).
    type: dict
    default: {}
  field_aliases:
    description:
      - Maps a C(run_automation_*) variable name to the name the user set, so that messages name it.
    type: dict
    default: {}
  compliance:
    description:
      - The C(compliance) of M(orgops.ssm_automation.automation_report)'s C(summary) (instances judged against the OS
        standard); empty when there is no standard.
    type: dict
    default: {}
  max_noncompliant_percent:
    description:
      - Fail when more than this percentage (0 to 100) of the judged instances are noncompliant; 100 only reports.
    type: int
    default: 100
  fail_on_unknown:
    description:
      - Count the instances whose compliance is C(unknown) as noncompliant in O(max_noncompliant_percent).
    type: bool
    default: false
notes:
  - Supports check mode; it never changes anything.
"""

EXAMPLES = r"""
- name: Gather
  orgops.ssm_automation.automation_execution_info:
    automation_execution_id: "{{ execution_id }}"
  register: gathered

- name: Apply the pass/fail policy
  orgops.ssm_automation.run_policy:
    summary: "{{ gathered.summary }}"
    execution_id: "{{ execution_id }}"
    max_failed_percent: 5
    required_steps: [CheckHostname]
"""

RETURN = r"""
verdict:
  description: The verdict.
  returned: always
  type: dict
  contains:
    passed:
      description: Whether every rule held.
      type: bool
      sample: false
    reasons:
      description: One sentence per broken rule.
      type: list
      elements: str
      sample: ["3 of 20 instance(s) did not succeed (15.0% > run_automation_max_failed_percent 10%)"]
    broken_rules:
      description: The names of the broken rules (C(unresolved_targets), C(uninterpreted_steps), C(no_instance_matched),
        C(max_failed_percent), C(required_steps), C(fail_on_timeout), C(noncompliant_percent), C(progress)).
      type: list
      elements: str
      sample: [max_failed_percent]
    failed_percent:
      description: Percentage of targets that did not succeed, one decimal.
      type: float
      sample: 15.0
    facts:
      description: The numbers judged - C(instances), C(succeeded), C(lost_locations), C(failed), C(denominator),
        C(failed_percent), C(failed_percent_rounded), C(passed_locations).
      type: dict
msg:
  description: C(Policy passed for automation ...) or C(Policy failed for automation ...) with every reason.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.orgops.ssm_automation.plugins.module_utils import policy


def main():
    module = AnsibleModule(
        argument_spec={
            "summary": {"type": "dict", "required": True},
            "execution_id": {"type": "str", "default": ""},
            "max_failed_percent": {"type": "int", "default": 0},
            "required_steps": {"type": "list", "elements": "str", "default": []},
            "fail_on_timeout": {"type": "bool", "default": True},
            "wait_timeout": {"type": "int"},
            "wait": {"type": "dict", "default": {}},
            "field_aliases": {"type": "dict", "default": {}},
            "compliance": {"type": "dict", "default": {}},
            "max_noncompliant_percent": {"type": "int", "default": 100},
            "fail_on_unknown": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    settings = {k: p[k] for k in policy.DEFAULT_SETTINGS if k in p}
    outcome = policy.verdict(p["summary"], settings, p["wait"])
    msg = outcome.pop("msg")
    if not outcome["passed"]:
        module.fail_json(msg=msg, verdict=outcome)
    module.exit_json(changed=False, msg=msg, verdict=outcome)


if __name__ == "__main__":
    main()
