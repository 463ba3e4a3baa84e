# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudFormation templates as data: parsed (short forms understood), their parameters, as text (private)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False

from ansible_collections.orgops.ssm_automation.plugins.module_utils import validation

if HAS_YAML:

    class _CfnLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """YAML loader that understands CloudFormation short forms (!Ref, !Sub, !GetAtt ...) and keeps dates as text."""

    def _cfn_tag(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "Condition":
            return {"Condition": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {"Fn::" + suffix: value}

    _CfnLoader.add_multi_constructor("!", _cfn_tag)
    # CloudFormation reads AWSTemplateFormatVersion: 2010-09-09 as text, not as a date.
    _CfnLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def parse_template(body, field="template_body"):
    """A template (JSON or YAML text, or already parsed) as data, so that formatting and key order do not count."""
    if body is None:
        return None
    if isinstance(body, dict):
        return json.loads(json.dumps(body))
    try:
        data = json.loads(body)
    except ValueError as e:
        if not HAS_YAML:
            raise validation.InvalidInput(field, "is not JSON, and PyYAML is needed to read a YAML template") from e
        try:
            data = yaml.load(body, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as e:
            raise validation.InvalidInput(field, "is neither valid JSON nor valid YAML: %s" % e) from e
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise validation.InvalidInput(field, "is not a CloudFormation template: it needs a Resources mapping")
    return data


def template_parameters(template):
    """``{name: {"default": str or None, "no_echo": bool}}`` for the parameters a parsed template declares."""
    declared = {}
    for name, raw in ((template or {}).get("Parameters") or {}).items():
        spec = raw if isinstance(raw, dict) else {}
        default = spec.get("Default")
        if isinstance(default, list):
            default = ",".join(str(v) for v in default)
        declared[name] = {
            "default": None if default is None else _param_text(default),
            "no_echo": str(spec.get("NoEcho", "false")).lower() == "true",
        }
    return declared


# IAM resources and the property that names them: IAM is global, so a fixed name exists once per account, whatever
# the region (IAM User Guide, "IAM identifiers"; CloudFormation answers a second stack with "already exists").
GLOBAL_NAMED_RESOURCES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}


def _mentions_region(value):
    if isinstance(value, dict):
        if value.get("Ref") == "AWS::Region":
            return True
        return any(_mentions_region(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_region(v) for v in value)
    return isinstance(value, str) and "${AWS::Region}" in value


def _resolve_name(value, parameters):
    """A name property's value with ``Ref`` to a parameter resolved (given value, else its Default), or None."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return parameters.get(value["Ref"])
    return None


def global_named_resources(template, parameters=None):
    """The template's IAM resources with a name that is the same in every region (no ``AWS::Region`` in it).

    Returns ``[{"logical_id", "type", "name"}]``; ``name`` is resolved through ``parameters`` (then the parameter's
    Default) when it is a ``Ref``, and None when it is computed otherwise. Deployed to a second region of the same
    account, each of these fails with "already exists".
    """
    values = {k: v["default"] for k, v in template_parameters(template).items()}
    values.update(parameters or {})
    found = []
    for logical_id, resource in sorted(((template or {}).get("Resources") or {}).items()):
        if not isinstance(resource, dict):
            continue
        prop = GLOBAL_NAMED_RESOURCES.get(resource.get("Type"))
        name = ((resource.get("Properties") or {}) if prop else {}).get(prop)
        if prop and name is not None and not _mentions_region(name):
            found.append({"logical_id": logical_id, "type": resource["Type"], "name": _resolve_name(name, values)})
    return found


def _param_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_param_text(v) for v in value)
    return str(value)


def template_text(template):
    """A parsed template as stable YAML text, for diffs."""
    if template is None:
        return ""
    if HAS_YAML:
        return yaml.safe_dump(template, sort_keys=True, default_flow_style=False, width=160)
    return json.dumps(template, sort_keys=True, indent=2) + "\n"  # pragma: no cover
