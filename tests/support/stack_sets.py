"""Shared StackSet test world: the desired spec, the current StackSet and its instances, as the unit tests use them."""

from pathlib import Path

from ansible_collections.orgops.ssm_automation.plugins.module_utils import stack_set

REPO = Path(__file__).resolve().parents[2]
EXEC_TEMPLATE = (REPO / "roles" / "execution_roles" / "files" / "execution-role.yml").read_text()
REGIONS = frozenset(["eu-west-1", "ap-northeast-1", "us-east-1"])
OU_A = "ou-ab12-aaaaaaaa"
OU_B = "ou-ab12-bbbbbbbb"
OU_C = "ou-ab12-cccccccc"
PARAMS = {"AdminAccountId": "111111111111", "OrganizationID": "o-abcdefghij"}
NAME = "AWS-SystemsManager-AutomationExecutionRole"


def spec(**overrides):
    params = {
        "name": NAME,
        "state": "present",
        "template_body": EXEC_TEMPLATE,
        "parameters": dict(PARAMS),
        "capabilities": ["CAPABILITY_NAMED_IAM"],
        "permission_model": "SERVICE_MANAGED",
        "auto_deployment": {"enabled": True, "retain_stacks_on_account_removal": False},
        "deployment_targets": {
            "organizational_unit_ids": [OU_A, OU_B],
            "accounts": None,
            "account_filter_type": "NONE",
        },
        "regions": ["ap-northeast-1"],
        "call_as": "SELF",
        "purge_instances": False,
        "wait": True,
        "wait_timeout": 600,
        "poll_interval": 5,
    }
    params.update(overrides)
    return stack_set.validate_spec(params, known_regions=REGIONS)


def current(**overrides):
    raw = {
        "StackSetName": NAME,
        "StackSetId": NAME + ":1234",
        "StackSetARN": "arn:aws:cloudformation:us-east-1:111111111111:stackset/" + NAME + ":1234",
        "Status": "ACTIVE",
        "TemplateBody": EXEC_TEMPLATE,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMS.items()],
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Tags": [],
        "PermissionModel": "SERVICE_MANAGED",
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
        "OrganizationalUnitIds": [OU_A, OU_B],
        "Regions": ["ap-northeast-1"],
    }
    raw.update(overrides)
    return raw


def instance(account, ou, region="ap-northeast-1", status="CURRENT"):
    return {
        "StackSetId": NAME + ":1234",
        "Account": account,
        "Region": region,
        "OrganizationalUnitId": ou,
        "Status": status,
        "StackInstanceStatus": {"DetailedStatus": "SUCCEEDED"},
    }


INSTANCES = [instance("222222222222", OU_A), instance("333333333333", OU_B), instance("444444444444", OU_B)]
