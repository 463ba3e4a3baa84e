"""readiness.py: the first-run check's pure logic - the caller's IAM entity, the simulation's requests and their
folding, the quotas and the roles' location - and its simulation calls against botocore's Stubber (AWS's shapes)."""

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.orgops.ssm_automation.plugins.module_utils import readiness

REPO = Path(__file__).resolve().parents[4]
MGMT = "111122223333"
MEMBER = "444455556666"


def _iam():
    return boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


# -- the caller's entity -------------------------------------------------------------------------------------------------
def test_an_assumed_role_session_is_simulated_as_its_role_with_the_path_iam_gives():
    got = readiness.principal_of(
        "arn:aws:sts::%s:assumed-role/OpsAdmin/jane@example.com" % MGMT,
        lambda name: "arn:aws:iam::%s:role/platform/ops/%s" % (MGMT, name),
    )
    assert got == {
        "arn": "arn:aws:iam::%s:role/platform/ops/OpsAdmin" % MGMT,
        "kind": "role",
        "account": MGMT,
        "assumed_path": False,
    }


def test_without_iam_get_role_the_path_is_assumed_to_be_slash():
    def refused(_name):
        raise RuntimeError("AccessDenied")

    got = readiness.principal_of("arn:aws-cn:sts::%s:assumed-role/AWSReservedSSO_Admin_0123/jane" % MGMT, refused)
    assert got["arn"] == "arn:aws-cn:iam::%s:role/AWSReservedSSO_Admin_0123" % MGMT
    assert got["assumed_path"] is True


@pytest.mark.parametrize(
    ("arn", "kind", "simulated"),
    [
        ("arn:aws:iam::%s:user/ci/deployer" % MGMT, "user", "arn:aws:iam::%s:user/ci/deployer" % MGMT),
        ("arn:aws:iam::%s:root" % MGMT, "root", None),
        ("arn:aws:sts::%s:federated-user/bob" % MGMT, "federated-user", None),
        ("not an arn", "unknown", None),
    ],
)
def test_users_are_themselves_root_and_federated_users_cannot_be_simulated(arn, kind, simulated):
    got = readiness.principal_of(arn)
    assert (got["kind"], got["arn"]) == (kind, simulated)


# -- what is simulated ---------------------------------------------------------------------------------------------------
def test_wildcard_regions_and_accounts_become_the_runs_region_and_account_and_names_keep_theirs():
    c = readiness.concrete_arn
    assert (
        c("arn:aws:cloudformation:*:%s:stackset/AWS-SystemsManager-Automation*:*" % MGMT, "eu-west-1", MGMT)
        == "arn:aws:cloudformation:eu-west-1:%s:stackset/AWS-SystemsManager-Automation*:*" % MGMT
    )
    assert (
        c("arn:aws:iam::*:role/AWS-SystemsManager-AutomationResultsReaderRole", "eu-west-1", MEMBER)
        == "arn:aws:iam::%s:role/AWS-SystemsManager-AutomationResultsReaderRole" % MEMBER
    )
    assert c("arn:aws:iam::aws:policy/*", "eu-west-1", MGMT) == "arn:aws:iam::aws:policy/*"  # IAM: no region
    assert c("*", "eu-west-1", MGMT) == "*"


def test_the_run_policy_becomes_one_request_per_statement_with_the_context_its_conditions_need():
    policy = readiness.load_policy((REPO / "plugins/module_utils/policies/run.json").read_text(), MGMT)
    batches = readiness.simulation_batches(policy, "ap-northeast-1", MGMT, MEMBER)
    assert len(batches) == len(policy["Statement"])
    passrole = next(b for b in batches if b["actions"] == ["iam:PassRole"])
    assert passrole["context"] == [
        {"ContextKeyName": "iam:PassedToService", "ContextKeyValues": ["ssm.amazonaws.com"], "ContextKeyType": "string"}
    ]
    assert passrole["resources"] == ["arn:aws:iam::%s:role/AWS-SystemsManager-AutomationAdministrationRole" % MGMT]
    start = next(b for b in batches if b["actions"] == ["ssm:StartAutomationExecution"])
    assert start["resources"] == ["arn:aws:ssm:ap-northeast-1:%s:automation-definition/*" % MGMT]
    assert "MANAGEMENT_ACCOUNT_ID" not in json.dumps(batches)


def test_a_negated_condition_gets_no_context():
    assert readiness.context_entries({"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}) == []
    assert readiness.context_entries({"Bool": {"aws:SecureTransport": True}})[0]["ContextKeyType"] == "boolean"


# -- folding AWS's answer ------------------------------------------------------------------------------------------------
def test_the_aws_cli_documentations_allowed_example_folds_to_nothing_denied():
    # the AWS CLI's example output of `aws iam simulate-principal-policy` (awscli examples, simulate-principal-policy)
    example = {
        "EvaluationResults": [
            {
                "EvalActionName": "codecommit:ListRepositories",
                "EvalResourceName": "*",
                "EvalDecision": "allowed",
                "MatchedStatements": [
                    {
                        "SourcePolicyId": "Grant-Access-To-CodeCommit-ListRepo",
                        "StartPosition": {"Line": 3, "Column": 19},
                        "EndPosition": {"Line": 9, "Column": 10},
                    }
                ],
                "MissingContextValues": [],
            }
        ]
    }
    assert readiness.fold(example["EvaluationResults"]) == {}


def test_todays_answer_one_result_per_action_with_per_resource_decisions():
    results = [
        {
            "EvalActionName": "cloudformation:ListStackInstances",
            "EvalResourceName": "arn:${Partition}:cloudformation:${Region}:${Account}:stackset/${StackSetName}:${Id}",
            "EvalDecision": "implicitDeny",
            "ResourceSpecificResults": [
                {
                    "EvalResourceName": "arn:aws:cloudformation:eu-west-1:1:stackset/A:*",
                    "EvalResourceDecision": "allowed",
                },
                {
                    "EvalResourceName": "arn:aws:cloudformation:eu-west-1:1:stack/B/*",
                    "EvalResourceDecision": "implicitDeny",
                },
            ],
        },
        {"EvalActionName": "ssm:GetDocument", "EvalResourceName": "*", "EvalDecision": "allowed"},
    ]
    assert readiness.fold(results) == {
        "cloudformation:ListStackInstances": {
            "decision": "implicitDeny",
            "resources": ["arn:aws:cloudformation:eu-west-1:1:stack/B/*"],
        }
    }


def test_the_earlier_answer_one_result_per_action_and_resource_and_explicit_deny_wins():
    results = [
        {"EvalActionName": "ssm:StartAutomationExecution", "EvalResourceName": "arn:a", "EvalDecision": "implicitDeny"},
        {"EvalActionName": "ssm:StartAutomationExecution", "EvalResourceName": "arn:b", "EvalDecision": "explicitDeny"},
        {"EvalActionName": "ssm:StartAutomationExecution", "EvalResourceName": "arn:c", "EvalDecision": "allowed"},
    ]
    assert readiness.fold(results) == {
        "ssm:StartAutomationExecution": {"decision": "explicitDeny", "resources": ["arn:a", "arn:b"]}
    }


def test_the_simulation_reads_every_page_and_names_the_phase_and_its_policy():
    iam = _iam()
    source = "arn:aws:iam::%s:user/ops" % MGMT
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "S",
                "Effect": "Allow",
                "Action": ["ssm:GetDocument", "ssm:CreateDocument"],
                "Resource": "arn:aws:ssm:*:MANAGEMENT_ACCOUNT_ID:document/*",
            }
        ],
    }
    doc = "arn:aws:ssm:eu-west-1:%s:document/*" % MGMT
    expected = {
        "PolicySourceArn": source,
        "ActionNames": ["ssm:GetDocument", "ssm:CreateDocument"],
        "ResourceArns": [doc],
    }
    with Stubber(iam) as stub:
        stub.add_response(
            "simulate_principal_policy",
            {
                "EvaluationResults": [{"EvalActionName": "ssm:GetDocument", "EvalDecision": "allowed"}],
                "IsTruncated": True,
                "Marker": "m1",
            },
            expected,
        )
        stub.add_response(
            "simulate_principal_policy",
            {
                "EvaluationResults": [{"EvalActionName": "ssm:CreateDocument", "EvalDecision": "implicitDeny"}],
                "IsTruncated": False,
            },
            dict(expected, Marker="m1"),
        )
        found = readiness.permission_findings(
            iam,
            {"arn": source, "kind": "user"},
            [{"phase": "runbook", "name": "orgops-ssm-automation-runbook", "policy": json.dumps(policy)}],
            "eu-west-1",
            MGMT,
        )
        stub.assert_no_pending_responses()
    assert len(found) == 1 and found[0]["blocking"] and found[0]["denied"] == ["ssm:CreateDocument"]
    assert found[0]["message"].startswith("permissions: phase runbook: %s may not call ssm:CreateDocument" % source)
    assert "orgops-ssm-automation-runbook" in found[0]["message"]


def test_a_refused_simulation_is_a_finding_that_does_not_stop_the_check():
    iam = _iam()
    with Stubber(iam) as stub:
        stub.add_client_error("simulate_principal_policy", "AccessDenied", "not authorized", 403)
        found = readiness.permission_findings(
            iam,
            {"arn": "arn:aws:iam::%s:user/ops" % MGMT, "kind": "user"},
            [
                {
                    "phase": "run",
                    "policy": {"Statement": [{"Effect": "Allow", "Action": "ssm:GetDocument", "Resource": "*"}]},
                }
            ],
            "eu-west-1",
            MGMT,
        )
    assert [f["blocking"] for f in found] == [False]
    assert "iam:SimulatePrincipalPolicy is not allowed" in found[0]["message"]


# -- quotas ----------------------------------------------------------------------------------------------------------
def _location(regions=("ap-northeast-1",), accounts=("ou-o2pk-wrkloads",)):
    return {
        "accounts": list(accounts),
        "regions": list(regions),
        "include_child_ous": True,
        "exclude_accounts": [],
        "execution_role_name": "AWS-SystemsManager-AutomationExecutionRole",
    }


def test_each_account_region_runs_its_own_automation_plus_max_concurrency_children():
    locs = [_location()]
    at_quota = readiness.quota_findings(locs, {0: [MEMBER]}, "99", 0, MGMT)  # 1 + 99 = 100: at the quota
    assert [f for f in at_quota if not f.get("informational")] == []
    over = readiness.quota_findings(locs, {0: [MEMBER]}, "100", 0, MGMT)  # 101
    warnings = [f for f in over if not f.get("informational")]
    assert [f["blocking"] for f in warnings] == [False]
    assert "%s/ap-northeast-1: 101" % MEMBER in warnings[0]["message"]
    assert "check_os_max_concurrency" in warnings[0]["message"]


def test_beyond_the_quota_and_the_queue_the_run_would_be_refused():
    refused = readiness.quota_findings([_location()], {0: [MEMBER]}, "1100", 0, MGMT)  # 1 + 1100 > 100 + 1000
    assert [f["blocking"] for f in refused if not f.get("informational")] == [True]


def test_the_management_accounts_running_automations_count_with_the_parent():
    found = readiness.quota_findings([_location()], {0: [MEMBER]}, "10", 100, MGMT)  # 100 running + the parent
    assert [f["message"] for f in found if not f.get("informational")] == [
        "quotas: 1 account-region(s) would run more than 100 automations at once (Systems Manager's default "
        "concurrency quota; the rest wait in the queue, so the run is slower): %s/ap-northeast-1: 101; lower "
        "check_os_max_concurrency, or turn on adaptive concurrency (up to 500)" % MGMT
    ]


def test_a_percentage_is_of_an_unknown_instance_count_and_is_not_judged():
    assert [f for f in readiness.quota_findings([_location()], {0: [MEMBER]}, "100%", 0, MGMT) if f["blocking"]] == []


def test_more_target_locations_than_one_call_takes_is_blocking():
    # 50 accounts/OUs per TargetLocation (botocore's model): 5,001 accounts need 101 TargetLocations, 2,600 need 52
    too_many = ["%012d" % n for n in range(5001)]
    found = readiness.quota_findings([_location(("eu-west-1",), too_many)], {0: []}, "10", 0, MGMT)
    assert [f["blocking"] for f in found] == [True]
    assert "needs 101 TargetLocations" in found[0]["message"] and "at most 100" in found[0]["message"]
    fits = ["%012d" % n for n in range(2600)]
    ok = readiness.quota_findings([_location(("eu-west-1", "ap-northeast-1"), fits)], {0: []}, "10", 0, MGMT)
    assert [f["message"] for f in ok] == [
        "quotas: 52 TargetLocations in one StartAutomationExecution call (at most 100)"
    ]


# -- where the roles are ---------------------------------------------------------------------------------------------
def test_where_the_roles_are_is_shown_and_does_not_block():
    checked = {
        "ok": True,
        "stack_set_regions": ["eu-west-1"],
        "management_role": {"arn": "arn:aws:iam::%s:role/R" % MGMT, "stack": "seed-exec-role"},
    }
    found = readiness.roles_findings(checked, True)
    assert [f["blocking"] for f in found] == [False, False]
    assert found[0]["message"] == "roles: the execution-role StackSet has instances from eu-west-1"
    assert found[1]["message"].endswith("R, owned by stack seed-exec-role")


def test_accounts_without_the_role_stop_the_run_unless_the_roles_phase_deploys_them():
    checked = {"ok": False, "message": "accounts without R: 444455556666", "missing_role": [MEMBER]}
    assert [f["blocking"] for f in readiness.roles_findings(checked, False)] == [True]
    assert [f["blocking"] for f in readiness.roles_findings(checked, True)] == [False]
    unknown = dict(checked, unknown_targets=[{"value": "ou-x"}])
    assert [f["blocking"] for f in readiness.roles_findings(unknown, True)] == [True]
