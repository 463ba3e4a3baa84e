# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the lint rules share: the findings, and the views of the runbook that several rules read."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook import graph
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.graph import inner_steps, step_name
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import (
    ACTIONS,
    PARAMETER_TYPES,
    REF_RE,
)


def walk_strings(value, path):
    """Yield (path, string) for every string under value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from walk_strings(v, "%s.%s" % (path, k) if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_strings(v, "%s[%d]" % (path, i))


class Context:
    """One lint run: ``add`` records a finding of the rule being run (``rule``); the properties are computed once."""

    def __init__(self, doc, waivers):
        self.doc = doc
        self.items = []
        self.waivers = set(waivers or [])
        self.rule = None
        self.stop = False
        self._cache = {}

    def add(self, severity, step, path, message, rule=None):
        rule = rule or self.rule
        if severity != "error" and ("rule:" + rule) in self.waivers:
            return
        self.items.append({"severity": severity, "rule": rule, "step": step, "path": path, "message": message})

    def _once(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # ---- parameters ----
    @property
    def params(self):
        """The ``parameters`` mapping (entries may be malformed), or {}."""
        params = self.doc.get("parameters")
        return params if isinstance(params, dict) else {}

    @property
    def typed_params(self):
        """(name, spec, path) of each parameter that is a mapping with a known type."""
        return [
            (name, spec, "parameters.%s" % name)
            for name, spec in self.params.items()
            if isinstance(spec, dict) and spec.get("type") in PARAMETER_TYPES
        ]

    @property
    def variables(self):
        variables = self.doc.get("variables")
        return variables if isinstance(variables, dict) else {}

    # ---- steps ----
    @property
    def steps(self):
        steps = self.doc.get("mainSteps")
        return steps if isinstance(steps, list) else []

    @property
    def records(self):
        """A :class:`StepRecord` for every step that is a mapping: main steps, and the steps inside aws:loop steps."""
        return self._once("records", lambda: list(_records(self.steps, "mainSteps", None)))

    @property
    def step_dicts(self):
        """(path, step, name or None) of every step that is a mapping (loop steps' inner steps included)."""
        return [(r.path, r.step, r.name) for r in self.records]

    @property
    def known_steps(self):
        """Steps with a known action."""
        return [(p, s, n) for p, s, n in self.step_dicts if s.get("action") in ACTIONS]

    @property
    def checked_steps(self):
        """(path, step, name, action, inputs) of steps with a known action and inputs that can be read."""
        out = []
        for p, s, n in self.known_steps:
            action = s["action"]
            inputs = s.get("inputs")
            if inputs is None and not ACTIONS[action]["required"]:
                inputs = {}
            if isinstance(inputs, dict):
                out.append((p, s, n, action, inputs))
        return out

    @property
    def step_by_name(self):
        """name -> :class:`StepRecord`, the first step of each name."""

        def compute():
            out = {}
            for r in self.records:
                if r.name and r.name not in out:
                    out[r.name] = r
            return out

        return self._once("step_by_name", compute)

    @property
    def duplicates(self):
        """(path, name) of each step whose name an earlier step already has."""

        def compute():
            seen = set()
            out = []
            for path, _s, name in self.step_dicts:
                if name:
                    if name in seen:
                        out.append((path, name))
                    seen.add(name)
            return out

        return self._once("duplicates", compute)

    @property
    def successors(self):
        """name -> [names] along the edges whose target is a step."""

        def compute():
            succ = {}
            for name, rec in self.step_by_name.items():
                succ[name] = [t for _k, t in graph.step_edges(rec) if t in self.step_by_name]
            return succ

        return self._once("successors", compute)

    # ---- references ----
    @property
    def step_outputs(self):
        """name -> (declared output names, whether the action is known)."""

        def compute():
            out = {}
            for name, rec in self.step_by_name.items():
                step = rec.step
                declared = set()
                for o in step.get("outputs") or []:
                    if isinstance(o, dict) and o.get("Name"):
                        declared.add(o["Name"])
                declared.update(ACTIONS.get(step.get("action"), {}).get("builtin_outputs", []))
                out[name] = (declared, step.get("action") in ACTIONS)
            return out

        return self._once("step_outputs", compute)

    @property
    def references(self):
        """(ref, step name, path) of every ``{{ ref }}`` in assumeRole and the steps (output declarations aside)."""

        def compute():
            out = []
            if isinstance(self.doc.get("assumeRole"), str):
                out.extend((ref, None, "assumeRole") for ref in REF_RE.findall(self.doc["assumeRole"]))
            for r in self.records:
                for spath, text in walk_strings(_without_inner_steps(r.step), r.path):
                    if ".outputs[" in spath and spath.endswith((".Name", ".Selector", ".Type")):
                        continue
                    out.extend((ref, r.name, spath) for ref in REF_RE.findall(text))
            return out

        return self._once("references", compute)


class StepRecord:
    """One step: its ``path`` (``mainSteps[3]``, ``mainSteps[3].inputs.Steps[0]``), the mapping, its name, the list
    that holds it and its index there, and the aws:loop step that holds it (None for a main step)."""

    __slots__ = ("path", "step", "name", "siblings", "index", "loop")

    def __init__(self, path, step, name, siblings, index, loop):
        self.path = path
        self.step = step
        self.name = name
        self.siblings = siblings
        self.index = index
        self.loop = loop

    @property
    def following(self):
        """The name of the next step in the same list, or None (the last step; in a loop: the iteration ends)."""
        k = self.index + 1
        if k < len(self.siblings) and isinstance(self.siblings[k], dict):
            return step_name(self.siblings[k])
        return None

    @property
    def is_last(self):
        return self.index == len(self.siblings) - 1


def _records(steps, prefix, loop):
    for i, s in enumerate(steps):
        if not isinstance(s, dict):
            continue
        path = "%s[%d]" % (prefix, i)
        rec = StepRecord(path, s, step_name(s), steps, i, loop)
        yield rec
        yield from _records(inner_steps(s), path + ".inputs.Steps", rec)


def _without_inner_steps(step):
    """The step without its aws:loop inner steps (walked as steps of their own)."""
    if not inner_steps(step):
        return step
    copy = dict(step)
    copy["inputs"] = {k: v for k, v in step["inputs"].items() if k != "Steps"}
    return copy


def command_lines(step):
    """(path, line) of the commands of a runCommand step (inputs.Parameters.commands, a string or a list)."""
    inputs = step.get("inputs") if isinstance(step.get("inputs"), dict) else {}
    cmd_params = inputs.get("Parameters") if isinstance(inputs.get("Parameters"), dict) else {}
    commands = cmd_params.get("commands")
    if isinstance(commands, str):
        return [("inputs.Parameters.commands", commands)]
    if isinstance(commands, list):
        return [("inputs.Parameters.commands[%d]" % k, c) for k, c in enumerate(commands) if isinstance(c, str)]
    return []
