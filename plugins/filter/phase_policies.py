# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: phase_policies
short_description: The collection's documented IAM policy of each phase, read on the controller
version_added: 0.2.0
description:
  - Reads C(plugins/module_utils/policies/<phase>.json) of the installed collection (the policies of
    docs/permissions.md, one per phase) and returns one entry per phase, C(phase), C(name) (the customer managed
    policy name the documentation suggests, C(orgops-ssm-automation-<phase>)) and C(policy) (the JSON text, with the
    placeholder C(MANAGEMENT_ACCOUNT_ID)).
  - The files are data, not Python, so AnsiballZ does not ship them to managed nodes; this filter reads them where the
    play runs and C(orgops.ssm_automation.readiness_info) takes them as its I(policies) option.
  - Makes no AWS call.
author:
  - orgops maintainers (@orgops)
options:
  _input:
    description: The phases, any of C(roles), C(runbook), C(run), C(report).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Simulate the caller's permissions for the run and report phases
  orgops.ssm_automation.readiness_info:
    policies: "{{ ['run', 'report'] | orgops.ssm_automation.phase_policies }}"
"""

RETURN = r"""
_value:
  description: One entry per phase, C(phase), C(name), C(policy).
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleFilterError

PHASES = ("roles", "runbook", "run", "report")
POLICY_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "policies")


def phase_policies(phases):
    out = []
    for phase in phases or []:
        if phase not in PHASES:
            raise AnsibleFilterError("phase_policies: %r is not a phase; accepted: %s" % (phase, ", ".join(PHASES)))
        with open(os.path.join(POLICY_DIR, phase + ".json")) as handle:
            out.append({"phase": phase, "name": "orgops-ssm-automation-" + phase, "policy": handle.read()})
    return out


class FilterModule(object):
    def filters(self):
        return {"phase_policies": phase_policies}
