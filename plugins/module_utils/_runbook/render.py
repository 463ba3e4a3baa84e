# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a runbook from a list of checks (the ``runbook`` role's renderer)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.regex_safety import is_safe_value
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import (
    CHECK_NAME_RE,
    SAFE_VALUE_FORM,
    SCHEMA_VERSION,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

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
    # The aws:runCommand step's documented outputs are CommandId, Status, ResponseCode and Output
    # (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-runcommand.html, "Output"); AWS's
    # own runbooks select "$.Output". The seed's "$.CommandPlugins[0].Output" is not documented (issue 14 item 10).
    step["outputs"] = [{"Name": output, "Selector": RUN_COMMAND_OUTPUT_SELECTOR, "Type": "String"}]
    return step


ONLINE_STEP = "AssertOnline"
RUN_COMMAND_OUTPUT_SELECTOR = "$.Output"


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
