"""The AWX job template and survey (awx/) against the playbook's variables (roles/check_os/meta/argument_specs.yml).

AWX passes each survey answer as an extra variable, typed by the question: text and textarea give strings,
integer an int, multiplechoice one of its choices (a string), multiselect a list of its choices. Every survey
variable must be a variable of the role the playbook runs, of a type the role accepts, and every answer AWX can
produce from the survey's choices and defaults must pass the role's argument spec.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

REPO = Path(__file__).resolve().parents[2]
SURVEY = json.loads((REPO / "awx" / "survey.json").read_text())
JOB_TEMPLATE = yaml.safe_load((REPO / "awx" / "job_template.yml").read_text())
PLAYBOOK = REPO / JOB_TEMPLATE["playbook"]
SPEC = yaml.safe_load((REPO / "roles" / "check_os" / "meta" / "argument_specs.yml").read_text())["argument_specs"][
    "main"
]
OPTIONS = SPEC["options"]
QUESTION_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


def choices_of(question) -> list[str]:
    """AWX accepts choices as a list or as a newline-separated string."""
    choices = question.get("choices") or []
    if isinstance(choices, str):
        choices = [c for c in choices.splitlines() if c.strip()]
    return choices


def awx_errors(question, answers: dict) -> list[str]:
    """AWX's per-question validation (awx/main/models/mixins.py, SurveyJobTemplateMixin._survey_element_validation)."""
    var, kind = question["variable"], question["type"]
    if var not in answers:
        return [f"'{var}' value missing"] if question.get("required") else []
    value = answers[var]
    lo, hi = question.get("min"), question.get("max")
    if kind in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return [f"{var} expected to be a string"]
        if lo not in ("", None) and len(value) < int(lo):
            return [f"{var} too short"]
        if hi not in ("", None) and len(value) > int(hi):
            return [f"{var} too long"]
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):  # AWX: type(value) != int
            return [f"{var} expected to be an integer"]
        if lo not in ("", None) and value < int(lo):
            return [f"{var} too small"]
        if hi not in ("", None) and value > int(hi):
            return [f"{var} too large"]
    elif kind == "multiselect":
        if not isinstance(value, list):
            return [f"{var} is expected to be a list"]
        return [f"{v} not a choice of {var}" for v in value if v not in choices_of(question)]
    elif kind == "multiplechoice" and value not in choices_of(question):
        return [f"{value} not a choice of {var}"]
    return []


def awx_defaults() -> dict:
    """What AWX adds for unanswered questions: each default that passes its own question's validation."""
    out = {}
    for q in SURVEY["spec"]:
        if q.get("default") is not None and not awx_errors(q, {q["variable"]: q["default"]}):
            out[q["variable"]] = q["default"]
    return out


def validate_against_role(extra_vars: dict) -> list[str]:
    """Run Ansible's own argument-spec validator (what validate_argument_spec does at role entry)."""
    result = ArgumentSpecValidator(OPTIONS).validate(extra_vars)
    return [str(e) for e in result.errors]


def test_job_template_runs_the_playbook_with_the_survey():
    assert PLAYBOOK.is_file()
    assert JOB_TEMPLATE["survey_enabled"] is True
    assert (REPO / "awx" / JOB_TEMPLATE["survey_spec_file"]).resolve() == (REPO / "awx" / "survey.json").resolve()
    assert JOB_TEMPLATE["ask_variables_on_launch"] is False, "only survey answers may reach the playbook"
    play = yaml.safe_load(PLAYBOOK.read_text())
    roles = [r["role"] if isinstance(r, dict) else r for p in play for r in p.get("roles", [])]
    assert roles == ["orgops.ssm_automation.check_os"]


def test_survey_is_well_formed():
    assert SURVEY["name"] and SURVEY["description"]
    variables = [q["variable"] for q in SURVEY["spec"]]
    assert len(variables) == len(set(variables)), "a variable is asked twice"
    for q in SURVEY["spec"]:
        assert q["type"] in QUESTION_TYPES, q
        assert q["question_name"] and q["question_description"], q
        assert isinstance(q["required"], bool), q
        if q["type"] in ("multiplechoice", "multiselect"):
            assert choices_of(q), q


def test_survey_asks_what_the_issue_lists():
    variables = {q["variable"] for q in SURVEY["spec"]}
    wanted = {
        "check_os_target_ous",  # OU ids
        "check_os_regions",
        "check_os_target_tag_key",
        "check_os_target_tag_value",
        "check_os_hostname",  # the checks to run
        "check_os_timezone",
        "check_os_locale",
        "check_os_updates",
        "check_os_ntp",
        "check_os_max_failed_percent",  # the failure policy
        "check_os_required_steps",
    }
    assert wanted <= variables, wanted - variables


@pytest.mark.parametrize("question", SURVEY["spec"], ids=lambda q: q["variable"])
def test_every_survey_variable_is_a_documented_role_variable(question):
    option = OPTIONS.get(question["variable"])
    assert option is not None, f"{question['variable']} is not in roles/check_os/meta/argument_specs.yml"
    assert option.get("description"), f"{question['variable']} is undocumented"


@pytest.mark.parametrize("question", SURVEY["spec"], ids=lambda q: q["variable"])
def test_survey_answers_fit_the_role_variable(question):
    """Every answer AWX can send for this question passes the role's argument spec."""
    option = OPTIONS[question["variable"]]
    kind = question["type"]
    if kind == "multiplechoice":
        samples = choices_of(question)
        if option.get("choices"):
            assert set(samples) <= set(map(str, option["choices"])), "the survey offers a value the role refuses"
        if option["type"] == "bool":
            assert set(samples) <= {"true", "false"}
    elif kind == "multiselect":
        assert option["type"] == "list"
        choices = choices_of(question)
        if option.get("choices"):
            assert set(choices) <= set(option["choices"])
        samples = [list(c) for n in (1, 2) for c in itertools.combinations(choices, n)] + [[]]
    elif kind == "integer":
        assert option["type"] == "int"
        samples = [int(question["min"]), int(question["max"])]
    else:
        assert option["type"] in ("str", "list", "path")
        samples = ["ou-o2pk-wrkloads", "ou-o2pk-wrkloads,ou-o2pk-security"] if option["type"] == "list" else ["x"]
    for value in samples:
        assert not awx_errors(question, {question["variable"]: value}), value
        assert validate_against_role({question["variable"]: value}) == [], value


def test_survey_defaults_pass_the_role_spec():
    defaults = awx_defaults()
    assert validate_against_role(defaults) == []
    # the defaults AWX adds are the role's own defaults (the survey does not silently change behaviour)
    for var, value in defaults.items():
        role_default = OPTIONS[var].get("default")
        if isinstance(role_default, list):
            assert role_default in ([value], value), var
        elif isinstance(role_default, bool):
            assert str(role_default).lower() == str(value).lower(), var
        else:
            assert value == role_default, var


def test_choice_questions_cannot_carry_shell_metacharacters():
    metachar = re.compile(r"[;&|`$(){}<>\\\"'\s*?!#~]")
    for q in SURVEY["spec"]:
        for choice in choices_of(q):
            assert not metachar.search(choice), (q["variable"], choice)


def test_check_questions_are_the_runbook_parameters_allowed_values():
    """The check/skip answers go into runbook parameters whose allowedValues are exactly check and skip."""
    runbook = yaml.safe_load((REPO / "roles" / "check_os" / "files" / "check-os.yml").read_text())
    for var, param in {
        "check_os_hostname": "CheckHostname",
        "check_os_timezone": "CheckTimezone",
        "check_os_locale": "CheckLocale",
        "check_os_updates": "CheckUpdate",
        "check_os_ntp": "CheckNTP",
    }.items():
        question = next(q for q in SURVEY["spec"] if q["variable"] == var)
        assert sorted(choices_of(question)) == sorted(runbook["parameters"][param]["allowedValues"])
        assert sorted(OPTIONS[var]["choices"]) == sorted(runbook["parameters"][param]["allowedValues"])
