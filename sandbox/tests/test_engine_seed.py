"""The seed's aws ssm start-automation-execution commands, run through the real AWS CLI against the demo world.

Source: ../shared/seed/seed-commands.sh (copied below verbatim; only account/OU ids are substituted, and
``--endpoint-url`` is added). Each command must produce the tree the seed article describes: one parent in the
management account with one step per account x region, and in every member account one execution per location
that fans out to one execution per instance, listed by ``describe-automation-executions --filters
Key=ParentExecutionId,...`` with that account's credentials only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.engine.testkit import (
    EXECUTION_ROLE_TEMPLATE,
    aws_cli,
    create_check_os,
    wait_for,
    wait_terminal,
    with_checks,
)
from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

MGMT = "111122223333"
OU = "ou-o2pk-wrkloads"  # Workloads: Prod (and Payments below it), Staging, dev-sandbox directly under it
REGION = "ap-northeast-1"
SEED_FILE = Path("/work/shared/seed/seed-commands.sh")

# Verbatim from the seed (seed-commands.sh), placeholders MGMT / ou-o2pk-xxxxxxxx / r-o2pk substituted below.
SEED_1 = """aws ssm start-automation-execution \\
  --document-name "check-os" \\
  --parameters AutomationAssumeRole=arn:aws:iam::MGMT:role/AWS-SystemsManager-AutomationAdministrationRole,CheckHostname=check,CheckTimezone=check,CheckLocale=check,CheckUpdate=check,CheckNTP=check \\
  --target-parameter-name InstanceId \\
  --targets Key=tag:ssm-automation,Values=true \\
  --target-locations '[{
    "Accounts": ["ou-o2pk-xxxxxxxx"],
    "IncludeChildOrganizationUnits": true,
    "Regions": ["ap-northeast-1"],
    "ExecutionRoleName": "AWS-SystemsManager-AutomationExecutionRole"
  }]'"""
SEED_2 = """aws ssm start-automation-execution \\
  --document-name "check-os" \\
  --document-version "6" \\
  --parameters AutomationAssumeRole=arn:aws:iam::MGMT:role/AWS-SystemsManager-AutomationAdministrationRole,CheckHostname=check,CheckTimezone=check,CheckLocale=check,CheckUpdate=check,CheckNTP=check \\
  --target-parameter-name InstanceId \\
  --targets Key=tag:ssm-automation,Values=true \\
  --target-locations '[{"Accounts": ["ou-o2pk-xxxxxxxx"], "IncludeChildOrganizationUnits": true, "Regions": ["ap-northeast-1"], "ExecutionRoleName": "AWS-SystemsManager-AutomationExecutionRole"}]'"""
SEED_3 = """aws ssm start-automation-execution \\
  --document-name "check-os" \\
  --parameters AutomationAssumeRole=arn:aws:iam::MGMT:role/AWS-SystemsManager-AutomationAdministrationRole,CheckHostname=check,CheckTimezone=check,CheckLocale=check,CheckUpdate=check,CheckNTP=check \\
  --target-parameter-name InstanceId \\
  --targets Key=AWS::EC2::Instance,Values=* \\
  --target-locations '[{"Accounts": ["ou-o2pk-xxxxxxxx"], "IncludeChildOrganizationUnits": true, "Regions": ["ap-northeast-1"], "ExecutionRoleName": "AWS-SystemsManager-AutomationExecutionRole"}]'"""
SEED_4 = """aws ssm start-automation-execution \\
  --document-name "check-os" \\
  --parameters AutomationAssumeRole=arn:aws:iam::MGMT:role/AWS-SystemsManager-AutomationAdministrationRole,CheckHostname=check,CheckTimezone=check,CheckLocale=check,CheckUpdate=check,CheckNTP=check \\
  --target-parameter-name InstanceId \\
  --targets Key=tag:ssm-automation,Values=true \\
  --target-locations '[{"Accounts": ["r-o2pk"], "IncludeChildOrganizationUnits": true, "Regions": ["ap-northeast-1"], "ExecutionRoleName": "AWS-SystemsManager-AutomationExecutionRole"}]'"""
ROLE_MESSAGE = (
    "The provided role: arn:aws:iam::{acct}:role/AWS-SystemsManager-AutomationExecutionRole can't be assumed. "
    "(Service: null; Status Code: 0; Error Code: null; Request ID: null; Proxy: null)"
)


def substitute(command: str) -> str:
    return command.replace("MGMT", MGMT).replace("ou-o2pk-xxxxxxxx", OU)


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """A private demo-world sandbox for this module (the root-OU test adds a stack to the management account)."""
    with SandboxHandle(DEMO_WORLD, name="engine-seed", workdir=tmp_path_factory.mktemp("engine-seed")) as handle:
        create_check_os(with_checks(handle).checked.client("ssm", region=REGION), versions=6)
        yield handle


@pytest.fixture(autouse=True)
def no_shape_violations(box):
    """Every SSM response of every test is valid against botocore's output shapes."""
    before = len(box.violations)
    yield
    assert box.violations[before:] == []


def test_seed_commands_are_the_seeds_verbatim():
    if not SEED_FILE.exists():
        pytest.skip("the seed reference material is not mounted here")
    text = SEED_FILE.read_text()
    for command in (SEED_1, SEED_2, SEED_3, SEED_4):
        assert command in text


def start(box, command: str, account: str | None = None) -> str:
    rc, out, err = aws_cli(box, substitute(command), box.violations, account=account, region=REGION)
    assert rc == 0, err
    return out["AutomationExecutionId"]


def expected_locations(box) -> set[tuple[str, str]]:
    return {(a, REGION) for a in box.world.descendants(OU, include_children=True)}


def tree(box, parent_id: str) -> dict:
    """{account: (location execution, [instance executions])}, read with each member account's credentials."""
    ssm = box.checked.client("ssm", region=REGION)
    parent = wait_terminal(ssm, parent_id, timeout=90)
    out = {"parent": parent, "locations": {}}
    for step in parent["StepExecutions"]:
        account = step["TargetLocation"]["Accounts"][0]
        if "ExecutionId" not in step.get("Outputs", {}):
            out["locations"][account] = (step, None, [])
            continue
        member = box.checked.client("ssm", region=REGION, account=account)
        child_id = step["Outputs"]["ExecutionId"][0]
        location = member.get_automation_execution(AutomationExecutionId=child_id)["AutomationExecution"]
        rc, listed, err = aws_cli(
            box,
            f"aws ssm describe-automation-executions --filters Key=ParentExecutionId,Values={child_id}",
            box.violations,
            account=account,
            region=REGION,
        )
        assert rc == 0, err
        instances = [
            member.get_automation_execution(AutomationExecutionId=m["AutomationExecutionId"])["AutomationExecution"]
            for m in listed["AutomationExecutionMetadataList"]
        ]
        out["locations"][account] = (step, location, instances)
    return out


def names(box) -> dict[str, str]:
    return {i.instance_id: i.name for i in box.world.instances}


def check_tree(box, parent_id: str, all_instances: bool, version: str = "1") -> dict[str, dict]:
    """Assert the tree's structure; return {instance name: instance execution}."""
    t = tree(box, parent_id)
    parent = t["parent"]
    ssm = box.checked.client("ssm", region=REGION)
    meta = ssm.describe_automation_executions(Filters=[{"Key": "ExecutionId", "Values": [parent_id]}])[
        "AutomationExecutionMetadataList"
    ]
    assert [m["AutomationType"] for m in meta] == ["CrossAccount"]
    assert parent["DocumentName"] == "check-os" and parent["DocumentVersion"] == version
    assert parent["Mode"] == "Auto"
    locations = {
        (s["TargetLocation"]["Accounts"][0], s["TargetLocation"]["Regions"][0]) for s in parent["StepExecutions"]
    }
    assert locations == expected_locations(box)
    assert len(parent["StepExecutions"]) == len(locations)  # exactly one step per account x region
    counters = parent["ProgressCounters"]
    assert counters["TotalSteps"] == len(locations)
    assert counters["SuccessSteps"] + counters["FailedSteps"] + counters["TimedOutSteps"] + counters[
        "CancelledSteps"
    ] == len(locations)
    by_name = {}
    for account, (step, location, instances) in t["locations"].items():
        assert step["Action"] == "aws:executeAutomation"
        assert step["TargetLocation"]["ExecutionRoleName"] == "AWS-SystemsManager-AutomationExecutionRole"
        assert location is not None, step.get("FailureMessage")
        assert step["StepStatus"] == location["AutomationExecutionStatus"]
        assert location["DocumentVersion"] == version
        wanted = {
            i.instance_id
            for i in box.world.instances_in(account, REGION)
            if all_instances or i.tags.get("ssm-automation") == "true"
        }
        assert set(location["ResolvedTargets"]["ParameterValues"]) == wanted
        assert {s["StepName"] for s in location["StepExecutions"]} == wanted  # one fan-out step per instance
        assert {s["Action"] for s in location["StepExecutions"]} <= {"aws:executeAutomation"}
        assert {i["Target"] for i in instances} == wanted
        for inst in instances:
            assert inst["ParentAutomationExecutionId"] == location["AutomationExecutionId"]
            assert inst["Parameters"]["InstanceId"] == [inst["Target"]]
            assert inst["DocumentVersion"] == version
            by_name[names(box)[inst["Target"]]] = inst
        # invisible from the management account
        with pytest.raises(ssm.exceptions.AutomationExecutionNotFoundException):
            ssm.get_automation_execution(AutomationExecutionId=location["AutomationExecutionId"])
        for inst in instances:
            with pytest.raises(ssm.exceptions.AutomationExecutionNotFoundException):
                ssm.get_automation_execution(AutomationExecutionId=inst["AutomationExecutionId"])
    return by_name


def steps(execution: dict) -> dict[str, str]:
    return {s["StepName"]: s["StepStatus"] for s in execution["StepExecutions"]}


def test_seed_1_tag_targets_build_the_tree(box):
    by_name = check_tree(box, start(box, SEED_1), all_instances=False)
    assert set(by_name) == {"pay-api-1", "pay-api-2", "web-1", "web-win-1", "stg-web", "dev-box", "data-etl-1"}
    # Amazon Linux with pending updates: yum check-update exits 100, so CheckUpdate fails and CheckNTP never runs
    pay = by_name["pay-api-1"]
    assert pay["AutomationExecutionStatus"] == "Failed"
    assert steps(pay) == {
        "CheckHostname": "Success",
        "CheckTimezone": "Success",
        "CheckLocale": "Success",
        "CheckUpdate": "Failed",
        "CheckNTP": "Pending",
    }
    update = next(s for s in pay["StepExecutions"] if s["StepName"] == "CheckUpdate")
    assert update["Outputs"]["ResponseCode"] == ["100"]
    assert "kernel.x86_64" in update["Outputs"]["Output"][0]
    assert "ExecutionStartTime" not in next(s for s in pay["StepExecutions"] if s["StepName"] == "CheckNTP")
    # up-to-date hosts pass every check, with the hostname as the step output
    for name in ("pay-api-2", "dev-box", "data-etl-1"):
        assert by_name[name]["AutomationExecutionStatus"] == "Success", name
        assert set(steps(by_name[name]).values()) == {"Success"}
    hostname = next(s for s in by_name["dev-box"]["StepExecutions"] if s["StepName"] == "CheckHostname")
    assert hostname["Outputs"]["HostnameOutput"][0].startswith("ip-10-")
    # the stopped instance never picks the command up: TimedOut after the step's 10 s
    stg = by_name["stg-web"]
    assert stg["AutomationExecutionStatus"] == "TimedOut"
    first = stg["StepExecutions"][0]
    assert first["StepStatus"] == "TimedOut"
    assert 9.9 <= (first["ExecutionEndTime"] - first["ExecutionStartTime"]).total_seconds() < 11  # virtual seconds
    # Ubuntu has no yum; the Windows host cannot run AWS-RunShellScript
    assert steps(by_name["web-1"])["CheckUpdate"] == "Failed"
    assert (
        "yum: command not found"
        in next(s for s in by_name["web-1"]["StepExecutions"] if s["StepName"] == "CheckUpdate")["FailureMessage"]
    )
    assert "UnsupportedPlatformType" in by_name["web-win-1"]["StepExecutions"][0]["FailureMessage"]


def test_seed_2_pinned_document_version(box):
    ssm = box.checked.client("ssm", region=REGION)
    doc = ssm.describe_document(Name="check-os")["Document"]
    assert (doc["DefaultVersion"], doc["LatestVersion"]) == ("1", "6")
    check_tree(box, start(box, SEED_2), all_instances=False, version="6")


def test_seed_3_every_instance_in_the_accounts(box):
    by_name = check_tree(box, start(box, SEED_3), all_instances=True)
    assert "stg-db" in by_name  # the untagged instance is a target too
    assert by_name["stg-db"]["AutomationExecutionStatus"] == "Success"


def test_seed_4_root_ou_fails_only_the_management_account_until_its_stack_exists(box):
    ssm = box.checked.client("ssm", region=REGION)
    parent = wait_terminal(ssm, start(box, SEED_4), timeout=90)
    by_account = {s["TargetLocation"]["Accounts"][0]: s for s in parent["StepExecutions"]}
    assert set(by_account) == set(box.world.accounts)  # the root includes the management account
    mgmt = by_account.pop(MGMT)
    assert mgmt["StepStatus"] == "Failed"
    assert mgmt["FailureMessage"] == ROLE_MESSAGE.format(acct=MGMT)
    assert "ExecutionId" not in mgmt.get("Outputs", {})
    for account, step in by_account.items():
        assert "ExecutionId" in step["Outputs"], account  # every member location ran
        assert "can't be assumed" not in step.get("FailureMessage", "")

    rc, _, err = aws_cli(
        box,
        "aws cloudformation create-stack --stack-name AWS-SystemsManager-AutomationExecutionRole-org "
        f"--template-body file://{EXECUTION_ROLE_TEMPLATE} --capabilities CAPABILITY_NAMED_IAM "
        f"--parameters ParameterKey=AdminAccountId,ParameterValue={MGMT} "
        f"ParameterKey=OrganizationID,ParameterValue={box.world.organization_id}",
        region=REGION,
    )
    assert rc == 0, err
    cfn = box.client("cloudformation", region=REGION)
    wait_for(
        lambda: (
            cfn.describe_stacks(StackName="AWS-SystemsManager-AutomationExecutionRole-org")["Stacks"][0]["StackStatus"]
            == "CREATE_COMPLETE"
        ),
        what="the management execution stack",
    )

    parent = wait_terminal(ssm, start(box, SEED_4), timeout=90)
    by_account = {s["TargetLocation"]["Accounts"][0]: s for s in parent["StepExecutions"]}
    mgmt = by_account[MGMT]
    assert "can't be assumed" not in mgmt.get("FailureMessage", "")
    assert mgmt["StepStatus"] == "Success"
    location = ssm.get_automation_execution(AutomationExecutionId=mgmt["Outputs"]["ExecutionId"][0])[
        "AutomationExecution"
    ]
    bastion = next(i.instance_id for i in box.world.instances if i.name == "mgmt-bastion")
    assert location["ResolvedTargets"]["ParameterValues"] == [bastion]
    (child,) = ssm.describe_automation_executions(
        Filters=[{"Key": "ParentExecutionId", "Values": [location["AutomationExecutionId"]]}]
    )["AutomationExecutionMetadataList"]
    assert child["AutomationExecutionStatus"] == "Success"


def test_seed_1_through_the_aws_cli_binary(box, tmp_path):
    """The same command, as a user types it: a shell running .venv/bin/aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({k: v for k, v in box.env.items() if v})
    env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = REGION
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    command = substitute(SEED_1).replace("aws ssm", f"aws --endpoint-url {box.endpoint} ssm", 1)
    proc = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    import json

    execution_id = json.loads(proc.stdout)["AutomationExecutionId"]
    parent = wait_terminal(box.checked.client("ssm", region=REGION), execution_id, timeout=90)
    assert len(parent["StepExecutions"]) == len(expected_locations(box))


def test_full_demo_run_completes_quickly(box):
    """Every account of the demo world, both regions, every instance: completes fast at the demo's time scale.

    Completion is asserted with a bounded poll; the wall time is reported, not asserted (see docs/sandbox-engine.md).
    """
    ssm = box.checked.client("ssm", region=REGION)
    command = (
        'aws ssm start-automation-execution --document-name "check-os" '
        f"--parameters AutomationAssumeRole=arn:aws:iam::{MGMT}:role/AWS-SystemsManager-AutomationAdministrationRole "
        "--target-parameter-name InstanceId --targets Key=AWS::EC2::Instance,Values=* "
        '--target-locations \'[{"Accounts": ["r-o2pk"], "IncludeChildOrganizationUnits": true, '
        '"Regions": ["ap-northeast-1", "eu-west-1"], "TargetLocationMaxConcurrency": "100%", '
        '"TargetLocationMaxErrors": "100%"}]\''
    )
    t0 = time.monotonic()
    rc, out, err = aws_cli(box, command, box.violations, region=REGION)
    assert rc == 0, err
    parent = wait_terminal(ssm, out["AutomationExecutionId"], timeout=60)
    elapsed = time.monotonic() - t0
    print(f"full demo run: {len(parent['StepExecutions'])} locations, {elapsed:.2f}s wall")
    assert len(parent["StepExecutions"]) == len(box.world.accounts) * 2
    # every location ran, could not assume the role (management account), or had no instance to run on: AWS leaves
    # that one Pending with no start or end time (aws-solutions/instance-scheduler-on-aws#288)
    no_targets = 0
    for step in parent["StepExecutions"]:
        if step["StepStatus"] == "Pending":
            assert "ExecutionStartTime" not in step and "ExecutionEndTime" not in step, step
            assert "ExecutionId" not in step.get("Outputs", {}), step
            no_targets += 1
            continue
        assert "ExecutionId" in step.get("Outputs", {}) or "can't be assumed" in step["FailureMessage"], step
    assert no_targets < len(parent["StepExecutions"])
