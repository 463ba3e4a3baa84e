# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runbooks as data: parse, normalise, hash, lint, check start parameters, and render from a list of checks.

Pure Python (PyYAML and the standard library), no Ansible and no AWS, so that modules, roles, CI and
tests share one implementation. Every public function raises :class:`validation.InvalidInput` for bad
input, naming the field and the accepted form.

Lint findings are dicts ``{"severity", "rule", "step", "path", "message"}``; ``severity`` is ``error``,
``warning`` or ``info``. The rules are documented in docs/runbooks.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json
import re

try:
    import re._constants as sre_constants
    import re._parser as sre_parse  # Python >= 3.11
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants  # pylint: disable=deprecated-module
    import sre_parse  # pylint: disable=deprecated-module

try:
    import yaml
except ImportError:  # the modules report it with missing_required_lib("PyYAML")
    yaml = None

from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

# CreateDocument: "The content of the document must not exceed 64KB" (SSM API reference, CreateDocument.Content;
# exception MaxDocumentSizeExceeded: "The size limit of a document is 64 KB").
MAX_CONTENT_BYTES = 64 * 1024
# GetAutomationExecution step outputs: Automation keeps the first 2,500 characters of a command's output.
OUTPUT_CAP_CHARS = 2500

SCHEMA_VERSION = "0.3"
TOP_LEVEL_KEYS = frozenset(
    ["schemaVersion", "description", "assumeRole", "parameters", "variables", "mainSteps", "outputs", "files"]
)
STEP_KEYS = frozenset(
    [
        "name",
        "action",
        "description",
        "inputs",
        "outputs",
        "onFailure",
        "onCancel",
        "maxAttempts",
        "timeoutSeconds",
        "nextStep",
        "isEnd",
        "isCritical",
    ]
)
PARAMETER_KEYS = frozenset(
    [
        "type",
        "description",
        "default",
        "allowedValues",
        "allowedPattern",
        "displayType",
        "minItems",
        "maxItems",
        "maxChars",
    ]
)
BASIC_TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
# Automation also accepts AWS resource types for parameters; AWS validates their format itself.
AWS_RESOURCE_TYPES = (
    "AWS::EC2::Instance::Id",
    "List<AWS::EC2::Instance::Id>",
    "AWS::EC2::Image::Id",
    "List<AWS::EC2::Image::Id>",
    "AWS::IAM::Role::Arn",
    "AWS::S3::Bucket::Name",
)
PARAMETER_TYPES = BASIC_TYPES + AWS_RESOURCE_TYPES
OUTPUT_TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")

# Systems Manager Automation actions reference: action -> required inputs. A tuple inside the list means
# "one of these". Built-in outputs are those an action returns without an ``outputs`` declaration.
ACTIONS = {
    "aws:approve": {"required": ["Approvers"], "builtin_outputs": ["ApprovalStatus", "ApproverDecisions"]},
    "aws:assertAwsResourceProperty": {"required": ["Service", "Api", "PropertySelector", "DesiredValues"]},
    "aws:branch": {"required": ["Choices"]},
    "aws:changeInstanceState": {"required": ["InstanceIds", "DesiredState"]},
    "aws:copyImage": {
        "required": ["SourceImageId", "SourceRegion", "ImageName"],
        "builtin_outputs": ["ImageId", "ImageState"],
    },
    "aws:createImage": {"required": ["InstanceId", "ImageName"], "builtin_outputs": ["ImageId", "ImageState"]},
    "aws:createStack": {"required": ["StackName"], "builtin_outputs": ["StackId", "StackStatus", "StackStatusReason"]},
    "aws:createTags": {"required": ["ResourceIds", "Tags"]},
    "aws:deleteImage": {"required": ["ImageId"]},
    "aws:deleteStack": {"required": ["StackName"]},
    "aws:executeAutomation": {"required": ["DocumentName"], "builtin_outputs": ["Output", "ExecutionId", "Status"]},
    "aws:executeAwsApi": {"required": ["Service", "Api"]},
    "aws:executeScript": {"required": ["Runtime"], "builtin_outputs": ["OutputPayload"]},
    "aws:executeStateMachine": {"required": ["stateMachineArn"]},
    "aws:invokeLambdaFunction": {
        "required": ["FunctionName"],
        "builtin_outputs": ["StatusCode", "FunctionError", "LogResult", "Payload"],
    },
    "aws:invokeWebhook": {"required": ["IntegrationName"], "builtin_outputs": ["Response", "ResponseCode"]},
    "aws:loop": {"required": ["Iterators", "Steps"], "builtin_outputs": ["CurrentIteration", "CurrentIteratorValue"]},
    "aws:pause": {"required": []},
    "aws:runCommand": {
        "required": ["DocumentName", ("InstanceIds", "Targets")],
        "builtin_outputs": ["CommandId", "Status", "ResponseCode", "Output"],
    },
    "aws:runInstances": {"required": ["ImageId"], "builtin_outputs": ["InstanceIds", "InstanceStates"]},
    "aws:sleep": {"required": [("Duration", "Timestamp")]},
    "aws:updateVariable": {"required": ["Name", "Value"]},
    "aws:waitForAwsResourceProperty": {"required": ["Service", "Api", "PropertySelector", "DesiredValues"]},
}
BRANCH_OPERATORS = frozenset(
    [
        "StringEquals",
        "EqualsIgnoreCase",
        "StartsWith",
        "EndsWith",
        "Contains",
        "NumericEquals",
        "NumericGreater",
        "NumericLesser",
        "NumericGreaterOrEquals",
        "NumericLesserOrEquals",
        "BooleanEquals",
    ]
)
# Automation system and automation variables (Systems Manager user guide, "Automation system variables").
AUTOMATION_VARIABLES = frozenset(
    [
        "automation:EXECUTION_ID",
        "global:ACCOUNT_ID",
        "global:DATE",
        "global:DATE_TIME",
        "global:AWS_PARTITION",
        "global:AWS_URL_SUFFIX",
        "global:REGION",
    ]
)
SHELL_DOCUMENTS = ("AWS-RunShellScript",)
POWERSHELL_DOCUMENTS = ("AWS-RunPowerShellScript",)

REF_RE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
STEP_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
CHECK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
# Characters a value may carry into a shell or PowerShell command without changing its meaning.
SAFE_VALUE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/=@+,- ")
SAFE_VALUE_FORM = "letters, digits, space and _ . : / = @ + , -"
INTERPOLATED_UNSAFE_TYPES = ("String", "StringList", "MapList", "StringMap")

SEVERITIES = ("error", "warning", "info")


# --------------------------------------------------------------------------------------------------
# Parsing, normalising, hashing
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Regex strictness: can a value matching this pattern carry shell metacharacters?
# --------------------------------------------------------------------------------------------------


def _range_is_safe(lo, hi):
    if hi - lo > 512:
        return False
    return all(chr(c) in SAFE_VALUE_CHARS for c in range(lo, hi + 1))


def _items_are_safe(items):
    """True when every character the parsed regex items can match is in SAFE_VALUE_CHARS."""
    c = sre_constants
    for op, av in items:
        if op == c.LITERAL:
            if chr(av) not in SAFE_VALUE_CHARS:
                return False
        elif op == c.IN:
            for iop, iav in av:
                if iop == c.LITERAL:
                    if chr(iav) not in SAFE_VALUE_CHARS:
                        return False
                elif iop == c.RANGE:
                    if not _range_is_safe(iav[0], iav[1]):
                        return False
                elif iop == c.CATEGORY:
                    if iav not in (c.CATEGORY_DIGIT, c.CATEGORY_WORD):
                        return False
                else:  # NEGATE and anything else: unbounded set of characters
                    return False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) or op == getattr(c, "POSSESSIVE_REPEAT", None):
            if not _items_are_safe(av[2]):
                return False
        elif op == c.SUBPATTERN:
            if not _items_are_safe(av[-1]):
                return False
        elif op == getattr(c, "ATOMIC_GROUP", None):
            if not _items_are_safe(av):
                return False
        elif op == c.BRANCH:
            if not all(_items_are_safe(alt) for alt in av[1]):
                return False
        elif op == c.GROUPREF_EXISTS:
            if not all(_items_are_safe(alt) for alt in av[1:] if alt is not None):
                return False
        elif op in (c.AT, c.GROUPREF, c.ASSERT, c.ASSERT_NOT):
            continue  # anchors, back-references and look-arounds add no new characters
        elif op == c.CATEGORY:
            if av not in (c.CATEGORY_DIGIT, c.CATEGORY_WORD):
                return False
        else:  # ANY (.), NOT_LITERAL and anything unforeseen
            return False
    return True


def _edge_anchored(items, first):
    """True when every match of ``items`` starts (first=True) or ends (first=False) at an anchor."""
    c = sre_constants
    items = list(items)
    if not items:
        return False
    op, av = items[0] if first else items[-1]
    if op == c.AT:
        wanted = (c.AT_BEGINNING, c.AT_BEGINNING_STRING) if first else (c.AT_END, c.AT_END_STRING)
        return av in wanted
    if op == c.BRANCH:
        return all(_edge_anchored(alt, first) for alt in av[1])
    if op == c.SUBPATTERN:
        return _edge_anchored(av[-1], first)
    return False


def _anchored(items):
    items = list(items)
    return _edge_anchored(items, True) and _edge_anchored(items, False)


def is_strict_pattern(pattern):
    """True when ``pattern`` is anchored at both ends and admits only :data:`SAFE_VALUE_CHARS`."""
    if not isinstance(pattern, str):
        return False
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    items = list(parsed)
    return _anchored(items) and _items_are_safe(items)


def is_safe_value(value):
    return all(ch in SAFE_VALUE_CHARS for ch in str(value))


# --------------------------------------------------------------------------------------------------
# Lint
# --------------------------------------------------------------------------------------------------


class _Findings:
    def __init__(self, waivers):
        self.items = []
        self.waivers = set(waivers or [])

    def add(self, severity, rule, step, path, message):
        if severity != "error" and ("rule:" + rule) in self.waivers:
            return
        self.items.append({"severity": severity, "rule": rule, "step": step, "path": path, "message": message})


def _walk_strings(value, path):
    """Yield (path, string) for every string under value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_strings(v, "%s.%s" % (path, k) if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_strings(v, "%s[%d]" % (path, i))


def _type_fits(ptype, value):
    if ptype == "StringList" or ptype.startswith("List<"):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if ptype == "String" or ptype.startswith("AWS::"):
        return isinstance(value, str)
    if ptype == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if ptype == "Boolean":
        return isinstance(value, bool)
    if ptype == "MapList":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if ptype == "StringMap":
        return isinstance(value, dict)
    return True


def _unknown_keys(f, mapping, accepted, rule, step, path, what):
    """An error for each key of ``mapping`` that is not in ``accepted``, naming the accepted ones."""
    for key in mapping:
        if key not in accepted:
            f.add(
                "error",
                rule,
                step,
                "%s.%s" % (path, key),
                "unknown %s %r; accepted: %s" % (what, key, ", ".join(sorted(accepted))),
            )


def _lint_parameters(doc, f):
    params = doc.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        f.add("error", "schema.parameters", None, "parameters", "parameters must be a mapping of name to definition")
        return {}
    for name, spec in params.items():
        path = "parameters.%s" % name
        if not isinstance(spec, dict):
            f.add("error", "schema.parameter", None, path, "parameter %s must be a mapping with at least a type" % name)
            continue
        _unknown_keys(f, spec, PARAMETER_KEYS, "schema.parameter-key", None, path, "parameter attribute")
        ptype = spec.get("type")
        if ptype not in PARAMETER_TYPES:
            f.add(
                "error",
                "schema.parameter-type",
                None,
                "%s.type" % path,
                "parameter %s has type %r; accepted: %s" % (name, ptype, ", ".join(PARAMETER_TYPES)),
            )
            continue
        allowed = spec.get("allowedValues")
        if allowed is not None and (not isinstance(allowed, list) or not allowed):
            f.add(
                "error",
                "schema.parameter-allowed-values",
                None,
                "%s.allowedValues" % path,
                "allowedValues must be a non-empty list",
            )
            allowed = None
        pattern = spec.get("allowedPattern")
        compiled = None
        if pattern is not None:
            try:
                compiled = re.compile(pattern)
            except (re.error, TypeError) as e:
                f.add(
                    "error",
                    "schema.parameter-pattern",
                    None,
                    "%s.allowedPattern" % path,
                    "allowedPattern of %s is not a valid regular expression: %s" % (name, e),
                )
        if "default" in spec:
            default = spec["default"]
            dpath = "%s.default" % path
            if not _type_fits(ptype, default):
                f.add(
                    "error",
                    "schema.parameter-default",
                    None,
                    dpath,
                    "default %r of %s does not fit its type %s" % (default, name, ptype),
                )
            else:
                values = default if isinstance(default, list) else [default]
                if allowed is not None and ptype in ("String", "StringList"):
                    bad = [v for v in values if v not in allowed]
                    if bad:
                        f.add(
                            "error",
                            "schema.parameter-default",
                            None,
                            dpath,
                            "default %r of %s is not in its allowedValues %s" % (default, name, allowed),
                        )
                if compiled is not None and ptype in ("String", "StringList"):
                    bad = [v for v in values if isinstance(v, str) and not compiled.search(v)]
                    if bad:
                        f.add(
                            "error",
                            "schema.parameter-default",
                            None,
                            dpath,
                            "default %r of %s does not match its allowedPattern %s" % (default, name, pattern),
                        )
    return params


def _step_edges(steps, index, step):
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


def _sccs(nodes, succ):
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


def _lint_step(step, i, params, f):
    path = "mainSteps[%d]" % i
    name = step.get("name")
    sname = name if isinstance(name, str) else None
    if not isinstance(name, str) or not name:
        f.add("error", "schema.step", None, "%s.name" % path, "step %d has no name" % i)
    elif not STEP_NAME_RE.match(name):
        f.add(
            "warning",
            "schema.step-name",
            sname,
            "%s.name" % path,
            "step name %r has characters outside [A-Za-z0-9_-]; '{{ %s.Output }}' references cannot name it reliably"
            % (name, name),
        )
    _unknown_keys(f, step, STEP_KEYS, "schema.step-key", sname, path, "step property")
    action = step.get("action")
    if action is None:
        f.add("error", "schema.step", sname, "%s.action" % path, "step %s has no action" % (sname or i))
        return
    if action not in ACTIONS:
        f.add(
            "error",
            "schema.unknown-action",
            sname,
            "%s.action" % path,
            "unknown action %r; accepted: %s" % (action, ", ".join(sorted(ACTIONS))),
        )
        return
    inputs = step.get("inputs")
    if inputs is None:
        inputs = {}
        if ACTIONS[action]["required"]:
            f.add(
                "error", "schema.missing-input", sname, "%s.inputs" % path, "%s step %s has no inputs" % (action, sname)
            )
            return
    if not isinstance(inputs, dict):
        f.add("error", "schema.inputs", sname, "%s.inputs" % path, "inputs must be a mapping")
        return
    for req in ACTIONS[action]["required"]:
        alternatives = req if isinstance(req, tuple) else (req,)
        if not any(a in inputs for a in alternatives):
            f.add(
                "error",
                "schema.missing-input",
                sname,
                "%s.inputs.%s" % (path, alternatives[0]),
                "%s requires input %s" % (action, " or ".join(alternatives)),
            )
    if (
        action == "aws:executeScript"
        and str(inputs.get("Runtime", "")).startswith("python")
        and "Handler" not in inputs
    ):
        f.add(
            "error",
            "schema.missing-input",
            sname,
            "%s.inputs.Handler" % path,
            "aws:executeScript with a Python runtime requires input Handler",
        )
    for key in ("maxAttempts", "timeoutSeconds"):
        if key in step:
            value = step[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                f.add(
                    "error",
                    "schema.%s" % key,
                    sname,
                    "%s.%s" % (path, key),
                    "%s must be a positive integer, got %r" % (key, value),
                )
    for key in ("isEnd", "isCritical"):
        if key in step and not isinstance(step[key], bool):
            f.add(
                "error",
                "schema.%s" % key,
                sname,
                "%s.%s" % (path, key),
                "%s must be true or false, got %r" % (key, step[key]),
            )
    on_failure = step.get("onFailure")
    if on_failure is not None and not (
        on_failure in ("Abort", "Continue") or (isinstance(on_failure, str) and on_failure.startswith("step:"))
    ):
        f.add(
            "error",
            "schema.on-failure",
            sname,
            "%s.onFailure" % path,
            "onFailure %r; accepted: Abort, Continue or step:<name>" % (on_failure,),
        )
    on_cancel = step.get("onCancel")
    if on_cancel is not None and not (
        on_cancel == "Abort" or (isinstance(on_cancel, str) and on_cancel.startswith("step:"))
    ):
        f.add(
            "error",
            "schema.on-cancel",
            sname,
            "%s.onCancel" % path,
            "onCancel %r; accepted: Abort or step:<name>" % (on_cancel,),
        )
    outputs = step.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list):
            f.add(
                "error",
                "schema.outputs",
                sname,
                "%s.outputs" % path,
                "outputs must be a list of {Name, Selector, Type}",
            )
        else:
            for j, out in enumerate(outputs):
                opath = "%s.outputs[%d]" % (path, j)
                if not isinstance(out, dict) or not out.get("Name") or not out.get("Selector"):
                    f.add("error", "schema.outputs", sname, opath, "each output needs Name and Selector")
                    continue
                if out.get("Type", "String") not in OUTPUT_TYPES:
                    f.add(
                        "error",
                        "schema.outputs",
                        sname,
                        "%s.Type" % opath,
                        "output type %r; accepted: %s" % (out.get("Type"), ", ".join(OUTPUT_TYPES)),
                    )
    if action == "aws:branch":
        choices = inputs.get("Choices")
        if not isinstance(choices, list) or not choices:
            f.add(
                "error", "schema.branch", sname, "%s.inputs.Choices" % path, "aws:branch needs a non-empty Choices list"
            )
        else:
            for j, choice in enumerate(choices):
                cpath = "%s.inputs.Choices[%d]" % (path, j)
                if not isinstance(choice, dict) or not choice.get("NextStep"):
                    f.add("error", "schema.branch", sname, cpath, "each choice needs a NextStep")
                    continue
                ops = [k for k in choice if k in BRANCH_OPERATORS]
                compound = [k for k in choice if k in ("And", "Or", "Not")]
                if not compound and ("Variable" not in choice or len(ops) != 1):
                    f.add(
                        "error",
                        "schema.branch",
                        sname,
                        cpath,
                        "a choice needs Variable and exactly one operator (%s), or And/Or/Not"
                        % ", ".join(sorted(BRANCH_OPERATORS)),
                    )
    if action == "aws:runCommand":
        doc_name = inputs.get("DocumentName")
        cmd_params = inputs.get("Parameters")
        if doc_name in SHELL_DOCUMENTS + POWERSHELL_DOCUMENTS and not (
            isinstance(cmd_params, dict) and cmd_params.get("commands")
        ):
            f.add(
                "error",
                "schema.missing-input",
                sname,
                "%s.inputs.Parameters.commands" % path,
                "%s needs Parameters.commands" % doc_name,
            )


def _command_lines(step):
    inputs = step.get("inputs") if isinstance(step.get("inputs"), dict) else {}
    cmd_params = inputs.get("Parameters") if isinstance(inputs.get("Parameters"), dict) else {}
    commands = cmd_params.get("commands")
    if isinstance(commands, str):
        return [("inputs.Parameters.commands", commands)]
    if isinstance(commands, list):
        return [("inputs.Parameters.commands[%d]" % k, c) for k, c in enumerate(commands) if isinstance(c, str)]
    return []


def lint(doc, waivers=None):
    """Lint an Automation runbook (schemaVersion 0.3). Returns a list of findings (see module docstring).

    ``waivers``: parameter names whose interpolation into commands is accepted as reviewed (the
    command-injection error becomes an info), and ``rule:<rule-id>`` entries that silence warnings and
    infos of that rule. Errors other than command injection cannot be waived.
    """
    f = _Findings(waivers)
    if not isinstance(doc, dict):
        f.add("error", "schema.document", None, "", "a runbook must be a mapping")
        return f.items
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            f.add(
                "error",
                "schema.unknown-key",
                None,
                str(key),
                "unknown top-level key %r; accepted: %s" % (key, ", ".join(sorted(TOP_LEVEL_KEYS))),
            )
    if str(doc.get("schemaVersion")) != SCHEMA_VERSION:
        f.add(
            "error",
            "schema.schema-version",
            None,
            "schemaVersion",
            "schemaVersion is %r; accepted: '0.3' (Automation runbooks)" % (doc.get("schemaVersion"),),
        )
    size = content_size(normalize(doc))
    if size > MAX_CONTENT_BYTES:
        f.add(
            "error",
            "schema.too-large",
            None,
            "",
            "runbook is %d bytes even as compact JSON; SSM accepts at most %d (64 KB)" % (size, MAX_CONTENT_BYTES),
        )
    params = _lint_parameters(doc, f)
    variables = doc.get("variables") if isinstance(doc.get("variables"), dict) else {}

    steps = doc.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        f.add("error", "schema.main-steps", None, "mainSteps", "mainSteps must be a non-empty list of steps")
        steps = []
    step_by_name = {}
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            f.add("error", "schema.step", None, "mainSteps[%d]" % i, "step %d must be a mapping" % i)
            continue
        _lint_step(step, i, params, f)
        name = step.get("name")
        if isinstance(name, str) and name:
            if name in step_by_name:
                f.add(
                    "error",
                    "graph.duplicate-step",
                    name,
                    "mainSteps[%d].name" % i,
                    "step name %s is used more than once" % name,
                )
            else:
                step_by_name[name] = (i, step)

    # ---- graph ----
    succ = {}
    for name, (i, step) in step_by_name.items():
        edges = _step_edges(steps, i, step)
        succ[name] = []
        for kind, target in edges:
            if target is None:
                continue
            if target not in step_by_name:
                field = {"next": "nextStep", "failure": "onFailure", "cancel": "onCancel", "branch": "inputs.Choices"}[
                    kind
                ]
                f.add(
                    "error",
                    "graph.missing-target",
                    name,
                    "mainSteps[%d].%s" % (i, field),
                    "step %s goes to %s, which is not a step of this runbook" % (name, target),
                )
                continue
            succ[name].append(target)
        if step.get("isEnd") is True and step.get("nextStep"):
            f.add(
                "error",
                "graph.is-end",
                name,
                "mainSteps[%d].isEnd" % i,
                "step %s has isEnd: true and nextStep %s; one of them is wrong" % (name, step.get("nextStep")),
            )
        if (
            step.get("isEnd") is False
            and not step.get("nextStep")
            and i == len(steps) - 1
            and step.get("action") != "aws:branch"
        ):
            f.add(
                "warning",
                "graph.is-end",
                name,
                "mainSteps[%d].isEnd" % i,
                "last step %s has isEnd: false but no nextStep; the execution ends here anyway" % name,
            )
    first = steps[0].get("name") if steps and isinstance(steps[0], dict) else None
    duplicates = any(x["rule"] == "graph.duplicate-step" for x in f.items)
    if first in step_by_name and not duplicates:
        seen = {first}
        todo = [first]
        while todo:
            node = todo.pop()
            for nxt in succ.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for name, (i, _step) in sorted(step_by_name.items(), key=lambda kv: kv[1][0]):
            if name not in seen:
                f.add(
                    "error",
                    "graph.unreachable",
                    name,
                    "mainSteps[%d]" % i,
                    "step %s can never run: no step leads to it" % name,
                )
    for comp in [] if duplicates else _sccs(list(step_by_name), succ):
        if len(comp) == 1 and comp[0] not in succ.get(comp[0], ()):
            continue
        members = set(comp)
        has_exit = False
        for name in comp:
            i, step = step_by_name[name]
            if step.get("isEnd") is True:
                has_exit = True
            for kind, target in _step_edges(steps, i, step):
                leaves = target is None or target not in members
                if kind == "branch" and leaves:
                    has_exit = True
                if kind == "failure" and leaves and "maxAttempts" in step and target is not None:
                    has_exit = True
        if not has_exit:
            ordered = sorted(comp, key=lambda n: step_by_name[n][0])
            i0 = step_by_name[ordered[0]][0]
            f.add(
                "error",
                "graph.cycle",
                ordered[0],
                "mainSteps[%d]" % i0,
                "steps %s form a loop with no way out: add an aws:branch choice leaving the loop, or maxAttempts "
                "with onFailure: step:<outside>" % " -> ".join(ordered + [ordered[0]]),
            )

    # ---- references ----
    used_params = set()
    step_outputs = {}
    for name, (_i, step) in step_by_name.items():
        declared = set()
        for out in step.get("outputs") or []:
            if isinstance(out, dict) and out.get("Name"):
                declared.add(out["Name"])
        declared.update(ACTIONS.get(step.get("action"), {}).get("builtin_outputs", []))
        step_outputs[name] = (declared, step.get("action") in ACTIONS)

    def check_ref(ref, step, path):
        if ref in params:
            used_params.add(ref)
            return "param"
        if ref in AUTOMATION_VARIABLES or ref.startswith("ssm:"):
            return "variable"
        if ref.startswith("variable:") and ref[len("variable:") :] in variables:
            return "variable"
        if "." in ref:
            sname, oname = ref.split(".", 1)
            if sname in step_outputs:
                declared, known = step_outputs[sname]
                if oname in declared or not known:
                    return "output"
                f.add(
                    "error",
                    "ref.unknown",
                    step,
                    path,
                    "{{ %s }}: step %s declares no output %s (declared: %s)"
                    % (ref, sname, oname, ", ".join(sorted(declared)) or "none"),
                )
                return None
        f.add(
            "error",
            "ref.unknown",
            step,
            path,
            "{{ %s }} is not a declared parameter, a step output (Step.Output) or an automation variable "
            "(automation:EXECUTION_ID, global:ACCOUNT_ID, global:REGION, ...)" % ref,
        )
        return None

    if isinstance(doc.get("assumeRole"), str):
        for ref in REF_RE.findall(doc["assumeRole"]):
            check_ref(ref, None, "assumeRole")
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        sname = step.get("name") if isinstance(step.get("name"), str) else None
        for spath, text in _walk_strings(step, "mainSteps[%d]" % i):
            if ".outputs[" in spath and spath.endswith((".Name", ".Selector", ".Type")):
                continue
            for ref in REF_RE.findall(text):
                check_ref(ref, sname, spath)
    for j, out in enumerate(doc.get("outputs") or []):
        opath = "outputs[%d]" % j
        if not isinstance(out, str) or "." not in out:
            f.add(
                "error", "ref.unknown-output", None, opath, "runbook outputs are 'Step.Output' strings, got %r" % (out,)
            )
            continue
        sname, oname = out.split(".", 1)
        if sname not in step_outputs or (step_outputs[sname][1] and oname not in step_outputs[sname][0]):
            f.add("error", "ref.unknown-output", None, opath, "runbook output %s names no step output" % out)
    for name in params:
        if name not in used_params:
            f.add(
                "warning",
                "ref.unused-parameter",
                None,
                "parameters.%s" % name,
                "parameter %s is declared but never used" % name,
            )

    # ---- safety ----
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("action") != "aws:runCommand":
            continue
        sname = step.get("name") if isinstance(step.get("name"), str) else None
        flagged = set()
        for cpath, line in _command_lines(step):
            path = "mainSteps[%d].%s" % (i, cpath)
            for ref in REF_RE.findall(line):
                if ref in params and isinstance(params[ref], dict):
                    if ref in flagged:
                        continue
                    _check_injection(ref, params[ref], sname, path, f)
                    flagged.add(ref)
                elif "." in ref and ref.split(".", 1)[0] in step_outputs:
                    f.add(
                        "warning",
                        "safety.output-in-command",
                        sname,
                        path,
                        "{{ %s }}: a step output is interpolated into a command unvalidated; make sure no "
                        "untrusted data (tags, API results) can reach it" % ref,
                    )

    # ---- operability ----
    capped = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("action") != "aws:runCommand":
            continue
        sname = step.get("name") if isinstance(step.get("name"), str) else None
        inputs = step.get("inputs") if isinstance(step.get("inputs"), dict) else {}
        if "timeoutSeconds" not in step and "TimeoutSeconds" not in inputs:
            f.add(
                "warning",
                "operability.no-timeout",
                sname,
                "mainSteps[%d].timeoutSeconds" % i,
                "runCommand step %s has no timeoutSeconds: a stopped or unmanaged target keeps the execution "
                "InProgress for a long time instead of failing the step" % sname,
            )
        if inputs.get("DocumentName") in POWERSHELL_DOCUMENTS:
            lines = [line for _p, line in _command_lines(step)]
            if not any("chcp 65001" in line for line in lines):
                f.add(
                    "warning",
                    "operability.powershell-chcp",
                    sname,
                    "mainSteps[%d].inputs.Parameters.commands" % i,
                    "PowerShell step %s does not run 'chcp 65001' first: non-ASCII output (e.g. Japanese) comes "
                    "back garbled" % sname,
                )
        for j, out in enumerate(step.get("outputs") or []):
            if isinstance(out, dict) and "Output" in str(out.get("Selector", "")):
                capped.append((sname, "mainSteps[%d].outputs[%d].Selector" % (i, j)))
    if capped:
        f.add(
            "info",
            "operability.output-cap",
            capped[0][0],
            capped[0][1],
            "AWS keeps only the first %d characters of a command's output in step outputs (%s); use "
            "automation_execution_info full_output for the rest"
            % (OUTPUT_CAP_CHARS, ", ".join(item[0] for item in capped)),
        )
    return f.items


def _check_injection(ref, spec, step, path, f):
    ptype = spec.get("type")
    if ptype not in INTERPOLATED_UNSAFE_TYPES:
        return
    allowed = spec.get("allowedValues")
    pattern = spec.get("allowedPattern")
    if isinstance(allowed, list) and allowed:
        unsafe = [v for v in allowed if not is_safe_value(v)]
        if not unsafe:
            return
        reason = "its allowedValues contain shell metacharacters (%s)" % ", ".join(repr(v) for v in unsafe)
    elif pattern is not None and is_strict_pattern(pattern):
        return
    elif pattern is not None:
        reason = "its allowedPattern %r is not strict (anchored with ^...$ and limited to %s)" % (
            pattern,
            SAFE_VALUE_FORM,
        )
    else:
        reason = "it has neither allowedValues nor a strict allowedPattern"
    if ref in f.waivers:
        f.add(
            "info",
            "safety.command-injection",
            step,
            path,
            "{{ %s }} is interpolated into a command and %s; waived explicitly" % (ref, reason),
        )
        return
    f.add(
        "error",
        "safety.command-injection",
        step,
        path,
        "{{ %s }}: %s parameter %s is interpolated into a command and %s: command injection. Add allowedValues, "
        "or an allowedPattern such as ^[A-Za-z0-9_.-]{1,64}$, or waive %s explicitly" % (ref, ptype, ref, reason, ref),
    )


def errors(findings):
    return [x for x in findings if x["severity"] == "error"]


def summarize(findings):
    counts = {"error": 0, "warning": 0, "info": 0}
    for x in findings:
        counts[x["severity"]] = counts.get(x["severity"], 0) + 1
    return counts


def format_finding(x):
    where = x["path"] or "(document)"
    if x.get("step"):
        where = "%s (step %s)" % (where, x["step"])
    return "%s %s at %s: %s" % (x["severity"].upper(), x["rule"], where, x["message"])


# --------------------------------------------------------------------------------------------------
# Start parameters
# --------------------------------------------------------------------------------------------------


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
        if "minItems" in spec and len(out) < int(spec["minItems"]):
            raise InvalidInput(
                field, "has %d items; accepted: at least %s (%s)" % (len(out), spec["minItems"], _accepted(spec))
            )
        if "maxItems" in spec and len(out) > int(spec["maxItems"]):
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
    if ptype == "String" and "maxChars" in spec and len(text) > int(spec["maxChars"]):
        raise InvalidInput(
            field, "is %d characters long; accepted: at most %s (%s)" % (len(text), spec["maxChars"], _accepted(spec))
        )
    return [text]


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
                compiled = re.compile(pattern)
            except (re.error, TypeError):
                compiled = None  # not a Python regex; SSM itself checks it
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


# --------------------------------------------------------------------------------------------------
# Rendering a runbook from a list of checks
# --------------------------------------------------------------------------------------------------

CHECK_KEYS = frozenset(["name", "linux", "windows", "timeout", "on_failure", "ok_exit_codes", "description", "label"])
ASSUME_ROLE_PATTERN = r"^$|^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
INSTANCE_ID_PATTERN = r"^m?i-[a-z0-9]{8,17}$"
DEFAULT_TIMEOUT = 60


def _check_field(i, key):
    return "runbook_checks[%d].%s" % (i, key)


def validate_checks(checks):
    """Validate a check list and return it normalised (defaults filled in)."""
    if not isinstance(checks, list) or not checks:
        raise InvalidInput(
            "runbook_checks", "must be a non-empty list of {name, linux, windows, timeout, on_failure, ok_exit_codes}"
        )
    seen = set()
    out = []
    for i, check in enumerate(checks):
        if not isinstance(check, dict):
            raise InvalidInput(
                "runbook_checks[%d]" % i, "is a %s; accepted: a mapping with name and linux" % type(check).__name__
            )
        unknown = sorted(set(check) - CHECK_KEYS)
        if unknown:
            raise InvalidInput(
                _check_field(i, unknown[0]), "is not a check field; accepted: %s" % ", ".join(sorted(CHECK_KEYS))
            )
        name = check.get("name")
        if not isinstance(name, str) or not CHECK_NAME_RE.match(name):
            raise InvalidInput(
                _check_field(i, "name"),
                "%r is not a check name; accepted: a letter then up to 39 letters or digits, such as Hostname or NTP"
                % (name,),
            )
        if name in seen:
            raise InvalidInput(_check_field(i, "name"), "%s is used by two checks; accepted: unique names" % name)
        seen.add(name)
        linux = check.get("linux")
        windows = check.get("windows")
        if linux is not None and (not isinstance(linux, str) or not linux.strip()):
            raise InvalidInput(_check_field(i, "linux"), "must be a non-empty shell command")
        if windows is not None and (not isinstance(windows, str) or not windows.strip()):
            raise InvalidInput(_check_field(i, "windows"), "must be a non-empty PowerShell command")
        if linux is None and windows is None:
            raise InvalidInput(
                _check_field(i, "linux"), "is missing; accepted: a shell command (and/or windows: a PowerShell command)"
            )
        timeout = check.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 172800:
            raise InvalidInput(
                _check_field(i, "timeout"), "%r; accepted: an integer number of seconds from 1 to 172800" % (timeout,)
            )
        on_failure = check.get("on_failure", "Abort")
        if on_failure not in ("Abort", "Continue"):
            raise InvalidInput(_check_field(i, "on_failure"), "%r; accepted: Abort or Continue" % (on_failure,))
        codes = check.get("ok_exit_codes", [0])
        if (
            not isinstance(codes, list)
            or not codes
            or any(isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 255 for c in codes)
        ):
            raise InvalidInput(
                _check_field(i, "ok_exit_codes"), "%r; accepted: a non-empty list of integers 0-255" % (codes,)
            )
        label = check.get("label") or name
        if not is_safe_value(label):
            raise InvalidInput(_check_field(i, "label"), "%r; accepted: %s" % (label, SAFE_VALUE_FORM))
        description = check.get("description") or "Check %s or skip." % label
        out.append(
            {
                "name": name,
                "label": label,
                "description": description,
                "linux": linux,
                "windows": windows,
                "timeout": timeout,
                "on_failure": on_failure,
                "ok_exit_codes": sorted(set(codes)),
            }
        )
    return out


def _linux_commands(param, check):
    """Shell lines for one check: run it when the check/skip parameter says check, map ok_exit_codes to success.

    The only interpolated value is the check/skip parameter, whose allowedValues make it safe to quote. POSIX sh
    only (``[ ]``, ``if``, ``$?``, ``exit``), so it runs under dash as well as bash; one ``exit`` at the end.
    """
    lines = ['if [ "{{ %s }}" = "check" ]; then' % param]
    lines.extend(check["linux"].rstrip("\n").split("\n"))
    codes = check["ok_exit_codes"]
    if codes == [0]:
        lines.extend(["else", 'echo "Skipping %s check"' % check["label"], "fi"])
        return lines
    listed = " ".join(str(c) for c in codes)
    lines.append("rc=$?")
    extra = [c for c in codes if c != 0]
    branches = []
    if extra:
        accepted = " || ".join('[ "$rc" -eq %d ]' % c for c in extra)
        branches.append('%s; then echo "[exit code $rc accepted: ok_exit_codes %s]"; rc=0' % (accepted, listed))
    if 0 not in codes:
        branches.append('[ "$rc" -eq 0 ]; then echo "[exit code 0 is not in ok_exit_codes %s]"; rc=1' % listed)
    lines.append("if " + "; elif ".join(branches) + "; fi")
    lines.extend(["else", 'echo "Skipping %s check"' % check["label"], "rc=0", "fi", 'exit "$rc"'])
    return lines


def _windows_commands(param, check):
    """PowerShell lines for one check, ``chcp 65001`` first so that non-ASCII output is not garbled."""
    lines = ["chcp 65001", "if ('{{ %s }}' -eq 'check') {" % param]
    lines.extend(check["windows"].rstrip("\n").split("\n"))
    codes = check["ok_exit_codes"]
    listed = " ".join(str(c) for c in codes)
    extra = [c for c in codes if c != 0]
    if extra:
        cond = " -or ".join("$LASTEXITCODE -eq %d" % c for c in extra)
        lines.append("if (%s) { Write-Output '[exit code accepted: ok_exit_codes %s]'; exit 0 }" % (cond, listed))
    if 0 not in codes:
        lines.append(
            "if ($LASTEXITCODE -eq 0) { Write-Output '[exit code 0 is not in ok_exit_codes %s]'; exit 1 }" % listed
        )
    lines.extend(["} else {", "Write-Output 'Skipping %s check'" % check["label"], "}"])
    return lines


def _command_step(name, document, commands, output, check, next_step):
    step = {
        "name": name,
        "action": "aws:runCommand",
        "maxAttempts": 1,
        "timeoutSeconds": check["timeout"],
    }
    if next_step:
        step["nextStep"] = next_step
        step["isEnd"] = False
    else:
        step["isEnd"] = True
    step["onFailure"] = check["on_failure"]
    # Explicit: with onFailure Continue, AWS defaults isCritical to false and a failed check would leave the
    # execution Success. Critical, the later checks still run and the execution ends Failed.
    step["isCritical"] = True
    step["inputs"] = {
        "DocumentName": document,
        "Parameters": {"commands": commands},
        "InstanceIds": ["{{ InstanceId }}"],
    }
    step["outputs"] = [{"Name": output, "Selector": "$.CommandPlugins[0].Output", "Type": "String"}]
    return step


ONLINE_STEP = "AssertOnline"


def _instance_information():
    """The inputs of an ssm DescribeInstanceInformation call for the target instance (a new dict each time)."""
    return {
        "Service": "ssm",
        "Api": "DescribeInstanceInformation",
        "Filters": [{"Key": "InstanceIds", "Values": ["{{ InstanceId }}"]}],
    }


def _online_step(next_step):
    """Fail the instance at once, with its PingStatus as the reason, unless its SSM Agent is Online.

    Without it, a stopped instance (PingStatus ConnectionLost) waits out every check's timeoutSeconds, one after the
    other, and an unmanaged one fails each check with a Run Command error instead of one clear reason.
    """
    inputs = _instance_information()
    inputs.update({"PropertySelector": "$.InstanceInformationList[0].PingStatus", "DesiredValues": ["Online"]})
    return {
        "name": ONLINE_STEP,
        "action": "aws:assertAwsResourceProperty",
        "maxAttempts": 1,
        "timeoutSeconds": 60,
        "nextStep": next_step,
        "isEnd": False,
        "onFailure": "Abort",
        "inputs": inputs,
    }


def render_checks(name, checks, cross_platform=True, description="", require_online=True):
    """Render a schemaVersion 0.3 runbook from a list of checks (the ``runbook`` role's renderer).

    Each check ``{name, linux, windows, timeout, on_failure, ok_exit_codes}`` becomes a ``Check<name>``
    check/skip parameter (as in the seed's check-os runbook) and one runCommand step with one output
    ``<name>Output``. With ``cross_platform``, a first ``aws:executeAwsApi`` step reads the instance's
    PlatformType (ssm DescribeInstanceInformation) and an ``aws:branch`` sends Windows instances to the
    PowerShell steps (``chcp 65001`` first) and the others to the shell steps. With ``require_online``, an
    ``aws:assertAwsResourceProperty`` step (``AssertOnline``) ends the instance at once, Failed with its PingStatus,
    when its SSM Agent is not Online (a stopped or unmanaged instance), before any check waits for it.
    """
    if not isinstance(name, str) or not name:
        raise InvalidInput("runbook_name", "is missing; accepted: an SSM document name")
    checks = validate_checks(checks)
    linux_checks = [c for c in checks if c["linux"]]
    windows_checks = [c for c in checks if c["windows"]] if cross_platform else []
    if not linux_checks:
        raise InvalidInput("runbook_checks", "no check has a linux command; accepted: at least one check with linux")
    if cross_platform and not windows_checks:
        raise InvalidInput(
            "runbook_checks",
            "cross_platform is on but no check has a windows command; accepted: a windows command, or cross_platform false",
        )
    parameters = {
        "AutomationAssumeRole": {
            "type": "String",
            "description": "(Optional) The ARN of the role that allows Automation to perform the actions on your behalf.",
            "default": "",
            "allowedPattern": ASSUME_ROLE_PATTERN,
        },
        "InstanceId": {
            "type": "String",
            "description": "The ID of the managed instance to check.",
            "allowedPattern": INSTANCE_ID_PATTERN,
        },
    }
    for c in checks:
        parameters["Check%s" % c["name"]] = {
            "type": "String",
            "default": "check",
            "description": c["description"],
            "allowedValues": ["check", "skip"],
        }
    steps = []
    linux_names = ["Check%s" % c["name"] for c in linux_checks]
    windows_names = ["Check%sWindows" % c["name"] for c in windows_checks]
    if cross_platform:
        steps.append(
            {
                "name": "GetPlatform",
                "action": "aws:executeAwsApi",
                "maxAttempts": 3,
                "timeoutSeconds": 60,
                "nextStep": ONLINE_STEP if require_online else "ChoosePlatform",
                "isEnd": False,
                "onFailure": "Abort",
                "inputs": _instance_information(),
                "outputs": [
                    {"Name": "PlatformType", "Selector": "$.InstanceInformationList[0].PlatformType", "Type": "String"},
                ],
            }
        )
    if require_online:
        steps.append(_online_step("ChoosePlatform" if cross_platform else linux_names[0]))
    if cross_platform:
        steps.append(
            {
                "name": "ChoosePlatform",
                "action": "aws:branch",
                "isEnd": False,
                "onFailure": "Abort",
                "inputs": {
                    "Choices": [
                        {
                            "NextStep": windows_names[0],
                            "Variable": "{{ GetPlatform.PlatformType }}",
                            "StringEquals": "Windows",
                        }
                    ],
                    "Default": linux_names[0],
                },
            }
        )
    for k, c in enumerate(linux_checks):
        nxt = linux_names[k + 1] if k + 1 < len(linux_names) else None
        steps.append(
            _command_step(
                linux_names[k],
                "AWS-RunShellScript",
                _linux_commands("Check%s" % c["name"], c),
                "%sOutput" % c["name"],
                c,
                nxt,
            )
        )
    for k, c in enumerate(windows_checks):
        nxt = windows_names[k + 1] if k + 1 < len(windows_names) else None
        steps.append(
            _command_step(
                windows_names[k],
                "AWS-RunPowerShellScript",
                _windows_commands("Check%s" % c["name"], c),
                "%sOutput" % c["name"],
                c,
                nxt,
            )
        )
    doc = {
        "schemaVersion": SCHEMA_VERSION,
        "description": description
        or "%s: %s checks rendered from a check list%s."
        % (name, ", ".join(c["label"] for c in checks), " (Linux and Windows)" if cross_platform else ""),
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": parameters,
        "mainSteps": steps,
    }
    return doc
