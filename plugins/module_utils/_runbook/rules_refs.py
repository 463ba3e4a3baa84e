# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lint rules ``ref.*``, ``safety.*`` and ``operability.*``. One function per rule id."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.context import command_lines
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.regex_safety import (
    is_safe_value,
    is_strict_pattern,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import (
    AUTOMATION_VARIABLES,
    INTERPOLATED_UNSAFE_TYPES,
    OUTPUT_CAP_CHARS,
    POWERSHELL_DOCUMENTS,
    REF_RE,
    SAFE_VALUE_FORM,
)

# ---- references ----


def unknown(ctx):
    params = ctx.params
    variables = ctx.variables
    step_outputs = ctx.step_outputs
    for ref, step, path in ctx.references:
        if ref in params or ref in AUTOMATION_VARIABLES or ref.startswith("ssm:"):
            continue
        if ref.startswith("variable:") and ref[len("variable:") :] in variables:
            continue
        if "." in ref:
            sname, oname = ref.split(".", 1)
            if sname in step_outputs:
                continue  # a step's output: ref.undeclared-output checks the output name
        ctx.add(
            "error",
            step,
            path,
            "{{ %s }} is not a declared parameter, a step output (Step.Output) or an automation variable "
            "(automation:EXECUTION_ID, global:ACCOUNT_ID, global:REGION, ...)" % ref,
        )


def undeclared_output(ctx):
    """A warning: AWS accepts a reference to an output the step does not declare (AWS-owned runbooks have some,
    e.g. an aws:invokeLambdaFunction's OutputPayload); whether it resolves at run time is not documented."""
    step_outputs = ctx.step_outputs
    for ref, step, path in ctx.references:
        if ref in ctx.params or "." not in ref:
            continue
        sname, oname = ref.split(".", 1)
        if sname not in step_outputs:
            continue
        declared, known = step_outputs[sname]
        if oname in declared or not known:
            continue
        ctx.add(
            "warning",
            step,
            path,
            "{{ %s }}: step %s declares no output %s (declared: %s); the reference may not resolve at run time"
            % (ref, sname, oname, ", ".join(sorted(declared)) or "none"),
        )


def unknown_output(ctx):
    step_outputs = ctx.step_outputs
    for j, out in enumerate(ctx.doc.get("outputs") or []):
        opath = "outputs[%d]" % j
        if not isinstance(out, str) or "." not in out:
            ctx.add("error", None, opath, "runbook outputs are 'Step.Output' strings, got %r" % (out,))
            continue
        sname, oname = out.split(".", 1)
        if sname not in step_outputs or (step_outputs[sname][1] and oname not in step_outputs[sname][0]):
            ctx.add("error", None, opath, "runbook output %s names no step output" % out)


def unused_parameter(ctx):
    used = {ref for ref, _step, _path in ctx.references}
    for name in ctx.params:
        if name not in used:
            ctx.add("warning", None, "parameters.%s" % name, "parameter %s is declared but never used" % name)


# ---- safety ----


def _run_command_lines(ctx):
    """(step name, [(path, line)]) of each aws:runCommand step."""
    for path, step, sname in ctx.step_dicts:
        if step.get("action") == "aws:runCommand":
            yield sname, [("%s.%s" % (path, cpath), line) for cpath, line in command_lines(step)]


def command_injection(ctx):
    params = ctx.params
    for sname, lines in _run_command_lines(ctx):
        flagged = set()
        for path, line in lines:
            for ref in REF_RE.findall(line):
                if ref in params and isinstance(params[ref], dict) and ref not in flagged:
                    _check_injection(ctx, ref, params[ref], sname, path)
                    flagged.add(ref)


def _check_injection(ctx, ref, spec, step, path):
    ptype = spec.get("type")
    if ptype not in INTERPOLATED_UNSAFE_TYPES:
        return
    allowed = spec.get("allowedValues")
    pattern = spec.get("allowedPattern")
    if isinstance(allowed, list) and allowed:
        unsafe = [v for v in allowed if not is_safe_value(v)]
        if not unsafe:
            return
        reason = "its allowedValues contain shell metacharacters (%s)" % ", ".join(repr(v) for v in unsafe)
    elif pattern is not None and is_strict_pattern(pattern):
        return
    elif pattern is not None:
        reason = "its allowedPattern %r is not strict (anchored with ^...$ and limited to %s)" % (
            pattern,
            SAFE_VALUE_FORM,
        )
    else:
        reason = "it has neither allowedValues nor a strict allowedPattern"
    if ref in ctx.waivers:
        ctx.add("info", step, path, "{{ %s }} is interpolated into a command and %s; waived explicitly" % (ref, reason))
        return
    ctx.add(
        "error",
        step,
        path,
        "{{ %s }}: %s parameter %s is interpolated into a command and %s: command injection. Add allowedValues, "
        "or an allowedPattern such as ^[A-Za-z0-9_.-]{1,64}$, or waive %s explicitly" % (ref, ptype, ref, reason, ref),
    )


def output_in_command(ctx):
    params = ctx.params
    step_outputs = ctx.step_outputs
    for sname, lines in _run_command_lines(ctx):
        for path, line in lines:
            for ref in REF_RE.findall(line):
                if ref in params and isinstance(params[ref], dict):
                    continue
                if "." in ref and ref.split(".", 1)[0] in step_outputs:
                    ctx.add(
                        "warning",
                        sname,
                        path,
                        "{{ %s }}: a step output is interpolated into a command unvalidated; make sure no "
                        "untrusted data (tags, API results) can reach it" % ref,
                    )


# ---- operability ----


def _run_command_steps(ctx):
    for path, step, sname in ctx.step_dicts:
        if step.get("action") == "aws:runCommand":
            yield path, step, sname, step.get("inputs") if isinstance(step.get("inputs"), dict) else {}


def no_timeout(ctx):
    for i, step, sname, inputs in _run_command_steps(ctx):
        if "timeoutSeconds" not in step and "TimeoutSeconds" not in inputs:
            ctx.add(
                "warning",
                sname,
                "%s.timeoutSeconds" % i,
                "runCommand step %s has no timeoutSeconds: a stopped or unmanaged target keeps the execution "
                "InProgress for a long time instead of failing the step" % sname,
            )


def powershell_chcp(ctx):
    for i, step, sname, inputs in _run_command_steps(ctx):
        if inputs.get("DocumentName") in POWERSHELL_DOCUMENTS:
            lines = [line for _p, line in command_lines(step)]
            if not any("chcp 65001" in line for line in lines):
                ctx.add(
                    "warning",
                    sname,
                    "%s.inputs.Parameters.commands" % i,
                    "PowerShell step %s does not run 'chcp 65001' first: non-ASCII output (e.g. Japanese) comes "
                    "back garbled" % sname,
                )


def output_cap(ctx):
    capped = []
    for i, step, sname, _inputs in _run_command_steps(ctx):
        for j, out in enumerate(step.get("outputs") or []):
            if isinstance(out, dict) and "Output" in str(out.get("Selector", "")):
                capped.append((sname, "%s.outputs[%d].Selector" % (i, j)))
    if capped:
        ctx.add(
            "info",
            capped[0][0],
            capped[0][1],
            "AWS keeps only the first %d characters of a command's output in step outputs (%s); use "
            "automation_execution_info full_output for the rest"
            % (OUTPUT_CAP_CHARS, ", ".join(item[0] for item in capped)),
        )
