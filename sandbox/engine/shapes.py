"""Request validation the way AWS's front end does it, driven by botocore's own service model.

botocore only checks types, required members and minimums on the client side; AWS checks the rest (maximum lengths,
list sizes, patterns, enums, integer ranges) on the server and answers ``ValidationException`` with the Coral
message format, e.g.::

    1 validation error detected: Value '[...]' at 'targetLocations.1.member.accounts' failed to satisfy constraint:
    Member must have length less than or equal to 50

Walking the model means every limit matches the botocore version the tests pin, with no hand-copied numbers.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session

from .errors import validation


@functools.cache
def service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def _java_pattern(pattern: str) -> re.Pattern:
    # Java's Unicode classes → Python's (a superset is fine for validation: \w covers \p{L}\p{N}_).
    py = pattern.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\d").replace(r"\p{Z}", r"\s").replace(r"\p{M}", "")
    return re.compile(py)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_render(v)}" for k, v in value.items()) + "}"
    return str(value)


def _check(shape, value: Any, path: str, errors: list[str]) -> None:
    def fail(constraint: str) -> None:
        errors.append(f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: {constraint}")

    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            fail("Member must be a structure")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                errors.append(
                    f"Value null at '{path + '.' if path else ''}{_camel(name)}' failed to satisfy constraint: Member must not be null"
                )
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], f"{path + '.' if path else ''}{_camel(name)}", errors)
        return
    if kind == "list":
        if not isinstance(value, list):
            fail("Member must be a list")
            return
        if "min" in meta and len(value) < meta["min"]:
            fail(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        for i, item in enumerate(value, 1):
            if item is None:
                errors.append(
                    f"Value null at '{path}.{i}.member' failed to satisfy constraint: Member must not be null"
                )
            else:
                _check(shape.member, item, f"{path}.{i}.member", errors)
        return
    if kind == "map":
        if not isinstance(value, dict):
            fail("Member must be a map")
            return
        if "min" in meta and len(value) < meta["min"]:
            fail(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", errors)
            if item is not None:
                _check(shape.value, item, f"{path}.{key}.member", errors)
        return
    if kind == "string":
        if not isinstance(value, str):
            fail("Member must be a string")
            return
        if "min" in meta and len(value) < meta["min"]:
            fail(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        if shape.enum and value not in shape.enum:
            fail(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        if "pattern" in meta and not _java_pattern(meta["pattern"]).search(value):
            fail(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            fail("Member must be a number")
            return
        if "min" in meta and value < meta["min"]:
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"Member must have value less than or equal to {meta['max']}")


def output_errors(service: str, operation: str, body: Any) -> list[str]:
    """Everything in a JSON response body that botocore's output shape does not allow: unknown members, wrong
    types (timestamps are epoch-second numbers on the JSON wire), values outside an enum, missing required members.
    An empty list means the response is valid."""
    shape = service_model(service).operation_model(operation).output_shape
    errors: list[str] = []
    if shape is None:
        if body not in (None, {}):
            errors.append(f"{operation}: the operation has no output, got {body!r}")
        return errors
    _out(shape, body, operation, errors)
    return errors


def _out(shape, value: Any, path: str, errors: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a structure, got {type(value).__name__}")
            return
        for name in value:
            if name not in shape.members:
                errors.append(f"{path}.{name}: not a member of {shape.name}")
        for name in shape.required_members:
            if name not in value:
                errors.append(f"{path}.{name}: required member missing")
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _out(member, value[name], f"{path}.{name}", errors)
        return
    if kind == "list":
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _out(shape.member, item, f"{path}[{i}]", errors)
        return
    if kind == "map":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for key, item in value.items():
            _out(shape.key, key, f"{path}<key>", errors)
            _out(shape.value, item, f"{path}[{key!r}]", errors)
        return
    if kind == "string":
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string, got {type(value).__name__} {value!r}")
        elif shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.enum}")
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{path}: expected an integer, got {value!r}")
        return
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{path}: expected a number, got {value!r}")
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected a boolean, got {value!r}")
        return
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{path}: expected epoch seconds (JSON number), got {value!r}")
        return
    if kind == "blob" and not isinstance(value, str):
        errors.append(f"{path}: expected base64 text, got {value!r}")


def validate_request(service: str, operation: str, params: dict) -> None:
    """Raise ValidationException, AWS-worded, if ``params`` break the operation's input shape."""
    shape = service_model(service).operation_model(operation).input_shape
    errors: list[str] = []
    if shape is not None:
        _check(shape, params or {}, "", errors)
    if errors:
        n = len(errors)
        raise validation(f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errors))
