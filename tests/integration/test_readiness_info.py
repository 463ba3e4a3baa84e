"""readiness_info as a user runs it from an assumed-role session (SSO, a CI role): the session is simulated as its
role, whose path only iam:GetRole tells; without that permission the check says what it could not do, and a caller
whose policies lack an action of a phase is told which, and which policy to attach. Real module, real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from support.ansible_run import run_module

from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "plugins" / "module_utils" / "policies"
MODULE = "orgops.ssm_automation.readiness_info"
ROLE = "OpsRunner"
PATH = "/platform/ops/"


def _policy(phase, mgmt, without=None):
    doc = json.loads((POLICIES / f"{phase}.json").read_text().replace("MANAGEMENT_ACCOUNT_ID", mgmt))
    for stmt in doc["Statement"]:
        acts = [stmt["Action"]] if isinstance(stmt["Action"], str) else stmt["Action"]
        stmt["Action"] = [a for a in acts if a != without]
    doc["Statement"] = [s for s in doc["Statement"] if s["Action"]]
    return doc


@pytest.fixture
def session(sandbox_factory):
    """A role with a path, with the runbook policy minus ssm:CreateDocument and the run policy; the session's env."""
    box = sandbox_factory(DEMO_WORLD, name="readiness-role")
    mgmt = box.world.management_account_id
    iam = box.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{mgmt}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName=ROLE, Path=PATH, AssumeRolePolicyDocument=json.dumps(trust))
    for phase, without in (("runbook", "ssm:CreateDocument"), ("run", None)):
        arn = iam.create_policy(PolicyName=f"orgops-{phase}", PolicyDocument=json.dumps(_policy(phase, mgmt, without)))
        iam.attach_role_policy(RoleName=ROLE, PolicyArn=arn["Policy"]["Arn"])

    def env():
        sts = boto3.client("sts", endpoint_url=box.endpoint, region_name=box.region, **box.credentials())
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{mgmt}:role{PATH}{ROLE}", RoleSessionName="jane")["Credentials"]
        return {
            **box.env,
            "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"],
        }

    return {"box": box, "mgmt": mgmt, "env": env, "iam": iam}


def _params():
    return {
        "policies": [
            {
                "phase": phase,
                "name": f"orgops-ssm-automation-{phase}",
                "policy": (POLICIES / f"{phase}.json").read_text(),
            }
            for phase in ("runbook", "run")
        ]
    }


def test_an_assumed_role_session_is_simulated_as_its_role_with_its_path(tmp_path, session):
    mgmt, iam = session["mgmt"], session["iam"]
    iam.put_role_policy(  # the session may read its own role (its path)
        RoleName=ROLE,
        PolicyName="own-role",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "iam:GetRole", "Resource": f"arn:aws:iam::{mgmt}:role{PATH}{ROLE}"},
                    {
                        "Effect": "Allow",
                        "Action": "iam:SimulatePrincipalPolicy",
                        "Resource": f"arn:aws:iam::{mgmt}:role{PATH}{ROLE}",
                    },
                ],
            }
        ),
    )
    seq = session["box"].last_seq()
    result = run_module(tmp_path, MODULE, _params(), env=session["env"](), check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["caller"]["arn"] == f"arn:aws:sts::{mgmt}:assumed-role/{ROLE}/jane"
    assert result["caller"]["principal"]["arn"] == f"arn:aws:iam::{mgmt}:role{PATH}{ROLE}"
    assert result["ok"] is False
    denied = [f for f in result["findings"] if f["check"] == "permissions"]
    assert [(f["phase"], f["denied"], f["blocking"]) for f in denied] == [("runbook", ["ssm:CreateDocument"], True)]
    assert "attach the runbook phase's policy (orgops-ssm-automation-runbook" in denied[0]["message"]
    assert session["box"].write_calls(seq) == []


def test_without_iam_get_role_the_path_is_unknown_and_the_check_says_so(tmp_path, session):
    mgmt = session["mgmt"]
    result = run_module(tmp_path, MODULE, _params(), env=session["env"](), check=True)
    assert not result.get("failed"), result.get("msg")
    findings = [f for f in result["findings"] if f["check"] == "permissions"]
    # the documented run policy allows iam:SimulatePrincipalPolicy on role/*, so the call is made, on role/OpsRunner
    # (path / assumed), which does not exist: not a crash, a finding that names what to allow
    assert [f["blocking"] for f in findings] == [False]
    assert f"was not found as arn:aws:iam::{mgmt}:role/{ROLE}" in findings[0]["message"]
    assert "allow iam:GetRole on the caller's role" in findings[0]["message"]
