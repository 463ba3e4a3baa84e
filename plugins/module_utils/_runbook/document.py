# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runbook text: parse (YAML/JSON), normalise, hash, dump and size."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json

try:
    import yaml
except ImportError:  # the modules report it with missing_required_lib("PyYAML")
    yaml = None

from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import MAX_CONTENT_BYTES
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

HAS_YAML = yaml is not None
YAML_REQUIREMENT = "PyYAML"

if HAS_YAML:

    class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """SafeLoader that keeps timestamps as strings, as SSM's own parser does, so content stays JSON-able."""

    _Loader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    class _Dumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
        """SafeDumper writing multi-line strings as literal blocks and indenting lists under their key."""

        def increase_indent(self, flow=False, indentless=False):
            return super(_Dumper, self).increase_indent(flow, False)

    def _str_representer(dumper, data):
        if "\n" in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    _Dumper.add_representer(str, _str_representer)


def _need_yaml():
    if not HAS_YAML:
        raise InvalidInput(
            "content", "YAML needs the PyYAML Python library, which is not installed; accepted: JSON content"
        )


def parse_content(content):
    """Return a runbook dict from a dict, or a YAML or JSON string (or bytes).

    Raises ``InvalidInput("content", ...)`` when the text is neither valid JSON nor valid YAML, or is not a mapping.
    """
    if isinstance(content, dict):
        return copy.deepcopy(content)
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidInput("content", "is not UTF-8 text (%s); accepted: a YAML or JSON runbook" % e) from None
    if not isinstance(content, str):
        raise InvalidInput("content", "is a %s; accepted: a dict, or a YAML or JSON string" % type(content).__name__)
    if not content.strip():
        raise InvalidInput("content", "is empty; accepted: a YAML or JSON runbook with schemaVersion and mainSteps")
    doc = None
    if content.lstrip().startswith("{"):
        try:
            doc = json.loads(content)
        except ValueError:
            doc = None
    if doc is None:
        _need_yaml()
        try:
            doc = yaml.load(content, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
        except yaml.YAMLError as e:
            raise InvalidInput("content", "is not valid YAML or JSON: %s" % " ".join(str(e).split())) from None
    if not isinstance(doc, dict):
        raise InvalidInput(
            "content",
            "is a YAML/JSON %s, not a mapping; accepted: a runbook mapping with schemaVersion and mainSteps"
            % type(doc).__name__,
        )
    return doc


def content_format(content):
    """``JSON`` when a string is JSON, ``YAML`` otherwise (dicts have no format of their own: None)."""
    if not isinstance(content, str):
        return None
    try:
        json.loads(content)
        return "JSON"
    except ValueError:
        return "YAML"


def normalize(doc):
    """Canonical JSON (sorted keys, no whitespace): equal for runbooks that differ only in format or key order."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(doc):
    """sha256 (hex) of :func:`normalize`."""
    return hashlib.sha256(normalize(doc).encode("utf-8")).hexdigest()


def to_yaml(doc):
    """Readable YAML of a runbook, keys in document order, multi-line strings as blocks."""
    _need_yaml()
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096)


def to_json(doc):
    return json.dumps(doc, indent=2, ensure_ascii=False)


def dump_content(doc, document_format):
    """The text to upload for ``doc`` in ``document_format`` (YAML or JSON)."""
    if document_format == "JSON":
        return to_json(doc)
    return to_yaml(doc)


def content_size(text):
    return len(text.encode("utf-8"))


def check_size(text, field="content"):
    size = content_size(text)
    if size > MAX_CONTENT_BYTES:
        raise InvalidInput(
            field,
            "is %d bytes; accepted: at most %d bytes (64 KB), the SSM document size limit" % (size, MAX_CONTENT_BYTES),
        )
    return size
