"""The orgops.ssm_automation.runbook role against the sandbox: render + lint + upload, idempotence counted in the
request log, lint errors stopping before any call, and the rendered cross-platform runbook running on the sandbox's
Linux and Windows instances with the right branch taken (and yum's exit code 100 reported, not failed)."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import yaml
from support.ansible_run import run_playbook

from ansible_collections.orgops.ssm_automation.plugins.module_utils import runbook

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "roles/check_os/files"
CHECKS = yaml.safe_load((FILES / "check-os-improved.checks.yml").read_text())
REGION = "ap-northeast-1"
WEB_PROD = "333344445555"  # web-1 (Ubuntu) and web-win-1 (Windows) in ap-northeast-1
PAYMENTS = "222233334444"  # pay-api-1 (Amazon Linux, pending updates) and pay-api-2 (RHEL) in ap-northeast-1
TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled", "CompletedWithSuccess", "CompletedWithFailure"}


def run_role(sandbox, tmp_path, role_vars, args=None):
    out = tmp_path / ("facts-%s.json" % uuid.uuid4().hex[:6])
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "runbook role",
                    "ansible.builtin.import_role": {"name": "orgops.ssm_automation.runbook"},
                    "vars": role_vars,
                },
                {
                    "name": "dump facts",
                    "ansible.builtin.copy": {
                        "content": "{{ {'document': runbook_document | default(None), 'lint': runbook_lint_findings | default(None)} | to_json }}",
                        "dest": str(out),
                        "mode": "0600",
                    },
                    "check_mode": False,
                    "changed_when": False,
                    "tags": ["always"],
                },
            ],
        }
    ]
    pb = tmp_path / ("play-%s.yml" % uuid.uuid4().hex[:6])
    pb.write_text(yaml.safe_dump(play, sort_keys=False))
    run = run_playbook(pb, env=sandbox.env, args=args)
    recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", run.stdout)
    facts = json.loads(out.read_text()) if out.exists() else {}
    return run, (recap and {"ok": int(recap[1]), "changed": int(recap[2]), "failed": int(recap[3])}), facts


def ssm_writes(sandbox, since):
    return [r for r in sandbox.write_calls(since) if r["service"] == "ssm"]


def test_role_renders_lints_uploads_and_second_run_is_ok(sandbox, tmp_path):
    name = "check-os-%s" % uuid.uuid4().hex[:8]
    role_vars = {"runbook_name": name, "runbook_checks": CHECKS["checks"], "runbook_description": CHECKS["description"]}
    run, recap, facts = run_role(sandbox, tmp_path, role_vars)
    assert run.rc == 0 and recap["changed"] == 1, run.stdout
    shipped = runbook.parse_content((FILES / "check-os-improved.yml").read_text())
    assert facts["document"]["document_version"] == "1"
    assert facts["document"]["content_hash"] == runbook.content_hash(shipped), "the role renders the shipped file"
    assert [f["severity"] for f in facts["lint"]] == ["info"]

    seq = sandbox.last_seq()
    run, recap, facts = run_role(sandbox, tmp_path, role_vars)
    assert run.rc == 0 and recap["changed"] == 0, run.stdout
    assert ssm_writes(sandbox, seq) == []

    # the same runbook as a file, as the check_os role uploads it: still no change
    run, recap, facts = run_role(
        sandbox, tmp_path, {"runbook_name": name, "runbook_file": str(FILES / "check-os-improved.yml")}
    )
    assert run.rc == 0 and recap["changed"] == 0, run.stdout
    assert ssm_writes(sandbox, seq) == []
    assert facts["document"]["latest_version"] == "1"


def test_role_stops_on_lint_errors_and_bad_sources_before_any_call(sandbox, tmp_path):
    bad = tmp_path / "echo.yml"
    bad.write_text(
        yaml.safe_dump(
            {
                "schemaVersion": "0.3",
                "parameters": {"Message": {"type": "String"}, "InstanceId": {"type": "String"}},
                "mainSteps": [
                    {
                        "name": "Echo",
                        "action": "aws:runCommand",
                        "timeoutSeconds": 30,
                        "inputs": {
                            "DocumentName": "AWS-RunShellScript",
                            "InstanceIds": ["{{ InstanceId }}"],
                            "Parameters": {"commands": ["echo {{ Message }}"]},
                        },
                    }
                ],
            }
        )
    )
    seq = sandbox.last_seq()
    run, recap, _ = run_role(sandbox, tmp_path, {"runbook_name": "echo-runbook", "runbook_file": str(bad)})
    assert run.rc != 0 and recap["failed"] == 1
    assert "safety.command-injection at mainSteps[0].inputs.Parameters.commands[0] (step Echo)" in run.stdout
    both = {"runbook_name": "x-runbook", "runbook_file": str(bad), "runbook_checks": [{"name": "A", "linux": "true"}]}
    run, recap, _ = run_role(sandbox, tmp_path, both)
    assert run.rc != 0 and "set exactly one of them" in run.stdout
    bad_check = {
        "runbook_name": "x-runbook",
        "runbook_checks": [{"name": "Up date", "linux": "true"}],
        "runbook_cross_platform": False,
    }
    run, recap, _ = run_role(sandbox, tmp_path, bad_check)
    assert run.rc != 0 and "runbook_checks[0].name: 'Up date' is not a check name" in run.stdout
    missing = {"runbook_checks": [{"name": "A", "linux": "true"}]}
    run, recap, _ = run_role(sandbox, tmp_path, missing)
    assert run.rc != 0 and "runbook_name" in run.stdout
    assert sandbox.requests(seq) == []


def test_role_tasks_are_tagged_runbook(sandbox, tmp_path):
    name = "check-os-%s" % uuid.uuid4().hex[:8]
    role_vars = {"runbook_name": name, "runbook_file": str(FILES / "check-os.yml")}
    seq = sandbox.last_seq()
    run, recap, facts = run_role(sandbox, tmp_path, role_vars, args=["--skip-tags", "runbook"])
    assert run.rc == 0 and recap["changed"] == 0 and facts["document"] is None
    assert sandbox.requests(seq) == []
    run, recap, facts = run_role(sandbox, tmp_path, role_vars, args=["--tags", "runbook"])
    assert run.rc == 0 and recap["changed"] == 1 and facts["document"]["name"] == name


def _run_everywhere(sandbox, document, accounts):
    ssm = sandbox.client("ssm", region=REGION)
    mgmt = sandbox.world.management_account_id
    parent = ssm.start_automation_execution(
        DocumentName=document,
        Parameters={
            "AutomationAssumeRole": ["arn:aws:iam::%s:role/AWS-SystemsManager-AutomationAdministrationRole" % mgmt]
        },
        TargetParameterName="InstanceId",
        Targets=[{"Key": "tag:ssm-automation", "Values": ["true"]}],
        TargetLocations=[
            {
                "Accounts": accounts,
                "Regions": [REGION],
                "ExecutionRoleName": "AWS-SystemsManager-AutomationExecutionRole",
            }
        ],
    )["AutomationExecutionId"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = ssm.get_automation_execution(AutomationExecutionId=parent)["AutomationExecution"][
            "AutomationExecutionStatus"
        ]
        if status in TERMINAL:
            break
        time.sleep(0.2)  # polling a terminal status, bounded by the deadline
    else:
        raise AssertionError("execution %s still %s" % (parent, status))
    steps = {}  # instance id -> {step name: (status, outputs)}
    for account in accounts:
        member = sandbox.client("ssm", region=REGION, account=account)
        listed = member.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": [document]}])
        for meta in listed["AutomationExecutionMetadataList"]:
            if not meta.get("ParentAutomationExecutionId"):
                continue
            ex = member.get_automation_execution(AutomationExecutionId=meta["AutomationExecutionId"])[
                "AutomationExecution"
            ]
            steps[meta["Target"]] = {
                s["StepName"]: (s["StepStatus"], s.get("Outputs", {})) for s in ex["StepExecutions"]
            }
            steps[meta["Target"]]["execution"] = (ex["AutomationExecutionStatus"], {})
    return steps


def _instances(sandbox, account):
    ec2 = sandbox.client("ec2", region=REGION, account=account)
    out = {}
    for reservation in ec2.describe_instances()["Reservations"]:
        for inst in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
            out[tags.get("Name")] = inst["InstanceId"]
    return out


def test_cross_platform_runbook_takes_the_right_branch(sandbox, tmp_path):
    name = "check-os-%s" % uuid.uuid4().hex[:8]
    role_vars = {"runbook_name": name, "runbook_checks": CHECKS["checks"], "runbook_regions": [REGION]}
    run, recap, _ = run_role(sandbox, tmp_path, role_vars)
    assert run.rc == 0, run.stdout
    ids = {**_instances(sandbox, WEB_PROD), **_instances(sandbox, PAYMENTS)}
    steps = _run_everywhere(sandbox, name, [WEB_PROD, PAYMENTS])
    linux_steps = ["CheckHostname", "CheckTimezone", "CheckLocale", "CheckUpdate", "CheckNTP"]
    windows_steps = [s + "Windows" for s in linux_steps]

    win = steps[ids["web-win-1"]]
    assert win["GetPlatform"][1]["PlatformType"] == ["Windows"]
    assert [win[s][0] for s in windows_steps] == ["Success"] * 5
    assert [win[s][0] for s in linux_steps] == ["Pending"] * 5, "the Linux branch is not taken"
    assert win["CheckHostnameWindows"][1]["HostnameOutput"][0].startswith("Active code page: 65001")

    for linux in ("web-1", "pay-api-1", "pay-api-2"):
        got = steps[ids[linux]]
        assert got["GetPlatform"][1]["PlatformType"] == ["Linux"], linux
        assert [got[s][0] for s in windows_steps] == ["Pending"] * 5, linux
        assert got["CheckHostname"][0] == "Success" and got["CheckNTP"][0] == "Success", linux

    # pending updates: yum check-update exits 100, reported in the output, not a failure; NTP still runs
    pending = steps[ids["pay-api-1"]]
    assert pending["CheckUpdate"][0] == "Success"
    assert "[exit code 100 accepted: ok_exit_codes 0 100]" in pending["CheckUpdate"][1]["UpdateOutput"][0]
    # Ubuntu has no yum: command -v finds apt, whose list of pending upgrades is the result (exit 0)
    ubuntu = steps[ids["web-1"]]
    assert ubuntu["CheckUpdate"][0] == "Success" and ubuntu["CheckNTP"][0] == "Success"
    apt_output = ubuntu["CheckUpdate"][1]["UpdateOutput"][0]
    assert apt_output.startswith("Listing...\n") and "[upgradable from: " in apt_output, apt_output
    assert "command not found" not in apt_output and "ERROR" not in apt_output, apt_output
    assert ubuntu["execution"][0] == pending["execution"][0] == win["execution"][0] == "Success"


def test_a_failed_check_still_fails_the_execution(sandbox, tmp_path):
    # the check steps are explicitly critical: with on_failure Continue the next check still runs, and the failed
    # one fails the instance's execution
    name = "check-os-fail-%s" % uuid.uuid4().hex[:8]
    checks = [
        {"name": "Missing", "linux": "no-such-program --version", "windows": "hostname", "on_failure": "Continue"},
        {"name": "Hostname", "linux": "hostname", "windows": "hostname"},
    ]
    run, _recap, _ = run_role(
        sandbox, tmp_path, {"runbook_name": name, "runbook_checks": checks, "runbook_regions": [REGION]}
    )
    assert run.rc == 0, run.stdout
    ids = _instances(sandbox, WEB_PROD)
    got = _run_everywhere(sandbox, name, [WEB_PROD])[ids["web-1"]]
    assert (got["CheckMissing"][0], got["CheckHostname"][0]) == ("Failed", "Success")
    assert got["execution"][0] == "Failed"


def test_seed_runbook_stops_at_pending_updates_for_contrast(sandbox, tmp_path):
    name = "check-os-seed-%s" % uuid.uuid4().hex[:8]
    run, _recap, _ = run_role(sandbox, tmp_path, {"runbook_name": name, "runbook_file": str(FILES / "check-os.yml")})
    assert run.rc == 0, run.stdout
    ids = _instances(sandbox, PAYMENTS)
    steps = _run_everywhere(sandbox, name, [PAYMENTS])
    pending = steps[ids["pay-api-1"]]
    assert (pending["CheckUpdate"][0], pending["CheckNTP"][0]) == ("Failed", "Pending")
