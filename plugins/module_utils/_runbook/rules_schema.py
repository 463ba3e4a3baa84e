# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lint rules ``schema.*``: what AWS accepts as an Automation document. One function per rule id."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.document import content_size, normalize
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import (
    ACTIONS,
    BRANCH_OPERATORS,
    MAX_CONTENT_BYTES,
    OUTPUT_TYPES,
    PARAMETER_KEYS,
    PARAMETER_TYPES,
    POWERSHELL_DOCUMENTS,
    SCHEMA_VERSION,
    SHELL_DOCUMENTS,
    STEP_KEYS,
    STEP_NAME_RE,
    TOP_LEVEL_KEYS,
)


def _unknown_keys(ctx, mapping, accepted, step, path, what):
    """An error for each key of ``mapping`` that is not in ``accepted``, naming the accepted ones."""
    for key in mapping:
        if key not in accepted:
            ctx.add(
                "error",
                step,
                "%s.%s" % (path, key),
                "unknown %s %r; accepted: %s" % (what, key, ", ".join(sorted(accepted))),
            )


def _type_fits(ptype, value):
    if ptype == "StringList" or ptype.startswith("List<"):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if ptype == "String" or ptype.startswith("AWS::"):
        return isinstance(value, str)
    if ptype == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if ptype == "Boolean":
        return isinstance(value, bool)
    if ptype == "MapList":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if ptype == "StringMap":
        return isinstance(value, dict)
    return True


# ---- document ----


def document(ctx):
    if not isinstance(ctx.doc, dict):
        ctx.add("error", None, "", "a runbook must be a mapping")
        ctx.stop = True


def unknown_key(ctx):
    for key in ctx.doc:
        if key not in TOP_LEVEL_KEYS:
            ctx.add(
                "error",
                None,
                str(key),
                "unknown top-level key %r; accepted: %s" % (key, ", ".join(sorted(TOP_LEVEL_KEYS))),
            )


def schema_version(ctx):
    if str(ctx.doc.get("schemaVersion")) != SCHEMA_VERSION:
        ctx.add(
            "error",
            None,
            "schemaVersion",
            "schemaVersion is %r; accepted: '0.3' (Automation runbooks)" % (ctx.doc.get("schemaVersion"),),
        )


def too_large(ctx):
    size = content_size(normalize(ctx.doc))
    if size > MAX_CONTENT_BYTES:
        ctx.add(
            "error",
            None,
            "",
            "runbook is %d bytes even as compact JSON; SSM accepts at most %d (64 KB)" % (size, MAX_CONTENT_BYTES),
        )


# ---- parameters ----


def parameters(ctx):
    if "parameters" in ctx.doc and ctx.doc["parameters"] is not None and not isinstance(ctx.doc["parameters"], dict):
        ctx.add("error", None, "parameters", "parameters must be a mapping of name to definition")


def parameter(ctx):
    for name, spec in ctx.params.items():
        if not isinstance(spec, dict):
            ctx.add("error", None, "parameters.%s" % name, "parameter %s must be a mapping with at least a type" % name)


def parameter_key(ctx):
    for name, spec in ctx.params.items():
        if isinstance(spec, dict):
            _unknown_keys(ctx, spec, PARAMETER_KEYS, None, "parameters.%s" % name, "parameter attribute")


def parameter_type(ctx):
    for name, spec in ctx.params.items():
        if isinstance(spec, dict) and spec.get("type") not in PARAMETER_TYPES:
            ctx.add(
                "error",
                None,
                "parameters.%s.type" % name,
                "parameter %s has type %r; accepted: %s" % (name, spec.get("type"), ", ".join(PARAMETER_TYPES)),
            )


def _allowed(spec):
    allowed = spec.get("allowedValues")
    return allowed if isinstance(allowed, list) and allowed else None


def _compiled(spec):
    try:
        return re.compile(spec["allowedPattern"])
    except (re.error, TypeError) as e:
        return e


def parameter_allowed_values(ctx):
    for _name, spec, path in ctx.typed_params:
        if spec.get("allowedValues") is not None and _allowed(spec) is None:
            ctx.add("error", None, "%s.allowedValues" % path, "allowedValues must be a non-empty list")


def parameter_pattern(ctx):
    for name, spec, path in ctx.typed_params:
        if spec.get("allowedPattern") is not None:
            compiled = _compiled(spec)
            if isinstance(compiled, Exception):
                ctx.add(
                    "error",
                    None,
                    "%s.allowedPattern" % path,
                    "allowedPattern of %s is not a valid regular expression: %s" % (name, compiled),
                )


def parameter_default(ctx):
    for name, spec, path in ctx.typed_params:
        if "default" not in spec:
            continue
        ptype = spec["type"]
        default = spec["default"]
        dpath = "%s.default" % path
        if not _type_fits(ptype, default):
            ctx.add("error", None, dpath, "default %r of %s does not fit its type %s" % (default, name, ptype))
            continue
        values = default if isinstance(default, list) else [default]
        allowed = _allowed(spec)
        if allowed is not None and ptype in ("String", "StringList") and [v for v in values if v not in allowed]:
            ctx.add("error", None, dpath, "default %r of %s is not in its allowedValues %s" % (default, name, allowed))
        pattern = spec.get("allowedPattern")
        compiled = _compiled(spec) if pattern is not None else None
        if (
            compiled is not None
            and not isinstance(compiled, Exception)
            and ptype in ("String", "StringList")
            and [v for v in values if isinstance(v, str) and not compiled.search(v)]
        ):
            ctx.add(
                "error",
                None,
                dpath,
                "default %r of %s does not match its allowedPattern %s" % (default, name, pattern),
            )


# ---- steps ----


def main_steps(ctx):
    steps = ctx.doc.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        ctx.add("error", None, "mainSteps", "mainSteps must be a non-empty list of steps")


def step(ctx):
    for i, s in enumerate(ctx.steps):
        if not isinstance(s, dict):
            ctx.add("error", None, "mainSteps[%d]" % i, "step %d must be a mapping" % i)
            continue
        name = s.get("name")
        sname = name if isinstance(name, str) else None
        if not isinstance(name, str) or not name:
            ctx.add("error", None, "mainSteps[%d].name" % i, "step %d has no name" % i)
        if s.get("action") is None:
            ctx.add("error", sname, "mainSteps[%d].action" % i, "step %s has no action" % (sname or i))


def step_name(ctx):
    for i, _s, name in ctx.step_dicts:
        if name and not STEP_NAME_RE.match(name):
            ctx.add(
                "warning",
                name,
                "mainSteps[%d].name" % i,
                "step name %r has characters outside [A-Za-z0-9_-]; '{{ %s.Output }}' references cannot name it "
                "reliably" % (name, name),
            )


def step_key(ctx):
    for i, s, name in ctx.step_dicts:
        _unknown_keys(ctx, s, STEP_KEYS, name, "mainSteps[%d]" % i, "step property")


def unknown_action(ctx):
    for i, s, name in ctx.step_dicts:
        action = s.get("action")
        if action is not None and action not in ACTIONS:
            ctx.add(
                "error",
                name,
                "mainSteps[%d].action" % i,
                "unknown action %r; accepted: %s" % (action, ", ".join(sorted(ACTIONS))),
            )


def inputs(ctx):
    for i, s, name in ctx.known_steps:
        if s.get("inputs") is not None and not isinstance(s["inputs"], dict):
            ctx.add("error", name, "mainSteps[%d].inputs" % i, "inputs must be a mapping")


def missing_input(ctx):
    for i, s, name in ctx.known_steps:
        if s.get("inputs") is None and ACTIONS[s["action"]]["required"]:
            ctx.add("error", name, "mainSteps[%d].inputs" % i, "%s step %s has no inputs" % (s["action"], name))
    for i, _s, name, action, step_inputs in ctx.checked_steps:
        path = "mainSteps[%d]" % i
        for req in ACTIONS[action]["required"]:
            alternatives = req if isinstance(req, tuple) else (req,)
            if not any(a in step_inputs for a in alternatives):
                ctx.add(
                    "error",
                    name,
                    "%s.inputs.%s" % (path, alternatives[0]),
                    "%s requires input %s" % (action, " or ".join(alternatives)),
                )
        if (
            action == "aws:executeScript"
            and str(step_inputs.get("Runtime", "")).startswith("python")
            and "Handler" not in step_inputs
        ):
            ctx.add(
                "error",
                name,
                "%s.inputs.Handler" % path,
                "aws:executeScript with a Python runtime requires input Handler",
            )
        if action == "aws:runCommand":
            doc_name = step_inputs.get("DocumentName")
            cmd_params = step_inputs.get("Parameters")
            if doc_name in SHELL_DOCUMENTS + POWERSHELL_DOCUMENTS and not (
                isinstance(cmd_params, dict) and cmd_params.get("commands")
            ):
                ctx.add(
                    "error",
                    name,
                    "%s.inputs.Parameters.commands" % path,
                    "%s needs Parameters.commands" % doc_name,
                )


def _positive_integer(ctx, key):
    for i, s, name, _action, _inputs in ctx.checked_steps:
        if key in s:
            value = s[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                ctx.add(
                    "error", name, "mainSteps[%d].%s" % (i, key), "%s must be a positive integer, got %r" % (key, value)
                )


def max_attempts(ctx):
    _positive_integer(ctx, "maxAttempts")


def timeout_seconds(ctx):
    _positive_integer(ctx, "timeoutSeconds")


def _boolean(ctx, key):
    for i, s, name, _action, _inputs in ctx.checked_steps:
        if key in s and not isinstance(s[key], bool):
            ctx.add("error", name, "mainSteps[%d].%s" % (i, key), "%s must be true or false, got %r" % (key, s[key]))


def is_end(ctx):
    _boolean(ctx, "isEnd")


def is_critical(ctx):
    _boolean(ctx, "isCritical")


def on_failure(ctx):
    for i, s, name, _action, _inputs in ctx.checked_steps:
        value = s.get("onFailure")
        if value is not None and not (
            value in ("Abort", "Continue") or (isinstance(value, str) and value.startswith("step:"))
        ):
            ctx.add(
                "error",
                name,
                "mainSteps[%d].onFailure" % i,
                "onFailure %r; accepted: Abort, Continue or step:<name>" % (value,),
            )


def on_cancel(ctx):
    for i, s, name, _action, _inputs in ctx.checked_steps:
        value = s.get("onCancel")
        if value is not None and not (value == "Abort" or (isinstance(value, str) and value.startswith("step:"))):
            ctx.add(
                "error", name, "mainSteps[%d].onCancel" % i, "onCancel %r; accepted: Abort or step:<name>" % (value,)
            )


def outputs(ctx):
    for i, s, name, _action, _inputs in ctx.checked_steps:
        outs = s.get("outputs")
        if outs is None:
            continue
        path = "mainSteps[%d]" % i
        if not isinstance(outs, list):
            ctx.add("error", name, "%s.outputs" % path, "outputs must be a list of {Name, Selector, Type}")
            continue
        for j, out in enumerate(outs):
            opath = "%s.outputs[%d]" % (path, j)
            if not isinstance(out, dict) or not out.get("Name") or not out.get("Selector"):
                ctx.add("error", name, opath, "each output needs Name and Selector")
                continue
            if out.get("Type", "String") not in OUTPUT_TYPES:
                ctx.add(
                    "error",
                    name,
                    "%s.Type" % opath,
                    "output type %r; accepted: %s" % (out.get("Type"), ", ".join(OUTPUT_TYPES)),
                )


def branch(ctx):
    for i, _s, name, action, step_inputs in ctx.checked_steps:
        if action != "aws:branch":
            continue
        path = "mainSteps[%d]" % i
        choices = step_inputs.get("Choices")
        if not isinstance(choices, list) or not choices:
            ctx.add("error", name, "%s.inputs.Choices" % path, "aws:branch needs a non-empty Choices list")
            continue
        for j, choice in enumerate(choices):
            cpath = "%s.inputs.Choices[%d]" % (path, j)
            if not isinstance(choice, dict) or not choice.get("NextStep"):
                ctx.add("error", name, cpath, "each choice needs a NextStep")
                continue
            ops = [k for k in choice if k in BRANCH_OPERATORS]
            compound = [k for k in choice if k in ("And", "Or", "Not")]
            if not compound and ("Variable" not in choice or len(ops) != 1):
                ctx.add(
                    "error",
                    name,
                    cpath,
                    "a choice needs Variable and exactly one operator (%s), or And/Or/Not"
                    % ", ".join(sorted(BRANCH_OPERATORS)),
                )
