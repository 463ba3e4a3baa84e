# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The step graph of a runbook: each step's edges, and strongly connected components."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import is_end


def step_name(step):
    name = step.get("name")
    return name if isinstance(name, str) else None


def inner_steps(step):
    """The steps of an aws:loop step (a list), or []."""
    if step.get("action") != "aws:loop" or not isinstance(step.get("inputs"), dict):
        return []
    inner = step["inputs"].get("Steps")
    return inner if isinstance(inner, list) else []


def step_edges(rec):
    """(kind, target) edges of one step (a :class:`context.StepRecord`); target None means 'the execution ends'
    (for a step inside an aws:loop: 'the iteration ends', after which the loop step's own edges go on).

    ``isEnd`` is read as AWS reads it (``"true"`` is true). An aws:branch with no ``Default`` and no matching choice
    goes on to the step after it (Systems Manager user guide, aws:branch: without a Default, the automation
    continues with the next step when no choice matches). An aws:loop step leads to its first inner step (kind ``loop``);
    inner steps may jump to main steps (``nextStep``, branch choices), which leaves the loop.
    """
    step = rec.step
    edges = []
    action = step.get("action")
    end = is_end(step)
    nxt = step.get("nextStep") if isinstance(step.get("nextStep"), str) else None
    following = rec.following
    if action == "aws:branch":
        inputs = step.get("inputs") if isinstance(step.get("inputs"), dict) else {}
        choices = inputs.get("Choices") if isinstance(inputs.get("Choices"), list) else []
        for choice in choices:
            if isinstance(choice, dict) and isinstance(choice.get("NextStep"), str) and choice["NextStep"]:
                edges.append(("branch", choice["NextStep"]))
        if isinstance(inputs.get("Default"), str) and inputs["Default"]:
            edges.append(("branch", inputs["Default"]))
        elif not end:
            edges.append(("next", nxt or following))
    elif end and not nxt:
        edges.append(("next", None))
    else:
        edges.append(("next", nxt or following))
    inner = inner_steps(step)
    if inner and isinstance(inner[0], dict) and step_name(inner[0]):
        edges.append(("loop", step_name(inner[0])))
    on_failure = step.get("onFailure", "Abort")
    if isinstance(on_failure, str) and on_failure.startswith("step:"):
        edges.append(("failure", on_failure[5:]))
    elif on_failure == "Continue":
        edges.append(("failure", nxt or (None if end else following)))
    else:
        edges.append(("failure", None))
    on_cancel = step.get("onCancel")
    if isinstance(on_cancel, str) and on_cancel.startswith("step:"):
        edges.append(("cancel", on_cancel[5:]))
    return edges


def sccs(nodes, succ):
    """Tarjan's strongly connected components (iterative)."""
    index = {}
    low = {}
    on_stack = set()
    stack = []
    result = []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succ.get(root, ())))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succ.get(nxt, ()))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                result.append(comp)
    return result
