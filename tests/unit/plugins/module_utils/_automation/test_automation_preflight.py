"""_automation/preflight.py: which accounts each location reaches, and which lack the execution role."""

import datetime
from pathlib import Path

import boto3
from botocore.stub import Stubber

from ansible_collections.orgops.ssm_automation.plugins.module_utils import automation, organization, runbook

REPO = Path(__file__).resolve().parents[5]
CHECK_OS = runbook.parse_content((REPO / "roles" / "check_os" / "files" / "check-os.yml").read_text())
REGIONS = frozenset(["eu-west-1", "ap-northeast-1", "us-east-1"])
MGMT = "111111111111"
CALLER_ARN = "arn:aws:iam::111111111111:user/admin"


def accounts(n, start=200000000000):
    return [str(start + i) for i in range(n)]


def options(**overrides):
    opts = {
        "document_name": "check-os",
        "parameters": {"CheckHostname": "check", "CheckNTP": "skip"},
        "targets": {"tags": {"ssm-automation": "true"}},
        "target_locations": [{"accounts": ["ou-o2pk-abcdefgh"], "regions": ["ap-northeast-1"]}],
    }
    opts.update(overrides)
    return opts


# --- preflight -------------------------------------------------------------------------------------------

TREE = {
    "root_id": "r-ab12",
    "ous": {
        "ou-ab12-workload": {"name": "Workloads", "parent_id": "r-ab12"},
        "ou-ab12-prod0000": {"name": "Prod", "parent_id": "ou-ab12-workload"},
        "ou-ab12-payments": {"name": "Payments", "parent_id": "ou-ab12-prod0000"},
    },
    "accounts": {
        MGMT: {"name": "mgmt", "status": "ACTIVE", "parent_id": "r-ab12"},
        "222222222222": {"name": "a", "status": "ACTIVE", "parent_id": "ou-ab12-workload"},
        "333333333333": {"name": "b", "status": "ACTIVE", "parent_id": "ou-ab12-prod0000"},
        "444444444444": {"name": "c", "status": "ACTIVE", "parent_id": "ou-ab12-payments"},
        "555555555555": {"name": "d", "status": "SUSPENDED", "parent_id": "ou-ab12-payments"},
    },
}
INSTANCES = [
    {"account": a, "region": "ap-northeast-1", "status": "CURRENT"}
    for a in ("222222222222", "333333333333", "444444444444", "555555555555")
]


def loc(targets, include=True, exclude=()):
    return {
        "accounts": list(targets),
        "regions": ["ap-northeast-1"],
        "include_child_ous": include,
        "exclude_accounts": list(exclude),
        "execution_role_name": automation.DEFAULT_EXECUTION_ROLE,
    }


def evaluate(locations, instances=INSTANCES, mgmt_stack=False):
    return automation.evaluate_preflight(TREE, locations, instances, MGMT, mgmt_stack, organization.resolve_accounts)


def test_preflight_resolves_nested_ous_and_excludes():
    result = evaluate([loc(["ou-ab12-workload"], exclude=["555555555555"])])
    assert result["ok"], result["message"]
    assert result["locations"][0]["accounts"] == ["222222222222", "333333333333", "444444444444"]


def test_preflight_without_children():
    result = evaluate([loc(["ou-ab12-workload"], include=False)])
    assert result["accounts"] == ["222222222222"]


def test_preflight_root_without_management_stack_lists_the_management_account():
    result = evaluate([loc(["r-ab12"], exclude=["555555555555"])])
    assert not result["ok"]
    assert result["missing_role"] == [MGMT]
    assert result["message"].startswith(
        "accounts without AWS-SystemsManager-AutomationExecutionRole: 111111111111 (the management account: set include_management_account"
    )
    assert evaluate([loc(["r-ab12"], exclude=["555555555555"])], mgmt_stack=True)["ok"]


def test_preflight_lists_member_accounts_without_a_current_instance():
    instances = [dict(i, status="OUTDATED") if i["account"] == "333333333333" else i for i in INSTANCES]
    result = evaluate([loc(["ou-ab12-workload"], exclude=["555555555555"])], instances=instances)
    assert result["missing_role"] == ["333333333333"]
    assert (
        "333333333333 (no CURRENT instance of StackSet AWS-SystemsManager-AutomationExecutionRole)" in result["message"]
    )


def test_preflight_unknown_targets_and_inactive_accounts():
    result = evaluate([loc(["ou-ab12-zzzzzzzz", "999999999999", "ou-ab12-payments"])])
    assert not result["ok"]
    assert {u["value"] for u in result["unknown_targets"]} == {"ou-ab12-zzzzzzzz", "999999999999"}
    assert result["inactive_accounts"] == ["555555555555"]
    assert "target_locations[0].accounts[0]" in result["message"]


def test_stack_exists():
    cfn = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {"StackName": "s", "CreationTime": datetime.datetime(2024, 1, 1), "StackStatus": "UPDATE_COMPLETE"}
                ]
            },
        )
        stub.add_client_error(
            "describe_stacks", service_error_code="ValidationError", service_message="Stack with id s does not exist"
        )
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "s",
                        "CreationTime": datetime.datetime(2024, 1, 1),
                        "StackStatus": "ROLLBACK_COMPLETE",
                    }
                ]
            },
        )
        assert automation.stack_exists(cfn, "s") is True
        assert automation.stack_exists(cfn, "s") is False
        assert automation.stack_exists(cfn, "s") is False
