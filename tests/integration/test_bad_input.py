"""Bad input: every case fails before any write call, with a message naming the field and the accepted form.

The table below (``CASES``) is the single source of docs/bad-input.md (``scripts/gen_bad_input_doc.py`` renders
it; ``tests/unit/test_bad_input_doc.py`` fails when the doc is out of date).

How a case is run: the cases of one group go into ONE ansible-playbook run against the sandbox (an ansible-playbook
start costs seconds; fifty of them would cost minutes). Each case is one task (a module call with
``ignore_errors``, or ``include_role`` in a block whose ``rescue`` keeps the failure), followed by a marker task that
reads the sandbox's request-log sequence number (``/_sandbox/requests``, an admin endpoint that is not itself
logged). The calls a case made are exactly the log entries between its two markers, so every case is judged on
its own:

- ``calls: none``  - the case made no AWS call at all (pure input validation);
- ``calls: reads`` - the case made read calls only (e.g. the runbook's declared parameters), never a write.

And its result must be a failure whose message names ``field`` and contains every fragment of ``accepted`` (the
accepted form: a pattern, the allowed values, the limit...).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from support.ansible_run import run_playbook

RUNBOOK_NAME = "orgops-bad-input-runbook"
TOKYO = "ap-northeast-1"
WORKLOADS = "ou-o2pk-wrkloads"  # sandbox/worlds/demo.yml
TAGS = {"tags": {"ssm-automation": "true"}}
LOCATION = {"accounts": [WORKLOADS], "regions": [TOKYO]}
START = {"document_name": RUNBOOK_NAME, "targets": TAGS, "target_locations": [LOCATION]}
EXECUTION_ID = "4f7c5a31-0d3e-4b5b-9a57-5a4f3c2b1a00"

# A runbook with one parameter of each kind the checks need (created in the sandbox by the fixture below).
RUNBOOK = {
    "schemaVersion": "0.3",
    "description": "Bad-input test runbook",
    "assumeRole": "{{ AutomationAssumeRole }}",
    "parameters": {
        "AutomationAssumeRole": {"type": "String", "default": ""},
        "InstanceId": {"type": "String", "allowedPattern": "^m?i-[a-z0-9]{8,17}$"},
        "Mode": {"type": "String", "allowedValues": ["fast", "thorough"], "default": "fast"},
        "Label": {"type": "String", "allowedPattern": "^[a-z0-9-]{1,20}$", "default": "x"},
        "Ticket": {"type": "String", "description": "Required: no default"},
    },
    "mainSteps": [
        {
            "name": "Run",
            "action": "aws:runCommand",
            "timeoutSeconds": 60,
            "isEnd": True,
            "inputs": {
                "DocumentName": "AWS-RunShellScript",
                "InstanceIds": ["{{ InstanceId }}"],
                "Parameters": {"commands": ["echo {{ Mode }} {{ Label }} {{ Ticket }}"]},
            },
        }
    ],
}
GOOD_PARAMS = {"Mode": "fast", "Label": "ok", "Ticket": "t-1"}


def _runbook_text(steps, parameters=None, extra=""):
    doc = {"schemaVersion": "0.3", "description": "bad runbook", "parameters": parameters or {}, "mainSteps": steps}
    return yaml.safe_dump(doc, sort_keys=False) + extra


_ECHO = {
    "DocumentName": "AWS-RunShellScript",
    "InstanceIds": ["i-0123456789abcdef0"],
    "Parameters": {"commands": ["true"]},
}
RUNBOOK_FILES = {
    "invalid.yml": "schemaVersion: '0.3'\nmainSteps:\n  - name: A\n    action: aws:sleep\n   inputs: {Duration: PT1S}\n",
    "no-main-steps.yml": "schemaVersion: '0.3'\ndescription: no steps\nparameters: {}\n",
    "missing-next-step.yml": _runbook_text(
        [
            {"name": "First", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}, "nextStep": "Nowhere"},
            {"name": "Second", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}, "isEnd": True},
        ]
    ),
    "unknown-action.yml": _runbook_text([{"name": "Magic", "action": "aws:doMagic", "inputs": {}, "isEnd": True}]),
    "injection.yml": _runbook_text(
        [
            {
                "name": "Say",
                "action": "aws:runCommand",
                "timeoutSeconds": 60,
                "isEnd": True,
                "inputs": dict(_ECHO, Parameters={"commands": ["echo {{ Message }}"]}),
            }
        ],
        parameters={"Message": {"type": "String", "description": "free text"}},
    ),
    # AWS's limit on document content is 64 KB; this one is ~70 KB of a perfectly valid runbook.
    "oversized.yml": _runbook_text(
        [
            {
                "name": "Big",
                "action": "aws:runCommand",
                "timeoutSeconds": 60,
                "isEnd": True,
                "inputs": dict(_ECHO, Parameters={"commands": ["echo %04d %s" % (n, "x" * 60) for n in range(1000)]}),
            }
        ]
    ),
    "results.jsonl": json.dumps({"type": "execution", "automation_execution_id": EXECUTION_ID, "status": "Success"})
    + "\n"
    + json.dumps({"type": "summary", "instances": 0, "instances_by_status": {}, "locations": 0})
    + "\n",
}
TOO_MANY_EXCLUDED = ["%012d" % n for n in range(100000000000, 100000005001)]  # 5,001 account ids

M_EXEC = "orgops.ssm_automation.automation_execution"
M_INFO = "orgops.ssm_automation.automation_execution_info"
M_DOC = "orgops.ssm_automation.ssm_document"
M_STACK = "orgops.ssm_automation.stack_set"
M_ORG = "orgops.ssm_automation.organization_info"
M_REPORT = "orgops.ssm_automation.automation_report"
R_RUN = "role:orgops.ssm_automation.run_automation"
R_CHECK = "role:orgops.ssm_automation.check_os"
R_ROLES = "role:orgops.ssm_automation.execution_roles"

# A role case that wrongly passed validation would go on to start and wait: never for long.
RUN_VARS = {
    "run_automation_document_name": RUNBOOK_NAME,
    "run_automation_target_ous": [WORKLOADS],
    "run_automation_parameters": GOOD_PARAMS,
    "run_automation_wait_timeout": 0,
    "run_automation_poll_interval": 1,
}
CHECK_VARS = {
    "check_os_target_ous": [WORKLOADS],
    "check_os_deploy_roles": False,
    "check_os_wait_timeout": 0,
    "check_os_poll_interval": 1,
}

OU_FORM = "ou-xxxx-xxxxxxxx"
ACCOUNT_FORM = "12-digit"
REGION_FORM = "AWS region name"


def case(id, topic, what, via, params, field, accepted, calls="none", group=None):
    return {
        "id": id,
        "topic": topic,
        "what": what,
        "via": via,
        "params": params,
        "field": field,
        "accepted": list(accepted),
        "calls": calls,
        # one ansible-playbook run per group; groups spread over pytest-xdist workers
        "group": group or ("roles" if via.startswith("role:") else "start" if via == M_EXEC else "modules"),
    }


def start(**override):
    params = dict(START, parameters=GOOD_PARAMS)
    params.update(override)
    return params


def location(**override):
    return [dict(LOCATION, **override)]


# fmt: off
CASES = [
    # -- account, OU and organization ids -----------------------------------------------------------------------
    case("account-11-digits", "account ids", "an account id of 11 digits", M_EXEC,
         start(target_locations=location(accounts=["12345678901"])),
         "target_locations[0].accounts[0]", [ACCOUNT_FORM, OU_FORM]),
    case("account-13-digits", "account ids", "an account id of 13 digits", M_EXEC,
         start(target_locations=location(accounts=["1234567890123"])),
         "target_locations[0].accounts[0]", [ACCOUNT_FORM]),
    case("account-letters", "account ids", "an account id with letters, excluded", M_EXEC,
         start(target_locations=location(exclude_accounts=["12345678901a"])),
         "target_locations[0].exclude_accounts[0]", [ACCOUNT_FORM]),
    case("stack-set-account", "account ids", "a SELF_MANAGED StackSet target account of 5 digits", M_STACK,
         {"name": "orgops-bad-input", "permission_model": "SELF_MANAGED", "template_body": "Resources: {}",
          "deployment_targets": {"accounts": ["12345"]}, "regions": [TOKYO]},
         "deployment_targets.accounts[0]", [ACCOUNT_FORM]),
    case("management-account-id", "account ids", "a management account id of 4 digits", M_ORG,
         {"management_account_id": "1111"}, "management_account_id", [ACCOUNT_FORM]),
    case("ou-short", "OU and organization ids", "an OU id too short for the pattern", M_EXEC,
         start(target_locations=location(accounts=["ou-ab-1234"])),
         "target_locations[0].accounts[0]", [OU_FORM]),
    case("ou-uppercase", "OU and organization ids", "an OU id in capitals", M_STACK,
         {"name": "orgops-bad-input", "template_body": "Resources: {}",
          "deployment_targets": {"organizational_unit_ids": ["OU-O2PK-WRKLOADS"]}, "regions": [TOKYO]},
         "deployment_targets.organizational_unit_ids[0]", [OU_FORM]),
    case("org-target-ou", "OU and organization ids", "a target that is neither OU, root nor account", M_ORG,
         {"targets": ["workloads"]}, "targets[0]", [OU_FORM]),
    case("organization-id", "OU and organization ids", "an organization id with capitals", M_ORG,
         {"organization_id": "o-ABCDEFGHIJ"}, "organization_id", ["^o-[a-z0-9]{10,32}$"]),
    case("roles-organization-id", "OU and organization ids", "execution_roles with an organization id too short",
         R_ROLES, {"execution_roles_target_ous": [WORKLOADS], "execution_roles_organization_id": "o-abc"},
         "execution_roles_organization_id", ["^o-[a-z0-9]{10,32}$"]),
    # -- regions ------------------------------------------------------------------------------------------------
    case("region-unknown", "regions", "a well-formed region AWS does not have (eu-middle-9)", M_EXEC,
         start(target_locations=location(regions=["eu-middle-9"])),
         "target_locations[0].regions[0]", ["not a known AWS region", REGION_FORM]),
    case("region-malformed", "regions", "a city name instead of a region", M_EXEC,
         start(target_locations=location(regions=["tokyo"])),
         "target_locations[0].regions[0]", [REGION_FORM]),
    case("stack-set-region", "regions", "a StackSet region that does not exist", M_STACK,
         {"name": "orgops-bad-input", "template_body": "Resources: {}",
          "deployment_targets": {"organizational_unit_ids": [WORKLOADS]}, "regions": ["mars-north-1"]},
         "regions[0]", [REGION_FORM]),
    case("role-region", "regions", "run_automation with an unknown region", R_RUN,
         dict(RUN_VARS, run_automation_regions=["ap-tokyo"]), "run_automation_regions", [REGION_FORM]),
    # -- empty target location, too many exclusions ---------------------------------------------------------------
    case("location-no-accounts", "empty target location", "a target location without accounts", M_EXEC,
         start(target_locations=location(accounts=[])),
         "target_locations[0].accounts", ["list account ids", OU_FORM]),
    case("location-no-regions", "empty target location", "a target location without regions", M_EXEC,
         start(target_locations=location(regions=[])),
         "target_locations[0].regions", ["at least one"]),
    case("role-no-targets", "empty target location", "run_automation with no OU, no account and no management account",
         R_RUN, dict(RUN_VARS, run_automation_target_ous=[]), "run_automation_target_ous", ["at least one OU or account id"]),
    case("exclude-5001", "more than 5,000 excluded accounts", "5,001 excluded account ids", M_EXEC,
         start(target_locations=location(exclude_accounts=TOO_MANY_EXCLUDED)),
         "target_locations[0].exclude_accounts", ["5000"]),
    case("role-exclude-5001", "more than 5,000 excluded accounts", "run_automation with 5,001 excluded account ids",
         R_RUN, dict(RUN_VARS, run_automation_exclude_accounts=TOO_MANY_EXCLUDED),
         "run_automation_exclude_accounts", ["at most 5000"]),
    # -- rate control ---------------------------------------------------------------------------------------------
    case("max-concurrency-zero", "max_concurrency / max_errors", "max_concurrency 0", M_EXEC,
         start(max_concurrency="0"), "max_concurrency", ["positive number", "1% to 100%"]),
    case("max-concurrency-word", "max_concurrency / max_errors", "max_concurrency 'ten'", M_EXEC,
         start(max_concurrency="ten"), "max_concurrency", ["positive number"]),
    case("max-errors-101", "max_concurrency / max_errors", "max_errors 101%", M_EXEC,
         start(max_errors="101%"), "max_errors", ["0% to 100%"]),
    case("location-max-errors", "max_concurrency / max_errors", "a target location's max_errors 'some'", M_EXEC,
         start(target_locations=location(max_errors="some")), "target_locations[0].max_errors", ["0% to 100%"]),
    case("role-max-concurrency", "max_concurrency / max_errors", "run_automation_max_concurrency '5 %'", R_RUN,
         dict(RUN_VARS, run_automation_max_concurrency="5 %"), "run_automation_max_concurrency", ["1% to 100%"]),
    # -- runbook parameters (checked against the runbook's declared parameters: reads only) ---------------------
    case("parameter-undeclared", "runbook parameters", "a parameter the runbook does not declare", M_EXEC,
         start(parameters=dict(GOOD_PARAMS, Colour="red")), "parameters.Colour", ["Mode", "Label", "Ticket"],
         calls="reads"),
    case("parameter-missing", "runbook parameters", "a required parameter (no default) not given", M_EXEC,
         start(parameters={"Mode": "fast"}), "parameters.Ticket", ["required"], calls="reads"),
    case("parameter-not-allowed", "runbook parameters", "a value outside allowedValues", M_EXEC,
         start(parameters=dict(GOOD_PARAMS, Mode="medium")), "parameters.Mode", ["fast", "thorough"], calls="reads"),
    case("parameter-pattern", "runbook parameters", "a value not matching allowedPattern", M_EXEC,
         start(parameters=dict(GOOD_PARAMS, Label="Not Valid!")), "parameters.Label", ["^[a-z0-9-]{1,20}$"],
         calls="reads"),
    # -- runbooks (linted before any AWS call) --------------------------------------------------------------------
    case("runbook-invalid-yaml", "runbooks", "a runbook that is not valid YAML", M_DOC,
         {"name": "orgops-bad-input", "content_path": "@invalid.yml"}, "content_path", ["YAML", "line"]),
    case("runbook-no-main-steps", "runbooks", "a runbook without mainSteps", M_DOC,
         {"name": "orgops-bad-input", "content_path": "@no-main-steps.yml"}, "mainSteps", ["non-empty list of steps"]),
    case("runbook-missing-next-step", "runbooks", "a nextStep naming a step that does not exist", M_DOC,
         {"name": "orgops-bad-input", "content_path": "@missing-next-step.yml"}, "mainSteps[0].nextStep",
         ["Nowhere", "Second"]),
    case("runbook-unknown-action", "runbooks", "an action Automation does not have", M_DOC,
         {"name": "orgops-bad-input", "content_path": "@unknown-action.yml"}, "mainSteps[0].action",
         ["aws:doMagic", "aws:runCommand"]),
    case("runbook-injection", "runbooks", "a free String parameter interpolated into commands", M_DOC,
         {"name": "orgops-bad-input", "content_path": "@injection.yml"}, "Message",
         ["allowedValues", "allowedPattern"]),
    case("runbook-oversized", "runbooks", "a runbook of ~70 KB", M_DOC,
         {"name": "orgops-bad-input", "content_path": "@oversized.yml"}, "content", ["65536 bytes"]),
    # -- document names -------------------------------------------------------------------------------------------
    case("document-prefix-aws", "document names", "a document name starting with AWS-", M_DOC,
         {"name": "AWS-CheckOS", "content_path": "@missing-next-step.yml"}, "name", ["reserves", "[a-zA-Z0-9_.-]"]),
    case("document-prefix-amazon", "document names", "a document name starting with amazon", M_DOC,
         {"name": "amazonChecks", "content_path": "@missing-next-step.yml"}, "name", ["reserves"]),
    case("document-bad-characters", "document names", "a document name with a space and a slash", M_DOC,
         {"name": "check os/v2", "content_path": "@missing-next-step.yml"}, "name", ["[a-zA-Z0-9_.-]"]),
    case("role-document-name", "document names", "run_automation with a runbook name containing a semicolon",
         R_RUN, dict(RUN_VARS, run_automation_document_name="check-os;reboot"), "run_automation_document_name",
         ["3-128 characters"]),
    # -- conflicting options --------------------------------------------------------------------------------------
    case("template-body-and-template", "conflicting options", "template_body and template together", M_STACK,
         {"name": "orgops-bad-input", "template_body": "Resources: {}", "template": "/etc/hostname"},
         "template_body", ["mutually exclusive", "template"]),
    case("tags-and-all-instances", "conflicting options", "targets.tags and targets.all_instances together", M_EXEC,
         start(targets={"tags": {"a": "b"}, "all_instances": True}), "tags", ["mutually exclusive", "all_instances"]),
    case("two-tag-keys", "conflicting options", "two tag keys (AWS takes one target)", M_EXEC,
         start(targets={"tags": {"ssm-automation": "true", "Env": "prod"}}), "targets.tags",
         ["has 2 keys", "one target key"]),
    case("role-two-tag-keys", "conflicting options", "run_automation with two tag keys", R_RUN,
         dict(RUN_VARS, run_automation_target_tags={"ssm-automation": "true", "Env": "prod"}),
         "run_automation_target_tags", ["one tag key", "targets.tags"]),
    case("execution-id-and-start", "conflicting options", "execution_id with start options", M_EXEC,
         {"execution_id": EXECUTION_ID, "document_name": RUNBOOK_NAME, "max_errors": "1"}, "execution_id",
         ["mutually exclusive", "document_name"]),
    case("content-and-content-path", "conflicting options", "content and content_path together", M_DOC,
         {"name": "orgops-bad-input", "content": "schemaVersion: '0.3'", "content_path": "@no-main-steps.yml"},
         "content", ["mutually exclusive", "content_path"]),
    case("service-managed-execution-role", "StackSet options", "SERVICE_MANAGED with an execution_role_name", M_STACK,
         {"name": "orgops-bad-input", "template_body": "Resources: {}", "permission_model": "SERVICE_MANAGED",
          "execution_role_name": "AWSCloudFormationStackSetExecutionRole"},
         "execution_role_name", ["SELF_MANAGED"]),
    case("execution-id-malformed", "execution ids", "an execution id that is not one", M_INFO,
         {"automation_execution_id": "last-monday"}, "automation_execution_id", ["36"]),
    # -- report destinations --------------------------------------------------------------------------------------
    case("report-dest", "report dest not writable", "reports into /proc", M_REPORT,
         {"src": "@results.jsonl", "dest": "/proc/orgops-reports"}, "dest", ["not writable", "can write"]),
    case("gather-dest", "report dest not writable", "JSON Lines into /proc", M_INFO,
         {"automation_execution_id": EXECUTION_ID, "dest": "/proc/orgops/results.jsonl"}, "dest",
         ["not writable", "can write"]),
    case("role-report-dir", "report dest not writable", "run_automation with its report directory in /proc", R_RUN,
         dict(RUN_VARS, run_automation_report_dir="/proc/orgops-reports"), "run_automation_report_dir",
         ["not writable", "can write"]),
    case("survey-report-dir", "report dest not writable", "check_os with its report directory below a file", R_CHECK,
         dict(CHECK_VARS, check_os_report_dir="/etc/hostname/reports"), "check_os_report_dir",
         ["not writable", "can write"]),
    # -- survey answers with shell metacharacters (AWX survey text goes through check_os) -------------------------
    case("survey-ous-semicolon", "survey values with shell metacharacters", "OU ids '...; reboot'", R_CHECK,
         dict(CHECK_VARS, check_os_target_ous="ou-o2pk-wrkloads; reboot"), "check_os_target_ous", [OU_FORM]),
    case("survey-tag-substitution", "survey values with shell metacharacters", "tag value 'true$(reboot)'", R_CHECK,
         dict(CHECK_VARS, check_os_target_tag_value="true$(reboot)"), "check_os_target_tag_value", ["tag value"]),
    case("survey-check-pipe", "survey values with shell metacharacters", "check value 'check | sh'", R_CHECK,
         dict(CHECK_VARS, check_os_hostname="check | sh"), "check_os_hostname", ["check", "skip"]),
    case("survey-region-backtick", "survey values with shell metacharacters", "a region followed by a command in backquotes", R_CHECK,
         dict(CHECK_VARS, check_os_regions="eu-west-1`id`"), "check_os_regions", [REGION_FORM]),
    case("survey-runbook-name", "survey values with shell metacharacters", "runbook name 'check-os && curl x'",
         R_CHECK, dict(CHECK_VARS, check_os_runbook_name="check-os && curl x"), "check_os_runbook_name",
         ["3-128 characters"]),
]
# fmt: on

GROUPS = sorted({c["group"] for c in CASES})


# ---------------------------------------------------------------------------------------------------------------
# Running a group of cases in one playbook
# ---------------------------------------------------------------------------------------------------------------


def _resolve(value, files: Path):
    """'@name' means a file of RUNBOOK_FILES, written to ``files``."""
    if isinstance(value, str) and value.startswith("@") and value[1:] in RUNBOOK_FILES:
        return str(files / value[1:])
    if isinstance(value, dict):
        return {k: _resolve(v, files) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, files) for v in value]
    return value


MARK = "{{ lookup('ansible.builtin.url', lookup('ansible.builtin.env', 'AWS_ENDPOINT_URL') ~ '/_sandbox/requests?since=999999999999', split_lines=False) | from_json }}"  # noqa: E501


def _mark(i):
    return {"name": "mark %d" % i, "ansible.builtin.set_fact": {"mark_%d" % i: MARK}}


def _task(i, c, files):
    params = _resolve(c["params"], files)
    if not c["via"].startswith("role:"):
        return [{"name": "case %s" % c["id"], c["via"]: params, "register": "case_%d" % i, "ignore_errors": True}]
    role = c["via"].split(":", 1)[1]
    return [
        {
            "name": "case %s" % c["id"],
            "block": [{"name": "include %s" % role, "ansible.builtin.include_role": {"name": role}, "vars": params}],
            "rescue": [
                {
                    "name": "keep the failure of %s" % c["id"],
                    "ansible.builtin.set_fact": {
                        "case_%d" % i: {
                            "failed": True,
                            "msg": "{{ ansible_failed_result.msg | default('') }}",
                            "task": "{{ ansible_failed_task.name }}",
                        }
                    },
                }
            ],
        }
    ]


def run_group(tmp_path: Path, sandbox, cases: list[dict]) -> list[dict]:
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    for name, text in RUNBOOK_FILES.items():
        (files / name).write_text(text)
    out = tmp_path / "results.json"
    tasks = [_mark(0)]
    for i, c in enumerate(cases, start=1):
        tasks += _task(i, c, files)
        tasks.append(_mark(i))
    dump = {
        str(i): "{{ case_%d | default({'failed': False, 'msg': 'did not fail'}) }}" % i
        for i in range(1, len(cases) + 1)
    }
    marks = {str(i): "{{ mark_%d.last_seq }}" % i for i in range(len(cases) + 1)}
    tasks.append(
        {
            "name": "dump the results",
            "ansible.builtin.copy": {
                "content": "{{ {'cases': bad_input_cases, 'marks': bad_input_marks} | to_json }}",
                "dest": str(out),
                "mode": "0600",
            },
            "vars": {"bad_input_cases": dump, "bad_input_marks": marks},
        }
    )
    play = [{"name": "bad input", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    playbook = tmp_path / "bad-input.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False, width=1000))
    env = dict(sandbox.env, ORGOPS_REPORT_DIR=str(tmp_path / "reports"))
    run = run_playbook(playbook, env=env, timeout=1200)
    assert out.exists(), f"the bad-input playbook did not finish (rc={run.rc}):\n{run.stdout[-5000:]}\n{run.stderr}"
    data = json.loads(out.read_text())
    requests = sandbox.requests(int(data["marks"]["0"]))
    results = []
    for i, c in enumerate(cases, start=1):
        lo, hi = int(data["marks"][str(i - 1)]), int(data["marks"][str(i)])
        calls = [r for r in requests if lo < r["seq"] <= hi]
        results.append({"case": c, "result": data["cases"][str(i)], "calls": calls})
    return results


def problems(entry: dict) -> list[str]:
    """What is wrong with one case's outcome (empty: the case passes)."""
    c, result, calls = entry["case"], entry["result"], entry["calls"]
    msg = str(result.get("msg", ""))
    out = []
    if not result.get("failed"):
        out.append("did not fail")
    if c["field"] not in msg:
        out.append(f"the message does not name the field {c['field']!r}")
    missing = [a for a in c["accepted"] if a not in msg]
    if missing:
        out.append(f"the message lacks the accepted form {missing}")
    writes = [f"{r['service']}:{r['action']}" for r in calls if r["write"]]
    if writes:
        out.append(f"write calls before failing: {writes}")
    if c["calls"] == "none" and calls:
        out.append(f"AWS calls before failing: {[r['service'] + ':' + r['action'] for r in calls]}")
    return [f"{c['id']}: {p} (msg: {msg[:400]!r})" for p in out]


@pytest.fixture
def runbook(sandbox):
    """The test runbook in the management account (the parameter cases read its declared parameters)."""
    ssm = sandbox.client("ssm", region=TOKYO)
    ssm.create_document(
        Name=RUNBOOK_NAME, Content=json.dumps(RUNBOOK), DocumentType="Automation", DocumentFormat="JSON"
    )
    try:
        yield RUNBOOK_NAME
    finally:
        ssm.delete_document(Name=RUNBOOK_NAME)


def test_the_table_covers_the_issue():
    assert len(CASES) >= 30
    assert len({c["id"] for c in CASES}) == len(CASES)
    topics = {c["topic"] for c in CASES}
    assert topics >= {
        "account ids",
        "OU and organization ids",
        "regions",
        "empty target location",
        "more than 5,000 excluded accounts",
        "max_concurrency / max_errors",
        "runbook parameters",
        "runbooks",
        "document names",
        "conflicting options",
        "StackSet options",
        "report dest not writable",
        "survey values with shell metacharacters",
    }


@pytest.mark.parametrize("group", GROUPS)
def test_bad_input_fails_before_any_write_naming_field_and_form(tmp_path, sandbox, runbook, group):
    cases = [c for c in CASES if c["group"] == group]
    outcomes = run_group(tmp_path, sandbox, cases)
    for entry in outcomes:  # shown by pytest when the test fails, and with -s
        print(f"{entry['case']['id']}: {[r['action'] for r in entry['calls']]} {entry['result'].get('msg')!r}")
    failures = [p for entry in outcomes for p in problems(entry)]
    assert not failures, "\n".join(failures)
