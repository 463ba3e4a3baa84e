"""stack_set, stack_set_info and organization_info, run for real through ansible-playbook against the sandbox.

A fresh organization (the demo world without its pre-deployed automation roles): the execution-role StackSet is
deployed to OUs at every depth, a second run writes nothing (counted in the sandbox's request log), an account moved
into a target OU gets the role, a dropped OU loses its instances with purge_instances, check mode writes nothing but
reports, a busy StackSet is waited for, and every bad option fails before any write, naming the option.

Each scenario starts its own sandbox (``sandbox_factory``) so that tests stay independent under pytest-xdist; the
read-only checks use the session's demo sandbox.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from support.ansible_run import ansible_env, run_module

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = (REPO / "roles" / "execution_roles" / "files" / "execution-role.yml").read_text()
DEMO = yaml.safe_load((REPO / "sandbox" / "worlds" / "demo.yml").read_text())

NAME = "AWS-SystemsManager-AutomationExecutionRole"
ROLE = "AWS-SystemsManager-AutomationExecutionRole"
MGMT = "111122223333"
ORG_ID = "o-o2pkexample"
ROOT = "r-o2pk"
WORKLOADS, PROD, PAYMENTS, STAGING, SECURITY = (
    "ou-o2pk-wrkloads",
    "ou-o2pk-prod0001",
    "ou-o2pk-paymnts1",
    "ou-o2pk-staging1",
    "ou-o2pk-security",
)
# accounts below Prod, at every depth (Payments is a child of Prod)
BELOW_PROD = {"222233334444", "333344445555", "777788889999"}
SECURITY_ACCOUNT = "555566667777"
DEV_SANDBOX = "666677778888"  # directly under Workloads
STAGING_ACCOUNT = "444455556666"


def fresh_world() -> dict:
    world = copy.deepcopy(DEMO)
    world["automation_roles"] = {}  # a fresh organization: no role deployed yet
    world["name"] = "fresh-org"
    return world


def params(**overrides) -> dict:
    base = {
        "name": NAME,
        "template_body": TEMPLATE,
        "parameters": {"AdminAccountId": MGMT, "OrganizationID": ORG_ID},
        "capabilities": ["CAPABILITY_NAMED_IAM"],
        "permission_model": "SERVICE_MANAGED",
        "auto_deployment": {"enabled": True},
        "deployment_targets": {"organizational_unit_ids": [PROD, SECURITY]},
        "regions": ["ap-northeast-1"],
        "operation_preferences": {"failure_tolerance_percentage": 100, "max_concurrent_percentage": 100},
        "poll_interval": 0.2,
        "wait_timeout": 120,
    }
    base.update(overrides)
    return base


def has_role(org, account: str, role: str = ROLE) -> bool:
    iam = org.client("iam", account=None if account == MGMT else account)
    try:
        iam.get_role(RoleName=role)
        return True
    except iam.exceptions.NoSuchEntityException:
        return False


def instance_accounts(result) -> set:
    return {i["account"] for i in result["instances"]}


def wait_until(condition, timeout=60.0, interval=0.2):
    """Poll a condition with a bounded loop (never a fixed sleep to synchronise)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


# ---------------------------------------------------------------------------------------------------------------------


def test_ansible_doc_is_complete():
    for module in ("stack_set", "stack_set_info", "organization_info"):
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-doc"), f"orgops.ssm_automation.{module}"],
            env=ansible_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "EXAMPLES:" in proc.stdout, module
        assert "RETURN VALUES:" in proc.stdout, module
        assert "ERROR" not in proc.stderr, proc.stderr


def test_organization_info_discovers_and_resolves(sandbox, tmp_path):
    org = sandbox
    since = org.last_seq()
    result = run_module(
        tmp_path, "orgops.ssm_automation.organization_info", {"targets": [WORKLOADS], "exclude": [STAGING]}, env=org.env
    )
    assert not result.get("failed"), result.get("msg")
    assert result["organization"]["id"] == ORG_ID
    assert result["organization"]["master_account_id"] == MGMT
    assert result["tree"]["root_id"] == ROOT
    assert result["tree"]["ous"][PAYMENTS]["parent_id"] == PROD
    assert set(result["accounts"]) == BELOW_PROD | {DEV_SANDBOX}
    assert org.write_calls(since) == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"management_account_id": "1111222233"}, "management_account_id"),
        ({"organization_id": "o-short"}, "organization_id"),
        ({"targets": ["ou-o2pk"]}, "targets[0]"),
        ({"targets": [WORKLOADS, "ou-o2pk-nothere1"]}, "targets[1]"),
        ({"management_account_id": "999999999999"}, "management_account_id"),
        ({"organization_id": "o-abcdefghijk"}, "organization_id"),
    ],
)
def test_organization_info_rejects_bad_ids(sandbox, tmp_path, options, field):
    org = sandbox
    since = org.last_seq()
    result = run_module(tmp_path, "orgops.ssm_automation.organization_info", options, env=org.env)
    assert result["failed"]
    assert result["field"] == field
    assert result["msg"].startswith(field)
    assert org.write_calls(since) == []


BAD_OPTIONS = [
    ({"deployment_targets": {"organizational_unit_ids": ["ou-bad"]}}, "deployment_targets.organizational_unit_ids[0]"),
    (
        {"deployment_targets": {"organizational_unit_ids": [PROD, "123456789012"]}},
        "deployment_targets.organizational_unit_ids[1]",
    ),
    ({"regions": ["ap-northeast-9"]}, "regions[0]"),
    ({"execution_role_name": "AWSCloudFormationStackSetExecutionRole"}, "execution_role_name"),
    (
        {"administration_role_arn": "arn:aws:iam::111122223333:role/AWSCloudFormationStackSetAdministrationRole"},
        "administration_role_arn",
    ),
    ({"parameters": {"AdminAccountId": MGMT, "OrganizationID": ORG_ID, "Nope": "1"}}, "parameters.Nope"),
    ({"parameters": {"OrganizationID": ORG_ID}}, "parameters"),
    ({"template_body": "Resources: [oops"}, "template_body"),
    (
        {"operation_preferences": {"max_concurrent_count": 2, "max_concurrent_percentage": 50}},
        "operation_preferences.max_concurrent_count",
    ),
    (
        {"deployment_targets": {"organizational_unit_ids": [PROD], "accounts": [SECURITY_ACCOUNT]}},
        "deployment_targets.accounts",
    ),
    ({"name": "bad_name"}, "name"),
]


@pytest.mark.parametrize(("options", "field"), BAD_OPTIONS, ids=[f for _, f in BAD_OPTIONS])
def test_bad_options_fail_before_any_write(sandbox, tmp_path, options, field):
    org = sandbox
    since = org.last_seq()
    result = run_module(tmp_path, "orgops.ssm_automation.stack_set", params(**options), env=org.env)
    assert result["failed"], result
    assert result["field"] == field
    assert result["msg"].startswith(field + ":")
    assert org.requests(since) == [], "a bad option must fail before any AWS call"


def stack_set(org, tmp_path, check=False, diff=False, **overrides):
    return run_module(
        tmp_path, "orgops.ssm_automation.stack_set", params(**overrides), env=org.env, check=check, diff=diff
    )


def deploy(org, tmp_path, **overrides):
    result = stack_set(org, tmp_path, **overrides)
    assert not result.get("failed"), result.get("msg")
    return result


def test_fresh_org_check_mode_create_and_idempotence(sandbox_factory, tmp_path):
    org = sandbox_factory(fresh_world(), name="fresh-create")

    # check mode on a fresh organization: reports the operations, writes nothing
    since = org.last_seq()
    result = stack_set(org, tmp_path, check=True, diff=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert [(o["action"], o["status"]) for o in result["operations"]] == [
        ("CREATE_STACK_SET", "PLANNED"),
        ("CREATE", "PLANNED"),
    ]
    assert result["diff"]["after"]["targets"] == {PROD: ["ap-northeast-1"], SECURITY: ["ap-northeast-1"]}
    assert org.write_calls(since) == []
    assert not any(has_role(org, acct) for acct in BELOW_PROD)

    # create: every account below the OUs, at every depth, and never the management account
    result = deploy(org, tmp_path)
    assert result["changed"] is True
    assert [(o["action"], o["status"]) for o in result["operations"]] == [
        ("CREATE_STACK_SET", "SUCCEEDED"),
        ("CREATE", "SUCCEEDED"),
    ]
    assert result["stack_set"]["permission_model"] == "SERVICE_MANAGED"
    assert result["stack_set"]["auto_deployment"]["enabled"] is True
    assert instance_accounts(result) == BELOW_PROD | {SECURITY_ACCOUNT}
    assert {i["status"] for i in result["instances"]} == {"CURRENT"}
    payments = [i for i in result["instances"] if i["account"] == "222233334444"]
    assert payments[0]["organizational_unit_id"] == PROD  # Payments is below Prod: deployed through Prod
    for account in BELOW_PROD | {SECURITY_ACCOUNT}:
        assert has_role(org, account), account
    assert not has_role(org, MGMT), "a SERVICE_MANAGED StackSet never deploys to the management account"
    assert not has_role(org, DEV_SANDBOX)

    # second run: changed=false, no write call at all
    since = org.last_seq()
    result = deploy(org, tmp_path)
    assert result["changed"] is False
    assert result["operations"] == []
    assert org.write_calls(since) == []
    # the same template as JSON, in another key order, is no change either
    result = deploy(org, tmp_path, template_body=json.dumps(yaml.safe_load(TEMPLATE), sort_keys=True))
    assert result["changed"] is False
    assert org.write_calls(since) == []

    # stack_set_info reads it, and an absent StackSet
    info = run_module(tmp_path, "orgops.ssm_automation.stack_set_info", {"name": NAME}, env=org.env)
    assert info["exists"] is True and info["changed"] is False
    assert instance_accounts(info) == BELOW_PROD | {SECURITY_ACCOUNT}
    assert set(info["instances"][0]) >= {"account", "region", "organizational_unit_id", "status", "status_reason"}
    missing = run_module(tmp_path, "orgops.ssm_automation.stack_set_info", {"name": "NotThere"}, env=org.env)
    assert missing["exists"] is False and missing["stack_set"] is None and missing["instances"] == []

    # a second region for the fixed-name execution role is refused before any write: IAM is global, so AWS would
    # fail every account's second stack instance with "already exists" (the sandbox does too, see sandbox/tests)
    since = org.last_seq()
    result = stack_set(org, tmp_path, check=True, diff=True, regions=["ap-northeast-1", "eu-west-1"])
    assert result["failed"] and result["field"] == "regions", result
    assert "AWS::IAM::Role AWS-SystemsManager-AutomationExecutionRole" in result["msg"]
    assert "one region" in result["msg"]
    assert org.write_calls(since) == []


def test_auto_deployment_new_ou_and_purge(sandbox_factory, tmp_path):
    org = sandbox_factory(fresh_world(), name="fresh-targets")
    deploy(org, tmp_path)

    # an account moved into a target OU gets the role (auto-deployment)
    org.client("organizations").move_account(AccountId=DEV_SANDBOX, SourceParentId=WORKLOADS, DestinationParentId=PROD)
    assert wait_until(lambda: has_role(org, DEV_SANDBOX), timeout=60), "auto-deployment did not reach the moved account"
    instances = org.client("cloudformation").list_stack_instances(StackSetName=NAME)["Summaries"]
    assert DEV_SANDBOX in {i["Account"] for i in instances}

    # a new OU: one CreateStackInstances for it, nothing else written
    since = org.last_seq()
    result = deploy(org, tmp_path, deployment_targets={"organizational_unit_ids": [PROD, SECURITY, STAGING]})
    assert [(o["action"], o["targets"]) for o in result["operations"]] == [("CREATE", [STAGING])]
    assert has_role(org, STAGING_ACCOUNT)
    assert [(w["service"], w["action"]) for w in org.write_calls(since)] == [("cloudformation", "CreateStackInstances")]

    # an OU dropped from the targets is left alone without purge_instances ...
    kept = {"deployment_targets": {"organizational_unit_ids": [PROD, STAGING]}}
    since = org.last_seq()
    result = deploy(org, tmp_path, **kept)
    assert result["changed"] is False
    assert org.write_calls(since) == []
    assert has_role(org, SECURITY_ACCOUNT)

    # ... and its instances are deleted, by OU, with it
    result = run_module(
        tmp_path, "orgops.ssm_automation.stack_set", params(purge_instances=True, **kept), env=org.env, diff=True
    )
    assert not result.get("failed"), result.get("msg")
    assert [(o["action"], o["targets"], o["status"]) for o in result["operations"]] == [
        ("DELETE", [SECURITY], "SUCCEEDED")
    ]
    assert SECURITY not in result["diff"]["after"]["targets"]
    assert SECURITY_ACCOUNT not in instance_accounts(result)
    assert not has_role(org, SECURITY_ACCOUNT)
    assert has_role(org, STAGING_ACCOUNT) and all(has_role(org, a) for a in BELOW_PROD | {DEV_SANDBOX})
    deletes = [r for r in org.write_calls(since) if r["action"] == "DeleteStackInstances"]
    assert len(deletes) == 1


def test_update_busy_stack_set_and_absent(sandbox_factory, tmp_path):
    org = sandbox_factory(fresh_world(), name="fresh-update")
    deploy(org, tmp_path)

    # a template change updates the StackSet, with the diff
    template = TEMPLATE.replace("Configure the AWS-SystemsManager-AutomationExecutionRole.", "Execution role (orgops).")
    result = run_module(
        tmp_path, "orgops.ssm_automation.stack_set", params(template_body=template), env=org.env, diff=True
    )
    assert not result.get("failed"), result.get("msg")
    assert [(o["action"], o["status"], o.get("fields")) for o in result["operations"]] == [
        ("UPDATE", "SUCCEEDED", ["template"])
    ]
    assert "Execution role (orgops)." in result["diff"]["after"]["template"]
    assert "Execution role (orgops)." in result["stack_set"]["template_body"]

    # someone else's operation holds the StackSet: the module waits for it and retries, it does not fail
    cfn = org.client("cloudformation")
    # theirs stays RUNNING for 40 real seconds (800 simulated x time_scale 0.05): longer than ansible-playbook's start
    org.set_faults({"service": "cloudformation", "action": "UpdateStackSet", "stackset_operation_seconds": 800})
    theirs = cfn.update_stack_set(
        StackSetName=NAME,
        UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in ("AdminAccountId", "OrganizationID")],
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Description="someone else's update",
    )["OperationId"]
    org.clear_faults()
    assert (
        cfn.describe_stack_set_operation(StackSetName=NAME, OperationId=theirs)["StackSetOperation"]["Status"]
        == "RUNNING"
    )
    since = org.last_seq()
    result = run_module(
        tmp_path,
        "orgops.ssm_automation.stack_set",
        params(
            template_body=None,
            parameters=None,
            deployment_targets={"organizational_unit_ids": [PROD, SECURITY, STAGING]},
        ),
        env=org.env,
    )
    assert not result.get("failed"), result.get("msg")
    assert [(o["action"], o["status"]) for o in result["operations"]] == [("CREATE", "SUCCEEDED")]
    assert (
        cfn.describe_stack_set_operation(StackSetName=NAME, OperationId=theirs)["StackSetOperation"]["Status"]
        == "SUCCEEDED"
    )
    attempts = [r["error_code"] for r in org.requests(since) if r["action"] == "CreateStackInstances"]
    assert attempts[0] == "OperationInProgressException", attempts
    assert not attempts[-1], attempts  # retried once the other operation ended, and accepted
    assert has_role(org, STAGING_ACCOUNT)

    # absent: every instance, then the StackSet; a second absent writes nothing
    result = run_module(
        tmp_path,
        "orgops.ssm_automation.stack_set",
        {"name": NAME, "state": "absent", "poll_interval": 0.2},
        env=org.env,
    )
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["operations"][-1]["action"] == "DELETE_STACK_SET"
    assert result["stack_set"] is None
    assert not any(has_role(org, a) for a in BELOW_PROD | {SECURITY_ACCOUNT, STAGING_ACCOUNT})
    since = org.last_seq()
    again = run_module(tmp_path, "orgops.ssm_automation.stack_set", {"name": NAME, "state": "absent"}, env=org.env)
    assert again["changed"] is False
    assert org.write_calls(since) == []
