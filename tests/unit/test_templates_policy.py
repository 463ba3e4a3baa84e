"""Least privilege of every IAM role template the collection ships (roles/*/files/*-role.yml).

For each template: no wildcard action; iam:PassRole only on the role's own ARN; the seed's trust conditions kept
(aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID) and its policies unchanged; the results-reader role read-only.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils.stack_set import parse_template

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(REPO.glob("roles/*/files/*-role.yml"))
FILES = REPO / "roles" / "execution_roles" / "files"
SEED = Path("/work/shared/seed")

READER_ACTIONS = {
    "ssm:DescribeAutomationExecutions",
    "ssm:GetAutomationExecution",
    "ssm:DescribeAutomationStepExecutions",
    "ssm:ListCommandInvocations",
    "ssm:GetCommandInvocation",
    "ssm:ListCommands",
    # who is who in the reports (automation_execution_info details): platform and ping status, the Name tag
    "ssm:DescribeInstanceInformation",
    "ec2:DescribeInstances",
}


def load(path):
    return parse_template(Path(path).read_text(), str(path))


def roles(template):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(role):
    props = role["Properties"]
    for policy in props.get("Policies") or []:
        yield from as_list(policy["PolicyDocument"]["Statement"])


def trust(role):
    return as_list(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])


def condition_keys(statement):
    return {key for operator in (statement.get("Condition") or {}).values() for key in operator}


def test_the_three_templates_ship():
    assert {p.name for p in TEMPLATES} >= {"admin-role.yml", "execution-role.yml", "reader-role.yml"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_wildcard_action(path):
    for role in roles(load(path)).values():
        for statement in list(statements(role)) + trust(role):
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{path.name}: wildcard action {action}"
            assert statement.get("Effect") == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_pass_role_only_on_the_role_itself(path):
    for role in roles(load(path)).values():
        own = role["Properties"].get("RoleName")
        for statement in statements(role):
            if "iam:PassRole" in as_list(statement["Action"]):
                assert as_list(statement["Action"]) == ["iam:PassRole"], "PassRole shares a statement"
                assert statement["Resource"] == {
                    "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/%s" % own
                }, f"{path.name}: PassRole on {statement['Resource']}"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_open_trust(path):
    for role in roles(load(path)).values():
        for statement in trust(role):
            assert statement["Principal"] != "*"
            assert statement["Action"] in ("sts:AssumeRole", ["sts:AssumeRole"])
            assert statement.get("Condition"), f"{path.name}: a trust statement without conditions"


def test_admin_role_keeps_the_seed_policies():
    (role,) = roles(load(FILES / "admin-role.yml")).values()
    props = role["Properties"]
    assert props["RoleName"] == "AWS-SystemsManager-AutomationAdministrationRole"
    (service,) = trust(role)
    assert service["Principal"] == {"Service": ["ssm.amazonaws.com"]}
    assert service["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:ssm:*:*:automation-execution/*"}}
    }
    allowed = {a: s["Resource"] for s in statements(role) for a in as_list(s["Action"])}
    assert allowed == {
        "sts:AssumeRole": {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/AWS-SystemsManager-AutomationExecutionRole"},
        "organizations:ListAccountsForParent": "*",
        "organizations:ListChildren": "*",
    }


def test_execution_role_keeps_the_seed_policies():
    (role,) = roles(load(FILES / "execution-role.yml")).values()
    props = role["Properties"]
    assert props["RoleName"] == "AWS-SystemsManager-AutomationExecutionRole"
    admin, service = trust(role)
    assert admin["Principal"]["AWS"]["Fn::Sub"][0].endswith(":role/AWS-SystemsManager-AutomationAdministrationRole")
    assert admin["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationID"}}}
    assert service["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert condition_keys(service) == {"aws:SourceAccount", "aws:SourceArn"}
    assert service["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:automation-execution/*"
    }
    assert props["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonSSMAutomationRole"}
    ]
    allowed = {a: s["Resource"] for s in statements(role) for a in as_list(s["Action"])}
    assert set(allowed) == {
        "resource-groups:ListGroupResources",
        "tag:GetResources",
        "ec2:DescribeInstances",
        "iam:PassRole",
    }


@pytest.mark.skipif(not SEED.is_dir(), reason="the seed reference material is not on this machine")
@pytest.mark.parametrize("name", ["admin-role.yml", "execution-role.yml"])
def test_seed_templates_are_shipped_unchanged(name):
    assert load(FILES / name) == load(SEED / name)


def test_reader_role_is_read_only():
    (role,) = roles(load(FILES / "reader-role.yml")).values()
    actions = {a for s in statements(role) for a in as_list(s["Action"])}
    assert actions == READER_ACTIONS
    for action in actions:
        verb = action.split(":", 1)[1]
        assert verb.startswith(("Get", "Describe", "List")), action
    assert not role["Properties"].get("ManagedPolicyArns")
    scoped = [s for s in statements(role) if "ssm:GetAutomationExecution" in as_list(s["Action"])]
    assert scoped[0]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:automation-execution/*"}


def test_reader_role_trusts_only_the_management_account_in_the_organization():
    template = load(FILES / "reader-role.yml")
    (role,) = roles(template).values()
    (statement,) = trust(role)
    assert statement["Condition"]["StringEquals"] == {
        "aws:PrincipalOrgID": {"Ref": "OrganizationID"},
        "aws:PrincipalAccount": {"Ref": "AdminAccountId"},
    }
    principal = statement["Principal"]
    assert set(principal) == {"AWS"}
    # default: the management account root; otherwise the principals the user names
    assert principal["AWS"]["Fn::If"][2] == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AdminAccountId}:root"}
    assert template["Parameters"]["RoleName"]["Default"] == "AWS-SystemsManager-AutomationResultsReaderRole"


def test_cfn_lint_is_clean():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    if not cfn_lint.exists():
        pytest.skip("cfn-lint is not installed in this environment")
    proc = subprocess.run([str(cfn_lint), *map(str, TEMPLATES)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
