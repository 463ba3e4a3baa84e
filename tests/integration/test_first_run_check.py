"""A safe first run (issue 14): `ansible-playbook check_os.yml --check` writes nothing and names what would stop the
real run.

The demo world with two things a new user meets on a real organization: the caller is an IAM user with exactly the
documented phase policies (plugins/module_utils/policies) minus one action of one phase, and the execution-role
StackSet was deployed from Ireland (eu-west-1) while the inventory deploys the roles in Tokyo
(execution_roles_regions: [ap-northeast-1]). The check must name both problems, and the sandbox's request log must
show no write call (sandbox/server.py classifies every served call; iam:SimulatePrincipalPolicy and sts:AssumeRole
are reads).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from support.ansible_run import run_playbook

from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "check_os.yml"
INVENTORY = REPO / "inventories" / "sandbox"
POLICIES = REPO / "plugins" / "module_utils" / "policies"
PHASES = ("roles", "runbook", "run", "report")
USER = "first-run"
REMOVED = ("runbook", "ssm:CreateDocument")  # a first run uploads the runbook: without it the runbook phase fails
IRELAND = "eu-west-1"


def policy(phase: str, mgmt: str, without: str | None = None) -> dict:
    doc = json.loads((POLICIES / f"{phase}.json").read_text().replace("MANAGEMENT_ACCOUNT_ID", mgmt))
    for stmt in doc["Statement"]:
        acts = [stmt["Action"]] if isinstance(stmt["Action"], str) else stmt["Action"]
        stmt["Action"] = [a for a in acts if a != without]
    doc["Statement"] = [s for s in doc["Statement"] if s["Action"]]
    return doc


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("first-run")
    world = yaml.safe_load(DEMO_WORLD.read_text())
    world["automation_roles"]["regions"] = [IRELAND]  # the roles' StackSet lives in Ireland
    handle = SandboxHandle(world, name="first-run", workdir=workdir)
    handle.start()
    try:
        mgmt = handle.world.management_account_id
        iam = handle.client("iam")
        iam.create_user(UserName=USER)
        for phase in PHASES:
            doc = policy(phase, mgmt, REMOVED[1] if phase == REMOVED[0] else None)
            arn = iam.create_policy(PolicyName=f"orgops-ssm-automation-{phase}", PolicyDocument=json.dumps(doc))
            iam.attach_user_policy(UserName=USER, PolicyArn=arn["Policy"]["Arn"])
        key = iam.create_access_key(UserName=USER)["AccessKey"]
        env = {
            **handle.env,
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "ORGOPS_REPORT_DIR": str(workdir / "reports"),
        }
        seq = handle.last_seq()
        run = run_playbook(PLAYBOOK, env=env, args=["-i", str(INVENTORY), "--check"], timeout=900)
        yield {"sandbox": handle, "run": run, "calls": handle.requests(seq), "mgmt": mgmt}
    finally:
        handle.stop()


def test_the_check_fails_and_lists_what_would_stop_the_real_run(first_run):
    run = first_run["run"]
    assert run.rc != 0, run.stdout[-4000:]
    m = re.search(
        r"--check found (\d+) problem\(s\) that would stop the real run \(nothing was written\): (.*)", run.stdout
    )
    assert m, run.stdout[-4000:]
    assert int(m.group(1)) == 2  # the missing action, and the roles phase's refusal


def test_the_missing_action_is_named_with_its_phase(first_run):
    phase, action = REMOVED
    out = first_run["run"].stdout
    assert re.search(
        rf"permissions: phase {phase}: arn:aws:iam::\d{{12}}:user/{USER} may not call [^;]*{action}", out
    ), out[-4000:]
    assert f"attach the {phase} phase's policy (orgops-ssm-automation-{phase}" in out
    # only that phase, only that action: the other phases' policies are complete
    denied = re.findall(r"permissions: phase (\w+): \S+ may not call ([^;]*);", out)
    assert {p for p, _ in denied} == {phase}, denied
    assert all(a.split(" (")[0] == action for _, calls in denied for a in calls.split("), ") if a), denied


def test_the_roles_location_is_named(first_run):
    # the roles phase's own plan (existing_roles_info) refuses before any write; --check keeps its refusal and lists
    # it at the end with the first-run check's findings
    out = first_run["run"].stdout
    final = re.search(r"--check found \d+ problem\(s\) that would stop the real run \(nothing was written\): (.*)", out)
    assert final, out[-4000:]
    listed = final.group(1)
    assert re.search(
        r"roles phase, [^|]*the IAM role AWS-SystemsManager-AutomationExecutionRole already exists in \d+ member "
        rf"accounts[^|]*made by the StackSet AWS-SystemsManager-AutomationExecutionRole \(administration region {IRELAND}",
        listed,
    ), listed
    assert f"execution_roles_region: {IRELAND}" in listed
    # the first-run check shows where the StackSet was found, from the preflight's search of every region
    assert f"roles: the execution-role StackSet has instances from {IRELAND}" in out


def test_nothing_was_written(first_run):
    calls = first_run["calls"]
    user_calls = [c for c in calls if c["principal"].endswith(f":user/{USER}")]
    assert user_calls, "the playbook did not run as the restricted user"
    assert {c["action"] for c in user_calls} >= {"SimulatePrincipalPolicy", "ListAWSServiceAccessForOrganization"}
    writes = [(c["service"], c["action"], c["principal"]) for c in calls if c["write"]]
    assert writes == [], writes


def test_every_targeted_members_reader_role_was_tried_and_reached(first_run):
    sb = first_run["sandbox"]
    assumed = {
        c["resources"][0][1][0].split(":")[4]
        for c in first_run["calls"]
        if c["action"] == "AssumeRole" and c["principal"].endswith(f":user/{USER}") and c["resources"]
    }
    members = {a for ou in ("ou-o2pk-wrkloads", "ou-o2pk-security") for a in sb.world.descendants(ou)}
    assert members and members <= assumed, (members, assumed)
    assert "reader_role:" not in first_run["run"].stdout
