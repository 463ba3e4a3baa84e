# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lint rules ``schema.*``: what AWS accepts as an Automation document. One function per rule id."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.orgops.ssm_automation.plugins.module_utils import command_documents, java_regex
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.document import content_size, normalize
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.graph import inner_steps
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import (
    ACTIONS,
    BRANCH_OPERATORS,
    INTERNAL_ACTIONS,
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
    as_bool,
    as_int,
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
    """The compiled allowedPattern (Java semantics), or the JavaRegexError that says why it cannot be used."""
    try:
        return java_regex.compile_java(spec["allowedPattern"])
    except java_regex.JavaRegexError as e:
        return e


def parameter_allowed_values(ctx):
    for _name, spec, path in ctx.typed_params:
        if spec.get("allowedValues") is not None and _allowed(spec) is None:
            ctx.add("error", None, "%s.allowedValues" % path, "allowedValues must be a non-empty list")


def parameter_pattern(ctx):
    """An error when Java itself rejects the pattern; a warning when it uses a construct not modelled here."""
    for name, spec, path in ctx.typed_params:
        if spec.get("allowedPattern") is not None:
            compiled = _compiled(spec)
            if isinstance(compiled, java_regex.Invalid):
                ctx.add(
                    "error",
                    None,
                    "%s.allowedPattern" % path,
                    "allowedPattern of %s is not a valid (Java) regular expression: %s" % (name, compiled),
                )
            elif isinstance(compiled, Exception):
                ctx.add(
                    "warning",
                    None,
                    "%s.allowedPattern" % path,
                    "allowedPattern of %s cannot be checked here (%s); AWS checks it when the runbook starts"
                    % (name, compiled),
                )


def parameter_default(ctx):
    """A default that does not fit the type is an error. An empty default ('' or []) is how AWS-owned runbooks mark
    an optional parameter: AWS accepts it whatever the pattern. A non-empty default outside allowedValues or
    allowedPattern is a warning: AWS-owned runbooks have such placeholders (``arn:aws:iam::{AccountId}:role/Admin``),
    so AWS does not refuse the document, but a start that does not override the parameter fails."""
    for name, spec, path in ctx.typed_params:
        if "default" not in spec or spec["default"] is None:
            continue
        ptype = spec["type"]
        default = spec["default"]
        dpath = "%s.default" % path
        if not _type_fits(ptype, default):
            ctx.add("error", None, dpath, "default %r of %s does not fit its type %s" % (default, name, ptype))
            continue
        if default in ("", []):
            continue
        values = default if isinstance(default, list) else [default]
        allowed = _allowed(spec)
        if allowed is not None and ptype in ("String", "StringList") and [v for v in values if v not in allowed]:
            ctx.add(
                "warning",
                None,
                dpath,
                "default %r of %s is not in its allowedValues %s: a start without %s fails"
                % (default, name, allowed, name),
            )
        pattern = spec.get("allowedPattern")
        compiled = _compiled(spec) if pattern is not None else None
        if (
            compiled is not None
            and not isinstance(compiled, Exception)
            and ptype in ("String", "StringList")
            and [v for v in values if isinstance(v, str) and not compiled.search(v)]
        ):
            ctx.add(
                "warning",
                None,
                dpath,
                "default %r of %s does not match its allowedPattern %s: a start without %s fails"
                % (default, name, pattern, name),
            )


# ---- steps ----


def main_steps(ctx):
    steps = ctx.doc.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        ctx.add("error", None, "mainSteps", "mainSteps must be a non-empty list of steps")


def _step_lists(ctx):
    """(path prefix, list) of mainSteps and of every aws:loop's inner Steps."""
    yield "mainSteps", ctx.steps
    for r in ctx.records:
        if inner_steps(r.step):
            yield r.path + ".inputs.Steps", inner_steps(r.step)


def step(ctx):
    for prefix, steps in _step_lists(ctx):
        for i, s in enumerate(steps):
            path = "%s[%d]" % (prefix, i)
            if not isinstance(s, dict):
                ctx.add("error", None, path, "step %d must be a mapping" % i)
                continue
            name = s.get("name")
            sname = name if isinstance(name, str) else None
            if not isinstance(name, str) or not name:
                ctx.add("error", None, "%s.name" % path, "step %d has no name" % i)
            if s.get("action") is None:
                ctx.add("error", sname, "%s.action" % path, "step %s has no action" % (sname or i))


def step_name(ctx):
    for path, _s, name in ctx.step_dicts:
        if name and not STEP_NAME_RE.match(name):
            ctx.add(
                "warning",
                name,
                "%s.name" % path,
                "step name %r has characters outside [A-Za-z0-9_-]; '{{ %s.Output }}' references cannot name it "
                "reliably" % (name, name),
            )


def step_key(ctx):
    for path, s, name in ctx.step_dicts:
        _unknown_keys(ctx, s, STEP_KEYS, name, path, "step property")


def unknown_action(ctx):
    for path, s, name in ctx.step_dicts:
        action = s.get("action")
        if action is not None and action not in ACTIONS and action not in INTERNAL_ACTIONS:
            ctx.add(
                "error",
                name,
                "%s.action" % path,
                "unknown action %r; accepted: %s" % (action, ", ".join(sorted(ACTIONS))),
            )


def internal_action(ctx):
    for path, s, name in ctx.step_dicts:
        if s.get("action") in INTERNAL_ACTIONS:
            ctx.add(
                "warning",
                name,
                "%s.action" % path,
                "action %r appears only in AWS-owned runbooks and is not in the Automation actions reference; AWS "
                "may refuse it in your own document" % s["action"],
            )


def inputs(ctx):
    for path, s, name in ctx.known_steps:
        if s.get("inputs") is not None and not isinstance(s["inputs"], dict):
            ctx.add("error", name, "%s.inputs" % path, "inputs must be a mapping")


def nested_inputs(ctx):
    """``inputs: inputs:``: the action gets one input named ``inputs`` and none of the real ones, which fails at run
    time (or sends an unknown API parameter, for aws:executeAwsApi)."""
    for path, s, name in ctx.step_dicts:
        if isinstance(s.get("inputs"), dict) and isinstance(s["inputs"].get("inputs"), dict):
            ctx.add(
                "error",
                name,
                "%s.inputs.inputs" % path,
                "step %s has inputs inside inputs (a doubled 'inputs:'); move the inner keys up one level" % name,
            )


def missing_input(ctx):
    for path, s, name in ctx.known_steps:
        if s.get("inputs") is None and ACTIONS[s["action"]]["required"]:
            ctx.add("error", name, "%s.inputs" % path, "%s step %s has no inputs" % (s["action"], name))
    for path, _s, name, action, step_inputs in ctx.checked_steps:
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
    """An integer from 1, or a string of digits (AWS reads ``timeoutSeconds: "600"`` as 600)."""
    for path, s, name, _action, _inputs in ctx.checked_steps:
        if key in s:
            value = as_int(s[key])
            if value is None or value < 1:
                ctx.add(
                    "error",
                    name,
                    "%s.%s" % (path, key),
                    "%s must be a positive integer, got %r" % (key, s[key]),
                )


def max_attempts(ctx):
    _positive_integer(ctx, "maxAttempts")


def timeout_seconds(ctx):
    _positive_integer(ctx, "timeoutSeconds")


def _boolean(ctx, key):
    """true/false, or the strings "true"/"false" (AWS reads ``isEnd: "true"`` as true)."""
    for path, s, name, _action, _inputs in ctx.checked_steps:
        if key in s and as_bool(s[key]) is None:
            ctx.add("error", name, "%s.%s" % (path, key), "%s must be true or false, got %r" % (key, s[key]))


def is_end(ctx):
    _boolean(ctx, "isEnd")


def is_critical(ctx):
    _boolean(ctx, "isCritical")


def on_failure(ctx):
    for path, s, name, _action, _inputs in ctx.checked_steps:
        value = s.get("onFailure")
        if value is not None and not (
            value in ("Abort", "Continue") or (isinstance(value, str) and value.startswith("step:"))
        ):
            ctx.add(
                "error",
                name,
                "%s.onFailure" % path,
                "onFailure %r; accepted: Abort, Continue or step:<name>" % (value,),
            )


def on_cancel(ctx):
    for path, s, name, _action, _inputs in ctx.checked_steps:
        value = s.get("onCancel")
        if value is not None and not (value == "Abort" or (isinstance(value, str) and value.startswith("step:"))):
            ctx.add("error", name, "%s.onCancel" % path, "onCancel %r; accepted: Abort or step:<name>" % (value,))


def outputs(ctx):
    for path, s, name, _action, _inputs in ctx.checked_steps:
        outs = s.get("outputs")
        if outs is None:
            continue
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
    for path, _s, name, action, step_inputs in ctx.checked_steps:
        if action != "aws:branch":
            continue
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


def command_parameter(ctx):
    """Parameters an aws:runCommand step passes to an AWS-owned Command document must be ones it declares (with an
    allowed value, when it lists them), and its required ones must be there: SendCommand refuses anything else
    (InvalidParameters), so the step certainly fails at run time. The declarations are data
    (``command_documents.py``, from AWS's own documents)."""
    for path, _s, name, action, step_inputs in ctx.checked_steps:
        doc_name = step_inputs.get("DocumentName")
        if action != "aws:runCommand" or not isinstance(doc_name, str):
            continue
        declared = command_documents.declared_parameters(doc_name)
        params = step_inputs.get("Parameters")
        if declared is None or not isinstance(params, dict):
            continue
        ppath = "%s.inputs.Parameters" % path
        for key, value in params.items():
            if key not in declared:
                ctx.add(
                    "error",
                    name,
                    "%s.%s" % (ppath, key),
                    "%s declares no parameter %s; accepted: %s" % (doc_name, key, ", ".join(sorted(declared))),
                )
                continue
            allowed = declared[key]["allowed_values"]
            if allowed and isinstance(value, str) and "{{" not in value and value not in allowed:
                ctx.add(
                    "error",
                    name,
                    "%s.%s" % (ppath, key),
                    "%r is not an allowed value of %s's %s; accepted: %s" % (value, doc_name, key, ", ".join(allowed)),
                )
        for key, spec in sorted(declared.items()):
            if spec["required"] and key not in params and doc_name not in SHELL_DOCUMENTS + POWERSHELL_DOCUMENTS:
                ctx.add(
                    "error",
                    name,
                    "%s.%s" % (ppath, key),
                    "%s requires parameter %s (it has no default)" % (doc_name, key),
                )


_LIST_SELECTOR = re.compile(r"\[\*\]|\.\.|\[\?|\[[0-9]*:[0-9]*\]")


def output_type(ctx):
    """A warning when an output's Type cannot hold what its selector returns: a JSONPath with a wildcard, a filter,
    a slice or a recursive descent returns a list, which a String, Integer or Boolean output cannot hold."""
    for path, s, name, _action, _inputs in ctx.checked_steps:
        outs = s.get("outputs")
        if not isinstance(outs, list):
            continue
        for j, out in enumerate(outs):
            if not isinstance(out, dict) or not isinstance(out.get("Selector"), str):
                continue
            otype = out.get("Type", "String")
            if otype in ("String", "Integer", "Boolean") and _LIST_SELECTOR.search(out["Selector"]):
                ctx.add(
                    "warning",
                    name,
                    "%s.outputs[%d].Type" % (path, j),
                    "output %s has Type %s but its selector %s returns a list; use StringList or MapList"
                    % (out.get("Name"), otype, out["Selector"]),
                )
