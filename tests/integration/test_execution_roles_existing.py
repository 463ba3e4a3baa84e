"""execution_roles against roles that exist already, made by something else (issue 14, item 7): through
ansible-playbook against the sandbox over HTTP.

IAM is global: a role of the fixed name made by a stack in another region, by another stack, by hand or by another
StackSet makes ours fail with EntityAlreadyExists half-way. The plan finds each before any write (the sandbox's
request log shows none), in --check too, and its message names the role, the owner and the variable to set; with
``execution_roles_existing_roles: use`` the role is used as it is and the stack or StackSet of ours is not deployed.
"""

from __future__ import annotations

import copy

import pytest
from support.ansible_run import run_module, run_playbook
from test_execution_roles import ADMIN_ROLE, DEMO, EXEC_ROLE, MGMT, READER_ROLE, REPO, WORKLOADS, fresh_world, run_role

ROLE_FILES = REPO / "roles" / "execution_roles" / "files"
TARGETS = {"execution_roles_target_ous": [WORKLOADS], "execution_roles_regions": ["ap-northeast-1"]}
SECURITY_OU = "ou-o2pk-security"


def _message(run) -> str:
    return run.stdout + run.stderr


def _writes(org, since):
    return [(r["service"], r["action"]) for r in org.write_calls(since)]


def _stack_set(org, tmp_path, name, ous, regions, region="ap-northeast-1"):
    """A StackSet made outside the role (as a user would have made it by hand), deployed and waited for."""
    result = run_module(
        tmp_path,
        "orgops.ssm_automation.stack_set",
        {
            "name": name,
            "template_body": (ROLE_FILES / "execution-role.yml").read_text(),
            "parameters": {"AdminAccountId": MGMT, "OrganizationID": "o-o2pkexample"},
            "capabilities": ["CAPABILITY_NAMED_IAM"],
            "permission_model": "SERVICE_MANAGED",
            "auto_deployment": {"enabled": True, "retain_stacks_on_account_removal": False},
            "deployment_targets": {"organizational_unit_ids": ous},
            "regions": regions,
            "region": region,
            "poll_interval": 0.2,
            "wait_timeout": 120,
        },
        env=org.env,
    )
    assert not result.get("failed"), result


def test_roles_deployed_in_another_region_fail_before_any_write_then_deploy_there(sandbox_factory, tmp_path):
    # every role deployed as the seed does, but from eu-west-1: the admin stack and both StackSets live there
    world = copy.deepcopy(DEMO)
    world["name"] = "roles-eu"
    world["automation_roles"]["regions"] = ["eu-west-1"]
    org = sandbox_factory(world, name="roles-eu")

    for check in (True, False):
        since = org.last_seq()
        run, recap, _ = run_role(org, tmp_path, check=check, **TARGETS)
        text = _message(run)
        assert run.rc != 0 and recap["failed"] == 1, text
        assert _writes(org, since) == []
        assert "3 existing role conflicts before any change" in text
        assert f"the IAM role {ADMIN_ROLE} already exists in the management account {MGMT}" in text
        assert f"made by the stack {ADMIN_ROLE} in eu-west-1" in text
        assert f"made by the StackSet {EXEC_ROLE} (administration region eu-west-1" in text
        assert READER_ROLE in text
        assert "execution_roles_region: eu-west-1" in text
        assert "execution_roles_existing_roles: use" in text

    # the variable the message names: the role manages the stacks where they are, and a second run writes nothing
    there = dict(TARGETS, execution_roles_region="eu-west-1", execution_roles_regions=["eu-west-1"])
    run, recap, result = run_role(org, tmp_path, **there)
    assert run.rc == 0, _message(run)
    assert result["existing_roles"] == []
    since = org.last_seq()
    run, recap, _ = run_role(org, tmp_path, **there)
    assert run.rc == 0 and recap["changed"] == 0, _message(run)
    assert _writes(org, since) == []


def test_own_stack_set_with_instances_in_another_region(sandbox_factory, tmp_path):
    org = sandbox_factory(fresh_world(), name="own-other-region")
    _stack_set(org, tmp_path, EXEC_ROLE, [WORKLOADS], ["eu-west-1"])

    since = org.last_seq()
    run, _recap, _ = run_role(org, tmp_path, check=True, **TARGETS)
    text = _message(run)
    assert run.rc != 0, text
    assert _writes(org, since) == []
    assert f"the IAM role {EXEC_ROLE} already exists in 5 member accounts" in text
    assert "whose instances in eu-west-1 create it" in text
    assert "execution_roles_regions: [eu-west-1]" in text

    # use it as it is: our execution-role StackSet gets no instance in ap-northeast-1; the rest is deployed
    since = org.last_seq()
    run, _recap, result = run_role(org, tmp_path, execution_roles_existing_roles="use", **TARGETS)
    assert run.rc == 0, _message(run)
    [used] = result["existing_roles"]
    assert used["role_name"] == EXEC_ROLE and used["decision"] == "use"
    assert used["owner"]["name"] == EXEC_ROLE and used["owner"]["regions"] == ["eu-west-1"]
    assert EXEC_ROLE not in result["stack_sets"]
    cfn = org.client("cloudformation", region="ap-northeast-1")
    regions = {i["Region"] for i in cfn.list_stack_instances(StackSetName=EXEC_ROLE)["Summaries"]}
    assert regions == {"eu-west-1"}
    written = {a for _s, a in _writes(org, since)}
    assert "CreateStack" in written  # the admin stack, which had no conflict


def test_admin_role_made_by_hand_then_by_another_stack(sandbox_factory, tmp_path):
    org = sandbox_factory(fresh_world(), name="admin-elsewhere")
    iam = org.client("iam")
    iam.create_role(
        RoleName=ADMIN_ROLE,
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
    )
    since = org.last_seq()
    run, _recap, _ = run_role(org, tmp_path, **TARGETS)
    text = _message(run)
    assert run.rc != 0, text
    assert _writes(org, since) == []
    assert (
        f"the IAM role {ADMIN_ROLE} already exists in the management account {MGMT}, made outside CloudFormation"
        in text
    )
    assert "execution_roles_existing_roles: use" in text

    # used as it is: no admin stack, the StackSets deployed
    run, _recap, result = run_role(org, tmp_path, execution_roles_existing_roles="use", **TARGETS)
    assert run.rc == 0, _message(run)
    assert result["stacks"] == []
    assert [c["owner"]["kind"] for c in result["existing_roles"]] == ["none"]
    assert EXEC_ROLE in result["stack_sets"]

    # the seed's admin stack under another name, in the same region: named, with the variable that adopts it
    iam.delete_role(RoleName=ADMIN_ROLE)
    org.client("cloudformation", region="ap-northeast-1").create_stack(
        StackName="seed-admin-role",
        TemplateBody=(ROLE_FILES / "admin-role.yml").read_text(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    since = org.last_seq()
    run, _recap, _ = run_role(org, tmp_path, check=True, **TARGETS)
    text = _message(run)
    assert run.rc != 0, text
    assert _writes(org, since) == []
    assert "made by the stack seed-admin-role in ap-northeast-1" in text
    assert "execution_roles_admin_stack_name: seed-admin-role" in text


def test_another_stack_set_deploys_the_execution_role(sandbox_factory, tmp_path):
    org = sandbox_factory(fresh_world(), name="other-stack-set")
    _stack_set(org, tmp_path, "my-exec-roles", [SECURITY_OU], ["ap-northeast-1"], region="eu-west-1")

    # its accounts are not ours: no conflict, nothing blocks (check mode: nothing written)
    since = org.last_seq()
    run, _recap, result = run_role(org, tmp_path, check=True, **TARGETS)
    assert run.rc == 0, _message(run)
    assert result["existing_roles"] == []
    assert _writes(org, since) == []

    # reaching our accounts: the StackSet, its region, its targets and the variables are named, before any write
    _stack_set(org, tmp_path, "my-exec-roles", [SECURITY_OU, WORKLOADS], ["ap-northeast-1"], region="eu-west-1")
    since = org.last_seq()
    run, _recap, _ = run_role(org, tmp_path, **TARGETS)
    text = _message(run)
    assert run.rc != 0, text
    assert _writes(org, since) == []
    assert f"the IAM role {EXEC_ROLE} already exists in 5 member accounts" in text
    assert "made by the StackSet my-exec-roles (administration region eu-west-1" in text
    assert "execution_roles_region: eu-west-1 and execution_roles_execution_stack_set_name: my-exec-roles" in text


@pytest.mark.parametrize("check", [False])
def test_demo_world_deploys_and_is_idempotent(sandbox_factory, tmp_path, check):
    # the demo world's roles are the role's own stacks and StackSets, in the region the role manages them in
    org = sandbox_factory(DEMO, name="demo-roles")
    targets = {"execution_roles_target_ous": ["r-o2pk"], "execution_roles_regions": ["ap-northeast-1"]}
    run, _recap, result = run_role(org, tmp_path, check=check, **targets)
    assert run.rc == 0, _message(run)
    assert result["existing_roles"] == []
    since = org.last_seq()
    run, recap, _ = run_role(org, tmp_path, **targets)
    assert run.rc == 0 and recap["changed"] == 0, _message(run)
    assert _writes(org, since) == []


def test_check_os_check_mode_names_the_roles_of_another_region_and_writes_nothing(sandbox_factory, tmp_path):
    # the new user's case of issue 14: the roles were deployed from eu-west-1, the playbook runs from ap-northeast-1
    world = copy.deepcopy(DEMO)
    world["name"] = "check-os-roles-eu"
    world["automation_roles"]["regions"] = ["eu-west-1"]
    org = sandbox_factory(world, name="check-os-roles-eu")
    since = org.last_seq()
    run = run_playbook(
        REPO / "playbooks" / "check_os.yml",
        env={**org.env, "ORGOPS_REPORT_DIR": str(tmp_path / "reports")},
        args=["-i", str(REPO / "inventories" / "sandbox"), "--check"],
        timeout=900,
    )
    text = _message(run)
    assert run.rc != 0, text
    assert _writes(org, since) == []
    assert f"the IAM role {ADMIN_ROLE} already exists in the management account {MGMT}" in text
    assert f"made by the StackSet {EXEC_ROLE} (administration region eu-west-1" in text
    assert "execution_roles_region: eu-west-1" in text
    assert "check_os_deploy_roles: false" in text
    assert "EntityAlreadyExists" in text


def test_check_os_uses_another_stack_sets_execution_role_as_it_is_and_runs(sandbox_factory, tmp_path):
    # the execution role comes from a StackSet of another name, kept as it is: the run's preflight finds the role
    # among that StackSet's instances, and the run reaches every account
    org = sandbox_factory(fresh_world(), name="check-os-use")
    _stack_set(org, tmp_path, "my-exec-roles", ["r-o2pk"], ["ap-northeast-1"], region="eu-west-1")
    run = run_playbook(
        REPO / "playbooks" / "check_os.yml",
        env={**org.env, "ORGOPS_REPORT_DIR": str(tmp_path / "reports")},
        args=["-i", str(REPO / "inventories" / "sandbox"), "-e", "execution_roles_existing_roles=use"],
        timeout=900,
    )
    assert run.rc == 0, _message(run)[-6000:]
    assert "Preflight passed" in run.stdout
    cfn = org.client("cloudformation", region="ap-northeast-1")
    names = {s["StackSetName"] for s in cfn.list_stack_sets(Status="ACTIVE")["Summaries"]}
    assert EXEC_ROLE not in names and READER_ROLE in names
