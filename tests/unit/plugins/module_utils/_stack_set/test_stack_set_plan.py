"""_stack_set/plan.py: the steps from the current StackSet to the desired one, and the diff."""

import json

import pytest
from support.stack_sets import (
    EXEC_TEMPLATE,
    INSTANCES,
    OU_A,
    OU_B,
    OU_C,
    PARAMS,
    current,
    instance,
    spec,
)

from ansible_collections.orgops.ssm_automation.plugins.module_utils import stack_set
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

# ---------------------------------------------------------------------------------------------------------------------
# planning


def cur(**overrides):
    return stack_set.stack_set_to_dict(current(**overrides))


def inst(raw=None):
    return [stack_set.instance_to_dict(i) for i in (INSTANCES if raw is None else raw)]


def test_nothing_to_do_when_everything_matches():
    assert stack_set.plan(spec(), cur(), inst()) == []


def test_formatting_of_the_template_does_not_count():
    reformatted = json.dumps(stack_set.parse_template(EXEC_TEMPLATE), sort_keys=True)
    assert stack_set.plan(spec(template_body=reformatted), cur(), inst()) == []


def test_create_when_absent():
    steps = stack_set.plan(spec(), None, [])
    assert [s["action"] for s in steps] == ["create_stack_set", "create_instances"]
    assert steps[1]["targets"] == [OU_A, OU_B]
    assert steps[1]["regions"] == ["ap-northeast-1"]


def test_creating_needs_a_template():
    with pytest.raises(InvalidInput) as err:
        stack_set.plan(spec(template_body=None, parameters=None), None, [])
    assert err.value.field == "template_body"


@pytest.mark.parametrize(
    ("overrides", "raw_overrides", "field"),
    [
        ({"parameters": {"AdminAccountId": "999999999999", "OrganizationID": "o-abcdefghij"}}, {}, "parameters"),
        ({"template_body": EXEC_TEMPLATE.replace("ec2:DescribeInstances", "ec2:DescribeTags")}, {}, "template"),
        ({"capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]}, {}, "capabilities"),
        ({"tags": {"team": "ops"}}, {}, "tags"),
        ({}, {"Tags": [{"Key": "stale", "Value": "x"}]}, None),
        ({"tags": {}}, {"Tags": [{"Key": "stale", "Value": "x"}]}, "tags"),
        ({"description": "new"}, {}, "description"),
        ({"auto_deployment": {"enabled": False}}, {}, "auto_deployment"),
        ({"auto_deployment": {"enabled": True, "retain_stacks_on_account_removal": True}}, {}, "auto_deployment"),
        ({"managed_execution": {"active": True}}, {}, "managed_execution"),
    ],
)
def test_update_only_on_real_differences(overrides, raw_overrides, field):
    steps = stack_set.plan(spec(**overrides), cur(**raw_overrides), inst())
    if field is None:
        assert steps == []
    else:
        assert steps == [{"action": "update_stack_set", "fields": [field]}]


def test_tags_without_purge_only_add():
    have = cur(Tags=[{"Key": "keep", "Value": "1"}])
    assert stack_set.plan(spec(tags={}, purge_tags=False), have, inst()) == []
    steps = stack_set.plan(spec(tags={"new": "2"}, purge_tags=False), have, inst())
    assert steps[0]["fields"] == ["tags"]
    request = stack_set._stack_set_request(spec(tags={"new": "2"}, purge_tags=False), have)
    assert request["Tags"] == [{"Key": "keep", "Value": "1"}, {"Key": "new", "Value": "2"}]


def test_parameter_left_at_its_default_is_no_difference():
    template = EXEC_TEMPLATE.replace("Parameters:\n", "Parameters:\n  Extra:\n    Type: String\n    Default: x\n", 1)
    have = cur(
        TemplateBody=template, Parameters=current()["Parameters"] + [{"ParameterKey": "Extra", "ParameterValue": "x"}]
    )
    assert stack_set.plan(spec(template_body=template), have, inst()) == []
    steps = stack_set.plan(spec(template_body=template, parameters=dict(PARAMS, Extra="y")), have, inst())
    assert steps == [{"action": "update_stack_set", "fields": ["parameters"]}]


def test_new_ou_gets_instances_and_old_ones_are_untouched():
    steps = stack_set.plan(spec(deployment_targets={"organizational_unit_ids": [OU_A, OU_B, OU_C]}), cur(), inst())
    assert steps == [{"action": "create_instances", "targets": [OU_C], "regions": ["ap-northeast-1"], "service": True}]


def test_new_region_for_every_ou_is_one_operation():
    # planning only: validate_spec refuses a second region for this template (its role name is fixed, IAM is global)
    wanted = dict(spec(), regions=["ap-northeast-1", "eu-west-1"])
    steps = stack_set.plan(wanted, cur(), inst())
    assert steps == [{"action": "create_instances", "targets": [OU_A, OU_B], "regions": ["eu-west-1"], "service": True}]


def test_empty_ou_recorded_by_aws_is_not_redeployed():
    have = cur(OrganizationalUnitIds=[OU_A, OU_B, OU_C])
    assert stack_set.plan(spec(deployment_targets={"organizational_unit_ids": [OU_A, OU_B, OU_C]}), have, inst()) == []


def test_dropped_ou_is_kept_without_purge_and_deleted_by_ou_with_it():
    wanted = {"organizational_unit_ids": [OU_A]}
    assert stack_set.plan(spec(deployment_targets=wanted), cur(), inst()) == []
    steps = stack_set.plan(spec(deployment_targets=wanted, purge_instances=True), cur(), inst())
    assert steps == [{"action": "delete_instances", "targets": [OU_B], "regions": ["ap-northeast-1"], "service": True}]
    request = stack_set._deployment_targets(spec(), steps[0])
    assert request == {"DeploymentTargets": {"OrganizationalUnitIds": [OU_B]}}


def test_dropped_region_with_purge():
    two = inst(INSTANCES + [instance("222222222222", OU_A, "eu-west-1")])
    steps = stack_set.plan(spec(purge_instances=True), cur(Regions=["ap-northeast-1", "eu-west-1"]), two)
    deletes = [s for s in steps if s["action"] == "delete_instances"]
    assert deletes == [
        {"action": "delete_instances", "targets": [OU_A, OU_B], "regions": ["eu-west-1"], "service": True}
    ]


def test_no_targets_option_leaves_instances_alone():
    assert stack_set.plan(spec(deployment_targets=None, regions=None, purge_instances=True), cur(), inst()) == []


def test_absent_deletes_instances_by_ou_then_the_stack_set():
    steps = stack_set.plan(spec(state="absent"), cur(), inst())
    assert steps == [
        {"action": "delete_instances", "targets": [OU_A, OU_B], "regions": ["ap-northeast-1"], "service": True},
        {"action": "delete_stack_set"},
    ]
    assert stack_set.plan(spec(state="absent"), None, []) == []


def test_self_managed_targets_are_accounts():
    s = spec(
        permission_model="SELF_MANAGED",
        auto_deployment=None,
        deployment_targets={"accounts": ["222222222222", "555555555555"]},
    )
    have = cur(PermissionModel="SELF_MANAGED", AutoDeployment=None, OrganizationalUnitIds=[])
    steps = stack_set.plan(s, have, inst([instance("222222222222", None)]))
    assert steps == [
        {"action": "create_instances", "targets": ["555555555555"], "regions": ["ap-northeast-1"], "service": False}
    ]
    assert stack_set._deployment_targets(s, steps[0]) == {"Accounts": ["555555555555"]}


def test_diff_shows_template_parameters_and_targets():
    new = spec(
        template_body=EXEC_TEMPLATE.replace("ec2:DescribeInstances", "ec2:DescribeTags"),
        deployment_targets={"organizational_unit_ids": [OU_A, OU_C]},
        purge_instances=True,
    )
    steps = stack_set.plan(new, cur(), inst())
    diff = stack_set.build_diff(new, cur(), inst(), steps)
    assert "ec2:DescribeInstances" in diff["before"]["template"]
    assert "ec2:DescribeTags" in diff["after"]["template"]
    assert diff["before"]["targets"] == {OU_A: ["ap-northeast-1"], OU_B: ["ap-northeast-1"]}
    assert diff["after"]["targets"] == {OU_A: ["ap-northeast-1"], OU_C: ["ap-northeast-1"]}
    assert diff["after"]["parameters"] == PARAMS
