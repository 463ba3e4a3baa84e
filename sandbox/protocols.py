"""Wire formats: read a request's action and parameters, and write responses and errors as AWS does.

Protocols (botocore service metadata): ``json`` (X-Amz-Target: organizations, ssm, ...), ``query`` (form body with
``Action=``: sts, cloudformation, iam) and ``ec2`` (query requests, a different error document). REST protocols pass
straight through to moto; the layer only logs them.

Responses of the layer's own handlers are plain dicts shaped like botocore's parsed output. For JSON protocols they
are dumped as JSON (timestamps as epoch seconds); for query protocols they are serialised to XML by walking the
operation's output shape in botocore's service model, so that every field lands where botocore's parser looks.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore.session

_SESSION_LOCK = threading.Lock()
_SESSION: botocore.session.Session | None = None
_MODELS: dict[str, Any] = {}

# Signing names (SigV4 credential scope) whose botocore service name differs.
SIGNING_TO_SERVICE = {"tagging": "resourcegroupstaggingapi", "states": "stepfunctions", "execute-api": "apigateway"}


def service_model(service: str):
    """botocore's model for a signing name, loaded once per process."""
    model = _MODELS.get(service)
    if model is None:
        global _SESSION
        with _SESSION_LOCK:
            if _SESSION is None:
                _SESSION = botocore.session.get_session()
            model = _SESSION.get_service_model(SIGNING_TO_SERVICE.get(service, service))
        _MODELS[service] = model
    return model


def protocol_of(environ: dict, service: str) -> str:
    """Protocol of a request, from its headers: cheap, no model needed."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
        return "cbor"
    ctype = environ.get("CONTENT_TYPE", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        return "ec2" if service == "ec2" else "query"
    if environ.get("REQUEST_METHOD") == "GET" and "Action=" in environ.get("QUERY_STRING", ""):
        return "ec2" if service == "ec2" else "query"
    return "rest"


def parse_query(body: bytes, query_string: str = "") -> dict[str, str]:
    """Flat query parameters (``Action``, ``Version``, ``Foo.member.1``, ...), body first then the query string."""
    params: dict[str, str] = {}
    for source in (query_string, body.decode("utf-8") if body else ""):
        if source:
            for key, values in parse_qs(source, keep_blank_values=True).items():
                params[key] = values[-1]
    return params


def unflatten_query(params: dict[str, str], input_shape) -> dict:
    """Turn flat query params into the nested dict the operation's input shape describes (``X.member.N`` lists,
    ``X.entry.N.key`` maps, ``X.Y`` structures). Used by the layer's own query-protocol handlers."""
    if input_shape is None:
        return {}
    return _unflatten_struct(params, "", input_shape)


def _unflatten_value(params, prefix, shape):
    t = shape.type_name
    if t == "structure":
        value = _unflatten_struct(params, prefix + ".", shape)
        return value if value else None
    if t == "list":
        member = shape.member
        name = "member" if not shape.serialization.get("flattened") else ""
        items = []
        i = 1
        while True:
            key = f"{prefix}.{name}.{i}" if name else f"{prefix}.{i}"
            if member.type_name in ("structure", "list", "map"):
                item = _unflatten_value(params, key, member)
                if item is None:
                    break
            else:
                if key not in params:
                    break
                item = _scalar(params[key], member)
            items.append(item)
            i += 1
        if not items and params.get(prefix) == "":
            return []
        return items if items else None
    if t == "map":
        out = {}
        i = 1
        while f"{prefix}.entry.{i}.key" in params:
            k = params[f"{prefix}.entry.{i}.key"]
            out[k] = _unflatten_value(params, f"{prefix}.entry.{i}.value", shape.value)
            i += 1
        return out or None
    if prefix not in params:
        return None
    return _scalar(params[prefix], shape)


def _unflatten_struct(params, prefix, shape):
    out = {}
    for name, member in shape.members.items():
        key = prefix + member.serialization.get("name", name)
        value = _unflatten_value(params, key, member)
        if value is not None:
            out[name] = value
    return out


def _scalar(raw: str, shape):
    t = shape.type_name
    if t in ("integer", "long"):
        return int(raw)
    if t in ("float", "double"):
        return float(raw)
    if t == "boolean":
        return raw.lower() == "true"
    return raw


# --------------------------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------------------------
def _json_default(value):
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return value.timestamp()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render_json(body: dict) -> bytes:
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


def iso8601(value) -> str:
    if isinstance(value, (int, float)):
        value = _dt.datetime.fromtimestamp(value, _dt.UTC)
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return value.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def render_query(service: str, action: str, body: dict, request_id: str) -> bytes:
    """Serialise a handler's dict as the query protocol's XML response for ``action``."""
    model = service_model(service)
    op = model.operation_model(action)
    ns = model.metadata.get("xmlNamespace", "")
    parts = [f'<{action}Response xmlns="{ns}">']
    output = op.output_shape
    if output is not None:
        wrapper = op.output_shape.serialization.get("resultWrapper") or f"{action}Result"
        parts.append(f"<{wrapper}>")
        _xml_members(parts, body, output)
        parts.append(f"</{wrapper}>")
    parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    parts.append(f"</{action}Response>")
    return "".join(parts).encode()


def _xml_members(parts, value: dict, shape):
    for name, member in shape.members.items():
        if name not in value or value[name] is None:
            continue
        tag = member.serialization.get("name", name)
        _xml_value(parts, tag, value[name], member)


def _xml_value(parts, tag, value, shape):
    t = shape.type_name
    if t == "structure":
        parts.append(f"<{tag}>")
        _xml_members(parts, value, shape)
        parts.append(f"</{tag}>")
    elif t == "list":
        member = shape.member
        if shape.serialization.get("flattened"):
            inner = member.serialization.get("name", tag)
            for item in value:
                _xml_value(parts, inner, item, member)
        else:
            inner = member.serialization.get("name", "member")
            parts.append(f"<{tag}>")
            for item in value:
                _xml_value(parts, inner, item, member)
            parts.append(f"</{tag}>")
    elif t == "map":
        key_tag = shape.key.serialization.get("name", "key")
        val_tag = shape.value.serialization.get("name", "value")
        parts.append(f"<{tag}>")
        for k, v in value.items():
            parts.append("<entry>")
            _xml_value(parts, key_tag, k, shape.key)
            _xml_value(parts, val_tag, v, shape.value)
            parts.append("</entry>")
        parts.append(f"</{tag}>")
    elif t == "timestamp":
        parts.append(f"<{tag}>{iso8601(value)}</{tag}>")
    elif t == "boolean":
        parts.append(f"<{tag}>{'true' if value else 'false'}</{tag}>")
    else:
        parts.append(f"<{tag}>{escape(str(value))}</{tag}>")


def render_error(protocol: str, code: str, message: str, status: int, request_id: str) -> tuple[bytes, list]:
    """An error body and headers in the protocol's error shape."""
    headers = [("x-amzn-RequestId", request_id)]
    if protocol in {"json", "rest"}:
        body = render_json({"__type": code, "message": message})
        headers += [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
    elif protocol == "ec2":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>{kind}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    return body, headers


# Error codes by protocol for the layer's own failures (what AWS answers in each case).
THROTTLE = {"json": ("ThrottlingException", 400), "query": ("Throttling", 400), "ec2": ("RequestLimitExceeded", 503)}
ACCESS_DENIED = {
    "json": ("AccessDeniedException", 400),
    "query": ("AccessDenied", 403),
    "ec2": ("UnauthorizedOperation", 403),
}
INVALID_KEY = {
    "json": ("UnrecognizedClientException", 400, "The security token included in the request is invalid."),
    "query": ("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
    "ec2": ("AuthFailure", 401, "AWS was not able to validate the provided access credentials"),
}
EXPIRED = {
    "json": ("ExpiredTokenException", 400, "The security token included in the request is expired"),
    "query": ("ExpiredToken", 400, "The security token included in the request is expired"),
    "ec2": ("RequestExpired", 400, "Request has expired."),
}
SERVER_ERRORS = {
    500: {"json": "InternalServerError", "query": "InternalFailure", "ec2": "InternalError"},
    503: {"json": "ServiceUnavailable", "query": "ServiceUnavailable", "ec2": "Unavailable"},
}
