"""The seed's CloudFormation steps, run verbatim through the real AWS CLI (.venv/bin/aws) against the sandbox.

The seed (../shared/seed, article section "CloudFormationでIAMロール作成") creates, from the management account:
1. the stack AWS-SystemsManager-AutomationAdministrationRole from the admin-role template;
2. the StackSet AWS-SystemsManager-AutomationExecutionRole, SERVICE_MANAGED permissions, parameters AdminAccountId
   and OrganizationID, deployment target an OU, region Tokyo (auto-deployment on, the console's default);
3. later, the stack AWS-SystemsManager-AutomationExecutionRole-org in the management account (same template).
The console steps are written here as the equivalent CLI commands; only ids and --endpoint-url are filled in.
The roles must then exist in every account below the OU, at every depth, and not in the management account.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import botocore.exceptions
import pytest
import yaml

from sandbox.world import DEMO_WORLD

SEED = Path("/work/shared/seed")
TEMPLATES = (
    SEED
    if (SEED / "admin-role.yml").exists()
    else Path(__file__).resolve().parents[2] / "roles" / "execution_roles" / "files"
)
AWS = str(Path(sys.executable).parent / "aws")
MGMT = "111122223333"
ORG = "o-o2pkexample"
UNDER_WORKLOADS = [
    "666677778888",
    "333344445555",
    "777788889999",
    "444455556666",
    "222233334444",
]  # depth 1, 2, 2, 2, 3
OUTSIDE = ["555566667777"]  # Security OU
EXEC_ROLE = "AWS-SystemsManager-AutomationExecutionRole"


@pytest.fixture
def bare_org(sandbox_factory):
    """The demo organization without any automation role: the state before the seed's steps."""
    world = yaml.safe_load(DEMO_WORLD.read_text())
    world.pop("automation_roles", None)
    return sandbox_factory(world, name="seedcli")


def aws(sb, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({k: v for k, v in sb.env.items() if k != "AWS_SESSION_TOKEN"})
    env["AWS_DEFAULT_REGION"] = "ap-northeast-1"
    proc = subprocess.run(
        [AWS, "--endpoint-url", sb.endpoint, "--output", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"aws {' '.join(args)} failed: {proc.stderr}"
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


def role_exists(sb, account: str) -> bool:
    try:
        sb.client("iam", account=account if account != MGMT else None).get_role(RoleName=EXEC_ROLE)
        return True
    except botocore.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchEntity"
        return False


def test_seed_cloudformation_steps_through_the_aws_cli(bare_org):
    sb = bare_org
    admin = f"file://{TEMPLATES / 'admin-role.yml'}"
    execution = f"file://{TEMPLATES / 'execution-role.yml'}"
    params = [f"ParameterKey=AdminAccountId,ParameterValue={MGMT}", f"ParameterKey=OrganizationID,ParameterValue={ORG}"]

    # 1. The administration role stack in the management account.
    out = aws(
        sb,
        "cloudformation",
        "create-stack",
        "--stack-name",
        "AWS-SystemsManager-AutomationAdministrationRole",
        "--template-body",
        admin,
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
    )
    assert out["StackId"].startswith(
        "arn:aws:cloudformation:ap-northeast-1:111122223333:stack/AWS-SystemsManager-AutomationAdministrationRole/"
    )
    stack = aws(
        sb, "cloudformation", "describe-stacks", "--stack-name", "AWS-SystemsManager-AutomationAdministrationRole"
    )["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"

    # 2. The execution role StackSet, service-managed, deployed to an OU in Tokyo.
    out = aws(
        sb,
        "cloudformation",
        "create-stack-set",
        "--stack-set-name",
        EXEC_ROLE,
        "--template-body",
        execution,
        "--parameters",
        *params,
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
        "--permission-model",
        "SERVICE_MANAGED",
        "--auto-deployment",
        "Enabled=true,RetainStacksOnAccountRemoval=false",
    )
    assert out["StackSetId"].startswith(f"{EXEC_ROLE}:")
    op = aws(
        sb,
        "cloudformation",
        "create-stack-instances",
        "--stack-set-name",
        EXEC_ROLE,
        "--deployment-targets",
        "OrganizationalUnitIds=ou-o2pk-wrkloads",
        "--regions",
        "ap-northeast-1",
    )["OperationId"]
    deadline = time.monotonic() + 120
    while True:  # bounded poll until the operation ends
        status = aws(
            sb, "cloudformation", "describe-stack-set-operation", "--stack-set-name", EXEC_ROLE, "--operation-id", op
        )["StackSetOperation"]["Status"]
        if status not in ("RUNNING", "QUEUED"):
            break
        assert time.monotonic() < deadline, "StackSet operation did not finish"
        time.sleep(0.1)
    assert status == "SUCCEEDED"
    instances = aws(sb, "cloudformation", "list-stack-instances", "--stack-set-name", EXEC_ROLE)["Summaries"]
    assert sorted(i["Account"] for i in instances) == sorted(UNDER_WORKLOADS)
    assert {(i["Status"], i["StackInstanceStatus"]["DetailedStatus"], i["Region"]) for i in instances} == {
        ("CURRENT", "SUCCEEDED", "ap-northeast-1")
    }
    described = aws(sb, "cloudformation", "describe-stack-set", "--stack-set-name", EXEC_ROLE)["StackSet"]
    assert described["PermissionModel"] == "SERVICE_MANAGED"
    assert described["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert described["OrganizationalUnitIds"] == ["ou-o2pk-wrkloads"]

    # The roles exist in every account below the OU, at every depth, and nowhere else.
    for account in UNDER_WORKLOADS:
        assert role_exists(sb, account), account
    for account in OUTSIDE + [MGMT]:
        assert not role_exists(sb, account), account
    trust = sb.client("iam", account="222233334444").get_role(RoleName=EXEC_ROLE)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{MGMT}:role/AWS-SystemsManager-AutomationAdministrationRole"
    }
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}

    # 3. The seed's fix for the management account: the execution role as a plain stack.
    aws(
        sb,
        "cloudformation",
        "create-stack",
        "--stack-name",
        "AWS-SystemsManager-AutomationExecutionRole-org",
        "--template-body",
        execution,
        "--parameters",
        *params,
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
    )
    assert role_exists(sb, MGMT)
