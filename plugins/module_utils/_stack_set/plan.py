# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning: the steps from the current StackSet and instances to the desired ones, and the diff (private)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils import validation
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.common import (
    NO_ECHO_MASK,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.template import (
    parse_template,
    template_parameters,
    template_text,
)


def _current_targets(current, instances, service):
    """``{target: set(regions)}``: OU (SERVICE_MANAGED) or account (SELF_MANAGED) -> regions deployed."""
    deployed = {}
    for inst in instances:
        target = inst.get("organizational_unit_id") if service else inst.get("account")
        if target:
            deployed.setdefault(target, set()).add(inst["region"])
    if service and current:
        # An OU that holds no account has no instance, yet AWS records it as a target.
        for ou_id in current.get("organizational_unit_ids") or []:
            deployed.setdefault(ou_id, set()).update(current.get("regions") or [])
    return deployed


def _group(pairs):
    """``{target: set(regions)}`` -> ``[(targets, regions)]``: one operation per distinct region set."""
    by_regions = {}
    for target, regions in pairs.items():
        if regions:
            by_regions.setdefault(tuple(sorted(regions)), []).append(target)
    return [(sorted(targets), list(regions)) for regions, targets in sorted(by_regions.items())]


def _stack_set_differences(spec, current):
    """The fields of the StackSet to update, and the before/after diff of each."""
    changed = []
    if spec.get("template") is not None:
        try:
            current_template = parse_template(current.get("template_body"), "current template")
        except validation.InvalidInput:
            current_template = None
        if current_template != spec["template"]:
            changed.append("template")
    template = spec.get("template")
    if template is None:
        try:
            template = parse_template(current.get("template_body"), "current template")
        except validation.InvalidInput:
            template = None
    declared = template_parameters(template)
    if spec.get("parameters") is not None:
        wanted = _effective_parameters(spec["parameters"], declared)
        have = _effective_parameters(current.get("parameters") or {}, declared)
        keys = set(wanted) | set(have)
        if declared:
            keys &= set(declared)
        for key in keys:
            if declared.get(key, {}).get("no_echo") or have.get(key) == NO_ECHO_MASK:
                continue  # AWS never shows a NoEcho value; it cannot be compared
            if wanted.get(key) != have.get(key):
                changed.append("parameters")
                break
    if spec.get("capabilities") is not None and spec["capabilities"] != sorted(current.get("capabilities") or []):
        changed.append("capabilities")
    if spec.get("tags") is not None and _merged_tags(spec, current) != (current.get("tags") or {}):
        changed.append("tags")
    if spec.get("description") is not None and spec["description"] != (current.get("description") or ""):
        changed.append("description")
    if spec.get("auto_deployment") is not None:
        have = current.get("auto_deployment") or {"enabled": False, "retain_stacks_on_account_removal": False}
        want = spec["auto_deployment"]
        if want["enabled"] != have["enabled"] or (
            want["enabled"] and want["retain_stacks_on_account_removal"] != have["retain_stacks_on_account_removal"]
        ):
            changed.append("auto_deployment")
    if spec.get("managed_execution") is not None:
        have = (current.get("managed_execution") or {}).get("active", False)
        if spec["managed_execution"]["active"] != have:
            changed.append("managed_execution")
    if spec["permission_model"] != current.get("permission_model"):
        changed.append("permission_model")
    for option in ("administration_role_arn", "execution_role_name"):
        if spec.get(option) and spec[option] != current.get(option):
            changed.append(option)
    return changed, declared


def _effective_parameters(values, declared):
    out = {k: d["default"] for k, d in declared.items() if d["default"] is not None}
    out.update(values)
    return out


def _merged_tags(spec, current):
    if spec.get("tags") is None:
        return current.get("tags") or {}
    if spec.get("purge_tags", True):
        return dict(spec["tags"])
    merged = dict(current.get("tags") or {})
    merged.update(spec["tags"])
    return merged


def plan(spec, current, instances):
    """What to do, as a list of steps, without calling AWS.

    Each step is ``{"action": "create_stack_set"|"update_stack_set"|"create_instances"|"delete_instances"|
    "delete_stack_set", "targets": [...], "regions": [...], "fields": [...]}``.
    """
    steps = []
    service = spec["permission_model"] == "SERVICE_MANAGED" if spec["state"] == "present" else None
    if spec["state"] == "absent":
        if current is None:
            return steps
        service = current.get("permission_model") == "SERVICE_MANAGED"
        deployed = _current_targets(current, instances, service)
        for targets, regions in _group(deployed):
            steps.append({"action": "delete_instances", "targets": targets, "regions": regions, "service": service})
        steps.append({"action": "delete_stack_set"})
        return steps

    if current is None:
        if spec.get("template") is None and not spec.get("template_url"):
            raise validation.InvalidInput(
                "template_body",
                "StackSet %s does not exist: give template_body, template or template_url to create it" % spec["name"],
            )
        steps.append({"action": "create_stack_set"})
        deployed = {}
    else:
        fields, _declared = _stack_set_differences(spec, current)
        if fields:
            steps.append({"action": "update_stack_set", "fields": fields})
        deployed = _current_targets(current, instances, service)

    targets = spec.get("targets")
    if targets is None:
        return steps
    wanted_targets = targets["organizational_unit_ids"] if service else targets["accounts"]
    regions = set(spec.get("regions") or [])
    missing = {}
    for target in wanted_targets:
        todo = regions - deployed.get(target, set())
        if todo:
            missing[target] = todo
    for group_targets, group_regions in _group(missing):
        steps.append(
            {"action": "create_instances", "targets": group_targets, "regions": group_regions, "service": service}
        )
    if spec["purge_instances"]:
        extra = {}
        for target, have in deployed.items():
            unwanted = have if target not in wanted_targets else have - regions
            if unwanted:
                extra[target] = unwanted
        for group_targets, group_regions in _group(extra):
            steps.append(
                {"action": "delete_instances", "targets": group_targets, "regions": group_regions, "service": service}
            )
    return steps


def describe_targets(current, instances, service):
    deployed = _current_targets(current, instances, service)
    return {target: sorted(regions) for target, regions in sorted(deployed.items())}


def build_diff(spec, current, instances, steps):
    """``{"before": ..., "after": ...}`` for Ansible's diff mode: template, parameters, settings and targets."""
    service = (
        spec["permission_model"] == "SERVICE_MANAGED"
        if spec["state"] == "present"
        else (current or {}).get("permission_model") == "SERVICE_MANAGED"
    )
    if current is None:
        before = {}
    else:
        try:
            current_template = parse_template(current.get("template_body"), "current template")
        except validation.InvalidInput:
            current_template = None
        before = {
            "template": template_text(current_template)
            if current_template is not None
            else current.get("template_body"),
            "parameters": dict(current.get("parameters") or {}),
            "capabilities": sorted(current.get("capabilities") or []),
            "tags": dict(current.get("tags") or {}),
            "description": current.get("description") or "",
            "permission_model": current.get("permission_model"),
            "auto_deployment": current.get("auto_deployment"),
            "managed_execution": current.get("managed_execution"),
            "targets": describe_targets(current, instances, service),
        }
    if spec["state"] == "absent":
        return {"before": before, "after": {}}
    after = dict(before)
    if spec.get("template") is not None:
        after["template"] = template_text(spec["template"])
    elif spec.get("template_url") and current is None:
        after["template"] = "(from %s)" % spec["template_url"]
    declared = template_parameters(spec.get("template"))
    if spec.get("parameters") is not None:
        params = dict(spec["parameters"])
        for key, info in declared.items():
            if info["no_echo"] and key in params:
                params[key] = NO_ECHO_MASK
        after["parameters"] = params
    for key in ("capabilities", "description", "auto_deployment", "managed_execution", "permission_model"):
        if spec.get(key) is not None:
            after[key] = spec[key]
    if spec.get("tags") is not None:
        after["tags"] = _merged_tags(spec, current or {})
    targets = {k: set(v) for k, v in (before.get("targets") or {}).items()}
    for step in steps:
        if step["action"] == "create_instances":
            for target in step["targets"]:
                targets.setdefault(target, set()).update(step["regions"])
        elif step["action"] == "delete_instances":
            for target in step["targets"]:
                targets[target] = targets.get(target, set()) - set(step["regions"])
                if not targets[target]:
                    del targets[target]
    after["targets"] = {k: sorted(v) for k, v in sorted(targets.items())}
    return {"before": before, "after": after}
