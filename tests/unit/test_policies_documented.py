"""The per-phase IAM policies (plugins/module_utils/policies/*.json) are valid, name real actions, are shown
verbatim in docs/permissions.md, and cover what that page lists for each phase."""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore.session
import pytest

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "plugins" / "module_utils" / "policies"
DOC = REPO / "docs" / "permissions.md"
PHASES = ("roles", "runbook", "run", "report")
# IAM actions that are permissions only, with no API operation of the same name (Service Authorization Reference:
# iam:PassRole; CloudFormation's TagResource/UntagResource, checked when a stack's tags change)
PERMISSION_ONLY = {"iam:PassRole", "cloudformation:TagResource", "cloudformation:UntagResource"}
SERVICE = {
    "cloudformation": "cloudformation",
    "organizations": "organizations",
    "ssm": "ssm",
    "ec2": "ec2",
    "sts": "sts",
    "iam": "iam",
}


def load(phase: str) -> dict:
    return json.loads((POLICIES / f"{phase}.json").read_text())


def actions(doc: dict) -> list[str]:
    out = []
    for stmt in doc["Statement"]:
        acts = stmt["Action"]
        out += [acts] if isinstance(acts, str) else acts
    return out


@pytest.mark.parametrize("phase", PHASES)
def test_policy_is_valid_and_names_real_actions(phase):
    doc = load(phase)
    assert doc["Version"] == "2012-10-17"
    session = botocore.session.get_session()
    for stmt in doc["Statement"]:
        assert stmt["Effect"] == "Allow" and stmt.get("Sid")
        assert "*" not in stmt["Action"], "no wildcard action"
    for action in actions(doc):
        assert "*" not in action, action
        if action in PERMISSION_ONLY:
            continue
        service, op = action.split(":")
        assert op in session.get_service_model(SERVICE[service]).operation_names, action
    text = json.dumps(doc)
    assert "MANAGEMENT_ACCOUNT_ID" in text, "the management account is a placeholder to substitute"
    # every resource is scoped to the management account, except the ones that cannot be
    for stmt in doc["Statement"]:
        for res in [stmt["Resource"]] if isinstance(stmt["Resource"], str) else stmt["Resource"]:
            assert res == "*" or "MANAGEMENT_ACCOUNT_ID" in res or re.match(r"arn:aws:(iam|cloudformation):", res), res


@pytest.mark.parametrize("phase", PHASES)
def test_policy_is_shown_verbatim_in_the_permissions_page(phase):
    text = DOC.read_text()
    m = re.search(
        rf"#### `{phase}` \(`plugins/module_utils/policies/{phase}.json`\)\n\n```json\n(.*?)\n```", text, re.S
    )
    assert m, f"docs/permissions.md does not show {phase}.json"
    assert json.loads(m.group(1)) == load(phase)


def test_every_action_the_page_lists_for_a_phase_is_in_its_policy_or_marked_conditional():
    text = DOC.read_text()
    sections = re.split(r"^### ", text, flags=re.M)
    for phase in PHASES:
        section = next(s for s in sections if s.startswith(f"Phase `{phase}`"))
        granted = set(actions(load(phase)))
        for row in section.splitlines():
            if not row.startswith("| `"):
                continue
            listed = re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", row.split("|")[1])
            for action in listed:
                conditional = "not in the policy below" in row or "no permission needed" in row
                assert action in granted or conditional, f"{phase}: {action} is listed but not granted"
