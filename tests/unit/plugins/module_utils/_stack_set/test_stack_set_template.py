"""_stack_set/template.py: templates as data (JSON and YAML forms, short forms, parameters)."""

import json

import pytest
import yaml
from support.stack_sets import (
    EXEC_TEMPLATE,
)

from ansible_collections.orgops.ssm_automation.plugins.module_utils import stack_set
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

# ---------------------------------------------------------------------------------------------------------------------
# templates


def test_yaml_and_json_forms_of_a_template_are_equal():
    as_yaml = stack_set.parse_template(EXEC_TEMPLATE)
    as_json = stack_set.parse_template(json.dumps(as_yaml, indent=4, sort_keys=True))
    assert as_yaml == as_json
    reordered = yaml.safe_dump(dict(reversed(list(as_yaml.items()))), default_flow_style=False)
    assert stack_set.parse_template(reordered) == as_yaml


def test_short_form_tags_and_unquoted_version_date():
    short = (
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Resources:\n  R:\n    Type: X\n    Properties:\n"
        "      A: !Ref P\n      B: !Sub 'x-${AWS::AccountId}'\n      C: !GetAtt R2.Arn\n"
    )
    long_form = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "R": {
                "Type": "X",
                "Properties": {
                    "A": {"Ref": "P"},
                    "B": {"Fn::Sub": "x-${AWS::AccountId}"},
                    "C": {"Fn::GetAtt": ["R2", "Arn"]},
                },
            }
        },
    }
    assert stack_set.parse_template(short) == long_form


@pytest.mark.parametrize("body", ["Resources: [unclosed", "just text", "{}", "Resources: 3"])
def test_bad_templates_name_the_option(body):
    with pytest.raises(InvalidInput) as err:
        stack_set.parse_template(body, "template")
    assert err.value.field == "template"


def test_template_parameters_defaults_and_no_echo():
    declared = stack_set.template_parameters(
        {
            "Parameters": {"A": {"Type": "String"}, "B": {"Default": 3}, "S": {"NoEcho": True, "Default": "x"}},
            "Resources": {},
        }
    )
    assert declared == {
        "A": {"default": None, "no_echo": False},
        "B": {"default": "3", "no_echo": False},
        "S": {"default": "x", "no_echo": True},
    }
