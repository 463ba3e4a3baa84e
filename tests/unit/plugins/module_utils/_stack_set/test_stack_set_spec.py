"""_stack_set/spec.py: every bad option fails before any AWS call, naming the field."""

import pytest
from support.stack_sets import (
    OU_A,
    spec,
)

from ansible_collections.orgops.ssm_automation.plugins.module_utils import stack_set
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

# ---------------------------------------------------------------------------------------------------------------------
# validation: every bad option fails before any AWS call, naming the field


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "1-starts-with-digit"}, "name"),
        ({"name": "has_underscore"}, "name"),
        ({"execution_role_name": "AWSCloudFormationStackSetExecutionRole"}, "execution_role_name"),
        ({"administration_role_arn": "arn:aws:iam::111111111111:role/Admin"}, "administration_role_arn"),
        (
            {"parameters": {"AdminAccountId": "111111111111", "OrganizationID": "o-abcdefghij", "Extra": "1"}},
            "parameters.Extra",
        ),
        ({"parameters": {"AdminAccountId": "111111111111"}}, "parameters"),
        (
            {"deployment_targets": {"organizational_unit_ids": ["ou-bad"]}},
            "deployment_targets.organizational_unit_ids[0]",
        ),
        (
            {"deployment_targets": {"organizational_unit_ids": [OU_A, "o-abcdefghij"]}},
            "deployment_targets.organizational_unit_ids[1]",
        ),
        (
            {
                "deployment_targets": {
                    "organizational_unit_ids": [OU_A],
                    "accounts": ["12"],
                    "account_filter_type": "UNION",
                }
            },
            "deployment_targets.accounts[0]",
        ),
        (
            {"deployment_targets": {"organizational_unit_ids": [OU_A], "accounts": ["222222222222"]}},
            "deployment_targets.accounts",
        ),
        (
            {"deployment_targets": {"organizational_unit_ids": [OU_A], "account_filter_type": "DIFFERENCE"}},
            "deployment_targets.accounts",
        ),
        (
            {"deployment_targets": {"organizational_unit_ids": [OU_A], "account_filter_type": "SOME"}},
            "deployment_targets.account_filter_type",
        ),
        ({"regions": ["mars-north-1"]}, "regions[0]"),
        ({"regions": ["eu-west-1", "EU-WEST-1"]}, "regions[1]"),
        ({"regions": None}, "regions"),
        ({"deployment_targets": None}, "deployment_targets"),
        ({"capabilities": ["IAM"]}, "capabilities[0]"),
        ({"call_as": "ROOT"}, "call_as"),
        ({"permission_model": "SELF_MANAGED", "call_as": "DELEGATED_ADMIN"}, "call_as"),
        (
            {
                "permission_model": "SELF_MANAGED",
                "auto_deployment": {"enabled": True},
                "deployment_targets": None,
                "regions": None,
            },
            "auto_deployment",
        ),
        ({"permission_model": "SELF_MANAGED", "auto_deployment": None}, "deployment_targets.organizational_unit_ids"),
        (
            {"auto_deployment": {"enabled": False, "retain_stacks_on_account_removal": True}},
            "auto_deployment.retain_stacks_on_account_removal",
        ),
        (
            {"operation_preferences": {"failure_tolerance_count": 1, "failure_tolerance_percentage": 10}},
            "operation_preferences.failure_tolerance_count",
        ),
        (
            {"operation_preferences": {"max_concurrent_percentage": 0}},
            "operation_preferences.max_concurrent_percentage",
        ),
        (
            {"operation_preferences": {"max_concurrent_percentage": 101}},
            "operation_preferences.max_concurrent_percentage",
        ),
        ({"operation_preferences": {"max_concurrent_count": 0}}, "operation_preferences.max_concurrent_count"),
        ({"operation_preferences": {"failure_tolerance_count": -1}}, "operation_preferences.failure_tolerance_count"),
        (
            {"operation_preferences": {"region_order": ["ap-northeast-1", "nowhere"]}},
            "operation_preferences.region_order[1]",
        ),
        (
            {"operation_preferences": {"region_concurrency_type": "RANDOM"}},
            "operation_preferences.region_concurrency_type",
        ),
        ({"template_body": "Resources: [", "template_source": "template"}, "template"),
        ({"template_url": "http://bucket/template.yml"}, "template_url"),
        ({"wait_timeout": 0}, "wait_timeout"),
        ({"tags": {"aws:reserved": "x"}}, "tags"),
    ],
)
def test_bad_options_fail_naming_the_field(overrides, field):
    with pytest.raises(InvalidInput) as err:
        spec(**overrides)
    assert err.value.field == field, str(err.value)
    assert field.split("[")[0].split(".")[0] in str(err.value)


def test_service_managed_role_options_say_what_to_do():
    with pytest.raises(InvalidInput) as err:
        spec(execution_role_name="AWSCloudFormationStackSetExecutionRole")
    assert "SELF_MANAGED" in err.value.message


def test_self_managed_spec_is_accepted():
    s = spec(
        permission_model="SELF_MANAGED",
        auto_deployment=None,
        deployment_targets={"accounts": ["222222222222"]},
        administration_role_arn="arn:aws:iam::111111111111:role/AWSCloudFormationStackSetAdministrationRole",
        execution_role_name="AWSCloudFormationStackSetExecutionRole",
    )
    assert s["targets"]["accounts"] == ["222222222222"]
    assert s["execution_role_name"] == "AWSCloudFormationStackSetExecutionRole"


def test_parameter_values_become_text():
    s = spec(parameters={"AdminAccountId": 111111111111, "OrganizationID": "o-abcdefghij"})
    assert s["parameters"]["AdminAccountId"] == "111111111111"


# -- a fixed-name IAM resource in more than one region (IAM is global: the second region fails "already exists") --


def test_a_fixed_name_iam_role_is_refused_in_a_second_region_naming_the_role():
    with pytest.raises(InvalidInput) as err:
        spec(regions=["ap-northeast-1", "eu-west-1"])
    assert err.value.field == "regions"
    message = err.value.message
    assert "AWS::IAM::Role AWS-SystemsManager-AutomationExecutionRole (AWSSystemsManagerAutomationExecutionRole)" in (
        message
    )
    assert "already exists" in message and "one region" in message
    assert spec(regions=["eu-west-1"])["regions"] == ["eu-west-1"]


def test_names_from_parameters_are_resolved_and_regional_names_are_allowed():
    template = {
        "Parameters": {"RoleName": {"Type": "String", "Default": "from-default"}},
        "Resources": {
            "ByRef": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Ref": "RoleName"}}},
            "Regional": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Fn::Sub": "r-${AWS::Region}"}}},
            "Unnamed": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Policy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"ManagedPolicyName": "p"}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
        },
    }
    assert stack_set.global_named_resources(template) == [
        {"logical_id": "ByRef", "type": "AWS::IAM::Role", "name": "from-default"},
        {"logical_id": "Policy", "type": "AWS::IAM::ManagedPolicy", "name": "p"},
    ]
    assert stack_set.global_named_resources(template, {"RoleName": "given"})[0]["name"] == "given"
    regional_only = {"Resources": {"Regional": template["Resources"]["Regional"]}}
    assert stack_set.global_named_resources(regional_only) == []
