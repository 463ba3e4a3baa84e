# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lint rules ``graph.*``: the step graph (names, targets, reachability, loops). One function per rule id.

The graph includes the steps inside ``aws:loop`` steps: the loop step leads to its first inner step, inner steps
follow each other, the last one ends the iteration, and an inner step may jump out to a main step.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.graph import sccs, step_edges
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import as_bool

_EDGE_FIELD = {
    "next": "nextStep",
    "failure": "onFailure",
    "cancel": "onCancel",
    "branch": "inputs.Choices",
    "loop": "inputs.Steps",
}


def duplicate_step(ctx):
    for path, name in ctx.duplicates:
        ctx.add("error", name, "%s.name" % path, "step name %s is used more than once" % name)


def missing_target(ctx):
    for name, rec in ctx.step_by_name.items():
        for kind, target in step_edges(rec):
            if target is not None and target not in ctx.step_by_name:
                ctx.add(
                    "error",
                    name,
                    "%s.%s" % (rec.path, _EDGE_FIELD[kind]),
                    "step %s goes to %s, which is not a step of this runbook (its steps: %s)"
                    % (name, target, ", ".join(ctx.step_by_name)),
                )


def is_end(ctx):
    for name, rec in ctx.step_by_name.items():
        step = rec.step
        end = as_bool(step.get("isEnd"))
        if end is True and step.get("nextStep"):
            ctx.add(
                "error",
                name,
                "%s.isEnd" % rec.path,
                "step %s has isEnd: true and nextStep %s; one of them is wrong" % (name, step.get("nextStep")),
            )
        if (
            end is False
            and not step.get("nextStep")
            and rec.is_last
            and rec.loop is None
            and step.get("action") != "aws:branch"
        ):
            ctx.add(
                "warning",
                name,
                "%s.isEnd" % rec.path,
                "last step %s has isEnd: false but no nextStep; the execution ends here anyway" % name,
            )


def unreachable(ctx):
    """A warning: AWS accepts a runbook with a step that can never run (AWS-owned runbooks have some)."""
    steps = ctx.steps
    first = steps[0].get("name") if steps and isinstance(steps[0], dict) else None
    if first not in ctx.step_by_name or ctx.duplicates:
        return
    seen = {first}
    todo = [first]
    while todo:
        node = todo.pop()
        for nxt in ctx.successors.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    for name, rec in ctx.step_by_name.items():
        if name not in seen:
            ctx.add("warning", name, rec.path, "step %s can never run: no step leads to it" % name)


def cycle(ctx):
    if ctx.duplicates:
        return
    succ = ctx.successors
    by_name = ctx.step_by_name
    order = {name: k for k, name in enumerate(by_name)}
    for comp in sccs(list(by_name), succ):
        if len(comp) == 1 and comp[0] not in succ.get(comp[0], ()):
            continue
        members = set(comp)
        has_exit = False
        for name in comp:
            rec = by_name[name]
            step = rec.step
            if as_bool(step.get("isEnd")) is True:
                has_exit = True
            for kind, target in step_edges(rec):
                leaves = target is None or target not in members
                if kind == "branch" and leaves:
                    has_exit = True
                if kind == "failure" and leaves and "maxAttempts" in step and target is not None:
                    has_exit = True
                if rec.loop is not None and kind == "next" and target is None:
                    has_exit = True  # the iteration ends; MaxIterations bounds the loop
        if not has_exit:
            ordered = sorted(comp, key=lambda n: order[n])
            ctx.add(
                "error",
                ordered[0],
                by_name[ordered[0]].path,
                "steps %s form a loop with no way out: add an aws:branch choice leaving the loop, or maxAttempts "
                "with onFailure: step:<outside>" % " -> ".join(ordered + [ordered[0]]),
            )
