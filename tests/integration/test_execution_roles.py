"""The execution_roles role, run for real through ansible-playbook against the sandbox.

A fresh organization ends with the roles in every account below the target OUs at every depth, none in the
management account unless include_management_account; a second run changes nothing and writes nothing (counted in
the sandbox's request log); check mode writes nothing; every bad id or option fails before any write, naming the
role variable.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from support.ansible_run import run_playbook

REPO = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((REPO / "sandbox" / "worlds" / "demo.yml").read_text())

MGMT = "111122223333"
ORG_ID = "o-o2pkexample"
WORKLOADS = "ou-o2pk-wrkloads"
SECURITY_ACCOUNT = "555566667777"
# every account below Workloads, at every depth (Workloads -> Prod -> Payments; Workloads -> Staging)
BELOW_WORKLOADS = {"222233334444", "333344445555", "444455556666", "666677778888", "777788889999"}
ADMIN_ROLE = "AWS-SystemsManager-AutomationAdministrationRole"
EXEC_ROLE = "AWS-SystemsManager-AutomationExecutionRole"
READER_ROLE = "AWS-SystemsManager-AutomationResultsReaderRole"


def fresh_world() -> dict:
    world = copy.deepcopy(DEMO)
    world["automation_roles"] = {}  # a fresh organization: no role deployed yet
    world["name"] = "fresh-roles"
    return world


def run_role(org, tmp_path: Path, check: bool = False, **variables):
    """Apply the role in a play; return (PlaybookRun, recap dict, execution_roles_result or None)."""
    out = tmp_path / "execution_roles_result.json"
    if out.exists():
        out.unlink()
    play = [
        {
            "name": "execution_roles under test",
            "hosts": "localhost",
            "gather_facts": False,
            "roles": [
                {
                    "role": "orgops.ssm_automation.execution_roles",
                    "vars": {"execution_roles_poll_interval": 0.2, "execution_roles_wait_timeout": 120, **variables},
                }
            ],
            "post_tasks": [
                {
                    "name": "dump the role's result",
                    "ansible.builtin.copy": {
                        "content": "{{ execution_roles_result | default(None) | to_json }}",
                        "dest": str(out),
                        "mode": "0600",
                    },
                    "check_mode": False,
                    "changed_when": False,
                }
            ],
        }
    ]
    playbook = tmp_path / "roles.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    run = run_playbook(playbook, env=org.env, args=["--check"] if check else [])
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", run.stdout)
    recap = (
        dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()), strict=True)) if match else {}
    )
    result = json.loads(out.read_text()) if out.exists() else None
    return run, recap, result


def has_role(org, account: str, role: str) -> bool:
    iam = org.client("iam", account=None if account == MGMT else account)
    try:
        iam.get_role(RoleName=role)
        return True
    except iam.exceptions.NoSuchEntityException:
        return False


def test_fresh_org_every_depth_idempotent_and_management_account(sandbox_factory, tmp_path):
    org = sandbox_factory(fresh_world(), name="fresh-roles")
    targets = {"execution_roles_target_ous": [WORKLOADS], "execution_roles_regions": ["ap-northeast-1"]}

    # check mode on a fresh organization: reports changes, writes nothing
    since = org.last_seq()
    run, recap, _ = run_role(org, tmp_path, check=True, **targets)
    assert run.rc == 0, run.stdout + run.stderr
    assert recap["changed"] >= 1 and recap["failed"] == 0
    assert org.write_calls(since) == []
    assert not has_role(org, MGMT, ADMIN_ROLE)

    # the roles land in every account below Workloads, at every depth; none in Security; none in the management
    # account but the admin role
    run, recap, result = run_role(org, tmp_path, **targets)
    assert run.rc == 0, run.stdout + run.stderr
    assert recap["changed"] >= 1
    assert result["management_account_id"] == MGMT and result["organization_id"] == ORG_ID
    for account in BELOW_WORKLOADS:
        assert has_role(org, account, EXEC_ROLE), account
        assert has_role(org, account, READER_ROLE), account
    assert not has_role(org, SECURITY_ACCOUNT, EXEC_ROLE)
    assert has_role(org, MGMT, ADMIN_ROLE)
    assert not has_role(org, MGMT, EXEC_ROLE)
    assert not has_role(org, MGMT, READER_ROLE)
    deployed = {i["account"] for i in result["stack_sets"][EXEC_ROLE]}
    assert deployed == BELOW_WORKLOADS

    # the reader role admits the management account, from inside the organization
    creds = org.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::222233334444:role/{READER_ROLE}", RoleSessionName="reader-check"
    )["Credentials"]
    assert creds["AccessKeyId"]

    # a second run: nothing changed, no write call at all
    since = org.last_seq()
    run, recap, _ = run_role(org, tmp_path, **targets)
    assert run.rc == 0, run.stdout + run.stderr
    assert recap["changed"] == 0, run.stdout
    assert org.write_calls(since) == [], org.write_calls(since)

    # include_management_account: the execution (and reader) role as plain stacks in the management account
    run, recap, result = run_role(org, tmp_path, execution_roles_include_management_account=True, **targets)
    assert run.rc == 0, run.stdout + run.stderr
    assert has_role(org, MGMT, EXEC_ROLE)
    assert has_role(org, MGMT, READER_ROLE)
    stacks = org.client("cloudformation").describe_stacks(StackName="AWS-SystemsManager-AutomationExecutionRole-org")
    assert stacks["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert "AWS-SystemsManager-AutomationExecutionRole-org" in result["stacks"]

    since = org.last_seq()
    run, recap, _ = run_role(org, tmp_path, execution_roles_include_management_account=True, **targets)
    assert run.rc == 0 and recap["changed"] == 0, run.stdout
    assert org.write_calls(since) == []


BAD_INPUTS = [
    ({"execution_roles_target_ous": ["ou-o2pk"]}, "execution_roles_target_ous[0]"),
    ({"execution_roles_target_ous": [WORKLOADS, "ou-o2pk-missing1"]}, "execution_roles_target_ous[1]"),
    ({"execution_roles_target_ous": "ou-o2pk-wrkloads, r-XYZ"}, "execution_roles_target_ous[1]"),
    ({"execution_roles_target_ous": []}, "execution_roles_target_ous"),
    ({"execution_roles_management_account_id": "11112222333"}, "execution_roles_management_account_id"),
    ({"execution_roles_management_account_id": "999999999999"}, "execution_roles_management_account_id"),
    ({"execution_roles_organization_id": "o-123"}, "execution_roles_organization_id"),
    ({"execution_roles_organization_id": "o-aaaaaaaaaa"}, "execution_roles_organization_id"),
    ({"execution_roles_regions": ["ap-northeast-1", "tokyo"]}, "execution_roles_regions[1]"),
    (
        {"execution_roles_operation_preferences": {"max_concurrent_percentage": 0}},
        "execution_roles_operation_preferences.max_concurrent_percentage",
    ),
    (
        {"execution_roles_reader_trusted_principals": ["arn:aws:iam::222233334444:role/Someone"]},
        "execution_roles_reader_trusted_principals",
    ),
    ({"execution_roles_call_as": "ROOT"}, "execution_roles_call_as"),
    ({"execution_roles_existing_roles": "adopt"}, "execution_roles_existing_roles"),
    ({"execution_roles_search_regions": ["eu-west-1", "tokyo"]}, "execution_roles_search_regions[1]"),
]


@pytest.mark.parametrize(("variables", "field"), BAD_INPUTS, ids=[f for _, f in BAD_INPUTS])
def test_bad_inputs_fail_before_any_write(sandbox, tmp_path, variables, field):
    since = sandbox.last_seq()
    base = {"execution_roles_target_ous": [WORKLOADS]}
    run, recap, _ = run_role(sandbox, tmp_path, **{**base, **variables})
    assert run.rc != 0
    assert field in run.stdout, run.stdout
    assert sandbox.write_calls(since) == []
