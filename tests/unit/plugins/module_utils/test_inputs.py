"""The roles' inputs (module_utils/inputs.py): one normaliser, one validator, named as the user named them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils import inputs, runbook

REPO = Path(__file__).resolve().parents[4]
FILES = REPO / "roles" / "check_os" / "files"
WORKLOADS = "ou-o2pk-wrkloads"
GOOD_RUN = {
    "run_automation_document_name": "check-os",
    "run_automation_target_ous": [WORKLOADS],
    "run_automation_regions": ["ap-northeast-1"],
    "run_automation_target_tags": {"ssm-automation": "true"},
}


def problems(excinfo):
    return dict(excinfo.value.problems)


@pytest.mark.parametrize(
    ("value", "items"),
    [
        (None, []),
        ("", []),
        ([], []),
        ("a", ["a"]),
        ("a,b", ["a", "b"]),
        ("a, b", ["a", "b"]),
        ("a\nb", ["a", "b"]),
        ("a\r\n\n b ,, c,", ["a", "b", "c"]),
        ("a b\tc", ["a", "b", "c"]),
        (["a, b", "c\nd", "", None], ["a", "b", "c", "d"]),
        (["ap-northeast-1"], ["ap-northeast-1"]),
        (123456789012, ["123456789012"]),
    ],
)
def test_one_list_rule_for_every_input(value, items):
    """Commas, spaces and new lines separate items, in a list item as in survey text."""
    assert inputs.split_list(value) == items


def test_good_run_automation_inputs_come_back_normalised():
    out = inputs.check_run_automation(
        dict(
            GOOD_RUN,
            run_automation_target_ous="ou-o2pk-wrkloads\nou-o2pk-security, 111122223333",
            run_automation_regions="ap-northeast-1, eu-west-1 ap-northeast-1",
            run_automation_required_steps="CheckHostname, Check-Hostname",
            run_automation_include_management_account="true",
            run_automation_max_failed_percent="10",
        )
    )
    assert out["target_ous"] == ["ou-o2pk-wrkloads", "ou-o2pk-security", "111122223333"]
    assert out["regions"] == ["ap-northeast-1", "eu-west-1"]
    assert out["required_steps"] == ["CheckHostname", "Check-Hostname"]  # the linter's rule: hyphens are fine
    assert out["include_management_account"] is True and out["all_instances"] is False
    assert out["report_formats"] == ["json", "csv", "markdown", "html", "junit"]
    assert out["max_failed_percent"] == 10 and out["reattach"] is False


def test_every_problem_is_reported_at_once_naming_each_variable():
    with pytest.raises(inputs.InvalidInputs) as e:
        inputs.check_run_automation(
            dict(
                GOOD_RUN,
                run_automation_target_ous="ou-o2pk-wrkloads; reboot",
                run_automation_regions=["tokyo"],
                run_automation_max_concurrency="5 %",
                run_automation_report_formats=["pdf"],
                run_automation_max_failed_percent=101,
                run_automation_required_steps=["a;b"],
            )
        )
    found = problems(e)
    assert set(found) == {
        "run_automation_target_ous[0]",
        "run_automation_target_ous[1]",
        "run_automation_regions[0]",
        "run_automation_max_concurrency",
        "run_automation_report_formats[0]",
        "run_automation_max_failed_percent",
        "run_automation_required_steps[0]",
    }
    assert str(e.value).startswith("Invalid input, nothing was sent to AWS. ")
    assert "ou-xxxx-xxxxxxxx" in found["run_automation_target_ous[0]"]
    assert "AWS region name" in found["run_automation_regions[0]"]
    assert "1% to 100%" in found["run_automation_max_concurrency"]
    assert "json, csv, markdown, html, junit" in found["run_automation_report_formats[0]"]


@pytest.mark.parametrize(
    ("override", "field", "fragment"),
    [
        ({"run_automation_target_ous": []}, "run_automation_target_ous", "at least one OU or account id"),
        ({"run_automation_regions": ""}, "run_automation_regions", "at least one region"),
        ({"run_automation_target_tags": {}}, "run_automation_target_tags", "at least one tag"),
        ({"run_automation_document_name": "check-os;reboot"}, "run_automation_document_name", "3-128 characters"),
        ({"run_automation_document_version": "latest"}, "run_automation_document_version", "$LATEST"),
        ({"run_automation_execution_id": "last-monday"}, "run_automation_execution_id", "36"),
        ({"run_automation_management_account_id": "1111"}, "run_automation_management_account_id", "12-digit"),
        ({"run_automation_exclude_accounts": ["r-ab12"]}, "run_automation_exclude_accounts[0]", "OU id"),
        (
            {"run_automation_exclude_accounts": ["%012d" % n for n in range(5001)]},
            "run_automation_exclude_accounts",
            "at most 5000",
        ),
        ({"run_automation_regions": ["eu-middle-9"]}, "run_automation_regions[0]", "AWS region name"),
        ({"run_automation_reader_role_name": "a b"}, "run_automation_reader_role_name", "IAM role name"),
        ({"run_automation_max_errors": "101%"}, "run_automation_max_errors", "0% to 100%"),
        ({"run_automation_location_max_errors": "some"}, "run_automation_location_max_errors", "0% to 100%"),
        ({"run_automation_target_tags": {"k": "true$(reboot)"}}, "run_automation_target_tags", "tag value"),
        ({"run_automation_target_tags": {"a;b": "v"}}, "run_automation_target_tags", "tag key"),
        ({"run_automation_target_tags": {"a": "1", "b": "2"}}, "run_automation_target_tags", "one tag key"),
        ({"run_automation_poll_interval": 0}, "run_automation_poll_interval", "1 or more"),
        ({"run_automation_wait_timeout": "soon"}, "run_automation_wait_timeout", "0 or more"),
        ({"run_automation_gather_concurrency": 0}, "run_automation_gather_concurrency", "1 or more"),
        ({"run_automation_all_instances": "maybe"}, "run_automation_all_instances", "true or false"),
    ],
)
def test_each_run_automation_rule(override, field, fragment):
    with pytest.raises(inputs.InvalidInputs) as e:
        inputs.check_run_automation(dict(GOOD_RUN, **override))
    found = problems(e)
    assert field in found, found
    assert fragment in found[field]


def test_empty_optional_values_and_reattach_relax_the_start_rules():
    out = inputs.check_run_automation(
        {
            "run_automation_execution_id": " 4f7c5a31-0d3e-4b5b-9a57-5a4f3c2b1a00 ",
            "run_automation_location_max_concurrency": "",
            "run_automation_document_version": "",
        }
    )
    assert out["reattach"] and out["execution_id"] == "4f7c5a31-0d3e-4b5b-9a57-5a4f3c2b1a00"
    inputs.check_run_automation(
        dict(GOOD_RUN, run_automation_target_ous=[], run_automation_include_management_account=True)
    )
    inputs.check_run_automation(dict(GOOD_RUN, run_automation_target_tags={}, run_automation_all_instances="yes"))


def test_aliases_rename_the_variable_and_keep_the_index():
    with pytest.raises(inputs.InvalidInputs) as e:
        inputs.check_run_automation(
            dict(GOOD_RUN, run_automation_target_ous=["x"], run_automation_regions=[]),
            {"run_automation_target_ous": "my_ous", "run_automation_regions": "my_regions"},
        )
    assert set(problems(e)) == {"my_ous[0]", "my_regions"}


def test_check_os_names_its_own_variables():
    with pytest.raises(inputs.InvalidInputs) as e:
        inputs.check_check_os(
            {
                "check_os_runbook_name": "check-os && curl x",
                "check_os_target_ous": "ou-o2pk-wrkloads; reboot",
                "check_os_regions": "eu-west-1`id`",
                "check_os_target_tag_key": "ssm-automation",
                "check_os_target_tag_value": "true$(reboot)",
                "check_os_execution_id": "",
                "check_os_report_formats": ["json"],
            }
        )
    text = str(e.value)
    for name in ("check_os_runbook_name", "check_os_target_ous[1]", "check_os_regions[0]", "check_os_target_tag_value"):
        assert name in text
    assert "run_automation_" not in text


def _check_os(variant, steps):
    values = {
        "check_os_runbook_name": "check-os",
        "check_os_target_ous": WORKLOADS,
        "check_os_regions": "ap-northeast-1",
        "check_os_target_tag_key": "ssm-automation",
        "check_os_target_tag_value": "true",
        "check_os_required_steps": steps,
    }
    return inputs.check_check_os(values, (FILES / variant).read_text())


def test_required_steps_on_every_platform_are_read_from_the_runbook():
    out = _check_os("check-os-improved.yml", "CheckHostname, CheckNTP")
    assert out["checked_steps"] == ["CheckHostname", "CheckNTP"]
    assert set(out["required_steps"]) == {
        "CheckHostname",
        "CheckHostnameWindows",
        "CheckNTP",
        "CheckNTPWindows",
        runbook.ONLINE_STEP,
    }
    assert out["field_aliases"]["run_automation_required_steps"] == "check_os_required_steps"


def test_the_seed_runbook_has_no_other_platform_and_no_gate():
    assert _check_os("check-os.yml", ["CheckHostname"])["required_steps"] == ["CheckHostname"]
    assert _check_os("check-os-improved.yml", [])["required_steps"] == []


def test_required_steps_follow_a_freshly_rendered_runbook():
    checks = [{"name": "Disk", "label": "disk", "linux": "df -h", "windows": "Get-PSDrive"}]
    doc = runbook.render_checks("disk-check", checks)
    assert set(inputs.required_steps_everywhere(["CheckDisk"], doc)) == {
        "CheckDisk",
        "CheckDiskWindows",
        "AssertOnline",
    }


GOOD_ROLES = {"execution_roles_target_ous": [WORKLOADS], "execution_roles_regions": ["ap-northeast-1"]}


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"execution_roles_target_ous": ["ou-o2pk"]}, "execution_roles_target_ous[0]"),
        ({"execution_roles_target_ous": "ou-o2pk-wrkloads, r-XYZ"}, "execution_roles_target_ous[1]"),
        ({"execution_roles_target_ous": []}, "execution_roles_target_ous"),
        ({"execution_roles_management_account_id": "11112222333"}, "execution_roles_management_account_id"),
        ({"execution_roles_organization_id": "o-123"}, "execution_roles_organization_id"),
        ({"execution_roles_regions": ["ap-northeast-1", "tokyo"]}, "execution_roles_regions[1]"),
        (
            {"execution_roles_operation_preferences": {"max_concurrent_percentage": 0}},
            "execution_roles_operation_preferences.max_concurrent_percentage",
        ),
        (
            {"execution_roles_reader_trusted_principals": "arn:aws:iam::x:root"},
            "execution_roles_reader_trusted_principals[0]",
        ),
        ({"execution_roles_call_as": "ROOT"}, "execution_roles_call_as"),
        ({"execution_roles_wait_timeout": 0}, "execution_roles_wait_timeout"),
    ],
)
def test_execution_roles_forms(override, field):
    with pytest.raises(inputs.InvalidInputs) as e:
        inputs.check_execution_roles(dict(GOOD_ROLES, **override), {})
    assert field in problems(e)


def test_execution_roles_aliases_and_normalisation():
    out = inputs.check_execution_roles(
        dict(
            GOOD_ROLES,
            execution_roles_target_ous="ou-o2pk-wrkloads\nr-o2pk",
            execution_roles_regions="ap-northeast-1 ap-northeast-1",
        )
    )
    assert out["target_ous"] == ["ou-o2pk-wrkloads", "r-o2pk"] and out["regions"] == ["ap-northeast-1"]
    assert out["deploy_reader_role"] is True and out["include_management_account"] is False
    with pytest.raises(inputs.InvalidInputs) as e:
        inputs.check_execution_roles(
            {"execution_roles_target_ous": ["x"]}, {"execution_roles_target_ous": "check_os_target_ous"}
        )
    assert "check_os_target_ous[0]" in problems(e)


ORG = {"id": "o-abcdefghij", "master_account_id": "111122223333"}
TREE = {"root_id": "r-o2pk", "ous": {WORKLOADS: {"name": "Workloads", "parent_id": "r-o2pk"}}, "accounts": {}}


def test_the_organization_checks():
    checked = inputs.check_execution_roles(
        dict(GOOD_ROLES, execution_roles_reader_trusted_principals=["arn:aws:iam::111122223333:role/Auditor"])
    )
    assert inputs.check_organization(checked, ORG, TREE) == {
        "management_account_id": "111122223333",
        "organization_id": "o-abcdefghij",
        "reader_trusted_principals": ["arn:aws:iam::111122223333:role/Auditor"],
    }
    bad = dict(
        checked,
        target_ous=[WORKLOADS, "ou-o2pk-missing1"],
        management_account_id="999999999999",
        organization_id="o-aaaaaaaaaa",
        reader_trusted_principals=["arn:aws:iam::222233334444:role/Someone"],
    )
    with pytest.raises(inputs.InvalidInputs) as e:
        inputs.check_organization(bad, ORG, TREE)
    assert set(problems(e)) == {
        "execution_roles_target_ous[1]",
        "execution_roles_management_account_id",
        "execution_roles_organization_id",
        "execution_roles_reader_trusted_principals[0]",
    }
    assert "nothing was written" in str(e.value)
