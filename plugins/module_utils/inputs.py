# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' inputs: normalised and validated in one place, with the names of the variables the user set.

Pure Python, no Ansible and no AWS call. The roles reach it through the ``orgops.ssm_automation.check_inputs``
module (it makes no AWS call), so that every rule about a role's inputs is written once, here, and unit-tested:

- :func:`split_list` turns a list, or the text an AWX survey gives (commas, spaces or new lines between items),
  into a list of strings: the same algorithm for every list input of every role.
- :func:`check_run_automation`, :func:`check_execution_roles` and :func:`check_check_os` check every input of a
  role, collect every problem (not only the first) and raise :class:`InvalidInputs`, whose message names the
  variable the user set: the role's own variable, or the wrapping role's through ``aliases``
  (``{"run_automation_target_ous": "check_os_target_ous"}``).
- :func:`check_organization` checks what needs the organization (the ids match it, the OUs are in it) once the
  organization has been read, with the same names.

The forms are those of the modules (``validation``, ``automation``, ``stack_set``): a role accepts exactly what the
module it feeds accepts, and says so before anything is sent to AWS.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None

from ansible_collections.orgops.ssm_automation.plugins.module_utils import (
    automation,
    organization,
    stack_set,
    validation,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import STEP_NAME_RE  # the lint's rule
from ansible_collections.orgops.ssm_automation.plugins.module_utils.report import FORMATS
from ansible_collections.orgops.ssm_automation.plugins.module_utils.runbook import ONLINE_STEP

PREFIX = "Invalid input, nothing was sent to AWS."
# Ansible's own truth values (ansible.module_utils.parsing.convert_bool), for survey answers given as text.
TRUE_VALUES = frozenset(["y", "yes", "on", "1", "true", "t"])
FALSE_VALUES = frozenset(["n", "no", "off", "0", "false", "f", ""])

TARGET_FORM = "a 12-digit account id, an OU id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)"
EXCLUDE_FORM = "a 12-digit account id or an OU id (ou-xxxx-xxxxxxxx)"
EXCLUDE_LIMIT = 5000  # StartAutomationExecution TargetLocation.ExcludeAccounts: at most 5000 entries
STEP_NAME_FORM = "a runbook step name (letters, digits, underscores and hyphens, as the runbook lint accepts)"
FORMATS_FORM = "one of %s" % ", ".join(FORMATS)

# check_os variable -> run_automation variable it feeds (the rest of check_os's variables are its own).
CHECK_OS_FIELDS = {
    "check_os_runbook_name": "run_automation_document_name",
    "check_os_target_ous": "run_automation_target_ous",
    "check_os_exclude_accounts": "run_automation_exclude_accounts",
    "check_os_include_management_account": "run_automation_include_management_account",
    "check_os_regions": "run_automation_regions",
    "check_os_all_instances": "run_automation_all_instances",
    "check_os_max_concurrency": "run_automation_max_concurrency",
    "check_os_max_errors": "run_automation_max_errors",
    "check_os_idempotency_key": "run_automation_idempotency_key",
    "check_os_wait_timeout": "run_automation_wait_timeout",
    "check_os_poll_interval": "run_automation_poll_interval",
    "check_os_execution_id": "run_automation_execution_id",
    "check_os_reader_role_name": "run_automation_reader_role_name",
    "check_os_full_output": "run_automation_full_output",
    "check_os_report_dir": "run_automation_report_dir",
    "check_os_report_formats": "run_automation_report_formats",
    "check_os_max_failed_percent": "run_automation_max_failed_percent",
    "check_os_required_steps": "run_automation_required_steps",
}
# The names error messages use for check_os's inputs (the two tag variables make one run_automation input).
CHECK_OS_ALIASES = {inner: outer for outer, inner in CHECK_OS_FIELDS.items()}
CHECK_OS_ALIASES["run_automation_target_tags"] = "check_os_target_tag_key / check_os_target_tag_value"
CHECK_OS_ALIASES["run_automation_execution_id"] = "check_os_execution_id (automation_execution_id)"


class InvalidInputs(validation.InvalidInput):
    """One or more bad inputs, found before any AWS call. ``problems`` is a list of ``(field, message)``."""

    def __init__(self, problems, prefix=PREFIX):
        self.problems = list(problems)
        text = " ".join("%s: %s." % (field, message.rstrip(".")) for field, message in self.problems)
        super(InvalidInputs, self).__init__(self.problems[0][0], text)
        self.args = ("%s %s" % (prefix, text),)

    def __str__(self):
        return self.args[0]


class _Collector:
    """Runs checks, keeps every problem, names each field as the user knows it."""

    def __init__(self, aliases=None):
        self.aliases = dict(aliases or {})
        self.problems = []

    def name(self, field):
        """``run_automation_target_ous[2]`` -> ``check_os_target_ous[2]`` when aliased."""
        root = re.match(r"^[A-Za-z0-9_]+", field)
        if not root or root.group(0) not in self.aliases:
            return field
        return self.aliases[root.group(0)] + field[root.end() :]

    def add(self, field, message):
        self.problems.append((self.name(field), message))

    def run(self, check, *args, **kwargs):
        """Call a ``validation``-style check; record its InvalidInput under the user's name. Returns its value."""
        try:
            return check(*args, **kwargs)
        except validation.InvalidInput as e:
            self.add(e.field, e.message)
            return None

    def bad_values(self, field, values, form):
        if values:
            self.add(field, "%s is not %s" % (", ".join(json.dumps(v) for v in values), form))

    def raise_if_any(self):
        if self.problems:
            raise InvalidInputs(self.problems)


# ---------------------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------------------


def split_list(value):
    """A list of non-empty strings from a list, or from survey text: commas, spaces and new lines separate items.

    None and "" give []. Each item of a list is split too (an item "a, b" gives "a" and "b"): ids, regions, step
    names and report formats contain no comma and no space.
    """
    if value is None:
        return []
    items = [value] if isinstance(value, (str, bytes, int, float)) else list(value)
    out = []
    for item in items:
        if item is None:
            continue
        text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
        out.extend(part for part in re.split(r"[\s,]+", text) if part)
    return out


def unique(values):
    """The values in their first order, each once."""
    seen = set()
    out = []
    for value in values:
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out


def to_bool(value, field):
    """Ansible's truth values; a survey gives "true" / "false" as text."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in TRUE_VALUES:
        return True
    if text in FALSE_VALUES:
        return False
    raise validation.InvalidInput(field, "%s is not true or false" % json.dumps(str(value)))


def to_int(value, field, minimum, form):
    if isinstance(value, bool):
        raise validation.InvalidInput(field, "%s is not %s" % (json.dumps(value), form))
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum:
        raise validation.InvalidInput(field, "%s is not %s" % (json.dumps(value), form))
    return number


def to_number(value, field, minimum, form, strict=False):
    """A number of seconds (a float is fine), at least ``minimum`` (more than it with ``strict``)."""
    try:
        number = float(str(value).strip()) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum or (strict and number == minimum):
        raise validation.InvalidInput(field, "%s is not %s" % (json.dumps(value), form))
    return number


def _text(value):
    return "" if value is None else str(value).strip()


def _check(predicate, value, field, form):
    if not predicate(value):
        raise validation.InvalidInput(field, "%s is not %s" % (json.dumps(value), form))
    return value


# ---------------------------------------------------------------------------------------------------------
# run_automation
# ---------------------------------------------------------------------------------------------------------


def _target(value):
    return bool(
        validation.ACCOUNT_ID_RE.match(value) or validation.OU_ID_RE.match(value) or validation.ROOT_ID_RE.match(value)
    )


def _exclude(value):
    return bool(validation.ACCOUNT_ID_RE.match(value) or validation.OU_ID_RE.match(value))


def _region(value, field):
    try:
        return validation.region(value, field)
    except validation.InvalidInput:
        raise validation.InvalidInput(field, "%s is not %s" % (json.dumps(value), validation.REGION_FORM)) from None


def check_run_automation(values, aliases=None):
    """Normalise and check the run_automation role's variables (``run_automation_*``), before any AWS call.

    Returns the normalised inputs: ``target_ous``, ``exclude_accounts``, ``regions``, ``required_steps``,
    ``report_formats`` (lists), ``include_management_account``, ``all_instances``, ``reattach`` (booleans),
    ``execution_id`` (trimmed), ``max_failed_percent``, ``wait_timeout``, ``poll_interval``,
    ``gather_concurrency`` (integers). Raises :class:`InvalidInputs` naming every bad variable (through ``aliases``).
    """
    v = dict(values or {})
    c = _Collector(aliases)
    get = v.get
    out = {
        "target_ous": split_list(get("run_automation_target_ous")),
        "exclude_accounts": split_list(get("run_automation_exclude_accounts")),
        "regions": unique(split_list(get("run_automation_regions"))),
        "required_steps": unique(split_list(get("run_automation_required_steps"))),
        "report_formats": unique(split_list(get("run_automation_report_formats", list(FORMATS)))),
        "execution_id": _text(get("run_automation_execution_id")),
    }
    out["reattach"] = bool(out["execution_id"])
    reattach = out["reattach"]
    out["include_management_account"] = bool(
        c.run(to_bool, get("run_automation_include_management_account"), "run_automation_include_management_account")
    )
    out["all_instances"] = bool(c.run(to_bool, get("run_automation_all_instances"), "run_automation_all_instances"))

    if out["execution_id"]:
        c.run(automation.check_execution_id, out["execution_id"], "run_automation_execution_id")
    if not reattach:
        try:
            automation.check_document(get("run_automation_document_name"), None)
        except validation.InvalidInput as e:
            c.add("run_automation_document_name", e.message + " (required unless re-attaching)")
    version = _text(get("run_automation_document_version"))
    if version and not automation.DOCUMENT_VERSION_RE.match(version):
        c.add(
            "run_automation_document_version",
            "%s is not %s (or empty)" % (json.dumps(version), "$DEFAULT, $LATEST or a version number"),
        )

    for i, target in enumerate(out["target_ous"]):
        c.run(_check, _target, target, "run_automation_target_ous[%d]" % i, TARGET_FORM)
    if not reattach and not out["target_ous"] and not out["include_management_account"]:
        c.add(
            "run_automation_target_ous",
            "is empty; give at least one OU or account id, unless %s is true"
            % c.name("run_automation_include_management_account"),
        )
    management = _text(get("run_automation_management_account_id"))
    if management:
        c.run(validation.account_id, management, "run_automation_management_account_id")
    for i, excluded in enumerate(out["exclude_accounts"]):
        c.run(_check, _exclude, excluded, "run_automation_exclude_accounts[%d]" % i, EXCLUDE_FORM)
    if len(out["exclude_accounts"]) > EXCLUDE_LIMIT:
        c.add(
            "run_automation_exclude_accounts",
            "has %d entries; give at most %d (the ExcludeAccounts limit)"
            % (len(out["exclude_accounts"]), EXCLUDE_LIMIT),
        )
    for i, name in enumerate(out["regions"]):
        c.run(_region, name, "run_automation_regions[%d]" % i)
    if not reattach and not out["regions"]:
        c.add("run_automation_regions", "is empty; give at least one region, %s" % validation.REGION_FORM)
    for field in ("run_automation_execution_role_name", "run_automation_reader_role_name"):
        if field in v:
            c.run(validation.role_name, get(field), field)
    for field, check, optional in (
        ("run_automation_max_concurrency", validation.max_concurrency, False),
        ("run_automation_max_errors", validation.max_errors, False),
        ("run_automation_location_max_concurrency", validation.max_concurrency, True),
        ("run_automation_location_max_errors", validation.max_errors, True),
    ):
        if field in v and not (optional and _text(get(field)) == ""):
            c.run(check, _text(get(field)), field)

    tags = get("run_automation_target_tags") or {}
    if not isinstance(tags, dict):
        c.add("run_automation_target_tags", "%s is not a mapping of tag keys to values" % json.dumps(str(tags)))
        tags = {}
    for key, value in tags.items():
        c.run(_check, validation.SAFE_TAG_KEY_RE.match, str(key), "run_automation_target_tags", validation.TAG_KEY_FORM)
        c.run(
            _check,
            validation.SAFE_TAG_VALUE_RE.match,
            _text(value),
            "run_automation_target_tags",
            validation.TAG_VALUE_FORM,
        )
    if not out["all_instances"] and len(tags) > 1:
        # AutomationTargets max 1 (botocore's ssm model): AWS refuses a second tag key
        c.add(
            "run_automation_target_tags",
            "%s is not one tag key (with one or more values): StartAutomationExecution accepts one target key "
            "(option targets.tags of orgops.ssm_automation.automation_execution)"
            % json.dumps(", ".join(map(str, tags))),
        )
    if not reattach and not out["all_instances"] and not tags:
        c.add(
            "run_automation_target_tags",
            "is empty; give at least one tag, or set %s true" % c.name("run_automation_all_instances"),
        )
    for i, step in enumerate(out["required_steps"]):
        c.run(_check, STEP_NAME_RE.match, step, "run_automation_required_steps[%d]" % i, STEP_NAME_FORM)
    for i, fmt in enumerate(out["report_formats"]):
        c.run(_check, FORMATS.__contains__, fmt, "run_automation_report_formats[%d]" % i, FORMATS_FORM)

    for key, field, minimum, form, default in (
        ("max_failed_percent", "run_automation_max_failed_percent", 0, "a whole number from 0 to 100", 0),
        ("poll_interval", "run_automation_poll_interval", 1, "a number of seconds, 1 or more", 10),
        ("wait_timeout", "run_automation_wait_timeout", 0, "a number of seconds, 0 or more", 3600),
        ("gather_concurrency", "run_automation_gather_concurrency", 1, "a whole number, 1 or more", 64),
    ):
        out[key] = c.run(to_int, get(field, default), field, minimum, form)
    if out["max_failed_percent"] is not None and out["max_failed_percent"] > 100:
        c.add("run_automation_max_failed_percent", "%d is not a whole number from 0 to 100" % out["max_failed_percent"])
    c.raise_if_any()
    return out


# ---------------------------------------------------------------------------------------------------------
# check_os
# ---------------------------------------------------------------------------------------------------------


def required_steps_everywhere(steps, runbook):
    """The required steps, with the steps that run the same check on another platform, and the gate before them.

    Read from the runbook that will run (``runbook``: its text or its parsed document), not from a copy of the
    renderer's naming: two steps that produce the same output run the same check (the renderer's Linux and Windows
    steps of a check both produce ``<check>Output``), and the renderer's ``AssertOnline`` step, when the runbook
    has it, stops an instance whose SSM Agent is not Online before any check, so a required check needs it too.
    """
    steps = list(steps or [])
    if not steps:
        return []
    doc = runbook
    if isinstance(runbook, (str, bytes)):
        doc = yaml.safe_load(runbook) if yaml is not None else json.loads(runbook)
    main = [s for s in (doc or {}).get("mainSteps") or [] if isinstance(s, dict)]
    outputs = {}
    for step in main:
        names = {o.get("Name") for o in step.get("outputs") or [] if isinstance(o, dict) and o.get("Name")}
        outputs[step.get("name")] = names
    out = list(steps)
    for step in steps:
        mine = outputs.get(step) or set()
        for other in main:
            name = other.get("name")
            if mine and name not in out and mine & outputs.get(name, set()):
                out.append(name)
    if ONLINE_STEP in outputs and ONLINE_STEP not in out:
        out.append(ONLINE_STEP)
    return out


def check_check_os(values, runbook=None):
    """The check_os role's inputs: run_automation's checks on check_os's variables, named as check_os names them.

    Returns run_automation's normalised inputs, with ``required_steps`` extended by
    :func:`required_steps_everywhere` when ``runbook`` (the runbook that will run) is given.
    """
    v = dict(values or {})
    inner = {CHECK_OS_FIELDS[k]: val for k, val in v.items() if k in CHECK_OS_FIELDS}
    if "check_os_target_tag_key" in v:
        inner["run_automation_target_tags"] = {
            _text(v.get("check_os_target_tag_key")): _text(v.get("check_os_target_tag_value"))
        }
    out = check_run_automation(inner, CHECK_OS_ALIASES)
    out["checked_steps"] = list(out["required_steps"])
    if runbook is not None:
        out["required_steps"] = required_steps_everywhere(out["required_steps"], runbook)
    out["field_aliases"] = dict(CHECK_OS_ALIASES)
    return out


# ---------------------------------------------------------------------------------------------------------
# execution_roles
# ---------------------------------------------------------------------------------------------------------

PRINCIPAL_FORM = (
    "an IAM principal ARN of the management account (arn:aws:iam::<account>:root, ...:role/NAME or ...:user/NAME)"
)
PRINCIPAL_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$")


def check_execution_roles(values, aliases=None):
    """Normalise and check the execution_roles role's variables, before any AWS call.

    Returns ``target_ous``, ``regions``, ``reader_trusted_principals`` (lists), ``include_management_account``,
    ``deploy_reader_role`` (booleans), ``management_account_id`` and ``organization_id`` ("" when not given).
    The checks that need the organization (the ids match it, the OUs are in it, the principals are of its
    management account) are :func:`check_organization`'s.
    """
    v = dict(values or {})
    c = _Collector(aliases)
    out = {
        "target_ous": split_list(v.get("execution_roles_target_ous")),
        "regions": unique(split_list(v.get("execution_roles_regions"))),
        "reader_trusted_principals": split_list(v.get("execution_roles_reader_trusted_principals")),
        "management_account_id": _text(v.get("execution_roles_management_account_id")),
        "organization_id": _text(v.get("execution_roles_organization_id")),
    }
    for key in ("include_management_account", "deploy_reader_role"):
        field = "execution_roles_" + key
        out[key] = bool(c.run(to_bool, v.get(field, key == "deploy_reader_role"), field))
    if out["management_account_id"]:
        c.run(validation.account_id, out["management_account_id"], "execution_roles_management_account_id")
    if out["organization_id"]:
        c.run(validation.organization_id, out["organization_id"], "execution_roles_organization_id")
    for i, ou in enumerate(out["target_ous"]):
        c.run(validation.ou_id, ou, "execution_roles_target_ous[%d]" % i)
    if not out["target_ous"] and not out["include_management_account"]:
        c.add(
            "execution_roles_target_ous",
            "is empty; list OU ids (ou-xxxx-xxxxxxxx) or the root id (r-xxxx), or set %s"
            % c.name("execution_roles_include_management_account"),
        )
    for i, name in enumerate(out["regions"]):
        c.run(validation.region, name, "execution_roles_regions[%d]" % i)
    if not out["regions"] and out["target_ous"]:
        c.add("execution_roles_regions", "is empty; give at least one region, %s" % validation.REGION_FORM)
    for i, arn in enumerate(out["reader_trusted_principals"]):
        c.run(_check, PRINCIPAL_RE.match, arn, "execution_roles_reader_trusted_principals[%d]" % i, PRINCIPAL_FORM)
    c.run(
        stack_set.validate_operation_preferences,
        v.get("execution_roles_operation_preferences") or None,
        field="execution_roles_operation_preferences",
    )
    call_as = _text(v.get("execution_roles_call_as", "SELF"))
    if call_as not in stack_set.CALL_AS:
        c.add("execution_roles_call_as", "%s is not one of %s" % (json.dumps(call_as), ", ".join(stack_set.CALL_AS)))
    # the stack_set module's forms: wait_timeout a whole number of seconds above 0, poll_interval seconds >= 0
    c.run(
        to_int,
        v.get("execution_roles_wait_timeout", 1800),
        "execution_roles_wait_timeout",
        1,
        "a positive number of seconds",
    )
    c.run(
        to_number,
        v.get("execution_roles_poll_interval", 5),
        "execution_roles_poll_interval",
        0,
        "a number of seconds, 0 or more",
    )
    tags = v.get("execution_roles_tags") or {}
    if not isinstance(tags, dict):
        c.add("execution_roles_tags", "%s is not a mapping of tag keys to values" % json.dumps(str(tags)))
    c.raise_if_any()
    return out


def check_organization(checked, org, tree=None, aliases=None):
    """What needs the organization, once read: the given ids are its own, the target OUs are in it, and the
    results-reader role's principals are of its management account. ``checked`` is
    :func:`check_execution_roles`'s result; ``org`` organization_info's ``organization``; ``tree`` its ``tree``.
    """
    c = _Collector(aliases)
    mgmt = org.get("master_account_id")
    if checked.get("management_account_id") and checked["management_account_id"] != mgmt:
        c.add(
            "execution_roles_management_account_id",
            "%s is not the management account of organization %s, which is %s"
            % (checked["management_account_id"], org.get("id"), mgmt),
        )
    if checked.get("organization_id") and checked["organization_id"] != org.get("id"):
        c.add(
            "execution_roles_organization_id",
            "%s is not the organization of these credentials, which is %s"
            % (checked["organization_id"], org.get("id")),
        )
    if tree is not None:
        for i, ou in enumerate(checked.get("target_ous") or []):
            try:
                organization.resolve_accounts(tree, [ou])
            except validation.InvalidInput as e:
                c.add("execution_roles_target_ous[%d]" % i, e.message)
    for i, arn in enumerate(checked.get("reader_trusted_principals") or []):
        match = PRINCIPAL_RE.match(arn)
        if match and match.group(1) != mgmt:
            c.add(
                "execution_roles_reader_trusted_principals[%d]" % i,
                "%s is not %s %s" % (json.dumps(arn), "an IAM principal ARN of the management account", mgmt),
            )
    if c.problems:
        raise InvalidInputs(c.problems, prefix="Invalid input, nothing was written.")
    return {
        "management_account_id": mgmt,
        "organization_id": org.get("id"),
        "reader_trusted_principals": list(checked.get("reader_trusted_principals") or []),
    }
