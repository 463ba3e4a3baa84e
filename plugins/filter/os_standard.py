# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: os_standard
short_description: Validate the OS standard of check_os and merge its flat AWX variables into it
version_added: 0.2.0
description:
  - Returns the standard (C(check_os_expect)) with every value in its form, after merging the flat variables an AWX
    survey can set (C(check_os_expect_timezone), C(check_os_expect_locale), C(check_os_expect_ntp_synchronized),
    C(check_os_expect_ntp_source), C(check_os_expect_max_pending_updates), C(check_os_expect_hostname_pattern)); a
    flat variable that is not empty wins over the same key of the dictionary.
  - Unknown keys and malformed values fail, naming the variable (C(check_os_expect.timezon)) and the accepted form.
  - The rules are those of M(orgops.ssm_automation.automation_report)'s I(expect) (the same Python code).
options:
  _input:
    description: The standard, a dictionary (or empty).
    type: dict
    required: true
  flat:
    description: The flat variables, by their names (C(check_os_expect_timezone) ...); empty values are ignored.
    type: dict
    default: {}
  field:
    description: The variable name used in error messages.
    type: str
    default: check_os_expect
author:
  - orgops maintainers (@orgops)
"""

EXAMPLES = r"""
- name: The standard, validated before anything runs
  ansible.builtin.set_fact:
    standard: >-
      {{ check_os_expect | orgops.ssm_automation.os_standard({'check_os_expect_timezone': check_os_expect_timezone}) }}
"""

RETURN = r"""
_value:
  description: The validated standard.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.orgops.ssm_automation.plugins.module_utils.compliance import normalize_expect
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput


def os_standard(expect, flat=None, field="check_os_expect"):
    try:
        return normalize_expect(expect, flat or {}, field_name=field)
    except InvalidInput as e:
        raise AnsibleFilterError("Invalid input, nothing was sent to AWS. %s" % e) from None


class FilterModule(object):
    def filters(self):
        return {"os_standard": os_standard}
