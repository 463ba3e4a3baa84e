"""schemaVersion 0.3 runbooks: parameters, ``{{ }}`` substitution, output selectors and aws:branch choices.

References (AWS Systems Manager User Guide):
- "Data elements and parameters" (parameter types String, StringList, Integer, Boolean, MapList, StringMap;
  default, allowedValues, allowedPattern, minItems/maxItems, minChars/maxChars).
- "Systems Manager Automation actions reference" → "Properties shared by all actions" (name, action, maxAttempts,
  timeoutSeconds, onFailure Abort|Continue|step:<name>, onCancel, isEnd, nextStep, isCritical, inputs, outputs).
- "aws:branch" (Choices with Variable and StringEquals, EqualsIgnoreCase, StartsWith, EndsWith, Contains,
  NumericEquals, NumericGreater, NumericLesser, NumericGreaterOrEquals, NumericLesserOrEquals, BooleanEquals, And, Or,
  Not; Default).
- "Runbook variables" / "Automation system variables" (automation:EXECUTION_ID, global:ACCOUNT_ID, global:REGION,
  global:DATE, global:DATE_TIME, global:AWS_PARTITION).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import StepFailure, invalid_params

try:  # the collection's Java regex translator (plugins/module_utils/java_regex.py), the one the linter uses
    from ansible_collections.orgops.ssm_automation.plugins.module_utils import java_regex
except ImportError:  # pragma: no cover - run from the repository root without the collections path
    from plugins.module_utils import java_regex

PARAM_TYPES = {"String", "StringList", "Integer", "Boolean", "MapList", "StringMap"}
OUTPUT_TYPES = {"String", "StringList", "Integer", "Boolean", "MapList", "StringMap"}
STEP_DEFAULTS = {"maxAttempts": 1, "onFailure": "Abort"}
NOT_AVAILABLE = "No output available yet because the step is not successfully executed"


def java_pattern(pattern: str):
    """The compiled Java ``pattern`` (plugins/module_utils/java_regex.py), or None when it cannot be checked here."""
    try:
        return java_regex.compile_java(pattern)
    except java_regex.JavaRegexError:
        return None


VAR_RE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


@dataclass
class Step:
    name: str
    action: str
    inputs: dict
    raw: dict
    outputs: list = field(default_factory=list)
    max_attempts: int = 1
    timeout_seconds: int | None = None
    on_failure: str = "Abort"
    on_cancel: str | None = None
    is_end: bool = False
    next_step: str | None = None
    is_critical: bool | None = None  # None: not set explicitly (AWS only evaluates it when set)
    body: Runbook | None = None  # aws:loop: the steps inside the loop (inputs.Steps)


@dataclass
class Runbook:
    content: dict
    description: str
    assume_role: str | None
    parameters: dict
    steps: list
    outputs: list

    def step(self, name: str) -> Step | None:
        return self._by_name.get(name)

    def index(self, name: str) -> int:
        return self._order[name]

    def __post_init__(self):
        self._by_name = {s.name: s for s in self.steps}
        self._order = {s.name: i for i, s in enumerate(self.steps)}


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def parse(content: Any) -> Runbook:
    """Parse runbook content (dict, or YAML/JSON text) into a Runbook.  Invalid content raises ValueError."""
    doc = content
    if isinstance(content, str):
        doc = yaml.safe_load(content)
    if not isinstance(doc, dict):
        raise ValueError("runbook content is not a mapping")
    if str(doc.get("schemaVersion")) != "0.3":
        raise ValueError(f"schemaVersion {doc.get('schemaVersion')!r} is not an Automation runbook (0.3)")
    steps = _parse_steps(doc.get("mainSteps") or [])
    if not steps:
        raise ValueError("runbook has no mainSteps")
    return Runbook(
        content=doc,
        description=str(doc.get("description") or ""),
        assume_role=doc.get("assumeRole"),
        parameters=doc.get("parameters") or {},
        steps=steps,
        outputs=list(doc.get("outputs") or []),
    )


def _parse_steps(raws: list) -> list[Step]:
    """Steps as AWS reads their attributes: ``isEnd: "true"``, ``isCritical: "false"``, ``timeoutSeconds: "600"``
    and ``maxAttempts: "3"`` are the boolean and the integer they spell (AWS accepts them, e.g. in AWS-owned
    runbooks; User Guide, "Properties shared by all actions" gives the types).  An aws:loop step's ``inputs.Steps``
    are parsed the same way into its ``body`` (User Guide, "aws:loop - Iterate over steps in an automation")."""
    steps = []
    for raw in raws:
        if not isinstance(raw, dict) or "name" not in raw or "action" not in raw:
            raise ValueError(f"step without name or action: {raw!r}")
        try:
            max_attempts = int(str(raw.get("maxAttempts", 1) or 1).strip())
            timeout = int(str(raw["timeoutSeconds"]).strip()) if raw.get("timeoutSeconds") is not None else None
        except ValueError:
            raise ValueError(f"step {raw['name']}: maxAttempts and timeoutSeconds are integers") from None
        inputs = raw.get("inputs") or {}
        body = None
        if str(raw["action"]) == "aws:loop":
            inner = inputs.get("Steps") if isinstance(inputs, dict) else None
            if not isinstance(inner, list) or not inner:
                raise ValueError(f"step {raw['name']}: aws:loop needs inputs.Steps")
            body = Runbook({}, "", None, {}, _parse_steps(inner), [])
        steps.append(
            Step(
                name=str(raw["name"]),
                action=str(raw["action"]),
                inputs=inputs,
                raw=raw,
                outputs=raw.get("outputs") or [],
                max_attempts=max_attempts,
                timeout_seconds=timeout,
                on_failure=str(raw.get("onFailure", "Abort")),
                on_cancel=str(raw["onCancel"]) if raw.get("onCancel") else None,
                is_end=_as_bool(raw.get("isEnd", False)),
                next_step=str(raw["nextStep"]) if raw.get("nextStep") else None,
                is_critical=_as_bool(raw["isCritical"]) if "isCritical" in raw else None,
                body=body,
            )
        )
    return steps


# -- parameters -------------------------------------------------------------------------------------------------


def _typed(name: str, ptype: str, values: list[str]) -> Any:
    """Convert the API's list-of-strings form into the runbook's typed value."""
    if ptype in ("StringList",):
        return list(values)
    if ptype == "MapList":
        out = []
        for v in values:
            try:
                item = json.loads(v) if isinstance(v, str) else v
            except ValueError:
                raise invalid_params(
                    f'Parameter "{name}" is of type MapList: each value must be a JSON object, got {v!r}.'
                ) from None
            if not isinstance(item, dict):
                raise invalid_params(
                    f'Parameter "{name}" is of type MapList: each value must be a JSON object, got {v!r}.'
                )
            out.append(item)
        return out
    if len(values) != 1:
        raise invalid_params(f'Parameter "{name}" is of type {ptype} and takes exactly one value, got {len(values)}.')
    value = values[0]
    if ptype == "Integer":
        try:
            return int(str(value).strip())
        except ValueError:
            raise invalid_params(f'Parameter "{name}" is of type Integer, got "{value}".') from None
    if ptype == "Boolean":
        if str(value).lower() not in ("true", "false"):
            raise invalid_params(f'Parameter "{name}" is of type Boolean (true or false), got "{value}".')
        return str(value).lower() == "true"
    if ptype == "StringMap":
        try:
            item = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            item = None
        if not isinstance(item, dict):
            raise invalid_params(
                f'Parameter "{name}" is of type StringMap: the value must be a JSON object, got {value!r}.'
            )
        return item
    return value  # String and AWS-specific String types (AWS::EC2::Instance::Id, AWS::IAM::Role::Arn, ...)


def _default_typed(ptype: str, default: Any) -> Any:
    if ptype in ("StringList", "MapList"):
        return list(default) if isinstance(default, list) else [default]
    if ptype == "Integer":
        return int(default)
    if ptype == "Boolean":
        return _as_bool(default)
    return default


def _check_allowed(name: str, spec: dict, value: Any) -> None:
    items = value if isinstance(value, list) else [value]
    allowed = spec.get("allowedValues")
    if allowed is not None:
        allowed_str = [str(a) for a in allowed]
        for item in items:
            shown = _scalar_str(item)
            if shown not in allowed_str:
                raise invalid_params(f'Parameter "{name}" has value "{shown}" not in {{{", ".join(allowed_str)}}}.')
    pattern = spec.get("allowedPattern")
    # allowedPattern is a Java regex: the collection's one translator reads it. A construct it does not model skips
    # this pattern check only; the item and length checks below still run (issue 16).
    rx = java_pattern(pattern) if pattern is not None else None
    if rx is not None:
        for item in items:
            if isinstance(item, dict | list):
                continue
            if not rx.fullmatch(str(item)):
                raise invalid_params(f'Parameter "{name}" has value "{item}" not matching pattern {pattern}.')
    for key, check in (("minItems", lambda n, v: len(v) < n), ("maxItems", lambda n, v: len(v) > n)):
        if key in spec and isinstance(value, list) and check(int(spec[key]), value):
            raise invalid_params(f'Parameter "{name}" has {len(value)} items; {key} is {spec[key]}.')
    for key, check in (("minChars", lambda n, v: len(v) < n), ("maxChars", lambda n, v: len(v) > n)):
        if key in spec:
            for item in items:
                if isinstance(item, str) and check(int(spec[key]), item):
                    raise invalid_params(f'Parameter "{name}" value "{item}" breaks {key} {spec[key]}.')


def resolve_parameters(runbook: Runbook, supplied: dict | None, exempt: set[str] = frozenset()) -> tuple[dict, dict]:
    """Validate supplied parameters against the runbook; return (typed values, API-form values).

    ``exempt`` names parameters that targets will fill in per target (TargetParameterName, TargetMaps keys): they
    may be missing here, and are checked per child execution instead.
    """
    supplied = dict(supplied or {})
    declared = runbook.parameters
    unknown = [k for k in supplied if k not in declared]
    if unknown:
        raise invalid_params(
            f"Parameter{'s' if len(unknown) > 1 else ''} {', '.join(sorted(unknown))} "
            f"{'are' if len(unknown) > 1 else 'is'} not defined in the document. "
            f"Defined parameters: {', '.join(sorted(declared)) or '(none)'}."
        )
    typed: dict = {}
    api_form: dict = {}
    missing = []
    for name, raw in declared.items():
        spec = raw or {}
        ptype = spec.get("type", "String")
        if name in supplied:
            values = supplied[name]
            if not isinstance(values, list):
                values = [values]
            value = _typed(name, ptype, [str(v) if not isinstance(v, dict) else json.dumps(v) for v in values])
            _check_allowed(name, spec, value)
            typed[name] = value
            api_form[name] = [str(v) for v in values]
        elif "default" in spec:
            value = _default_typed(ptype, spec["default"])
            typed[name] = value
            api_form[name] = to_api_values(value)
        elif name in exempt:
            continue
        else:
            missing.append(name)
    if missing:
        raise invalid_params(
            f"Parameter{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} required but not provided."
        )
    return typed, api_form


def with_target_value(runbook: Runbook, typed: dict, api_form: dict, name: str, value: str) -> tuple[dict, dict]:
    """Typed and API-form parameters of one child execution: the target value filled into ``name``."""
    spec = runbook.parameters.get(name) or {}
    ptype = spec.get("type", "String")
    typed = dict(typed)
    api_form = dict(api_form)
    typed[name] = [value] if ptype in ("StringList",) else _typed(name, ptype, [value])
    api_form[name] = [value]
    return typed, api_form


def to_api_values(value: Any) -> list[str]:
    if isinstance(value, list):
        return [json.dumps(v) if isinstance(v, dict) else _scalar_str(v) for v in value]
    if isinstance(value, dict):
        return [json.dumps(value)]
    return [_scalar_str(value)]


def _scalar_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


# -- substitution ----------------------------------------------------------------------------------------------


class Context:
    """Everything ``{{ }}`` can name inside one execution."""

    def __init__(self, params: dict, execution_id: str, account: str, region: str, clock_now, ssm_parameter=None):
        self.params = params
        self.step_outputs: dict[str, Any] = {}
        self.execution_id = execution_id
        self.account = account
        self.region = region
        self._now = clock_now
        self._ssm_parameter = ssm_parameter

    def lookup(self, name: str) -> tuple[bool, Any]:
        if name in self.params:
            return True, self.params[name]
        if name in self.step_outputs:
            return True, self.step_outputs[name]
        if name in ("automation:EXECUTION_ID", "automation:AUTOMATION_EXECUTION_ID"):
            return True, self.execution_id
        if name == "global:ACCOUNT_ID":
            return True, self.account
        if name == "global:REGION":
            return True, self.region
        if name == "global:AWS_PARTITION":
            return True, "aws"
        if name == "global:URL_SUFFIX":
            return True, "amazonaws.com"
        if name == "global:DATE":
            return True, time.strftime("%Y-%m-%d", time.gmtime(self._now()))
        if name == "global:DATE_TIME":
            return True, time.strftime("%Y-%m-%d_%H.%M.%S", time.gmtime(self._now()))
        if name.startswith("ssm:") and self._ssm_parameter is not None:
            value = self._ssm_parameter(name[4:])
            if value is not None:
                return True, value
        return False, None

    def substitute(self, value: Any) -> Any:
        if isinstance(value, str):
            whole = VAR_RE.fullmatch(value)
            if whole:
                found, resolved = self.lookup(whole.group(1))
                if found:
                    return resolved  # a whole-string reference keeps the value's type (lists stay lists)

            def repl(m: re.Match) -> str:
                found, resolved = self.lookup(m.group(1))
                if not found:
                    return m.group(0)
                if isinstance(resolved, list | dict):
                    return json.dumps(resolved)
                return _scalar_str(resolved)

            return VAR_RE.sub(repl, value)
        if isinstance(value, list):
            out = []
            for item in value:
                sub = self.substitute(item)
                if isinstance(item, str) and VAR_RE.fullmatch(item) and isinstance(sub, list):
                    out.extend(sub)  # ['{{ SomeStringList }}'] is the list itself, as in AWS
                else:
                    out.append(sub)
            return out
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        return value


# -- selectors -------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\*\]|\['([^']+)'\]")


def select(document: Any, selector: str) -> tuple[bool, Any]:
    """A JSONPath subset ($.a.b[0].c, [*], ['key']) as AWS uses it in step output Selectors and PropertySelectors.

    A selector without the leading ``$`` is read from the root: AWS's own AWS-CreateSnapshot uses
    ``Selector: SnapshotId`` and ``PropertySelector: Snapshots[0].State``, and AWS runs it."""
    selector = selector.strip()
    if not selector.startswith("$"):
        selector = "$" + ("" if selector.startswith("[") else ".") + selector
    rest = selector[1:]
    nodes = [document]
    multi = False
    pos = 0
    while pos < len(rest):
        m = _TOKEN.match(rest, pos)
        if not m:
            raise StepFailure(
                f"Output selector {selector!r} is not supported by the sandbox (JSONPath subset: .key, [n], [*])."
            )
        pos = m.end()
        nxt = []
        for node in nodes:
            if m.group(1) is not None or m.group(3) is not None:
                key = m.group(1) if m.group(1) is not None else m.group(3)
                if isinstance(node, dict) and key in node:
                    nxt.append(node[key])
            elif m.group(2) is not None:
                idx = int(m.group(2))
                if isinstance(node, list) and idx < len(node):
                    nxt.append(node[idx])
            else:
                multi = True
                if isinstance(node, list):
                    nxt.extend(node)
                elif isinstance(node, dict):
                    nxt.extend(node.values())
        nodes = nxt
    if not nodes:
        return False, None
    return True, (nodes if multi else nodes[0])


def convert_output(value: Any, otype: str, name: str) -> Any:
    try:
        if otype == "String":
            if isinstance(value, list | dict):
                return json.dumps(value)
            return _scalar_str(value)
        if otype == "StringList":
            items = value if isinstance(value, list) else [value]
            return [json.dumps(v) if isinstance(v, dict | list) else _scalar_str(v) for v in items]
        if otype == "Integer":
            return int(value)
        if otype == "Boolean":
            return _as_bool(value)
        if otype == "MapList":
            return list(value) if isinstance(value, list) else [value]
        if otype == "StringMap":
            return value if isinstance(value, dict) else json.loads(value)
    except (TypeError, ValueError):
        raise StepFailure(f"Output {name}: the selected value {value!r} cannot be converted to {otype}.") from None
    raise StepFailure(f"Output {name}: type {otype} is not an output type ({', '.join(sorted(OUTPUT_TYPES))}).")


# -- aws:branch ------------------------------------------------------------------------------------------------

_NUMERIC = {
    "NumericEquals": lambda a, b: a == b,
    "NumericGreater": lambda a, b: a > b,
    "NumericLesser": lambda a, b: a < b,
    "NumericGreaterOrEquals": lambda a, b: a >= b,
    "NumericLesserOrEquals": lambda a, b: a <= b,
}
_STRING = {
    "StringEquals": lambda a, b: a == b,
    "EqualsIgnoreCase": lambda a, b: a.lower() == b.lower(),
    "StartsWith": lambda a, b: a.startswith(b),
    "EndsWith": lambda a, b: a.endswith(b),
    "Contains": lambda a, b: b in a,
}
OPERATORS = set(_NUMERIC) | set(_STRING) | {"BooleanEquals"}


def _scalar(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def evaluate_choice(choice: dict, ctx: Context) -> bool:
    if "And" in choice:
        return all(evaluate_choice(c, ctx) for c in choice["And"])
    if "Or" in choice:
        return any(evaluate_choice(c, ctx) for c in choice["Or"])
    if "Not" in choice:
        return not evaluate_choice(choice["Not"], ctx)
    variable = _scalar(ctx.substitute(choice.get("Variable")))
    for op, raw in choice.items():
        if op in ("Variable", "NextStep"):
            continue
        operand = _scalar(ctx.substitute(raw))
        if op in _STRING:
            if isinstance(variable, list):
                return any(_STRING[op](_scalar_str(v), _scalar_str(operand)) for v in variable)
            return _STRING[op](_scalar_str(variable), _scalar_str(operand))
        if op in _NUMERIC:
            try:
                return _NUMERIC[op](float(variable), float(operand))
            except (TypeError, ValueError):
                raise StepFailure(f"aws:branch: {op} needs numbers, got {variable!r} and {operand!r}.") from None
        if op == "BooleanEquals":
            return _as_bool(variable) == _as_bool(operand)
        raise StepFailure(
            f"aws:branch operator {op} is not supported by the sandbox (supported: {', '.join(sorted(OPERATORS))})."
        )
    raise StepFailure(f"aws:branch choice without an operator: {choice!r}")


# -- durations --------------------------------------------------------------------------------------------------

_ISO = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def iso_duration(text: str) -> float:
    m = _ISO.match(str(text).strip())
    if not m or not any(m.groups()):
        raise StepFailure(f"aws:sleep Duration {text!r} is not an ISO 8601 duration such as PT10M or PT30S.")
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s
