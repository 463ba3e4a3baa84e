"""Organizations answers as AWS now does: ``Account.Status`` is retired in favour of ``State``.

Source: botocore's organizations model, the documentation of ``Account.Status`` ("will be retired on September 9,
2026 ... use the State parameter instead"). moto sends both; the world option ``organization.legacy_account_status:
false`` (the demo world's setting) sends ``State`` only.
"""

from __future__ import annotations

import copy

import botocore.session
import pytest
import yaml

from sandbox import organizations
from sandbox.fidelity import assert_valid_output
from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

PAYMENTS = "222233334444"


def _holds_account(shape, seen=()) -> bool:
    if shape is None or shape.name in seen:
        return False
    if shape.name == "Account":
        return True
    seen = (*seen, shape.name)
    if shape.type_name == "structure":
        return any(_holds_account(m, seen) for m in shape.members.values())
    if shape.type_name == "list":
        return _holds_account(shape.member, seen)
    return False


def test_every_operation_that_returns_accounts_is_covered():
    model = botocore.session.get_session().get_service_model("organizations")
    wanted = {op for op in model.operation_names if _holds_account(model.operation_model(op).output_shape)}
    assert wanted == set(organizations.ACCOUNT_OUTPUTS)
    assert "State" in model.shape_for("Account").members


def _world(legacy: bool) -> dict:
    doc = copy.deepcopy(yaml.safe_load(DEMO_WORLD.read_text()))
    doc["organization"]["legacy_account_status"] = legacy
    doc["faults"] = []
    return doc


@pytest.fixture(scope="module")
def state_only(tmp_path_factory):
    with SandboxHandle(_world(False), name="org-state", workdir=tmp_path_factory.mktemp("org-state")) as handle:
        yield handle


def test_accounts_carry_state_only(state_only):
    org = state_only.client("organizations")
    accounts = org.list_accounts()["Accounts"]
    assert accounts
    assert all("Status" not in a and a["State"] == "ACTIVE" for a in accounts), accounts
    under = org.list_accounts_for_parent(ParentId="ou-o2pk-paymnts1")["Accounts"]
    assert [a["Id"] for a in under] == [PAYMENTS]
    assert "Status" not in under[0] and under[0]["State"] == "ACTIVE"
    one = org.describe_account(AccountId=PAYMENTS)
    assert "Status" not in one["Account"] and one["Account"]["State"] == "ACTIVE"
    assert_valid_output("organizations", "DescribeAccount", one)
    assert_valid_output("organizations", "ListAccounts", {"Accounts": accounts})


def test_a_caller_reading_status_sees_nothing(state_only):
    """What organization.py did before it read State: every account would look not ACTIVE."""
    org = state_only.client("organizations")
    assert all(a.get("Status") != "ACTIVE" for a in org.list_accounts()["Accounts"])


def test_the_legacy_default_keeps_both_fields():
    from sandbox.world import load_world

    assert load_world(_world(True)).legacy_account_status is True
    doc = _world(True)
    del doc["organization"]["legacy_account_status"]
    assert load_world(doc).legacy_account_status is True
    assert load_world(_world(False)).legacy_account_status is False
