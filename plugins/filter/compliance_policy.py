# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: compliance_policy
short_description: The compliance part of the check_os pass/fail verdict
version_added: 0.2.0
description:
  - From the C(compliance) of M(orgops.ssm_automation.automation_report)'s C(summary), counts the noncompliant
    instances (and the unknown ones when O(fail_on_unknown)) and compares their percentage with
    O(max_noncompliant_percent). Returns the counts and a C(reason), empty when the policy passes.
  - The inputs are checked first; called on an empty summary it only validates them (before anything runs).
options:
  _input:
    description: The report summary's C(compliance) (or empty).
    type: dict
    required: true
  max_noncompliant_percent:
    description: Fail when more than this percentage (0 to 100) of the judged instances are noncompliant; 100 only reports.
    type: int
    default: 100
  fail_on_unknown:
    description: Count the C(unknown) instances as noncompliant.
    type: bool
    default: false
  percent_field:
    description: The variable named in messages for O(max_noncompliant_percent).
    type: str
    default: check_os_max_noncompliant_percent
  unknown_field:
    description: The variable named in messages for O(fail_on_unknown).
    type: str
    default: check_os_fail_on_unknown
author:
  - orgops maintainers (@orgops)
"""

EXAMPLES = r"""
- name: The compliance verdict
  ansible.builtin.set_fact:
    verdict: "{{ report.summary.compliance | default({}) | orgops.ssm_automation.compliance_policy(10, false) }}"
"""

RETURN = r"""
_value:
  description: C(compliant), C(noncompliant), C(unknown), C(total), C(failing), C(percent), C(max_percent), C(reason).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.orgops.ssm_automation.plugins.module_utils.compliance import policy
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput


def compliance_policy(
    summary_compliance,
    max_noncompliant_percent=100,
    fail_on_unknown=False,
    percent_field="check_os_max_noncompliant_percent",
    unknown_field="check_os_fail_on_unknown",
):
    try:
        return policy(summary_compliance, max_noncompliant_percent, fail_on_unknown, percent_field, unknown_field)
    except InvalidInput as e:
        raise AnsibleFilterError("Invalid input, nothing was sent to AWS. %s" % e) from None


class FilterModule(object):
    def filters(self):
        return {"compliance_policy": compliance_policy}
