"""Validate against botocore's service models: the sandbox must answer as AWS does on the wire, and judge requests
as AWS's front end does.

``validate_output(service, operation, data)`` returns a list of problems (empty: valid). ``data`` is either

- a dict: botocore's parsed output (``ResponseMetadata`` is ignored) or a JSON-protocol body, or
- raw bytes / str: the HTTP body as sent, JSON (json protocols) or XML (query / ec2 protocols).

Checked: every key is a member of the shape (nothing unknown, for XML: every element), required members are
present, types match (string, integer within min/max, boolean, double, timestamp, blob, list, map, structure),
and enum values are among the model's values; in a JSON body as sent, timestamps are epoch-second numbers. Raw XML
is walked element by element, so an element botocore's parser would silently drop is reported, too.
``assert_valid_output`` raises AssertionError with the problems.

``validate_input(service, operation, params)`` is the request side, which the engine serves with: botocore only
checks types, required members and minimums on the client side; AWS checks the rest (maximum lengths, list sizes,
patterns, enums, integer ranges) on the server and answers ``ValidationException`` with the Coral message format,
e.g.::

    1 validation error detected: Value '[...]' at 'targetLocations.1.member.accounts' failed to satisfy constraint:
    Member must have length less than or equal to 50

It returns those messages (empty: valid), and ``validation_message`` joins them as AWS does. Walking the model
means every limit matches the botocore version the tests pin, with no hand-copied numbers.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parses the sandbox's own responses in tests
from typing import Any

from sandbox.protocols import service_model

try:  # the collection's Java regex translator (plugins/module_utils/java_regex.py)
    from ansible_collections.orgops.ssm_automation.plugins.module_utils import java_regex
except ImportError:  # pragma: no cover - run from the repository root without the collections path
    from plugins.module_utils import java_regex

__all__ = ["assert_valid_output", "validate_error", "validate_input", "validate_output", "validation_message"]


def validate_output(service: str, operation: str, data: Any) -> list[str]:
    model = service_model(service)
    op = model.operation_model(operation)
    shape = op.output_shape
    protocol = model.metadata.get("protocol")
    problems: list[str] = []
    if isinstance(data, (bytes, str)):
        text = data.decode() if isinstance(data, bytes) else data
        if protocol in ("query", "ec2"):
            _validate_xml(text, operation, op, shape, protocol, problems)
            return problems
        data = json.loads(text or "{}")
        if shape is None:
            if data:
                problems.append(f"(body): {operation} has no output, got {sorted(data)}")
            return problems
        _walk(data, shape, "", _OutputRules(problems, wire="json"))
        return problems
    if not isinstance(data, dict):
        return [f"(body): expected a dict, got {type(data).__name__}"]
    data = {k: v for k, v in data.items() if k != "ResponseMetadata"}
    if shape is None:
        return [f"(body): {operation} has no output, got {sorted(data)}"] if data else []
    _walk(data, shape, "", _OutputRules(problems, wire=None))
    return problems


def validate_input(service: str, operation: str, params: dict | None) -> list[str]:
    """What AWS's front end would reject in a request's ``params``, each problem in AWS's words."""
    shape = service_model(service).operation_model(operation).input_shape
    problems: list[str] = []
    if shape is not None:
        _walk(params or {}, shape, "", _InputRules(problems))
    return problems


def validation_message(problems: list[str]) -> str:
    """A ValidationException's message for the problems ``validate_input`` found."""
    n = len(problems)
    return f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems)


def assert_valid_output(service: str, operation: str, data: Any) -> None:
    problems = validate_output(service, operation, data)
    if problems:
        raise AssertionError(
            f"{service}:{operation} output does not match botocore's shape:\n  " + "\n  ".join(problems)
        )


def validate_error(service: str, body: bytes | str, status: int) -> tuple[str, str]:
    """Parse an error body with botocore's parser for the service's protocol; return (code, message).

    Raises AssertionError when botocore cannot find a code and a message in it."""
    from botocore import parsers

    model = service_model(service)
    protocol = model.metadata.get("protocol")
    raw = body.encode() if isinstance(body, str) else body
    parser = parsers.create_parser(protocol)
    headers = {"content-type": "application/x-amz-json-1.1" if protocol == "json" else "text/xml"}
    if protocol == "json":
        try:
            headers["x-amzn-errortype"] = json.loads(raw)["__type"]
        except (ValueError, KeyError):
            pass
    parsed = parser.parse({"status_code": status, "headers": headers, "body": raw}, None)
    err = parsed.get("Error", {})
    if not err.get("Code") or "Message" not in err:
        raise AssertionError(f"botocore found no error code/message in {raw[:300]!r}: {parsed}")
    return err["Code"], err["Message"]


# -- one walk along a botocore shape, two rule sets (responses, requests) ------------------------------------------
def _walk(value, shape, path: str, rules) -> None:
    """Visit ``value`` along ``shape``, depth first: ``rules.node`` checks each value where it stands and says
    whether to go inside it; a None list item or map value goes to ``rules.null``; structure members that are
    absent or None are not visited (a required one is its structure's own check)."""
    if not rules.node(value, shape, path):
        return
    kind = shape.type_name
    if kind == "structure":
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _walk(value[name], member, rules.member(path, name), rules)
    elif kind == "list":
        for i, item in enumerate(value):
            _item(item, shape.member, rules.item(path, i), rules, "item")
    else:  # map
        for key, item in value.items():
            _walk(key, shape.key, rules.key(path, key), rules)
            _item(item, shape.value, rules.value(path, key), rules, "value")


def _item(value, shape, path: str, rules, where: str) -> None:
    if value is None:
        rules.null(shape, path, where)
    else:
        _walk(value, shape, path, rules)


_CONTAINERS = {"structure": (dict, "structure"), "list": (list, "list"), "map": (dict, "map")}


def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class _OutputRules:
    """A response: nothing unknown, required members present, types (``wire``: "json" for a JSON body as sent,
    where a timestamp is epoch seconds; "xml" for XML text; None for botocore's parsed output), enums, integer
    ranges.  Problems read ``path: what is wrong``."""

    @staticmethod
    def member(path: str, name: str) -> str:
        return _join(path, name)

    @staticmethod
    def item(path: str, i: int) -> str:
        return _join(path, i)

    @staticmethod
    def key(path: str, k) -> str:
        return _join(path, f"<key {k}>")

    @staticmethod
    def value(path: str, k) -> str:
        return _join(path, k)

    def __init__(self, problems: list[str], wire: str | None):
        self.problems = problems
        self.wire = wire

    def null(self, shape, path: str, _where: str) -> None:
        self.node(None, shape, path)

    def node(self, value, shape, path: str) -> bool:
        where = path or "(body)"
        container = _CONTAINERS.get(shape.type_name)
        if container is None:
            _scalar(value, shape, where, self.problems, self.wire)
            return False
        if not isinstance(value, container[0]):
            label = f"{container[1]} ({shape.name})" if container[1] == "structure" else container[1]
            self.problems.append(f"{where}: expected a {label}, got {type(value).__name__}")
            return False
        if shape.type_name == "structure":
            for key in value:
                if key not in shape.members:
                    self.problems.append(f"{_join(path, key)}: not a member of {shape.name}")
            for req in shape.required_members:
                if req not in value:
                    self.problems.append(f"{_join(path, req)}: required member of {shape.name} is missing")
        return True


def _scalar(value, shape, where: str, problems: list[str], wire: str | None) -> None:
    t = shape.type_name
    if t == "string":
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {type(value).__name__} {value!r}")
            return
        enum = shape.enum
        if enum and value not in enum:
            problems.append(f"{where}: {value!r} is not one of {list(enum)}")
    elif t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, got {value!r}")
            return
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        if lo is not None and value < lo:
            problems.append(f"{where}: {value} is below the minimum {lo}")
        if hi is not None and value > hi:
            problems.append(f"{where}: {value} is above the maximum {hi}")
    elif t == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{where}: expected a boolean, got {value!r}")
    elif t in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number, got {value!r}")
    elif t == "timestamp":
        _timestamp(value, shape, where, problems, wire)
    elif t == "blob" and not isinstance(value, (str, bytes)):
        problems.append(f"{where}: expected a blob, got {type(value).__name__}")


def _timestamp(value, shape, where: str, problems: list[str], wire: str | None) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if wire == "json" and shape.serialization.get("timestampFormat", "unixTimestamp") == "unixTimestamp":
        # JSON protocols send epoch seconds (botocore's parser would also take text, AWS never sends it)
        if not number:
            problems.append(f"{where}: expected epoch seconds (JSON number), got {value!r}")
        return
    if isinstance(value, _dt.datetime) or (wire and number):
        return
    if isinstance(value, str):
        try:
            _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return
        except ValueError:
            pass
    problems.append(f"{where}: expected a timestamp, got {value!r}")


class _InputRules:
    """A request, as AWS's front end judges it beyond botocore's client-side checks (maximum lengths, list sizes,
    patterns, enums, integer ranges, nulls).  Problems are worded as AWS words them (the Coral format), e.g.
    ``Value '[...]' at 'targetLocations.1.member.accounts' failed to satisfy constraint: Member must have length
    less than or equal to 50``."""

    @staticmethod
    def member(path: str, name: str) -> str:
        return f"{path + '.' if path else ''}{name[:1].lower()}{name[1:]}"

    @staticmethod
    def item(path: str, i: int) -> str:
        return f"{path}.{i + 1}.member"

    @staticmethod
    def key(path: str, _k) -> str:
        return f"{path}.key"

    @staticmethod
    def value(path: str, k) -> str:
        return f"{path}.{k}.member"

    def __init__(self, problems: list[str]):
        self.problems = problems

    def null(self, _shape, path: str, where: str) -> None:
        if where == "item":  # a None map value is let through
            self._null(path)

    def _null(self, path: str) -> None:
        self.problems.append(f"Value null at '{path}' failed to satisfy constraint: Member must not be null")

    def node(self, value, shape, path: str) -> bool:
        def fail(constraint: str) -> None:
            self.problems.append(f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: {constraint}")

        kind, meta = shape.type_name, shape.metadata
        container = _CONTAINERS.get(kind)
        if container is not None and not isinstance(value, container[0]):
            fail(f"Member must be a {container[1]}")
            return False
        if kind == "structure":
            for name in shape.required_members:
                if value.get(name) is None:
                    self._null(self.member(path, name))
            return True
        if kind == "string" and not isinstance(value, str):
            fail("Member must be a string")
        elif kind in ("list", "map", "string"):
            if "min" in meta and len(value) < meta["min"]:
                fail(f"Member must have length greater than or equal to {meta['min']}")
            if "max" in meta and len(value) > meta["max"]:
                fail(f"Member must have length less than or equal to {meta['max']}")
            if kind == "string" and shape.enum and value not in shape.enum:
                fail(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            if kind == "string" and "pattern" in meta and not _java_pattern(meta["pattern"]).search(value):
                fail(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        elif kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                fail("Member must be a number")
            elif "min" in meta and value < meta["min"]:
                fail(f"Member must have value greater than or equal to {meta['min']}")
            elif "max" in meta and value > meta["max"]:
                fail(f"Member must have value less than or equal to {meta['max']}")
        return container is not None


@functools.cache
def _java_pattern(pattern: str) -> re.Pattern:
    # The models' patterns are Java regexes: the collection's one translator reads them (issue 16).
    try:
        return java_regex.compile_java(pattern)
    except java_regex.JavaRegexError:  # a construct it does not model: the old approximation
        py = pattern.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\d").replace(r"\p{Z}", r"\s").replace(r"\p{M}", "")
        return re.compile(py)


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


# -- XML (query and ec2 protocols) --------------------------------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _validate_xml(text: str, operation: str, op, shape, protocol: str, problems: list[str]) -> None:
    try:
        root = ET.fromstring(text)  # noqa: S314 - our own server's response, in tests
    except ET.ParseError as exc:
        problems.append(f"(body): not well-formed XML: {exc}")
        return
    if _local(root.tag) != f"{operation}Response":
        problems.append(f"(body): root element is <{_local(root.tag)}>, expected <{operation}Response>")
    if protocol == "query":
        wrapper_name = shape.serialization.get("resultWrapper") if shape is not None else None
        children = [c for c in root if _local(c.tag) != "ResponseMetadata"]
        if shape is None:
            if children and any(len(c) or (c.text or "").strip() for c in children):
                problems.append(f"(body): {operation} has no output, got <{_local(children[0].tag)}>")
            return
        result = next((c for c in root if _local(c.tag) == (wrapper_name or f"{operation}Result")), None)
        if result is None:
            problems.append(f"(body): no <{wrapper_name or operation + 'Result'}> element")
            return
        _xml_struct(result, shape, "", problems)
    elif shape is not None:
        _xml_struct(root, shape, "", problems, ignore={"requestId"})


def _xml_struct(elem, shape, path: str, problems: list[str], ignore=frozenset()) -> None:
    by_tag = {}
    for name, member in shape.members.items():
        by_tag[member.serialization.get("name", name)] = (name, member)
        if member.type_name == "list" and member.serialization.get("flattened"):
            by_tag[member.member.serialization.get("name", name)] = (name, member)
    seen_flat = set()
    for child in elem:
        tag = _local(child.tag)
        if tag in ignore:
            continue
        if tag not in by_tag:
            problems.append(f"{_join(path, tag)}: not a member of {shape.name}")
            continue
        name, member = by_tag[tag]
        if member.type_name == "list" and member.serialization.get("flattened"):
            seen_flat.add(name)
            _xml_value(child, member.member, _join(path, name), problems)
        else:
            _xml_value(child, member, _join(path, name), problems)


def _xml_value(elem, shape, path: str, problems: list[str]) -> None:
    t = shape.type_name
    if t == "structure":
        _xml_struct(elem, shape, path, problems)
    elif t == "list":
        inner = shape.member.serialization.get("name", "member")
        for i, child in enumerate(elem):
            if _local(child.tag) != inner:
                problems.append(f"{_join(path, i)}: list item is <{_local(child.tag)}>, expected <{inner}>")
                continue
            _xml_value(child, shape.member, _join(path, i), problems)
    elif t == "map":
        key_tag = shape.key.serialization.get("name", "key")
        val_tag = shape.value.serialization.get("name", "value")
        for i, entry in enumerate(elem):
            parts = {_local(c.tag): c for c in entry}
            if key_tag not in parts or val_tag not in parts:
                problems.append(f"{_join(path, i)}: map entry without <{key_tag}>/<{val_tag}>")
                continue
            _xml_value(parts[val_tag], shape.value, _join(path, parts[key_tag].text or ""), problems)
    else:
        text = (elem.text or "").strip()
        if len(elem):
            problems.append(f"{path}: expected text for a {t}, got child elements")
            return
        value: Any = text
        if t in ("integer", "long"):
            try:
                value = int(text)
            except ValueError:
                problems.append(f"{path}: {text!r} is not an integer")
                return
        elif t == "boolean":
            if text not in ("true", "false"):
                problems.append(f"{path}: {text!r} is not true/false")
            return
        elif t in ("float", "double"):
            try:
                value = float(text)
            except ValueError:
                problems.append(f"{path}: {text!r} is not a number")
            return
        _scalar(value, shape, path, problems, wire="xml")
