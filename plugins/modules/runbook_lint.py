#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: runbook_lint
version_added: 0.1.0
short_description: Lint an SSM Automation runbook, or render one from a list of checks and lint it, without AWS
description:
  - Lints a schemaVersion 0.3 Automation runbook and reports errors, warnings and infos, each with the step name and
    the field path (for example C(mainSteps[3].inputs.Parameters.commands[0])).
  - "Rules: schema (structure, known actions and their required inputs, parameter types and defaults), step graph
    (unique names, existing C(nextStep)/C(onFailure)/branch targets, no unreachable steps, no loop without an exit,
    C(isEnd) consistency), references (every C({{ X }}) is a parameter, a step output or an automation variable;
    unused parameters), safety (a String parameter interpolated into runCommand C(commands) without
    C(allowedValues) or a strict C(allowedPattern) is a command-injection error) and operability (no
    C(timeoutSeconds), PowerShell without C(chcp 65001), the 2,500-character output cap)."
  - With O(checks), first renders the runbook from a list of checks, as the C(orgops.ssm_automation.runbook) role does,
    and returns it in RV(content).
  - With O(paths), lints many files in one run (a whole repository of runbooks in CI) and returns RV(files), one entry
    per file sorted by path, and RV(counts) summed over them.
  - "Severity follows AWS: an error means AWS would reject the document or it certainly breaks at run time; risks are
    warnings; C(safety.*) findings stay errors until waived one by one. See docs/runbooks.md in the collection."
  - Makes no AWS call. It accepts the common AWS options only so that C(module_defaults) for the
    C(group/orgops.ssm_automation.ssm_automation) action group apply cleanly; they are ignored.
author:
  - orgops maintainers (@orgops)
options:
  content:
    description:
      - The runbook as a dict, or a YAML or JSON string.
      - Exactly one of O(content), O(content_path), O(checks) and O(paths) is required.
    type: raw
  content_path:
    description:
      - Path to a YAML or JSON runbook file.
    type: path
  checks:
    description:
      - A list of checks to render a runbook from. Each renders one C(Check<name>) check/skip parameter and one
        runCommand step with one output C(<name>Output).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The check name, a letter then up to 39 letters or digits, such as C(Hostname) or C(NTP).
        type: str
        required: true
      linux:
        description:
          - The shell command run on Linux instances (C(AWS-RunShellScript)).
        type: str
      windows:
        description:
          - The PowerShell command run on Windows instances (C(AWS-RunPowerShellScript)); C(chcp 65001) is prepended.
        type: str
      timeout:
        description:
          - The step's C(timeoutSeconds).
        type: int
        default: 60
      on_failure:
        description:
          - What the runbook does when the check fails.
        type: str
        choices: [Abort, Continue]
        default: Abort
      ok_exit_codes:
        description:
          - Exit codes that count as success, handled inside the command (for example C([0, 100]) for
            C(yum check-update), whose 100 means updates are available).
        type: list
        elements: int
        default: [0]
      label:
        description:
          - Human name of the check used in messages (defaults to O(checks[].name)).
        type: str
      description:
        description:
          - Description of the check/skip parameter.
        type: str
  paths:
    description:
      - Files, directories and globs to lint, each file on its own.
      - A directory is searched recursively for C(*.json), C(*.yml) and C(*.yaml) files. A glob may use C(**) to
        match any number of directories (for example C(runbooks/**/*.yml)); a directory it matches is searched too.
      - Each file is linted once and reported with its path as given, or as found under a given directory. Relative
        paths are relative to the module's working directory (where C(ansible-playbook) runs, with a local
        connection).
      - A file that does not parse, or that is not an Automation runbook (C(schemaVersion) other than C(0.3), such as
        a Command document), gets one C(info) finding (C(file.unreadable), C(file.not-automation)) in its entry and
        is not linted; it never fails the task by itself.
      - An entry that names no file (a missing path, a glob that matches nothing) fails the task, naming it.
      - O(fail_on) applies to the counts summed over every file; O(waivers) apply to every file.
      - Mutually exclusive with O(content), O(content_path) and O(checks).
    type: list
    elements: str
    version_added: 0.1.0
  name:
    description:
      - The runbook name, used in the rendered description. Required with O(checks).
    type: str
  cross_platform:
    description:
      - With O(checks), render the platform detection (C(aws:executeAwsApi) DescribeInstanceInformation) and the
        C(aws:branch) to Linux or Windows steps.
    type: bool
    default: true
  require_online:
    description:
      - With O(checks), render an C(AssertOnline) step (C(aws:assertAwsResourceProperty), ssm DescribeInstanceInformation)
        before the checks. It fails the instance at once, with its C(PingStatus) as the reason, when its SSM Agent is not
        C(Online) (a stopped or unmanaged instance), instead of letting every check wait out its C(timeoutSeconds).
    type: bool
    default: true
    version_added: 0.1.0
  description:
    description:
      - With O(checks), the runbook description.
    type: str
    default: ""
  waivers:
    description:
      - Parameter names whose interpolation into commands was reviewed and is accepted, and C(rule:<rule-id>)
        entries silencing warnings and infos of that rule.
    type: list
    elements: str
    default: []
  fail_on:
    description:
      - The severity that fails the task. C(never) only reports.
    type: str
    choices: [error, warning, never]
    default: error
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Lint the seed runbook in CI
  orgops.ssm_automation.runbook_lint:
    content_path: roles/check_os/files/check-os.yml

- name: Render a runbook from checks and lint it
  orgops.ssm_automation.runbook_lint:
    name: check-os-improved
    checks:
      - name: Hostname
        linux: hostname
        windows: hostname
        timeout: 10
      - name: Update
        linux: yum check-update
        ok_exit_codes: [0, 100]
        timeout: 60
  register: rendered

- name: Lint every runbook of the repository in CI (one task, one result per file)
  orgops.ssm_automation.runbook_lint:
    paths:
      - runbooks/
      - roles/*/files/**/*.yml
    waivers: [rule:operability.no-timeout]
  register: lint_all

- name: Show the files with errors
  ansible.builtin.debug:
    msg: "{{ lint_all.files | selectattr('counts.error') | map(attribute='path') | list }}"

- name: Accept a reviewed free-text parameter
  orgops.ssm_automation.runbook_lint:
    content_path: runbooks/echo.yml
    waivers: [Message]
"""

RETURN = r"""
findings:
  description: Lint findings, errors first (with O(paths), an empty list; see RV(files)).
  returned: always
  type: list
  elements: dict
  contains:
    severity:
      description: error, warning or info.
      type: str
      sample: error
    rule:
      description: The rule id.
      type: str
      sample: safety.command-injection
    step:
      description: The step name, or null for document-level findings.
      type: str
      sample: Echo
    path:
      description: The field path.
      type: str
      sample: mainSteps[0].inputs.Parameters.commands[0]
    message:
      description: What is wrong and how to fix it.
      type: str
counts:
  description: Number of findings per severity (with O(paths), summed over every file).
  returned: always
  type: dict
  sample: {"error": 0, "warning": 1, "info": 1}
files:
  description: With O(paths), one entry per file linted, sorted by path.
  returned: when O(paths) is given
  type: list
  elements: dict
  contains:
    path:
      description: The file, as given or as found under a given directory.
      type: str
      sample: runbooks/check-os.yml
    findings:
      description: The file's findings, errors first, in the same form as RV(findings).
      type: list
      elements: dict
    counts:
      description: The file's number of findings per severity.
      type: dict
      sample: {"error": 1, "warning": 0, "info": 0}
content:
  description: The runbook linted (rendered, with O(checks)).
  returned: unless O(paths) is given
  type: dict
content_yaml:
  description: RV(content) as YAML text.
  returned: unless O(paths) is given
  type: str
content_hash:
  description: sha256 of the normalized content.
  returned: unless O(paths) is given
  type: str
parameters:
  description: The runbook's declared parameters.
  returned: unless O(paths) is given
  type: list
  elements: dict
"""

from ansible.module_utils.basic import missing_required_lib  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402

from ansible_collections.orgops.ssm_automation.plugins.module_utils import documents, runbook  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput  # noqa: E402

_ORDER = {"error": 0, "warning": 1, "info": 2}


def main():
    check_spec = {
        "name": {"type": "str", "required": True},
        "linux": {"type": "str"},
        "windows": {"type": "str"},
        "timeout": {"type": "int", "default": runbook.DEFAULT_TIMEOUT},
        "on_failure": {"type": "str", "choices": ["Abort", "Continue"], "default": "Abort"},
        "ok_exit_codes": {"type": "list", "elements": "int", "default": [0]},
        "label": {"type": "str"},
        "description": {"type": "str"},
    }
    argument_spec = {
        "content": {"type": "raw"},
        "content_path": {"type": "path"},
        "checks": {"type": "list", "elements": "dict", "options": check_spec},
        "paths": {"type": "list", "elements": "str"},
        "name": {"type": "str"},
        "cross_platform": {"type": "bool", "default": True},
        "require_online": {"type": "bool", "default": True},
        "description": {"type": "str", "default": ""},
        "waivers": {"type": "list", "elements": "str", "default": []},
        "fail_on": {"type": "str", "choices": ["error", "warning", "never"], "default": "error"},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[["content", "content_path", "checks", "paths"]],
        required_one_of=[["content", "content_path", "checks", "paths"]],
        required_by={"checks": ["name"]},
    )
    if not runbook.HAS_YAML:
        module.fail_json(msg=missing_required_lib(runbook.YAML_REQUIREMENT))
    try:
        result, failing = _run(module.params)
    except InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field)
    counts = result["counts"]
    summary = "runbook lint: %d error(s), %d warning(s), %d info(s)" % (
        counts["error"],
        counts["warning"],
        counts["info"],
    )
    if failing:
        module.fail_json(msg="%s: %s" % (summary, "; ".join(failing)), **result)
    module.exit_json(msg=summary, **result)


def _run(p):
    """(result, failing findings as text) for the module's parameters."""
    severities = {"error": ("error",), "warning": ("error", "warning"), "never": ()}[p["fail_on"]]
    if p["paths"] is not None:
        files, counts = runbook.lint_paths(p["paths"], p["waivers"])
        failing = [
            "%s: %s" % (entry["path"], runbook.format_finding(x))
            for entry in files
            for x in entry["findings"]
            if x["severity"] in severities
        ]
        return {"changed": False, "findings": [], "files": files, "counts": counts}, failing
    if p["checks"] is not None:
        checks = [{k: v for k, v in c.items() if v is not None} for c in p["checks"]]
        doc = runbook.render_checks(
            p["name"], checks, p["cross_platform"], p["description"], require_online=p["require_online"]
        )
    else:
        doc, _text, _fmt = documents.load_content(p["content"], p["content_path"])
    findings = sorted(runbook.lint(doc, p["waivers"]), key=lambda x: _ORDER[x["severity"]])
    result = {
        "changed": False,
        "findings": findings,
        "counts": runbook.summarize(findings),
        "content": doc,
        "content_yaml": runbook.to_yaml(doc),
        "content_hash": runbook.content_hash(doc),
        "parameters": runbook.parameter_summary(doc),
    }
    return result, [runbook.format_finding(x) for x in findings if x["severity"] in severities]


if __name__ == "__main__":
    main()
