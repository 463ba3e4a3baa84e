# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook lint: a table of rules, one function per rule id (docs/runbooks.md lists them).

Adding a rule is adding a function ``rule(ctx)`` that calls ``ctx.add(severity, step, path, message)`` and a row
``(rule_id, function)`` in :data:`RULES`. The :class:`Context` computes once what several rules need (the
parameters, the steps that can be checked, the step graph, the references).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook import (
    rules_graph,
    rules_refs,
    rules_schema,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.context import Context

# (rule id, function). The order is the order of the findings in a result.
RULES = (
    ("schema.document", rules_schema.document),
    ("schema.unknown-key", rules_schema.unknown_key),
    ("schema.schema-version", rules_schema.schema_version),
    ("schema.too-large", rules_schema.too_large),
    ("schema.parameters", rules_schema.parameters),
    ("schema.parameter", rules_schema.parameter),
    ("schema.parameter-key", rules_schema.parameter_key),
    ("schema.parameter-type", rules_schema.parameter_type),
    ("schema.parameter-allowed-values", rules_schema.parameter_allowed_values),
    ("schema.parameter-pattern", rules_schema.parameter_pattern),
    ("schema.parameter-default", rules_schema.parameter_default),
    ("schema.main-steps", rules_schema.main_steps),
    ("schema.step", rules_schema.step),
    ("schema.step-name", rules_schema.step_name),
    ("schema.step-key", rules_schema.step_key),
    ("schema.unknown-action", rules_schema.unknown_action),
    ("schema.internal-action", rules_schema.internal_action),
    ("schema.inputs", rules_schema.inputs),
    ("schema.nested-inputs", rules_schema.nested_inputs),
    ("schema.missing-input", rules_schema.missing_input),
    ("schema.maxAttempts", rules_schema.max_attempts),
    ("schema.timeoutSeconds", rules_schema.timeout_seconds),
    ("schema.isEnd", rules_schema.is_end),
    ("schema.isCritical", rules_schema.is_critical),
    ("schema.on-failure", rules_schema.on_failure),
    ("schema.on-cancel", rules_schema.on_cancel),
    ("schema.outputs", rules_schema.outputs),
    ("schema.branch", rules_schema.branch),
    ("schema.command-parameter", rules_schema.command_parameter),
    ("schema.output-type", rules_schema.output_type),
    ("graph.duplicate-step", rules_graph.duplicate_step),
    ("graph.missing-target", rules_graph.missing_target),
    ("graph.is-end", rules_graph.is_end),
    ("graph.unreachable", rules_graph.unreachable),
    ("graph.cycle", rules_graph.cycle),
    ("ref.unknown", rules_refs.unknown),
    ("ref.undeclared-output", rules_refs.undeclared_output),
    ("ref.unknown-output", rules_refs.unknown_output),
    ("ref.unused-parameter", rules_refs.unused_parameter),
    ("safety.command-injection", rules_refs.command_injection),
    ("safety.output-in-command", rules_refs.output_in_command),
    ("operability.no-timeout", rules_refs.no_timeout),
    ("operability.powershell-chcp", rules_refs.powershell_chcp),
    ("operability.output-cap", rules_refs.output_cap),
)


def lint(doc, waivers=None):
    """Lint an Automation runbook (schemaVersion 0.3). Returns a list of findings.

    ``waivers``: parameter names whose interpolation into commands is accepted as reviewed (the
    command-injection error becomes an info), and ``rule:<rule-id>`` entries that silence warnings and
    infos of that rule. Errors other than command injection cannot be waived.
    """
    ctx = Context(doc, waivers)
    for rule_id, rule in RULES:
        if ctx.stop:
            break
        ctx.rule = rule_id
        rule(ctx)
    return ctx.items


def errors(findings):
    return [x for x in findings if x["severity"] == "error"]


def summarize(findings):
    counts = {"error": 0, "warning": 0, "info": 0}
    for x in findings:
        counts[x["severity"]] = counts.get(x["severity"], 0) + 1
    return counts


def format_finding(x):
    where = x["path"] or "(document)"
    if x.get("step"):
        where = "%s (step %s)" % (where, x["step"])
    return "%s %s at %s: %s" % (x["severity"].upper(), x["rule"], where, x["message"])
