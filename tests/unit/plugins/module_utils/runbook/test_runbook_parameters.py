"""check_parameters: a start request's parameters against the runbook's declared parameters, before any call."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils import runbook
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

REPO = Path(__file__).resolve().parents[5]
SEED = runbook.parse_content((REPO / "roles/check_os/files/check-os.yml").read_text())
ADMIN_ROLE = "arn:aws:iam::111111111111:role/AWS-SystemsManager-AutomationAdministrationRole"

TYPED = {
    "schemaVersion": "0.3",
    "parameters": {
        "Name": {"type": "String", "allowedPattern": "^[a-z][a-z0-9-]{0,15}$", "default": "web"},
        "Names": {"type": "StringList", "default": [], "maxItems": 3},
        "Count": {"type": "Integer", "default": 1},
        "DryRun": {"type": "Boolean", "default": True},
        "Tags": {"type": "StringMap", "default": {}},
        "Rules": {"type": "MapList", "default": []},
        "Short": {"type": "String", "default": "", "maxChars": 5},
    },
    "mainSteps": [],
}


def _seed_params(**overrides):
    params = {"AutomationAssumeRole": ADMIN_ROLE, "InstanceId": "i-0123456789abcdef0"}
    params.update({"Check%s" % k: "check" for k in ("Hostname", "Timezone", "Locale", "Update", "NTP")})
    params.update(overrides)
    return params


def test_seed_parameters_in_wire_form():
    wire = runbook.check_parameters(SEED, _seed_params(CheckUpdate="skip"))
    assert wire["CheckUpdate"] == ["skip"]
    assert wire["AutomationAssumeRole"] == [ADMIN_ROLE]
    assert all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in wire.values())


def test_defaults_make_parameters_optional():
    wire = runbook.check_parameters(SEED, {"AutomationAssumeRole": ADMIN_ROLE, "InstanceId": "i-1"})
    assert set(wire) == {"AutomationAssumeRole", "InstanceId"}


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        (
            _seed_params(CheckUpdates="check"),
            "parameters.CheckUpdates",
            "is not a parameter of this runbook; accepted: ",
        ),
        (_seed_params(CheckUpdate="maybe"), "parameters.CheckUpdate", "accepted: type String; one of check, skip"),
        (_seed_params(CheckNTP=["check", "skip"]), "parameters.CheckNTP", "exactly one value"),
        ({"InstanceId": "i-1"}, "parameters.AutomationAssumeRole", "is required (it has no default) and missing"),
        (_seed_params(CheckHostname={"a": 1}), "parameters.CheckHostname", "not a single value"),
    ],
)
def test_seed_parameter_errors(params, field, says):
    with pytest.raises(InvalidInput) as e:
        runbook.check_parameters(SEED, params)
    assert e.value.field == field
    assert says in e.value.message


def test_unknown_parameter_lists_the_accepted_names():
    with pytest.raises(InvalidInput) as e:
        runbook.check_parameters(SEED, _seed_params(Message="hi"))
    for name in ("AutomationAssumeRole", "CheckNTP", "InstanceId"):
        assert name in e.value.message


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        (
            {"Name": "Web Server"},
            "parameters.Name",
            "does not match the allowedPattern; accepted: type String; matching ^[a-z]",
        ),
        ({"Names": ["a", "b", "c", "d"]}, "parameters.Names", "at most 3"),
        ({"Count": "ten"}, "parameters.Count", "is not an integer"),
        ({"DryRun": "yes"}, "parameters.DryRun", "true or false"),
        ({"Tags": "not json"}, "parameters.Tags", "not a JSON object"),
        ({"Rules": [1]}, "parameters.Rules", "not a mapping"),
        ({"Short": "toolong"}, "parameters.Short", "at most 5"),
        ("Name=web", "parameters", "a mapping of parameter name to value"),
    ],
)
def test_typed_parameter_errors(params, field, says):
    with pytest.raises(InvalidInput) as e:
        runbook.check_parameters(TYPED, params)
    assert e.value.field == field
    assert says in e.value.message


def test_typed_parameters_wire_form():
    wire = runbook.check_parameters(
        TYPED,
        {
            "Name": "web-1",
            "Names": "single",
            "Count": 3,
            "DryRun": False,
            "Tags": {"b": "2", "a": "1"},
            "Rules": [{"x": 1}],
        },
    )
    assert wire == {
        "Name": ["web-1"],
        "Names": ["single"],
        "Count": ["3"],
        "DryRun": ["false"],
        "Tags": ['{"a": "1", "b": "2"}'],
        "Rules": ['{"x": 1}'],
    }


def test_rendered_runbook_validates_instance_ids():
    doc = runbook.render_checks("x", [{"name": "Hostname", "linux": "hostname"}], cross_platform=False)
    assert runbook.check_parameters(doc, {"InstanceId": "i-0123456789abcdef0"}) == {
        "InstanceId": ["i-0123456789abcdef0"]
    }
    with pytest.raises(InvalidInput) as e:
        runbook.check_parameters(doc, {"InstanceId": "i-1; reboot"})
    assert e.value.field == "parameters.InstanceId"
