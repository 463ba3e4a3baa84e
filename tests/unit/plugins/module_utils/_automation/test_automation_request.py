"""_automation/request.py: targets, parameters, locations and splitting, tokens, the assume role, parameters against the runbook."""

import copy

import botocore.session
import pytest
import yaml
from support.automation import CALLER_ARN, CHECK_OS, REGIONS, REPO, accounts, options

from ansible_collections.orgops.ssm_automation.plugins.module_utils import automation, runbook
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

# --- targets ---------------------------------------------------------------------------------------------


def test_tags_shorthand_becomes_tag_keys():
    assert automation.build_targets({"tags": {"Env": ["prod", "stage"]}}) == [
        {"Key": "tag:Env", "Values": ["prod", "stage"]},
    ]


def test_all_instances_is_ec2_star():
    assert automation.build_targets({"all_instances": True}) == [{"Key": "AWS::EC2::Instance", "Values": ["*"]}]


def test_raw_key_values_pass_through():
    assert automation.build_targets({"key_values": [{"key": "tag-key", "values": ["Patch"]}]}) == [
        {"Key": "tag-key", "Values": ["Patch"]}
    ]


def test_tags_and_all_instances_are_exclusive():
    with pytest.raises(InvalidInput) as e:
        automation.build_targets({"tags": {"a": "b"}, "all_instances": True})
    assert e.value.field == "targets"
    assert "tags and all_instances are mutually exclusive" in e.value.message


def test_at_most_five_tags_and_four_with_an_idempotency_key():
    five = {"k%d" % i: "v" for i in range(5)}
    assert len(automation.build_request(options(tags=five), regions=REGIONS)["request"]["Tags"]) == 5
    with pytest.raises(InvalidInput) as e:
        automation.build_request(options(tags=dict(five, k5="v")), regions=REGIONS)
    assert e.value.field == "tags"
    with pytest.raises(InvalidInput, match="at most 4 here"):
        automation.build_request(options(tags=five, idempotency_key="job"), regions=REGIONS)


def test_the_one_target_key_limit_is_botocores():
    # botocore's ssm model: StartAutomationExecution's Targets is AutomationTargets, max 1.
    model = botocore.session.get_session().get_service_model("ssm")
    limit = model.operation_model("StartAutomationExecution").input_shape.members["Targets"].metadata["max"]
    assert automation.MAX_TARGETS == limit == 1


@pytest.mark.parametrize(
    "targets, field",
    [
        ({"tags": {"ssm-automation": "true", "Env": ["prod", "stage"]}}, "targets.tags"),
        ({"key_values": [{"key": "tag:A", "values": ["1"]}, {"key": "tag:B", "values": ["2"]}]}, "targets.key_values"),
    ],
)
def test_two_target_keys_are_refused_naming_the_field_and_the_one_key_limit(targets, field):
    with pytest.raises(InvalidInput) as e:
        automation.build_targets(targets)
    assert e.value.field == field
    assert "has 2 keys" in e.value.message
    assert "accepts one target key" in e.value.message
    # before any AWS call: build_request is what the module runs before it creates a client
    with pytest.raises(InvalidInput) as e:
        automation.build_request(options(targets=targets), regions=REGIONS)
    assert e.value.field == field


# --- parameters ------------------------------------------------------------------------------------------


def test_parameters_scalars_and_lists_become_string_lists():
    assert automation.normalize_parameters({"A": "x", "B": 3, "C": True, "D": ["p", "q"], "E": {"k": "v"}}) == {
        "A": ["x"],
        "B": ["3"],
        "C": ["true"],
        "D": ["p", "q"],
        "E": ['{"k":"v"}'],
    }


def test_parameter_value_too_long():
    with pytest.raises(InvalidInput) as e:
        automation.normalize_parameters({"A": "x" * 513})
    assert e.value.field == "parameters.A"


# --- locations and splitting -----------------------------------------------------------------------------


def test_location_defaults_and_formats():
    loc = automation.check_location(
        {"accounts": ["123456789012", "ou-ab12-abcdefgh", "r-ab12"], "regions": ["eu-west-1"]}, 0, REGIONS
    )
    assert loc["include_child_ous"] is True
    assert loc["execution_role_name"] == "AWS-SystemsManager-AutomationExecutionRole"


@pytest.mark.parametrize(
    "location, field",
    [
        ({"accounts": ["12345"], "regions": ["eu-west-1"]}, "target_locations[0].accounts[0]"),
        ({"accounts": ["ou-bad"], "regions": ["eu-west-1"]}, "target_locations[0].accounts[0]"),
        ({"accounts": [], "regions": ["eu-west-1"]}, "target_locations[0].accounts"),
        ({"accounts": ["123456789012"], "regions": ["mars-north-1"]}, "target_locations[0].regions[0]"),
        ({"accounts": ["123456789012"], "regions": []}, "target_locations[0].regions"),
        (
            {"accounts": ["123456789012"], "regions": ["eu-west-1"], "exclude_accounts": ["r-ab12"]},
            "target_locations[0].exclude_accounts[0]",
        ),
        (
            {"accounts": ["123456789012"], "regions": ["eu-west-1"], "max_concurrency": "0"},
            "target_locations[0].max_concurrency",
        ),
        (
            {"accounts": ["123456789012"], "regions": ["eu-west-1"], "max_errors": "101%"},
            "target_locations[0].max_errors",
        ),
        (
            {"accounts": ["123456789012"], "regions": ["eu-west-1"], "execution_role_name": "bad role"},
            "target_locations[0].execution_role_name",
        ),
    ],
)
def test_location_errors_name_the_field(location, field):
    with pytest.raises(InvalidInput) as e:
        automation.check_location(location, 0, REGIONS)
    assert e.value.field == field


def test_exclude_accounts_limit():
    loc = {"accounts": ["123456789012"], "regions": ["eu-west-1"], "exclude_accounts": accounts(5001)}
    with pytest.raises(InvalidInput) as e:
        automation.check_location(loc, 2, REGIONS)
    assert e.value.field == "target_locations[2].exclude_accounts"
    assert "5000" in e.value.message


def test_no_split_under_limits():
    built = automation.build_request(
        options(target_locations=[{"accounts": accounts(50), "regions": ["eu-west-1"]}]), regions=REGIONS
    )
    assert len(built["request"]["TargetLocations"]) == 1
    assert built["split"] == []


def test_location_rate_control_is_always_sent_with_documented_defaults():
    # AWS's defaults when absent are 0 and 1 (botocore's ssm model, TargetLocation): one location error would stop
    # queueing every other location. The collection sends its own, explicitly.
    request = automation.build_request(options(), regions=REGIONS)["request"]
    for location in request["TargetLocations"]:
        assert location["TargetLocationMaxErrors"] == automation.DEFAULT_LOCATION_MAX_ERRORS == "100%"
        assert location["TargetLocationMaxConcurrency"] == automation.DEFAULT_LOCATION_MAX_CONCURRENCY == "10"
    given = [{"accounts": ["ou-o2pk-abcdefgh"], "regions": ["eu-west-1"], "max_errors": "0", "max_concurrency": "1"}]
    location = automation.build_request(options(target_locations=given), regions=REGIONS)["request"]["TargetLocations"]
    assert (location[0]["TargetLocationMaxErrors"], location[0]["TargetLocationMaxConcurrency"]) == ("0", "1")


def test_the_role_defaults_are_the_modules():
    defaults = yaml.safe_load((REPO / "roles" / "run_automation" / "defaults" / "main.yml").read_text())
    assert defaults["run_automation_location_max_errors"] == automation.DEFAULT_LOCATION_MAX_ERRORS
    assert defaults["run_automation_location_max_concurrency"] == automation.DEFAULT_LOCATION_MAX_CONCURRENCY


def test_more_than_50_accounts_are_split_and_reported():
    many = accounts(120)
    built = automation.build_request(
        options(
            target_locations=[
                {
                    "accounts": many,
                    "regions": ["eu-west-1", "ap-northeast-1"],
                    "exclude_accounts": ["ou-ab12-abcdefgh"],
                    "max_errors": "1",
                }
            ]
        ),
        regions=REGIONS,
    )
    tls = built["request"]["TargetLocations"]
    assert [len(t["Accounts"]) for t in tls] == [50, 50, 20]
    assert sum((t["Accounts"] for t in tls), []) == many
    for t in tls:
        assert t["Regions"] == ["eu-west-1", "ap-northeast-1"]
        assert t["ExcludeAccounts"] == ["ou-ab12-abcdefgh"]
        assert t["TargetLocationMaxErrors"] == "1"
        assert t["IncludeChildOrganizationUnits"] is True
    assert built["split"] == [
        {
            "location": 0,
            "into": 3,
            "accounts": 120,
            "regions": 2,
            "reason": "target_locations[0] has 120 accounts/OUs (limit 50): split into 3 TargetLocations",
        }
    ]


def test_more_than_50_regions_are_split():
    regions = ["r%02d" % i for i in range(51)]
    locs = [
        {
            "accounts": ["123456789012"],
            "regions": regions,
            "include_child_ous": True,
            "exclude_accounts": [],
            "execution_role_name": "X",
        }
    ]
    api, split = automation.split_locations(locs)
    assert [len(t["Regions"]) for t in api] == [50, 1]
    assert split[0]["into"] == 2


def test_over_100_target_locations_after_split_is_refused():
    locs = [
        {
            "accounts": accounts(50 * 101),
            "regions": ["eu-west-1"],
            "include_child_ous": True,
            "exclude_accounts": [],
            "execution_role_name": "X",
        }
    ]
    with pytest.raises(InvalidInput) as e:
        automation.split_locations(locs)
    assert e.value.field == "target_locations"
    assert "at most 100" in e.value.message


def test_request_shape_is_the_seeds():
    built = automation.build_request(
        options(max_concurrency="10", max_errors="100%", tags={"team": "ops"}), regions=REGIONS
    )
    req = built["request"]
    assert req["DocumentName"] == "check-os"
    assert req["TargetParameterName"] == "InstanceId"
    assert req["Targets"] == [{"Key": "tag:ssm-automation", "Values": ["true"]}]
    assert req["TargetLocations"] == [
        {
            "Accounts": ["ou-o2pk-abcdefgh"],
            "Regions": ["ap-northeast-1"],
            "IncludeChildOrganizationUnits": True,
            "ExecutionRoleName": "AWS-SystemsManager-AutomationExecutionRole",
            # not in the seed's request (AWS's defaults 1 and 0 then apply): the collection sends its own
            "TargetLocationMaxConcurrency": "10",
            "TargetLocationMaxErrors": "100%",
        }
    ]
    assert req["MaxConcurrency"] == "10"
    assert req["MaxErrors"] == "100%"
    assert req["Tags"] == [{"Key": "team", "Value": "ops"}]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"document_name": "a b"}, "document_name"),
        ({"document_version": "v6"}, "document_version"),
        ({"max_concurrency": "0%"}, "max_concurrency"),
        ({"max_errors": "x"}, "max_errors"),
        ({"client_token": "not-a-uuid"}, "client_token"),
        ({"client_token": "3f2b8c1e-8d4a-4b2e-9c1d-0a1b2c3d4e5f", "idempotency_key": "k"}, "client_token"),
        ({"tags": {"aws:reserved": "x"}}, "tags.aws:reserved"),
        ({"automation_assume_role": "arn:nope"}, "automation_assume_role"),
        ({"parameters": {"InstanceId": "i-123"}}, "parameters.InstanceId"),
        ({"targets": {"tags": {"a": "b"}, "all_instances": True}}, "targets"),
    ],
)
def test_start_options_errors(overrides, field):
    with pytest.raises(InvalidInput) as e:
        automation.build_request(options(**overrides), regions=REGIONS)
    assert e.value.field == field


# --- tokens ----------------------------------------------------------------------------------------------


def test_client_token_is_deterministic_and_request_bound():
    req = automation.build_request(options(), regions=REGIONS)["request"]
    a = automation.client_token("job-42", req)
    assert a == automation.client_token("job-42", copy.deepcopy(req))
    assert automation.CLIENT_TOKEN_RE.match(a)
    assert a != automation.client_token("job-43", req)
    other = dict(req, Parameters={"CheckHostname": ["skip"]})
    assert a != automation.client_token("job-42", other)


def test_token_tag_added_once():
    req = automation.with_token_tag({"DocumentName": "x", "Tags": [{"Key": "a", "Value": "b"}]}, "tok")
    req = automation.with_token_tag(req, "tok")
    assert req["ClientToken"] == "tok"
    assert req["Tags"] == [{"Key": "a", "Value": "b"}, {"Key": automation.TOKEN_TAG_PREFIX + "tok", "Value": "true"}]


# --- runbook: assume role and parameters -----------------------------------------------------------------


def test_assume_role_parameter_is_read_from_the_runbook():
    assert automation.assume_role_parameter(CHECK_OS) == "AutomationAssumeRole"
    assert automation.assume_role_parameter({"parameters": {}}) is None


def test_omitted_assume_role_is_built_from_the_caller_account():
    opts = options()
    req = automation.build_request(opts, regions=REGIONS)["request"]
    assert automation.needs_caller_identity(CHECK_OS, opts)
    out = automation.apply_runbook(
        req, CHECK_OS, opts, runbook.check_parameters, caller_arn="arn:aws-cn:sts::111111111111:assumed-role/x/y"
    )
    assert out["Parameters"]["AutomationAssumeRole"] == [
        "arn:aws-cn:iam::111111111111:role/AWS-SystemsManager-AutomationAdministrationRole"
    ]
    assert out["Parameters"]["CheckHostname"] == ["check"]
    assert "InstanceId" not in out["Parameters"]


def test_explicit_assume_role_arn_and_false():
    arn = "arn:aws:iam::222222222222:role/Custom"
    opts = options(automation_assume_role=arn)
    req = automation.build_request(opts, regions=REGIONS)["request"]
    assert not automation.needs_caller_identity(CHECK_OS, opts)
    assert automation.apply_runbook(req, CHECK_OS, opts, runbook.check_parameters)["Parameters"][
        "AutomationAssumeRole"
    ] == [arn]
    opts = options(automation_assume_role=False)
    # without it, the seed's runbook misses its required AutomationAssumeRole: check_parameters says so
    with pytest.raises(InvalidInput) as e:
        automation.apply_runbook(req, CHECK_OS, opts, runbook.check_parameters)
    assert e.value.field == "parameters.AutomationAssumeRole"


def test_assume_role_true_on_runbook_without_assume_role():
    doc = {"schemaVersion": "0.3", "parameters": {"InstanceId": {"type": "String"}}, "mainSteps": []}
    opts = options(automation_assume_role=True, parameters={})
    req = automation.build_request(opts, regions=REGIONS)["request"]
    with pytest.raises(InvalidInput) as e:
        automation.apply_runbook(req, doc, opts, runbook.check_parameters, caller_arn=CALLER_ARN)
    assert e.value.field == "automation_assume_role"


def test_assume_role_given_twice():
    opts = options(
        automation_assume_role="arn:aws:iam::222222222222:role/A",
        parameters={"AutomationAssumeRole": "arn:aws:iam::222222222222:role/B"},
    )
    req = automation.build_request(opts, regions=REGIONS)["request"]
    with pytest.raises(InvalidInput) as e:
        automation.apply_runbook(req, CHECK_OS, opts, runbook.check_parameters)
    assert e.value.field == "automation_assume_role"


@pytest.mark.parametrize(
    "parameters, field",
    [
        ({"Unknown": "x"}, "parameters.Unknown"),
        ({"CheckHostname": "maybe"}, "parameters.CheckHostname"),
    ],
)
def test_parameters_checked_against_the_runbook(parameters, field):
    opts = options(parameters=parameters)
    req = automation.build_request(opts, regions=REGIONS)["request"]
    with pytest.raises(InvalidInput) as e:
        automation.apply_runbook(req, CHECK_OS, opts, runbook.check_parameters, caller_arn=CALLER_ARN)
    assert e.value.field == field


def test_target_parameter_must_exist_in_runbook():
    opts = options(target_parameter_name="Nope")
    req = automation.build_request(opts, regions=REGIONS)["request"]
    with pytest.raises(InvalidInput) as e:
        automation.apply_runbook(req, CHECK_OS, opts, runbook.check_parameters, caller_arn=CALLER_ARN)
    assert e.value.field == "target_parameter_name"


def test_no_targets_requires_the_instance_parameter():
    opts = options(targets=None)
    req = automation.build_request(opts, regions=REGIONS)["request"]
    with pytest.raises(InvalidInput) as e:
        automation.apply_runbook(req, CHECK_OS, opts, runbook.check_parameters, caller_arn=CALLER_ARN)
    assert e.value.field == "parameters.InstanceId"
