# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The step graph of a runbook: each step's edges, and strongly connected components."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def step_edges(steps, index, step):
    """(kind, target) edges of one step; target None means 'the execution ends'."""
    edges = []
    action = step.get("action")
    is_end = step.get("isEnd") is True
    nxt = step.get("nextStep")
    following = steps[index + 1].get("name") if index + 1 < len(steps) and isinstance(steps[index + 1], dict) else None
    if action == "aws:branch":
        inputs = step.get("inputs") if isinstance(step.get("inputs"), dict) else {}
        for choice in inputs.get("Choices") or []:
            if isinstance(choice, dict) and choice.get("NextStep"):
                edges.append(("branch", choice.get("NextStep")))
        if inputs.get("Default"):
            edges.append(("branch", inputs.get("Default")))
        elif not is_end:
            edges.append(("next", nxt or following))
    elif is_end and not nxt:
        edges.append(("next", None))
    else:
        edges.append(("next", nxt or following))
    on_failure = step.get("onFailure", "Abort")
    if isinstance(on_failure, str) and on_failure.startswith("step:"):
        edges.append(("failure", on_failure[5:]))
    elif on_failure == "Continue":
        edges.append(("failure", nxt or (None if is_end else following)))
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
