"""Validate responses against botocore's output shapes: the sandbox must answer as AWS does on the wire.

``validate_output(service, operation, data)`` returns a list of problems (empty: valid). ``data`` is either

- a dict: botocore's parsed output (``ResponseMetadata`` is ignored) or a JSON-protocol body, or
- raw bytes / str: the HTTP body as sent, JSON (json protocols) or XML (query / ec2 protocols).

Checked: every key is a member of the shape (nothing unknown, for XML: every element), required members are
present, types match (string, integer within min/max, boolean, double, timestamp, blob, list, map, structure),
and enum values are among the model's values. Raw XML is walked element by element, so an element botocore's
parser would silently drop is reported, too. ``assert_valid_output`` raises AssertionError with the problems.
"""

from __future__ import annotations

import datetime as _dt
import json
import xml.etree.ElementTree as ET  # noqa: S405 - parses the sandbox's own responses in tests
from typing import Any

from sandbox.protocols import service_model

__all__ = ["assert_valid_output", "validate_output", "validate_error"]


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
        _validate(data, shape, "", problems, wire=True)
        return problems
    if not isinstance(data, dict):
        return [f"(body): expected a dict, got {type(data).__name__}"]
    data = {k: v for k, v in data.items() if k != "ResponseMetadata"}
    if shape is None:
        return [f"(body): {operation} has no output, got {sorted(data)}"] if data else []
    _validate(data, shape, "", problems, wire=False)
    return problems


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


# ---------------------------------------------------------------------------------------------------------------
def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _validate(value, shape, path: str, problems: list[str], wire: bool) -> None:
    t = shape.type_name
    where = path or "(body)"
    if t == "structure":
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a structure ({shape.name}), got {type(value).__name__}")
            return
        for key in value:
            if key not in shape.members:
                problems.append(f"{_join(path, key)}: not a member of {shape.name}")
        for req in shape.required_members:
            if req not in value:
                problems.append(f"{_join(path, req)}: required member of {shape.name} is missing")
        for key, member in shape.members.items():
            if key in value and value[key] is not None:
                _validate(value[key], member, _join(path, key), problems, wire)
    elif t == "list":
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _validate(item, shape.member, _join(path, i), problems, wire)
    elif t == "map":
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a map, got {type(value).__name__}")
            return
        for k, v in value.items():
            _validate(k, shape.key, _join(path, f"<key {k}>"), problems, wire)
            _validate(v, shape.value, _join(path, k), problems, wire)
    else:
        _scalar(value, shape, where, problems, wire)


def _scalar(value, shape, where: str, problems: list[str], wire: bool) -> None:
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
        if isinstance(value, _dt.datetime):
            return
        if wire and isinstance(value, (int, float)) and not isinstance(value, bool):
            return
        if isinstance(value, str):
            try:
                _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                return
            except ValueError:
                pass
        problems.append(f"{where}: expected a timestamp, got {value!r}")
    elif t == "blob" and not isinstance(value, (str, bytes)):
        problems.append(f"{where}: expected a blob, got {type(value).__name__}")


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
        _scalar(value, shape, path, problems, wire=True)
