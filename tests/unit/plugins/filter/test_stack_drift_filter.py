"""The stack_drift filter: amazon.aws.cloudformation_info's result in, the differences of one stack out."""

from __future__ import annotations

from ansible_collections.orgops.ssm_automation.plugins.filter.stack_drift import FilterModule

TEMPLATE = "Resources: {}\n"


def test_the_filter_is_registered_and_reads_one_stack_of_the_info_result():
    drift = FilterModule().filters()["stack_drift"]
    info = {
        "mine": {
            "stack_description": {"stack_status": "CREATE_COMPLETE"},
            "stack_template": TEMPLATE,
            "stack_parameters": {},
            "stack_tags": {},
        }
    }
    assert drift(info, "mine", TEMPLATE) == []
    assert drift(info, "other", TEMPLATE) == ["missing"]
    assert drift({}, "mine", TEMPLATE, {"A": "1"}) == ["missing"]
    assert drift(info, "mine", TEMPLATE, {"A": "1"}, {"t": "v"}) == ["parameters", "tags"]
