"""The engine's API against a real sandbox over HTTP: validation, idempotency, rate control, control flow, time,
Run Command records and output caps, instance information, pagination and visibility.

Each test states the AWS behaviour it reproduces; docs/sandbox-engine.md lists the sources.
"""

from __future__ import annotations

import datetime
import json
import uuid

import botocore.exceptions
import pytest

from sandbox.engine.testkit import CHECK_OS, wait_for, wait_terminal, with_checks
from sandbox.testing import SandboxHandle

MGMT, MEMBER_A, MEMBER_B = "100000000001", "100000000002", "100000000003"
OU, CHILD_OU = "ou-eapi-members1", "ou-eapi-childou1"
REGION = "ap-northeast-1"
ADMIN_ROLE = f"arn:aws:iam::{MGMT}:role/AWS-SystemsManager-AutomationAdministrationRole"

WORLD = {
    "name": "engine-api",
    "version": 1,
    "seed": 7,
    "time_scale": 0.02,
    "regions": [REGION],
    "organization": {"id": "o-engineapi01", "root_id": "r-eapi"},
    "management_account": {
        "id": MGMT,
        "name": "management",
        "instances": [
            {"name": "linux-1", "tags": {"role": "app"}},
            {"name": "linux-2", "tags": {"role": "app"}},
            {"name": "linux-3", "tags": {"role": "app"}},
            {"name": "linux-4", "tags": {"role": "app"}},
            {"name": "linux-5", "tags": {"role": "app"}},
            {"name": "win-1", "platform": "Windows", "tags": {"role": "mixed"}},
            {"name": "linux-mixed", "tags": {"role": "mixed"}},
            {"name": "chatty", "os_profile": "chatty", "tags": {"role": "chatty"}},
            {"name": "local", "os_profile": "local-shell", "tags": {"role": "local"}},
            {"name": "stopped", "state": "stopped", "tags": {"role": "off"}},
            {"name": "offline", "agent_online": False, "tags": {"role": "off"}},
            {"name": "unmanaged", "managed": False, "tags": {"role": "unmanaged"}},
        ],
    },
    "organizational_units": [{"id": OU, "name": "Members", "children": [{"id": CHILD_OU, "name": "Child"}]}],
    "accounts": [
        {
            "id": MEMBER_A,
            "name": "member-a",
            "parent": OU,
            "instances": [{"name": "a-1", "tags": {"role": "app"}}, {"name": "a-2", "tags": {"role": "app"}}],
        },
        {
            "id": MEMBER_B,
            "name": "member-b",
            "parent": CHILD_OU,
            "instances": [{"name": "b-1", "tags": {"role": "app"}}],
        },
    ],
    "profiles": {
        "chatty": {
            "extends": "amazon-linux-2023",
            "commands": [
                {"match": "chatty", "stdout": "o" * 30000, "stderr": "e" * 10000, "exit_code": 0, "delay": 1},
                {"match": "slow-task", "stdout": "done\n", "delay": 60},
            ],
        }
    },
    "automation_roles": {
        "admin": True,
        "execution_stackset_targets": ["r-eapi"],
        "regions": [REGION],
        "management_execution_stack": True,
    },
}


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with SandboxHandle(WORLD, name="engine-api", workdir=tmp_path_factory.mktemp("engine-api")) as handle:
        yield with_checks(handle)


@pytest.fixture(autouse=True)
def no_shape_violations(box):
    before = len(box.violations)
    yield
    assert box.violations[before:] == []


@pytest.fixture
def ssm(box):
    return box.checked.client("ssm", region=REGION)


def start_and_wait(ssm, **kwargs) -> dict:
    """Start an execution and wait for its end (bounded); the execution as GetAutomationExecution returns it."""
    return wait_terminal(ssm, ssm.start_automation_execution(**kwargs)["AutomationExecutionId"])


def iid(box, name: str) -> str:
    return next(i.instance_id for i in box.world.instances if i.name == name)


def runbook(
    steps: list, parameters: dict | None = None, outputs: list | None = None, assume_role: bool = False
) -> dict:
    doc = {"schemaVersion": "0.3", "description": "engine test", "parameters": parameters or {}, "mainSteps": steps}
    if outputs:
        doc["outputs"] = outputs
    if assume_role:
        doc["assumeRole"] = "{{ AutomationAssumeRole }}"
        doc["parameters"]["AutomationAssumeRole"] = {"type": "String", "default": ""}
    return doc


def create(ssm, doc: dict, name: str | None = None) -> str:
    name = name or f"engine-test-{uuid.uuid4().hex[:10]}"
    ssm.create_document(Content=json.dumps(doc), Name=name, DocumentType="Automation", DocumentFormat="JSON")
    return name


def shell_step(name: str, commands: list[str], **extra) -> dict:
    step = {
        "name": name,
        "action": "aws:runCommand",
        "inputs": {
            "DocumentName": "AWS-RunShellScript",
            "InstanceIds": ["{{ InstanceId }}"],
            "Parameters": {"commands": commands},
        },
        "outputs": [{"Name": "Out", "Selector": "$.CommandPlugins[0].Output", "Type": "String"}],
    }
    step.update(extra)
    return step


INSTANCE = {"InstanceId": {"type": "String"}}


def by_name(execution: dict) -> dict[str, dict]:
    return {s["StepName"]: s for s in execution["StepExecutions"]}


def status(execution: dict) -> dict[str, str]:
    return {s["StepName"]: s["StepStatus"] for s in execution["StepExecutions"]}


# -- validation ----------------------------------------------------------------------------------------------------
def test_parameter_validation_errors_name_the_parameter(box, ssm):
    ssm.create_document(Content=CHECK_OS.read_text(), Name="check-os", DocumentType="Automation", DocumentFormat="YAML")
    before = ssm.describe_automation_executions()["AutomationExecutionMetadataList"]
    base = {"AutomationAssumeRole": [ADMIN_ROLE], "InstanceId": [iid(box, "linux-1")]}
    cases = [
        ({**base, "Bogus": ["x"]}, "InvalidAutomationExecutionParametersException", "Bogus"),
        ({"AutomationAssumeRole": [ADMIN_ROLE]}, "InvalidAutomationExecutionParametersException", "InstanceId"),
        ({**base, "CheckHostname": ["maybe"]}, "InvalidAutomationExecutionParametersException", "maybe"),
        (
            {**base, "CheckHostname": ["check", "skip"]},
            "InvalidAutomationExecutionParametersException",
            "CheckHostname",
        ),
    ]
    for params, code, named in cases:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            ssm.start_automation_execution(DocumentName="check-os", Parameters=params)
        assert err.value.response["Error"]["Code"] == code
        assert named in err.value.response["Error"]["Message"]
    patterned = create(
        ssm,
        runbook(
            [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}],
            {"Env": {"type": "String", "allowedPattern": "^(dev|prod)$"}},
        ),
    )
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ssm.start_automation_execution(DocumentName=patterned, Parameters={"Env": ["prod; rm -rf /"]})
    assert err.value.response["Error"]["Code"] == "InvalidAutomationExecutionParametersException"
    assert "^(dev|prod)$" in err.value.response["Error"]["Message"]
    # nothing was started by any rejected call
    assert ssm.describe_automation_executions()["AutomationExecutionMetadataList"] == before


def test_document_and_version_not_found(ssm):
    with pytest.raises(ssm.exceptions.AutomationDefinitionNotFoundException):
        ssm.start_automation_execution(DocumentName="no-such-runbook")
    name = create(ssm, runbook([{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]))
    with pytest.raises(ssm.exceptions.AutomationDefinitionVersionNotFoundException):
        ssm.start_automation_execution(DocumentName=name, DocumentVersion="9")
    with pytest.raises(ssm.exceptions.AutomationDefinitionNotFoundException):
        ssm.start_automation_execution(DocumentName="AWS-RunShellScript")  # a Command document


def test_api_limits_answer_validation_exception(box, ssm):
    """AWS validates list sizes and patterns server side, answering ValidationException in the Coral format."""
    name = create(ssm, runbook([shell_step("s", ["true"])], INSTANCE))
    accounts = [f"{n:012d}" for n in range(51)]
    cases = [
        {"TargetLocations": [{"Accounts": accounts, "Regions": [REGION]}]},
        {"TargetLocations": [{"Accounts": [MEMBER_A], "Regions": [REGION] * 51}]},
        {"TargetLocations": [{"Accounts": [MEMBER_A], "Regions": [REGION], "ExcludeAccounts": ["not-an-account"]}]},
        {
            "MaxConcurrency": "0",
            "TargetParameterName": "InstanceId",
            "Targets": [{"Key": "tag:role", "Values": ["app"]}],
        },
        {"MaxErrors": "x", "TargetParameterName": "InstanceId", "Targets": [{"Key": "tag:role", "Values": ["app"]}]},
        {"Parameters": {"InstanceId": ["i" * 513]}},
        {"ClientToken": "not-a-uuid-at-all-not-a-uuid-at-all!"},
        {"Parameters": {"InstanceId": ["i-1"]}, "Tags": [{"Key": f"k{n}", "Value": "v"} for n in range(6)]},
    ]
    for extra in cases:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            ssm.start_automation_execution(DocumentName=name, **extra)
        assert err.value.response["Error"]["Code"] == "ValidationException", extra
        if "Tags" not in extra:
            assert "validation error detected: Value" in err.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ssm.start_automation_execution(DocumentName=name, **cases[0])
    assert (
        "at 'targetLocations.1.member.accounts' failed to satisfy constraint: Member must have length less than or equal to 50"
        in err.value.response["Error"]["Message"]
    )


def test_target_rules(ssm):
    name = create(ssm, runbook([shell_step("s", ["true"])], INSTANCE))
    two_tags = [{"Key": "tag:role", "Values": ["app"]}, {"Key": "tag:Env", "Values": ["prod"]}]
    with pytest.raises(
        ssm.exceptions.ClientError,
        match="at 'targets' failed to satisfy constraint: Member must have length less than or equal to 1",
    ):
        ssm.start_automation_execution(
            DocumentName=name, TargetParameterName="InstanceId", Targets=two_tags
        )  # one tag only
    with pytest.raises(ssm.exceptions.InvalidAutomationExecutionParametersException, match="TargetParameterName"):
        ssm.start_automation_execution(DocumentName=name, Targets=[{"Key": "tag:role", "Values": ["app"]}])
    with pytest.raises(
        ssm.exceptions.InvalidAutomationExecutionParametersException, match="can't be specified together"
    ):
        ssm.start_automation_execution(
            DocumentName=name,
            TargetParameterName="InstanceId",
            Targets=[{"Key": "tag:role", "Values": ["app"]}],
            TargetMaps=[{"InstanceId": ["i-1"]}],
        )
    with pytest.raises(ssm.exceptions.InvalidTarget):
        ssm.start_automation_execution(
            DocumentName=name,
            TargetParameterName="InstanceId",
            Targets=[{"Key": "tag:role", "Values": ["app"]}],
            TargetLocations=[{"Accounts": ["ou-eapi-nosuchou1"], "Regions": [REGION]}],
        )


# -- idempotency ---------------------------------------------------------------------------------------------------
def test_client_token_returns_the_same_execution_and_rejects_other_input(box, ssm):
    name = create(ssm, runbook([shell_step("s", ["true"])], INSTANCE))
    token = str(uuid.uuid4())
    first = ssm.start_automation_execution(
        DocumentName=name, Parameters={"InstanceId": [iid(box, "linux-1")]}, ClientToken=token
    )
    again = ssm.start_automation_execution(
        DocumentName=name, Parameters={"InstanceId": [iid(box, "linux-1")]}, ClientToken=token.upper()
    )
    assert again["AutomationExecutionId"] == first["AutomationExecutionId"]  # tokens are case-insensitive
    with pytest.raises(ssm.exceptions.IdempotentParameterMismatch):
        ssm.start_automation_execution(
            DocumentName=name, Parameters={"InstanceId": [iid(box, "linux-2")]}, ClientToken=token
        )
    listed = ssm.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": [name]}])[
        "AutomationExecutionMetadataList"
    ]
    assert len(listed) == 1


# -- control flow --------------------------------------------------------------------------------------------------
def test_yum_update_exit_100_fails_check_update_and_leaves_later_steps_pending(box, ssm):
    """The seed runbook on a host with updates: Failed at CheckUpdate, CheckNTP Pending (seed article)."""
    name = create(
        ssm,
        runbook(
            [
                shell_step("First", ["echo first"], onFailure="Abort", nextStep="Update"),
                shell_step("Update", ["exit 100"], onFailure="Abort", nextStep="Last"),
                shell_step("Last", ["echo last"], isEnd=True),
            ],
            INSTANCE,
        ),
    )
    ex = start_and_wait(ssm, DocumentName=name, Parameters={"InstanceId": [iid(box, "linux-1")]})
    assert ex["AutomationExecutionStatus"] == "Failed"
    assert status(ex) == {"First": "Success", "Update": "Failed", "Last": "Pending"}
    assert "ResponseCode=[100]" in ex["FailureMessage"]
    assert by_name(ex)["Update"]["FailureMessage"] == ex["FailureMessage"]


def test_on_failure_continue_runs_later_steps_and_ends_success_unless_critical(box, ssm):
    """onFailure Continue: later steps run; the execution ends Success (the seed article's description of AWS),
    unless the failed step set isCritical: true explicitly (User Guide: "only evaluated if you explicitly define
    it"), then Failed."""
    steps = [shell_step("Fails", ["exit 3"], onFailure="Continue"), shell_step("After", ["echo after"])]
    name = create(ssm, runbook(steps, INSTANCE))
    ex = start_and_wait(ssm, DocumentName=name, Parameters={"InstanceId": [iid(box, "linux-2")]})
    assert ex["AutomationExecutionStatus"] == "Success"
    assert status(ex) == {"Fails": "Failed", "After": "Success"}
    assert by_name(ex)["After"]["Outputs"]["Out"] == ["after\n"]

    steps[0]["isCritical"] = True
    name = create(ssm, runbook(steps, INSTANCE))
    ex = start_and_wait(ssm, DocumentName=name, Parameters={"InstanceId": [iid(box, "linux-2")]})
    assert ex["AutomationExecutionStatus"] == "Failed"
    assert status(ex) == {"Fails": "Failed", "After": "Success"}


def test_on_failure_step_jumps_and_max_attempts_retries(box, ssm):
    steps = [
        shell_step("Try", ["exit 1"], onFailure="step:Recover", maxAttempts=3),
        shell_step("Skipped", ["echo no"]),
        shell_step("Recover", ["echo recovered"], isEnd=True),
    ]
    name = create(ssm, runbook(steps, INSTANCE))
    target = iid(box, "linux-3")
    before = len(ssm.list_commands(InstanceId=target)["Commands"])
    ex = start_and_wait(ssm, DocumentName=name, Parameters={"InstanceId": [target]})
    assert ex["AutomationExecutionStatus"] == "Success"
    assert status(ex) == {"Try": "Failed", "Skipped": "Pending", "Recover": "Success"}
    assert by_name(ex)["Try"]["MaxAttempts"] == 3
    assert len(ssm.list_commands(InstanceId=target)["Commands"]) - before == 4  # 3 attempts + Recover


def test_timeouts_stopped_offline_and_slow_commands(box, ssm):
    """A stopped or offline instance never picks the command up, and a command that runs past timeoutSeconds:
    the step ends TimedOut after its timeoutSeconds (virtual), the execution TimedOut."""
    name = create(ssm, runbook([shell_step("Check", ["slow-task"], timeoutSeconds=10, onFailure="Abort")], INSTANCE))
    for instance in ("stopped", "offline", "chatty"):
        ex = start_and_wait(ssm, DocumentName=name, Parameters={"InstanceId": [iid(box, instance)]})
        step = by_name(ex)["Check"]
        assert (ex["AutomationExecutionStatus"], step["StepStatus"]) == ("TimedOut", "TimedOut"), instance
        assert 9.9 <= (step["ExecutionEndTime"] - step["ExecutionStartTime"]).total_seconds() < 11
        command_id = step["Outputs"]["CommandId"][0]
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=iid(box, instance))
        assert invocation["Status"] == "Cancelled"  # Automation cancels the command it stops waiting for


def test_unmanaged_instance_fails_at_once_with_invalid_instance_id(box, ssm):
    name = create(ssm, runbook([shell_step("Check", ["hostname"], timeoutSeconds=600)], INSTANCE))
    target = iid(box, "unmanaged")
    ex = start_and_wait(ssm, DocumentName=name, Parameters={"InstanceId": [target]})
    step = by_name(ex)["Check"]
    assert step["StepStatus"] == "Failed"
    assert (step["ExecutionEndTime"] - step["ExecutionStartTime"]).total_seconds() < 1
    assert f"Instances [[{target}]] not in a valid state for account {MGMT}" in step["FailureMessage"]
    assert "Error Code: InvalidInstanceId" in step["FailureMessage"]
    with pytest.raises(ssm.exceptions.InvalidInstanceId):
        ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[target], Parameters={"commands": ["hostname"]})


def test_branch_on_platform_type_linux_and_windows(box, ssm):
    """aws:executeAwsApi ssm:DescribeInstanceInformation -> PlatformType, then aws:branch to the platform's step."""
    doc = runbook(
        [
            {
                "name": "GetPlatform",
                "action": "aws:executeAwsApi",
                "inputs": {
                    "Service": "ssm",
                    "Api": "DescribeInstanceInformation",
                    "InstanceInformationFilterList": [{"key": "InstanceIds", "valueSet": ["{{ InstanceId }}"]}],
                },
                "outputs": [
                    {"Name": "PlatformType", "Selector": "$.InstanceInformationList[0].PlatformType", "Type": "String"}
                ],
            },
            {
                "name": "ChoosePlatform",
                "action": "aws:branch",
                "inputs": {
                    "Choices": [
                        {"NextStep": "Linux", "Variable": "{{ GetPlatform.PlatformType }}", "StringEquals": "Linux"},
                        {
                            "NextStep": "Windows",
                            "Variable": "{{ GetPlatform.PlatformType }}",
                            "StringEquals": "Windows",
                        },
                    ],
                    "Default": "Unknown",
                },
            },
            shell_step("Linux", ["hostname"], isEnd=True),
            {
                "name": "Windows",
                "action": "aws:runCommand",
                "isEnd": True,
                "inputs": {
                    "DocumentName": "AWS-RunPowerShellScript",
                    "InstanceIds": ["{{ InstanceId }}"],
                    "Parameters": {"commands": ["chcp 65001", "Get-WinSystemLocale"]},
                },
                "outputs": [{"Name": "Out", "Selector": "$.CommandPlugins[0].Output", "Type": "String"}],
            },
            {"name": "Unknown", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}},
        ],
        INSTANCE,
        outputs=["Linux.Out", "Windows.Out", "GetPlatform.PlatformType"],
    )
    name = create(ssm, doc)
    rate = ssm.start_automation_execution(
        DocumentName=name, TargetParameterName="InstanceId", Targets=[{"Key": "tag:role", "Values": ["mixed"]}]
    )
    parent = wait_terminal(ssm, rate["AutomationExecutionId"])
    assert parent["AutomationExecutionStatus"] == "Success"
    children = ssm.describe_automation_executions(
        Filters=[{"Key": "ParentExecutionId", "Values": [parent["AutomationExecutionId"]]}]
    )["AutomationExecutionMetadataList"]
    results = {
        c["Target"]: ssm.get_automation_execution(AutomationExecutionId=c["AutomationExecutionId"])[
            "AutomationExecution"
        ]
        for c in children
    }
    linux, windows = results[iid(box, "linux-mixed")], results[iid(box, "win-1")]
    assert status(linux) == {
        "GetPlatform": "Success",
        "ChoosePlatform": "Success",
        "Linux": "Success",
        "Windows": "Pending",
        "Unknown": "Pending",
    }
    assert status(windows) == {
        "GetPlatform": "Success",
        "ChoosePlatform": "Success",
        "Linux": "Pending",
        "Windows": "Success",
        "Unknown": "Pending",
    }
    assert linux["Outputs"]["GetPlatform.PlatformType"] == ["Linux"]
    assert windows["Outputs"]["GetPlatform.PlatformType"] == ["Windows"]
    assert "日本語 (日本)" in windows["Outputs"]["Windows.Out"][0]  # chcp 65001: UTF-8 output
    assert windows["Outputs"]["Linux.Out"] == ["No output available yet because the step is not successfully executed"]


def test_windows_output_is_garbled_without_chcp_65001(box, ssm):
    target = iid(box, "win-1")
    plain = ssm.send_command(
        DocumentName="AWS-RunPowerShellScript", InstanceIds=[target], Parameters={"commands": ["Get-WinSystemLocale"]}
    )["Command"]
    utf8 = ssm.send_command(
        DocumentName="AWS-RunPowerShellScript",
        InstanceIds=[target],
        Parameters={"commands": ["chcp 65001", "Get-WinSystemLocale"]},
    )["Command"]
    outs = {}
    for cmd in (plain, utf8):
        inv = wait_for(
            lambda c=cmd: (
                (r := ssm.get_command_invocation(CommandId=c["CommandId"], InstanceId=target))["Status"] == "Success"
                and r
            ),
            what="the PowerShell command",
        )
        outs[cmd["CommandId"]] = inv["StandardOutputContent"]
    assert "日本語" in outs[utf8["CommandId"]]
    assert "日本語" not in outs[plain["CommandId"]] and "\ufffd" in outs[plain["CommandId"]]
    with pytest.raises(ssm.exceptions.UnsupportedPlatformType):
        ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[target], Parameters={"commands": ["hostname"]})


def test_execute_aws_api_ec2_describe_instances_and_unsupported_actions(box, ssm):
    doc = runbook(
        [
            {
                "name": "State",
                "action": "aws:executeAwsApi",
                "inputs": {"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": ["{{ InstanceId }}"]},
                "outputs": [
                    {"Name": "State", "Selector": "$.Reservations[0].Instances[0].State.Name", "Type": "String"},
                    {"Name": "Tags", "Selector": "$.Reservations[0].Instances[0].Tags", "Type": "MapList"},
                ],
            },
            {
                "name": "Script",
                "action": "aws:executeScript",
                "inputs": {"Runtime": "python3.11", "Handler": "h", "Script": "def h(e, c): pass"},
            },
        ],
        INSTANCE,
    )
    name = create(ssm, doc)
    ex = start_and_wait(ssm, DocumentName=name, Parameters={"InstanceId": [iid(box, "stopped")]})
    steps = by_name(ex)
    assert steps["State"]["Outputs"]["State"] == ["stopped"]
    assert any('"role"' in t for t in steps["State"]["Outputs"]["Tags"])
    assert steps["Script"]["StepStatus"] == "Failed"
    assert "aws:executeScript is not supported by the sandbox" in steps["Script"]["FailureMessage"]


def test_parameters_types_and_automation_variables(box, ssm):
    params = {
        "InstanceId": {"type": "String"},
        "Lines": {"type": "StringList", "default": ["echo one", "echo two"]},
        "Count": {"type": "Integer", "default": 3},
        "Flag": {"type": "Boolean", "default": False},
        "Map": {"type": "StringMap", "default": {"k": "v"}},
    }
    steps = [
        shell_step("List", "{{ Lines }}"),
        shell_step(
            "Vars",
            [
                'echo "{{ automation:EXECUTION_ID }} {{ global:ACCOUNT_ID }} {{ global:REGION }} {{ Count }} {{ Flag }} {{ Map }} {{ List.Out }}"'
            ],
        ),
    ]
    steps[0]["inputs"]["Parameters"]["commands"] = "{{ Lines }}"
    name = create(ssm, runbook(steps, params, outputs=["Vars.Out"]))
    started = ssm.start_automation_execution(
        DocumentName=name, Parameters={"InstanceId": [iid(box, "linux-4")], "Flag": ["true"]}
    )
    ex = wait_terminal(ssm, started["AutomationExecutionId"])
    assert ex["AutomationExecutionStatus"] == "Success"
    assert by_name(ex)["List"]["Outputs"]["Out"] == ["one\ntwo\n"]
    out = ex["Outputs"]["Vars.Out"][0]
    assert out.startswith(f"{started['AutomationExecutionId']} {MGMT} {REGION} 3 true ")
    assert "{k: v}" in out and "one\ntwo" in out  # {"k": "v"} inside bash double quotes loses its quotes
    assert ex["Parameters"]["Lines"] == ["echo one", "echo two"] and ex["Parameters"]["Flag"] == ["true"]
    inputs = by_name(ex)["List"]["Inputs"]
    assert json.loads(inputs["Parameters"]) == {"commands": ["echo one", "echo two"]}


# -- output caps -----------------------------------------------------------------------------------------------------
def test_output_caps_2500_24000_8000(box, ssm):
    target = iid(box, "chatty")
    name = create(ssm, runbook([shell_step("Talk", ["chatty"])], INSTANCE, outputs=["Talk.Out"]))
    ex = start_and_wait(ssm, DocumentName=name, Parameters={"InstanceId": [target]})
    step = by_name(ex)["Talk"]
    assert len(step["Outputs"]["Out"][0]) == 2500 and len(step["Outputs"]["Output"][0]) == 2500
    assert len(ex["Outputs"]["Talk.Out"][0]) == 2500
    command_id = step["Outputs"]["CommandId"][0]
    inv = ssm.get_command_invocation(CommandId=command_id, InstanceId=target)
    assert (len(inv["StandardOutputContent"]), len(inv["StandardErrorContent"])) == (24000, 8000)
    listed = ssm.list_command_invocations(CommandId=command_id, Details=True)["CommandInvocations"]
    assert len(listed[0]["CommandPlugins"][0]["Output"]) == 2500
    assert listed[0]["Comment"] == f"{ex['AutomationExecutionId']}:{step['StepExecutionId']}"


def test_local_shell_runs_for_real(box, ssm):
    target = iid(box, "local")
    cmd = ssm.send_command(
        DocumentName="AWS-RunShellScript",
        InstanceIds=[target],
        Parameters={"commands": ["seq 1 20000", "echo $AWS_SSM_INSTANCE_ID >&2"]},
    )["Command"]
    inv = wait_for(
        lambda: (
            (r := ssm.get_command_invocation(CommandId=cmd["CommandId"], InstanceId=target))["Status"] == "Success"
            and r
        ),
        what="local shell",
    )
    assert inv["StandardOutputContent"].startswith("1\n2\n3\n") and len(inv["StandardOutputContent"]) == 24000
    assert inv["StandardErrorContent"] == f"{target}\n"


# -- rate control, stop --------------------------------------------------------------------------------------------
def test_max_errors_stops_starting_targets(box, ssm):
    """MaxErrors 1 with MaxConcurrency 1: the second error stops the rest; targets never started stay Pending and
    get no execution (User Guide, "About concurrency and error thresholds")."""
    name = create(ssm, runbook([shell_step("Fail", ["exit 1"])], INSTANCE))
    started = ssm.start_automation_execution(
        DocumentName=name,
        TargetParameterName="InstanceId",
        Targets=[{"Key": "tag:role", "Values": ["app"]}],
        MaxConcurrency="1",
        MaxErrors="1",
    )
    parent = wait_terminal(ssm, started["AutomationExecutionId"])
    assert parent["AutomationExecutionStatus"] == "Failed"
    assert (parent["MaxConcurrency"], parent["MaxErrors"]) == ("1", "1")
    apps = {i.instance_id for i in box.world.instances_in(MGMT, REGION) if i.tags.get("role") == "app"}
    assert set(parent["ResolvedTargets"]["ParameterValues"]) == apps
    assert sorted(status(parent).values()) == ["Failed", "Failed"] + ["Pending"] * (len(apps) - 2)
    children = ssm.describe_automation_executions(
        Filters=[{"Key": "ParentExecutionId", "Values": [parent["AutomationExecutionId"]]}]
    )["AutomationExecutionMetadataList"]
    assert len(children) == 2


def test_stop_cancels_the_whole_tree(box, ssm):
    name = create(
        ssm,
        runbook(
            [{"name": "Wait", "action": "aws:sleep", "inputs": {"Duration": "PT1H"}}, shell_step("Never", ["true"])],
            INSTANCE,
            assume_role=True,
        ),
    )
    started = ssm.start_automation_execution(
        DocumentName=name,
        Parameters={"AutomationAssumeRole": [ADMIN_ROLE]},
        TargetParameterName="InstanceId",
        Targets=[{"Key": "tag:role", "Values": ["app"]}],
        TargetLocations=[
            {
                "Accounts": [OU],
                "IncludeChildOrganizationUnits": True,
                "Regions": [REGION],
                "TargetLocationMaxConcurrency": "2",
            }
        ],
    )
    parent_id = started["AutomationExecutionId"]
    members = {a: box.checked.client("ssm", region=REGION, account=a) for a in (MEMBER_A, MEMBER_B)}

    def all_sleeping():
        parent = ssm.get_automation_execution(AutomationExecutionId=parent_id)["AutomationExecution"]
        ids = {
            s["TargetLocation"]["Accounts"][0]: s.get("Outputs", {}).get("ExecutionId", [None])[0]
            for s in parent["StepExecutions"]
        }
        if None in ids.values():
            return None
        for account, lid in ids.items():
            kids = members[account].describe_automation_executions(
                Filters=[{"Key": "ParentExecutionId", "Values": [lid]}]
            )["AutomationExecutionMetadataList"]
            if not kids or any(k.get("CurrentStepName") != "Wait" for k in kids):
                return None
        return ids

    locations = wait_for(all_sleeping, what="every instance execution to be in its sleep step")
    ssm.stop_automation_execution(AutomationExecutionId=parent_id, Type="Cancel")
    assert ssm.get_automation_execution(AutomationExecutionId=parent_id)["AutomationExecution"][
        "AutomationExecutionStatus"
    ] in ("Cancelling", "Cancelled")
    parent = wait_terminal(ssm, parent_id)
    assert parent["AutomationExecutionStatus"] == "Cancelled"
    assert {s["StepStatus"] for s in parent["StepExecutions"]} == {"Cancelled"}
    for account, lid in locations.items():
        location = wait_terminal(members[account], lid)
        assert location["AutomationExecutionStatus"] == "Cancelled"
        for kid in members[account].describe_automation_executions(
            Filters=[{"Key": "ParentExecutionId", "Values": [lid]}]
        )["AutomationExecutionMetadataList"]:
            ex = wait_terminal(members[account], kid["AutomationExecutionId"])
            assert ex["AutomationExecutionStatus"] == "Cancelled"
            assert status(ex) == {"Wait": "Cancelled", "Never": "Pending"}
    with pytest.raises(ssm.exceptions.InvalidAutomationStatusUpdateException):
        ssm.stop_automation_execution(AutomationExecutionId=parent_id)
    with pytest.raises(ssm.exceptions.AutomationExecutionNotFoundException):
        ssm.stop_automation_execution(AutomationExecutionId=locations[MEMBER_A])  # a member's execution: invisible here


# -- Run Command, instance information ------------------------------------------------------------------------------
def test_run_command_records(box, ssm):
    target, offline = iid(box, "linux-5"), iid(box, "offline")
    cmd = ssm.send_command(
        DocumentName="AWS-RunShellScript",
        InstanceIds=[target, offline],
        Parameters={"commands": ["hostname", "nosuchcmd"]},
        Comment="records",
    )["Command"]
    assert cmd["Status"] == "Pending" and cmd["TargetCount"] == 2
    inv = wait_for(
        lambda: (
            (r := ssm.get_command_invocation(CommandId=cmd["CommandId"], InstanceId=target))["Status"] == "Failed" and r
        ),
        what="invocation",
    )
    assert inv["ResponseCode"] == 127
    assert inv["StandardOutputContent"].startswith("ip-10-")
    assert "nosuchcmd: command not found" in inv["StandardErrorContent"]
    assert inv["StandardErrorContent"].rstrip().endswith("failed to run commands: exit status 127")
    assert inv["ExecutionElapsedTime"].startswith("PT") and inv["ExecutionStartDateTime"].endswith("Z")
    pending = ssm.get_command_invocation(CommandId=cmd["CommandId"], InstanceId=offline)
    assert pending["Status"] == "Pending"
    listed = ssm.list_commands(CommandId=cmd["CommandId"])["Commands"][0]
    assert (listed["Status"], listed["CompletedCount"], listed["Comment"]) == ("InProgress", 1, "records")
    ssm.cancel_command(CommandId=cmd["CommandId"])
    assert ssm.get_command_invocation(CommandId=cmd["CommandId"], InstanceId=offline)["Status"] == "Cancelled"
    invocations = ssm.list_command_invocations(CommandId=cmd["CommandId"])["CommandInvocations"]
    assert {i["InstanceId"]: i["Status"] for i in invocations} == {target: "Failed", offline: "Cancelled"}
    assert all(i["CommandPlugins"] == [] for i in invocations)  # without Details
    with pytest.raises(ssm.exceptions.InvocationDoesNotExist):
        ssm.get_command_invocation(CommandId=cmd["CommandId"], InstanceId=iid(box, "linux-1"))
    with pytest.raises(ssm.exceptions.InvalidCommandId):
        ssm.list_commands(CommandId=str(uuid.uuid4()))


def test_send_command_by_tag_targets_managed_nodes_only(box, ssm):
    cmd = ssm.send_command(
        DocumentName="AWS-RunShellScript",
        Targets=[{"Key": "tag:role", "Values": ["off", "unmanaged"]}],
        Parameters={"commands": ["hostname"]},
        TimeoutSeconds=30,
    )["Command"]
    assert (cmd["InstanceIds"], cmd["TargetCount"]) == ([], 2)
    invocations = ssm.list_command_invocations(CommandId=cmd["CommandId"])["CommandInvocations"]
    assert {i["InstanceId"] for i in invocations} == {iid(box, "stopped"), iid(box, "offline")}
    # nobody picks it up: the delivery timeout (TimeoutSeconds) ends it TimedOut / DeliveryTimedOut
    done = wait_for(
        lambda: (c := ssm.list_commands(CommandId=cmd["CommandId"])["Commands"][0])["Status"] == "TimedOut" and c,
        what="delivery timeout",
    )
    assert (done["DeliveryTimedOutCount"], done["ErrorCount"]) == (2, 2)
    inv = ssm.get_command_invocation(CommandId=cmd["CommandId"], InstanceId=iid(box, "stopped"))
    assert (inv["Status"], inv["StatusDetails"]) == ("TimedOut", "DeliveryTimedOut")


def test_describe_instance_information(box, ssm):
    info = []
    for page in ssm.get_paginator("describe_instance_information").paginate(PaginationConfig={"PageSize": 5}):
        info.extend(page["InstanceInformationList"])
    by_id = {i["InstanceId"]: i for i in info}
    managed = {i.instance_id for i in box.world.instances_in(MGMT, REGION) if i.managed}
    assert set(by_id) == managed  # the unmanaged instance is not a managed node
    assert by_id[iid(box, "stopped")]["PingStatus"] == "ConnectionLost"
    assert by_id[iid(box, "offline")]["PingStatus"] == "ConnectionLost"
    assert by_id[iid(box, "linux-1")]["PingStatus"] == "Online"
    assert by_id[iid(box, "win-1")]["PlatformType"] == "Windows"
    windows = ssm.describe_instance_information(Filters=[{"Key": "PlatformTypes", "Values": ["Windows"]}])[
        "InstanceInformationList"
    ]
    assert [w["InstanceId"] for w in windows] == [iid(box, "win-1")]


# -- describe, pagination, visibility -------------------------------------------------------------------------------
def test_describe_pagination_and_filters(box, ssm):
    name = create(ssm, runbook([shell_step("S", ["true"])], INSTANCE))
    values = [iid(box, n) for n in ("linux-1", "linux-2", "linux-3", "linux-4", "linux-5")] * 3
    started = ssm.start_automation_execution(
        DocumentName=name,
        TargetParameterName="InstanceId",
        Targets=[{"Key": "ParameterValues", "Values": values}],
        MaxConcurrency="100%",
    )
    parent = wait_terminal(ssm, started["AutomationExecutionId"])
    assert len(parent["ResolvedTargets"]["ParameterValues"]) == 5  # duplicates resolve once
    pages, seen = 0, []
    for page in ssm.get_paginator("describe_automation_executions").paginate(
        Filters=[{"Key": "ParentExecutionId", "Values": [parent["AutomationExecutionId"]]}],
        PaginationConfig={"PageSize": 2},
    ):
        pages += 1
        seen.extend(m["AutomationExecutionId"] for m in page["AutomationExecutionMetadataList"])
    assert pages == 3 and len(set(seen)) == 5
    local = ssm.describe_automation_executions(
        Filters=[{"Key": "AutomationType", "Values": ["Local"]}, {"Key": "DocumentNamePrefix", "Values": [name]}]
    )
    assert len(local["AutomationExecutionMetadataList"]) == 6
    success = ssm.describe_automation_executions(
        Filters=[{"Key": "ExecutionStatus", "Values": ["Success"]}, {"Key": "DocumentNamePrefix", "Values": [name]}]
    )
    assert len(success["AutomationExecutionMetadataList"]) == 6
    with pytest.raises(ssm.exceptions.InvalidNextToken):
        ssm.describe_automation_executions(NextToken="garbage")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ssm.describe_automation_executions(Filters=[{"Key": "ExecutionStatus", "Values": ["Bogus"]}])
    assert err.value.response["Error"]["Code"] == "InvalidFilterValue"
    steps = ssm.describe_automation_step_executions(AutomationExecutionId=parent["AutomationExecutionId"], MaxResults=2)
    assert len(steps["StepExecutions"]) == 2 and "NextToken" in steps
    failed = ssm.describe_automation_step_executions(
        AutomationExecutionId=parent["AutomationExecutionId"],
        Filters=[{"Key": "StepExecutionStatus", "Values": ["Failed"]}],
    )
    assert failed["StepExecutions"] == []


def test_member_executions_are_visible_only_to_their_account(box, ssm):
    name = create(ssm, runbook([shell_step("S", ["hostname"])], INSTANCE, assume_role=True))
    started = ssm.start_automation_execution(
        DocumentName=name,
        Parameters={"AutomationAssumeRole": [ADMIN_ROLE]},
        TargetParameterName="InstanceId",
        Targets=[{"Key": "tag:role", "Values": ["app"]}],
        TargetLocations=[{"Accounts": [MEMBER_A], "Regions": [REGION]}],
    )
    parent = wait_terminal(ssm, started["AutomationExecutionId"])
    assert parent["AutomationExecutionStatus"] == "Success"
    location_id = parent["StepExecutions"][0]["Outputs"]["ExecutionId"][0]
    member = box.checked.client("ssm", region=REGION, account=MEMBER_A)
    other = box.checked.client("ssm", region=REGION, account=MEMBER_B)
    assert (
        member.get_automation_execution(AutomationExecutionId=location_id)["AutomationExecution"][
            "AutomationExecutionStatus"
        ]
        == "Success"
    )
    for client in (ssm, other):
        with pytest.raises(client.exceptions.AutomationExecutionNotFoundException):
            client.get_automation_execution(AutomationExecutionId=location_id)
        assert (
            client.describe_automation_executions(Filters=[{"Key": "ParentExecutionId", "Values": [location_id]}])[
                "AutomationExecutionMetadataList"
            ]
            == []
        )
    kids = member.describe_automation_executions(Filters=[{"Key": "ParentExecutionId", "Values": [location_id]}])[
        "AutomationExecutionMetadataList"
    ]
    assert {k["Target"] for k in kids} == {iid(box, "a-1"), iid(box, "a-2")}
    assert all(
        k["ExecutedBy"].startswith(f"arn:aws:sts::{MEMBER_A}:assumed-role/AWS-SystemsManager-AutomationExecutionRole/")
        for k in kids
    )


def test_assume_role_that_cannot_be_assumed_fails_the_execution(box, ssm):
    name = create(ssm, runbook([shell_step("S", ["hostname"])], INSTANCE, assume_role=True))
    started = ssm.start_automation_execution(
        DocumentName=name,
        Parameters={
            "InstanceId": [iid(box, "linux-1")],
            "AutomationAssumeRole": [f"arn:aws:iam::{MGMT}:role/NoSuchRole"],
        },
    )
    ex = wait_terminal(ssm, started["AutomationExecutionId"])
    assert ex["AutomationExecutionStatus"] == "Failed"
    assert ex["FailureMessage"] == "The defined assume role is unable to be assumed."
    assert status(ex) == {"S": "Pending"}


# -- targeting details -----------------------------------------------------------------------------------------------
def test_ou_expansion_children_and_exclusions(box, ssm):
    """IncludeChildOrganizationUnits false: only accounts directly under the OU; ExcludeAccounts (accounts or OUs)
    applies after expansion; the root includes the management account (API reference, TargetLocation)."""
    name = create(ssm, runbook([shell_step("S", ["true"])], INSTANCE, assume_role=True))

    def accounts(**loc) -> set[str]:
        parent = start_and_wait(
            ssm,
            DocumentName=name,
            Parameters={"AutomationAssumeRole": [ADMIN_ROLE]},
            TargetParameterName="InstanceId",
            Targets=[{"Key": "tag:role", "Values": ["app"]}],
            TargetLocations=[{"Regions": [REGION], "TargetLocationMaxConcurrency": "100%", **loc}],
        )
        return {s["TargetLocation"]["Accounts"][0] for s in parent["StepExecutions"]}

    assert accounts(Accounts=[OU]) == {MEMBER_A}
    assert accounts(Accounts=[OU], IncludeChildOrganizationUnits=True) == {MEMBER_A, MEMBER_B}
    assert accounts(Accounts=[OU], IncludeChildOrganizationUnits=True, ExcludeAccounts=[MEMBER_A]) == {MEMBER_B}
    assert accounts(Accounts=[OU], IncludeChildOrganizationUnits=True, ExcludeAccounts=[CHILD_OU]) == {MEMBER_A}
    assert accounts(Accounts=["r-eapi"], IncludeChildOrganizationUnits=True) == {MGMT, MEMBER_A, MEMBER_B}
    assert accounts(Accounts=[MEMBER_B, OU]) == {MEMBER_B, MEMBER_A}


def test_location_targets_and_rate_control_take_precedence(box, ssm):
    """TargetLocation.Targets / TargetsMaxConcurrency / TargetsMaxErrors take precedence over the top-level ones."""
    name = create(ssm, runbook([shell_step("S", ["hostname"])], INSTANCE, assume_role=True))
    a1 = iid(box, "a-1")
    parent = start_and_wait(
        ssm,
        DocumentName=name,
        Parameters={"AutomationAssumeRole": [ADMIN_ROLE]},
        TargetParameterName="InstanceId",
        Targets=[{"Key": "tag:role", "Values": ["app"]}],
        MaxConcurrency="5",
        TargetLocations=[
            {
                "Accounts": [MEMBER_A],
                "Regions": [REGION],
                "Targets": [{"Key": "ParameterValues", "Values": [a1]}],
                "TargetsMaxConcurrency": "1",
                "TargetsMaxErrors": "2",
            }
        ],
    )
    member = box.checked.client("ssm", region=REGION, account=MEMBER_A)
    location = member.get_automation_execution(
        AutomationExecutionId=parent["StepExecutions"][0]["Outputs"]["ExecutionId"][0]
    )["AutomationExecution"]
    assert location["ResolvedTargets"]["ParameterValues"] == [a1]
    assert location["Targets"] == [{"Key": "ParameterValues", "Values": [a1]}]
    assert (location["MaxConcurrency"], location["MaxErrors"]) == ("1", "2")


def test_target_maps_resource_groups_and_tags(box, ssm):
    name = create(ssm, runbook([shell_step("S", ["hostname"])], INSTANCE))
    maps = start_and_wait(
        ssm,
        DocumentName=name,
        TargetMaps=[{"InstanceId": [iid(box, "linux-1")]}, {"InstanceId": [iid(box, "linux-2")]}],
        Tags=[{"Key": "team", "Value": "ops"}],
    )
    assert maps["AutomationExecutionStatus"] == "Success" and len(maps["StepExecutions"]) == 2
    kids = ssm.describe_automation_executions(
        Filters=[{"Key": "ParentExecutionId", "Values": [maps["AutomationExecutionId"]]}]
    )["AutomationExecutionMetadataList"]
    params = {
        ssm.get_automation_execution(AutomationExecutionId=k["AutomationExecutionId"])["AutomationExecution"][
            "Parameters"
        ]["InstanceId"][0]
        for k in kids
    }
    assert params == {iid(box, "linux-1"), iid(box, "linux-2")}
    tagged = ssm.describe_automation_executions(Filters=[{"Key": "TagKey", "Values": ["team"]}])[
        "AutomationExecutionMetadataList"
    ]
    assert [t["AutomationExecutionId"] for t in tagged] == [maps["AutomationExecutionId"]]

    rg = box.client("resource-groups", region=REGION)
    query = {"ResourceTypeFilters": ["AWS::EC2::Instance"], "TagFilters": [{"Key": "role", "Values": ["mixed"]}]}
    rg.create_group(Name="mixed-fleet", ResourceQuery={"Type": "TAG_FILTERS_1_0", "Query": json.dumps(query)})
    grouped = start_and_wait(
        ssm,
        DocumentName=name,
        TargetParameterName="InstanceId",
        Targets=[{"Key": "ResourceGroup", "Values": ["mixed-fleet"]}],
    )
    assert set(grouped["ResolvedTargets"]["ParameterValues"]) == {iid(box, "win-1"), iid(box, "linux-mixed")}
    by_group = ssm.describe_automation_executions(Filters=[{"Key": "TargetResourceGroup", "Values": ["mixed-fleet"]}])[
        "AutomationExecutionMetadataList"
    ]
    assert [g["AutomationExecutionId"] for g in by_group] == [grouped["AutomationExecutionId"]]

    start = grouped["ExecutionStartTime"]
    after = ssm.describe_automation_executions(
        Filters=[
            {"Key": "StartTimeAfter", "Values": [(start - datetime.timedelta(seconds=1)).isoformat()]},
            {"Key": "DocumentNamePrefix", "Values": [name]},
        ]
    )["AutomationExecutionMetadataList"]
    assert grouped["AutomationExecutionId"] in {a["AutomationExecutionId"] for a in after}
    before = ssm.describe_automation_executions(
        Filters=[
            {"Key": "StartTimeBefore", "Values": [(start - datetime.timedelta(seconds=1)).isoformat()]},
            {"Key": "DocumentNamePrefix", "Values": [name]},
        ]
    )["AutomationExecutionMetadataList"]
    assert grouped["AutomationExecutionId"] not in {b["AutomationExecutionId"] for b in before}


def test_shared_document_by_arn_and_latest_version(box, ssm):
    """A runbook shared by the management account runs in a member account by ARN (User Guide, "Using shared SSM
    documents"); unshared, the member gets AutomationDefinitionNotFoundException."""
    name = create(ssm, runbook([shell_step("S", ["echo v1"])], INSTANCE))
    ssm.update_document(
        Content=json.dumps(runbook([shell_step("S", ["echo v2"])], INSTANCE)),
        Name=name,
        DocumentVersion="$LATEST",
        DocumentFormat="JSON",
    )
    ssm.modify_document_permission(Name=name, PermissionType="Share", AccountIdsToAdd=[MEMBER_A])
    arn = f"arn:aws:ssm:{REGION}:{MGMT}:document/{name}"
    member = box.checked.client("ssm", region=REGION, account=MEMBER_A)
    ex = start_and_wait(
        member, DocumentName=arn, DocumentVersion="$LATEST", Parameters={"InstanceId": [iid(box, "a-1")]}
    )
    assert (ex["AutomationExecutionStatus"], ex["DocumentVersion"]) == ("Success", "2")
    assert by_name(ex)["S"]["Outputs"]["Out"] == ["v2\n"]
    assert (
        start_and_wait(member, DocumentName=arn, Parameters={"InstanceId": [iid(box, "a-1")]})["DocumentVersion"] == "1"
    )  # $DEFAULT
    other = box.checked.client("ssm", region=REGION, account=MEMBER_B)
    with pytest.raises(other.exceptions.AutomationDefinitionNotFoundException):
        other.start_automation_execution(DocumentName=arn, Parameters={"InstanceId": [iid(box, "b-1")]})


def test_on_cancel_runs_the_cleanup_step(box, ssm):
    doc = runbook(
        [
            {"name": "Wait", "action": "aws:sleep", "onCancel": "step:Cleanup", "inputs": {"Duration": "PT1H"}},
            shell_step("Never", ["true"]),
            shell_step("Cleanup", ["echo cleaned up"], isEnd=True),
        ],
        INSTANCE,
    )
    name = create(ssm, doc)
    execution_id = ssm.start_automation_execution(DocumentName=name, Parameters={"InstanceId": [iid(box, "linux-5")]})[
        "AutomationExecutionId"
    ]
    wait_for(
        lambda: (
            ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"].get(
                "CurrentStepName"
            )
            == "Wait"
        ),
        what="the sleep step",
    )
    ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    ex = wait_terminal(ssm, execution_id)
    assert ex["AutomationExecutionStatus"] == "Cancelled"
    assert status(ex) == {"Wait": "Cancelled", "Never": "Pending", "Cleanup": "Success"}
    assert by_name(ex)["Cleanup"]["Outputs"]["Out"] == ["cleaned up\n"]


def test_assert_and_wait_for_resource_property_and_parameter_store(box, ssm):
    box.client("ssm", region=REGION).put_parameter(
        Name="/engine/greeting", Value="hello from parameter store", Type="String"
    )
    check = {
        "Service": "ec2",
        "Api": "DescribeInstances",
        "InstanceIds": ["{{ InstanceId }}"],
        "PropertySelector": "$.Reservations[0].Instances[0].State.Name",
        "DesiredValues": ["running"],
    }
    doc = runbook(
        [
            {"name": "Running", "action": "aws:assertAwsResourceProperty", "onFailure": "Continue", "inputs": check},
            {
                "name": "WaitRunning",
                "action": "aws:waitForAwsResourceProperty",
                "timeoutSeconds": 40,
                "onFailure": "Continue",
                "inputs": check,
            },
            shell_step("Greet", ["echo {{ ssm:/engine/greeting }}"], timeoutSeconds=10),
        ],
        INSTANCE,
    )
    name = create(ssm, doc)
    up = start_and_wait(ssm, DocumentName=name, Parameters={"InstanceId": [iid(box, "linux-1")]})
    assert status(up) == {"Running": "Success", "WaitRunning": "Success", "Greet": "Success"}
    assert by_name(up)["Greet"]["Outputs"]["Out"] == ["hello from parameter store\n"]
    down = start_and_wait(ssm, DocumentName=name, Parameters={"InstanceId": [iid(box, "stopped")]})
    assert (
        status(down)["Running"] == "Failed"
        and "expected one of ['running']" in by_name(down)["Running"]["FailureMessage"]
    )
    assert status(down)["WaitRunning"] == "TimedOut"
    wait = by_name(down)["WaitRunning"]
    assert 39.9 <= (wait["ExecutionEndTime"] - wait["ExecutionStartTime"]).total_seconds() < 41
