# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start parameters: check a start request's values against the runbook's declared parameters."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.orgops.ssm_automation.plugins.module_utils import java_regex
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput


def _accepted(spec):
    parts = ["type %s" % spec.get("type", "String")]
    if isinstance(spec.get("allowedValues"), list):
        parts.append("one of %s" % ", ".join(str(v) for v in spec["allowedValues"]))
    if spec.get("allowedPattern") is not None:
        parts.append("matching %s" % spec["allowedPattern"])
    return "; ".join(parts)


def _json_mapping(value, field, accepted, accepted_json=None):
    """A mapping, or a string holding a JSON object, as sorted JSON text; anything else is bad input."""
    v = value
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            raise InvalidInput(
                field, "%r is not a JSON object; accepted: %s" % (value, accepted_json or accepted)
            ) from None
    if not isinstance(v, dict):
        raise InvalidInput(field, "%r is not a mapping; accepted: %s" % (value, accepted))
    return json.dumps(v, sort_keys=True)


def _as_wire_values(name, spec, value):
    """Convert one parameter value to SSM's wire form (a list of strings), checking its type."""
    field = "parameters.%s" % name
    ptype = spec.get("type", "String")

    def scalar_str(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (str, int, float)):
            return str(v)
        raise InvalidInput(
            field, "%r is a %s, not a single value; accepted: %s" % (v, type(v).__name__, _accepted(spec))
        )

    if ptype in ("StringList",) or ptype.startswith("List<"):
        values = value if isinstance(value, list) else [value]
        out = [scalar_str(v) for v in values]
        if _limit(spec, "minItems") is not None and len(out) < _limit(spec, "minItems"):
            raise InvalidInput(
                field, "has %d items; accepted: at least %s (%s)" % (len(out), spec["minItems"], _accepted(spec))
            )
        if _limit(spec, "maxItems") is not None and len(out) > _limit(spec, "maxItems"):
            raise InvalidInput(
                field, "has %d items; accepted: at most %s (%s)" % (len(out), spec["maxItems"], _accepted(spec))
            )
        return out
    if ptype == "MapList":
        values = value if isinstance(value, list) else [value]
        return [_json_mapping(item, field, "%s (a list of mappings)" % _accepted(spec)) for item in values]
    if ptype == "StringMap":
        return [_json_mapping(value, field, _accepted(spec), "%s (a mapping)" % _accepted(spec))]
    # single-valued types
    if isinstance(value, list):
        if len(value) != 1:
            raise InvalidInput(field, "has %d values; accepted: exactly one value (%s)" % (len(value), _accepted(spec)))
        value = value[0]
    text = scalar_str(value)
    if ptype == "Integer" and not re.match(r"^-?\d+$", text):
        raise InvalidInput(field, "%r is not an integer; accepted: %s" % (value, _accepted(spec)))
    if ptype == "Boolean":
        if text.lower() not in ("true", "false"):
            raise InvalidInput(field, "%r is not a boolean; accepted: %s (true or false)" % (value, _accepted(spec)))
        text = text.lower()
    if ptype == "String":
        limit = _limit(spec, "maxChars")
        if limit is not None and len(text) > limit:
            raise InvalidInput(
                field, "is %d characters long; accepted: at most %d (%s)" % (len(text), limit, _accepted(spec))
            )
        limit = _limit(spec, "minChars")
        if limit is not None and len(text) < limit:
            raise InvalidInput(
                field, "is %d characters long; accepted: at least %d (%s)" % (len(text), limit, _accepted(spec))
            )
    return [text]


def _limit(spec, key):
    """An integer limit (minChars, maxChars, minItems, maxItems), also written as a string; None when absent."""
    value = spec.get(key)
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def check_parameters(doc, parameters):
    """Validate a start request's ``parameters`` against the runbook's declared parameters, before any call.

    Checks unknown names, missing required parameters (no default), values outside allowedValues or not matching
    allowedPattern, and types (String takes one value, StringList a list, Integer digits, Boolean true/false,
    MapList a list of mappings, StringMap a mapping). Raises ``InvalidInput("parameters.<name>", "...; accepted:
    ...")``. Returns the given parameters in SSM's wire form ``{name: [str, ...]}``.
    """
    declared = doc.get("parameters") if isinstance(doc, dict) else None
    declared = declared if isinstance(declared, dict) else {}
    parameters = parameters or {}
    if not isinstance(parameters, dict):
        raise InvalidInput(
            "parameters", "is a %s; accepted: a mapping of parameter name to value" % type(parameters).__name__
        )
    wire = {}
    for name in sorted(parameters):
        if name not in declared:
            raise InvalidInput(
                "parameters.%s" % name,
                "is not a parameter of this runbook; accepted: %s" % (", ".join(sorted(declared)) or "no parameters"),
            )
        spec = declared[name] if isinstance(declared[name], dict) else {}
        values = _as_wire_values(name, spec, parameters[name])
        allowed = spec.get("allowedValues")
        if isinstance(allowed, list):
            allowed_text = [str(v).lower() if isinstance(v, bool) else str(v) for v in allowed]
            for v in values:
                if v not in allowed_text:
                    raise InvalidInput(
                        "parameters.%s" % name, "%r is not an allowed value; accepted: %s" % (v, _accepted(spec))
                    )
        pattern = spec.get("allowedPattern")
        if pattern is not None:
            try:
                compiled = java_regex.compile_java(pattern)
            except java_regex.JavaRegexError:
                compiled = None  # a construct not modelled here: SSM itself checks it (the other checks still ran)
            if compiled is not None:
                for v in values:
                    if not compiled.search(v):
                        raise InvalidInput(
                            "parameters.%s" % name,
                            "%r does not match the allowedPattern; accepted: %s" % (v, _accepted(spec)),
                        )
        wire[name] = values
    for name in sorted(declared):
        spec = declared[name] if isinstance(declared[name], dict) else {}
        if name not in parameters and "default" not in spec:
            raise InvalidInput(
                "parameters.%s" % name, "is required (it has no default) and missing; accepted: %s" % _accepted(spec)
            )
    return wire


def parameter_summary(doc):
    """Declared parameters as a list of snake_case dicts, for module results."""
    out = []
    params = doc.get("parameters") if isinstance(doc, dict) else None
    for name, raw in (params or {}).items():
        spec = raw if isinstance(raw, dict) else {}
        item = {
            "name": name,
            "type": spec.get("type"),
            "description": spec.get("description", ""),
            "required": "default" not in spec,
        }
        if "default" in spec:
            item["default"] = spec["default"]
        if "allowedValues" in spec:
            item["allowed_values"] = spec["allowedValues"]
        if "allowedPattern" in spec:
            item["allowed_pattern"] = spec["allowedPattern"]
        out.append(item)
    return out
