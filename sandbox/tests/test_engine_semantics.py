"""Runbook semantics as AWS reads runbooks (issue 16) and the location rules of issue 14, against a sandbox over HTTP.

- step attributes written as strings (AWS-owned runbooks do it; User Guide, "Properties shared by all actions");
- aws:loop, both forms, steps inside, jumps out (User Guide, "aws:loop - Iterate over steps in an automation");
- selectors without a leading ``$`` (AWS-CreateSnapshot: ``Selector: SnapshotId``, ``PropertySelector:
  Snapshots[0].State``);
- aws:branch with no matching choice and no Default runs the next step (User Guide, "aws:branch");
- a script construct the sandbox cannot run fails its command ("not supported by the sandbox"), PowerShell's
  ``try { throw "x" } catch { exit 1 }`` ends Failed;
- a location with no matching instance stays Pending while the parent ends Success
  (aws-solutions/instance-scheduler-on-aws#288), and both readings of a location error for TargetLocationMaxErrors.
"""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from sandbox.engine.testkit import wait_terminal, with_checks
from sandbox.testing import SandboxHandle

MGMT, MEMBER_A, MEMBER_B = "200000000001", "200000000002", "200000000003"
OU = "ou-esem-members1"
REGION = "ap-northeast-1"
ADMIN_ROLE = f"arn:aws:iam::{MGMT}:role/AWS-SystemsManager-AutomationAdministrationRole"

WORLD = {
    "name": "engine-semantics",
    "version": 1,
    "seed": 11,
    "time_scale": 0.02,
    "regions": [REGION],
    "organization": {"id": "o-enginesem01", "root_id": "r-esem"},
    "management_account": {
        "id": MGMT,
        "name": "management",
        "instances": [
            {"name": "linux-1", "tags": {"role": "app"}},
            {"name": "win-1", "platform": "Windows", "tags": {"role": "win"}},
        ],
    },
    "organizational_units": [{"id": OU, "name": "Members"}],
    "accounts": [
        {"id": MEMBER_A, "name": "member-a", "parent": OU, "instances": [{"name": "a-1", "tags": {"role": "app"}}]},
        {"id": MEMBER_B, "name": "member-b", "parent": OU, "instances": [{"name": "b-1", "tags": {"role": "db"}}]},
    ],
    "automation_roles": {
        "admin": True,
        "execution_stackset_targets": ["r-esem"],
        "regions": [REGION],
        "management_execution_stack": True,
    },
    "options": {"location_without_targets": "pending"},  # AWS's behaviour (also the engine's default)
}


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with SandboxHandle(WORLD, name="engine-semantics", workdir=tmp_path_factory.mktemp("engine-sem")) as handle:
        yield with_checks(handle)


@pytest.fixture(autouse=True)
def no_shape_violations(box):
    before = len(box.violations)
    yield
    assert box.violations[before:] == []


@pytest.fixture
def ssm(box):
    return box.checked.client("ssm", region=REGION)


def iid(box, name: str) -> str:
    return next(i.instance_id for i in box.world.instances if i.name == name)


def create(ssm, steps: list, parameters: dict | None = None, assume_role: bool = False) -> str:
    doc = {"schemaVersion": "0.3", "description": "semantics", "parameters": parameters or {}, "mainSteps": steps}
    if assume_role:
        doc["assumeRole"] = "{{ AutomationAssumeRole }}"
        doc["parameters"]["AutomationAssumeRole"] = {"type": "String", "default": ""}
    name = f"sem-{uuid.uuid4().hex[:10]}"
    ssm.create_document(Content=json.dumps(doc), Name=name, DocumentType="Automation", DocumentFormat="JSON")
    return name


def run(ssm, name: str, **kwargs) -> dict:
    return wait_terminal(ssm, ssm.start_automation_execution(DocumentName=name, **kwargs)["AutomationExecutionId"])


def shell(name: str, commands: list[str], document: str = "AWS-RunShellScript", **extra) -> dict:
    step = {
        "name": name,
        "action": "aws:runCommand",
        "inputs": {"DocumentName": document, "InstanceIds": ["{{ InstanceId }}"], "Parameters": {"commands": commands}},
    }
    step.update(extra)
    return step


INSTANCE = {"InstanceId": {"type": "String"}}


def steps_of(ex: dict) -> dict[str, dict]:
    return {s["StepName"]: s for s in ex["StepExecutions"]}


def test_string_step_attributes_are_read_as_aws_reads_them(box, ssm):
    name = create(
        ssm,
        [
            shell("Flaky", ["exit 3"], onFailure="Continue", isCritical="false", maxAttempts="2", timeoutSeconds="600"),
            shell("Last", ["echo done"], isEnd="true"),
            shell("Never", ["echo never"]),
        ],
        INSTANCE,
    )
    ex = run(ssm, name, Parameters={"InstanceId": [iid(box, "linux-1")]})
    steps = steps_of(ex)
    assert ex["AutomationExecutionStatus"] == "Success"  # the failed step is not critical ("false")
    assert steps["Flaky"]["StepStatus"] == "Failed"
    assert (steps["Flaky"]["MaxAttempts"], steps["Flaky"]["TimeoutSeconds"]) == (2, 600)
    assert steps["Flaky"]["IsCritical"] is False
    assert steps["Last"]["StepStatus"] == "Success" and steps["Last"]["IsEnd"] is True
    assert steps["Never"]["StepStatus"] == "Pending"  # isEnd "true" ended the execution


def test_selectors_without_a_leading_dollar_read_from_the_root(box, ssm):
    name = create(
        ssm,
        [
            {
                "name": "Describe",
                "action": "aws:executeAwsApi",
                "inputs": {"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": ["{{ InstanceId }}"]},
                "outputs": [{"Name": "Id", "Selector": "Reservations[0].Instances[0].InstanceId", "Type": "String"}],
            },
            {
                "name": "Running",
                "action": "aws:assertAwsResourceProperty",
                "inputs": {
                    "Service": "ec2",
                    "Api": "DescribeInstances",
                    "InstanceIds": ["{{ InstanceId }}"],
                    "PropertySelector": "Reservations[0].Instances[0].State.Name",
                    "DesiredValues": ["running"],
                },
            },
        ],
        INSTANCE,
    )
    instance = iid(box, "linux-1")
    ex = run(ssm, name, Parameters={"InstanceId": [instance]})
    assert ex["AutomationExecutionStatus"] == "Success", ex.get("FailureMessage")
    assert steps_of(ex)["Describe"]["Outputs"]["Id"] == [instance]


def test_branch_without_a_matching_choice_or_default_runs_the_next_step(box, ssm):
    name = create(
        ssm,
        [
            {
                "name": "Choose",
                "action": "aws:branch",
                "inputs": {"Choices": [{"NextStep": "Elsewhere", "Variable": "{{ Mode }}", "StringEquals": "other"}]},
            },
            shell("Next", ["echo next"], isEnd=True),
            shell("Elsewhere", ["echo elsewhere"]),
        ],
        {**INSTANCE, "Mode": {"type": "String", "default": "normal"}},
    )
    ex = run(ssm, name, Parameters={"InstanceId": [iid(box, "linux-1")]})
    steps = steps_of(ex)
    assert ex["AutomationExecutionStatus"] == "Success"
    assert (steps["Choose"]["StepStatus"], steps["Next"]["StepStatus"]) == ("Success", "Success")
    assert steps["Elsewhere"]["StepStatus"] == "Pending"


def test_loop_for_each_runs_its_steps_per_iterator(box, ssm):
    name = create(
        ssm,
        [
            {
                "name": "Each",
                "action": "aws:loop",
                "inputs": {
                    "Iterators": ["red", "green", "blue"],
                    "Steps": [
                        shell(
                            "Paint",
                            ["echo {{ Each.CurrentIteratorValue }}"],
                            outputs=[{"Name": "Out", "Selector": "$.Output", "Type": "String"}],
                        )
                    ],
                },
            },
            shell("After", ["echo after"]),
        ],
        INSTANCE,
    )
    ex = run(ssm, name, Parameters={"InstanceId": [iid(box, "linux-1")]})
    assert ex["AutomationExecutionStatus"] == "Success", ex.get("FailureMessage")
    paints = [s for s in ex["StepExecutions"] if s["StepName"] == "Paint"]
    assert [s["Outputs"]["Out"][0].strip() for s in paints] == ["red", "green", "blue"]
    loop = steps_of(ex)["Each"]
    assert [s["ParentStepDetails"]["Iteration"] for s in paints] == [1, 2, 3]
    assert {s["ParentStepDetails"]["StepExecutionId"] for s in paints} == {loop["StepExecutionId"]}
    assert [s["ParentStepDetails"]["IteratorValue"] for s in paints] == ["red", "green", "blue"]
    assert loop["StepStatus"] == "Success" and loop["Outputs"]["CurrentIteration"] == ["3"]
    assert steps_of(ex)["After"]["StepStatus"] == "Success"
    second = ssm.describe_automation_step_executions(
        AutomationExecutionId=ex["AutomationExecutionId"], Filters=[{"Key": "ParentStepIteration", "Values": ["2"]}]
    )["StepExecutions"]
    assert [s["ParentStepDetails"]["IteratorValue"] for s in second] == ["green"]


def test_loop_condition_is_do_while_and_a_jump_leaves_the_loop(box, ssm):
    def loop(max_iterations: int, inner: list) -> dict:
        return {
            "name": "Again",
            "action": "aws:loop",
            "inputs": {
                "LoopCondition": {"Variable": "{{ Again.CurrentIteration }}", "NumericLesser": 3},
                "MaxIterations": max_iterations,
                "Steps": inner,
            },
        }

    body = [shell("Work", ["echo {{ Again.CurrentIteration }}"])]
    instance = {"InstanceId": [iid(box, "linux-1")]}
    # do while: the condition is evaluated after the steps, so 1 < 3 and 2 < 3 run again, 3 < 3 stops: 3 iterations
    ex = run(ssm, create(ssm, [loop(100, body)], INSTANCE), Parameters=instance)
    assert [s["StepName"] for s in ex["StepExecutions"]].count("Work") == 3
    ex = run(ssm, create(ssm, [loop(2, body)], INSTANCE), Parameters=instance)
    assert [s["StepName"] for s in ex["StepExecutions"]].count("Work") == 2  # MaxIterations
    # a branch inside the loop jumps to a main step: the loop is left, the steps between are skipped
    jump = [
        *body,
        {
            "name": "Out",
            "action": "aws:branch",
            "inputs": {
                "Choices": [{"NextStep": "Final", "Variable": "{{ Again.CurrentIteration }}", "NumericEquals": 2}]
            },
        },
    ]
    ex = run(
        ssm,
        create(ssm, [loop(100, jump), shell("Skipped", ["echo skipped"]), shell("Final", ["echo final"])], INSTANCE),
        Parameters=instance,
    )
    steps = steps_of(ex)
    assert ex["AutomationExecutionStatus"] == "Success"
    assert [s["StepName"] for s in ex["StepExecutions"]].count("Work") == 2
    assert (steps["Again"]["StepStatus"], steps["Skipped"]["StepStatus"], steps["Final"]["StepStatus"]) == (
        "Success",
        "Pending",
        "Success",
    )


def test_a_failed_step_inside_a_loop_fails_the_loop_and_the_execution(box, ssm):
    name = create(
        ssm,
        [
            {
                "name": "Each",
                "action": "aws:loop",
                "inputs": {"Iterators": ["1", "2"], "Steps": [shell("Fail", ["exit 4"])]},
            }
        ],
        INSTANCE,
    )
    ex = run(ssm, name, Parameters={"InstanceId": [iid(box, "linux-1")]})
    assert ex["AutomationExecutionStatus"] == "Failed"
    assert steps_of(ex)["Each"]["StepStatus"] == "Failed"
    assert [s["StepName"] for s in ex["StepExecutions"]].count("Fail") == 1


@pytest.mark.parametrize(
    ("document", "instance", "commands", "says"),
    [
        ("AWS-RunPowerShellScript", "win-1", ['try { throw "x" } catch { exit 1 }'], None),
        ("AWS-RunPowerShellScript", "win-1", ["function F { Write-Output 1 }", "F", "exit 0"], "function definitions"),
        ("AWS-RunPowerShellScript", "win-1", ["Get-Service | ForEach-Object { $_.Name }", "exit 0"], "script blocks"),
        ("AWS-RunShellScript", "linux-1", ["echo $((1 + 1))", "exit 0"], "$((...)) arithmetic expansion"),
        ("AWS-RunShellScript", "linux-1", ["awk '{print $1}' /etc/hosts", "exit 0"], "awk"),
    ],
)
def test_scripts_never_succeed_falsely(box, ssm, document, instance, commands, says):
    name = create(ssm, [shell("Script", commands, document=document)], INSTANCE)
    ex = run(ssm, name, Parameters={"InstanceId": [iid(box, instance)]})
    step = steps_of(ex)["Script"]
    assert ex["AutomationExecutionStatus"] == "Failed" and step["StepStatus"] == "Failed"
    assert step["Outputs"]["ResponseCode"] == ["1"] or says
    if says:
        assert f"not supported by the sandbox: {says}" in step["FailureMessage"]


def _locations(ssm, name: str, **loc) -> dict:
    return run(
        ssm,
        name,
        Parameters={"AutomationAssumeRole": [ADMIN_ROLE]},
        TargetParameterName="InstanceId",
        Targets=[{"Key": "tag:role", "Values": ["app"]}],
        TargetLocations=[{"Accounts": [MEMBER_A, MEMBER_B], "Regions": [REGION], **loc}],
    )


def test_a_location_without_matching_instances_stays_pending_and_the_parent_succeeds(box, ssm):
    """World option location_without_targets: pending (AWS)."""
    name = create(ssm, [shell("S", ["echo ok"])], INSTANCE, assume_role=True)
    parent = _locations(ssm, name, TargetLocationMaxConcurrency="100%")
    steps = {s["TargetLocation"]["Accounts"][0]: s for s in parent["StepExecutions"]}
    assert parent["AutomationExecutionStatus"] == "Success"
    assert steps[MEMBER_A]["StepStatus"] == "Success"
    empty = steps[MEMBER_B]
    assert empty["StepStatus"] == "Pending"
    assert "ExecutionStartTime" not in empty and "ExecutionEndTime" not in empty
    assert "ExecutionId" not in (empty.get("Outputs") or {})
    member_b = box.checked.client("ssm", region=REGION, account=MEMBER_B)
    assert member_b.describe_automation_executions()["AutomationExecutionMetadataList"] == []


@pytest.mark.parametrize(("reading", "second"), [("launch", "Failed"), ("failed", "Pending")])
def test_location_errors_under_each_reading(box, ssm, reading, second):
    """TargetLocationMaxErrors 0, one location at a time, every location fails: under ``launch`` (a location error
    is one whose automation could not start) both run; under ``failed`` the first failure stops the queue."""
    world = copy.deepcopy(WORLD)
    world["accounts"][1]["instances"][0]["tags"] = {"role": "app"}
    world["options"] = {"location_errors": reading}
    box.reset(world)
    try:
        client = box.checked.client("ssm", region=REGION)
        name = create(client, [shell("S", ["exit 1"])], INSTANCE, assume_role=True)
        parent = _locations(client, name, TargetLocationMaxErrors="0", TargetLocationMaxConcurrency="1")
        steps = [s["StepStatus"] for s in parent["StepExecutions"]]
        assert parent["AutomationExecutionStatus"] == "Failed"
        assert steps == ["Failed", second]
    finally:
        box.reset(WORLD)
