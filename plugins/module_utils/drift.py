# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a deployed CloudFormation stack is the one wanted: pure Python, no Ansible, no AWS call.

The execution_roles role reads its stacks with amazon.aws.cloudformation_info and calls amazon.aws.cloudformation
only for a stack this says differs: amazon.aws.cloudformation answers an unchanged stack with an UpdateStack call
(a write), so that a run with nothing to do would still write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None

import json

# Stack states in which a stack that matches the wanted template, parameters and tags needs nothing
# (CloudFormation StackStatus; a ROLLBACK or IN_PROGRESS state is redeployed or waited for by the module).
SETTLED_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


def _load(template):
    if isinstance(template, dict):
        return template
    if not template:
        return None
    if yaml is not None:
        return yaml.safe_load(template)
    return json.loads(template)


def _text_map(values):
    return {str(k): "" if v is None else str(v) for k, v in (values or {}).items()}


def stack_differences(info, template, parameters=None, tags=None, settled=SETTLED_STATES):
    """What differs between a deployed stack and the wanted one; an empty list when it is up to date.

    ``info`` is amazon.aws.cloudformation_info's entry for the stack (``stack_description``, ``stack_template``,
    ``stack_parameters``, ``stack_tags``), or empty when the stack does not exist. ``template`` is the wanted
    template (text or parsed); ``parameters`` and ``tags`` the wanted values (compared as text, as CloudFormation
    keeps them).
    """
    if not info:
        return ["missing"]
    out = []
    status = (info.get("stack_description") or {}).get("stack_status")
    if status not in settled:
        out.append("status %s" % status)
    if _load(info.get("stack_template") or "") != _load(template):
        out.append("template")
    if _text_map(info.get("stack_parameters")) != _text_map(parameters):
        out.append("parameters")
    if _text_map(info.get("stack_tags")) != _text_map(tags):
        out.append("tags")
    return out
