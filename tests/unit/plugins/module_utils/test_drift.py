"""Stack drift (module_utils/drift.py): execution_roles deploys a management-account stack only when it differs."""

from __future__ import annotations

import json

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils.drift import stack_differences

TEMPLATE = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: x\n"
PARAMS = {"AdminAccountId": "111122223333", "OrganizationID": "o-abcdefghij"}
TAGS = {"team": "ops"}


def deployed(**override):
    info = {
        "stack_description": {"stack_status": "UPDATE_COMPLETE"},
        "stack_template": TEMPLATE,
        "stack_parameters": dict(PARAMS),
        "stack_tags": dict(TAGS),
    }
    info.update(override)
    return info


def test_the_same_stack_is_up_to_date():
    assert stack_differences(deployed(), TEMPLATE, PARAMS, TAGS) == []


def test_a_template_returned_parsed_or_as_json_compares_by_content():
    parsed = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}}
    assert stack_differences(deployed(stack_template=parsed), TEMPLATE, PARAMS, TAGS) == []
    assert stack_differences(deployed(stack_template=json.dumps(parsed)), TEMPLATE, PARAMS, TAGS) == []


def test_parameters_and_tags_compare_as_text():
    assert (
        stack_differences(
            deployed(), TEMPLATE, {"AdminAccountId": 111122223333, "OrganizationID": "o-abcdefghij"}, TAGS
        )
        == []
    )


def test_a_missing_stack():
    assert stack_differences({}, TEMPLATE, PARAMS, TAGS) == ["missing"]


@pytest.mark.parametrize(
    ("override", "wanted"),
    [
        ({"stack_description": {"stack_status": "UPDATE_ROLLBACK_COMPLETE"}}, ["status UPDATE_ROLLBACK_COMPLETE"]),
        ({"stack_template": TEMPLATE.replace("RoleName: x", "RoleName: y")}, ["template"]),
        ({"stack_parameters": dict(PARAMS, AdminAccountId="444455556666")}, ["parameters"]),
        ({"stack_tags": {}}, ["tags"]),
    ],
)
def test_each_difference_is_named(override, wanted):
    assert stack_differences(deployed(**override), TEMPLATE, PARAMS, TAGS) == wanted
