# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lint rules ``graph.*``: the step graph (names, targets, reachability, loops). One function per rule id."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.graph import sccs, step_edges

_EDGE_FIELD = {"next": "nextStep", "failure": "onFailure", "cancel": "onCancel", "branch": "inputs.Choices"}


def duplicate_step(ctx):
    for i, name in ctx.duplicates:
        ctx.add("error", name, "mainSteps[%d].name" % i, "step name %s is used more than once" % name)


def missing_target(ctx):
    for name, (i, step) in ctx.step_by_name.items():
        for kind, target in step_edges(ctx.steps, i, step):
            if target is not None and target not in ctx.step_by_name:
                ctx.add(
                    "error",
                    name,
                    "mainSteps[%d].%s" % (i, _EDGE_FIELD[kind]),
                    "step %s goes to %s, which is not a step of this runbook" % (name, target),
                )


def is_end(ctx):
    last = len(ctx.steps) - 1
    for name, (i, step) in ctx.step_by_name.items():
        if step.get("isEnd") is True and step.get("nextStep"):
            ctx.add(
                "error",
                name,
                "mainSteps[%d].isEnd" % i,
                "step %s has isEnd: true and nextStep %s; one of them is wrong" % (name, step.get("nextStep")),
            )
        if step.get("isEnd") is False and not step.get("nextStep") and i == last and step.get("action") != "aws:branch":
            ctx.add(
                "warning",
                name,
                "mainSteps[%d].isEnd" % i,
                "last step %s has isEnd: false but no nextStep; the execution ends here anyway" % name,
            )


def unreachable(ctx):
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
    for name, (i, _step) in sorted(ctx.step_by_name.items(), key=lambda kv: kv[1][0]):
        if name not in seen:
            ctx.add("error", name, "mainSteps[%d]" % i, "step %s can never run: no step leads to it" % name)


def cycle(ctx):
    if ctx.duplicates:
        return
    succ = ctx.successors
    by_name = ctx.step_by_name
    for comp in sccs(list(by_name), succ):
        if len(comp) == 1 and comp[0] not in succ.get(comp[0], ()):
            continue
        members = set(comp)
        has_exit = False
        for name in comp:
            i, step = by_name[name]
            if step.get("isEnd") is True:
                has_exit = True
            for kind, target in step_edges(ctx.steps, i, step):
                leaves = target is None or target not in members
                if kind == "branch" and leaves:
                    has_exit = True
                if kind == "failure" and leaves and "maxAttempts" in step and target is not None:
                    has_exit = True
        if not has_exit:
            ordered = sorted(comp, key=lambda n: by_name[n][0])
            i0 = by_name[ordered[0]][0]
            ctx.add(
                "error",
                ordered[0],
                "mainSteps[%d]" % i0,
                "steps %s form a loop with no way out: add an aws:branch choice leaving the loop, or maxAttempts "
                "with onFailure: step:<outside>" % " -> ".join(ordered + [ordered[0]]),
            )
