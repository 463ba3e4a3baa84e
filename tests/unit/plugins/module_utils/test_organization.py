"""organization.py against moto's in-process Organizations: describe, the tree at every depth, target resolution."""

import boto3
import pytest
from moto import mock_aws

from ansible_collections.orgops.ssm_automation.plugins.module_utils import organization
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput


@pytest.fixture
def org():
    """Root -> Workloads -> Prod -> Payments, Root -> Sandbox; one account per OU plus one under the root."""
    with mock_aws():
        client = boto3.client("organizations", region_name="us-east-1")
        client.create_organization(FeatureSet="ALL")
        root = client.list_roots()["Roots"][0]["Id"]

        def ou(name, parent):
            return client.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]

        def account(name, parent):
            acct = client.create_account(AccountName=name, Email=name + "@example.com")["CreateAccountStatus"]
            acct_id = acct["AccountId"]
            client.move_account(AccountId=acct_id, SourceParentId=root, DestinationParentId=parent)
            return acct_id

        workloads = ou("Workloads", root)
        prod = ou("Prod", workloads)
        payments = ou("Payments", prod)
        sandbox = ou("Sandbox", root)
        ids = {
            "root": root,
            "workloads": workloads,
            "prod": prod,
            "payments": payments,
            "sandbox": sandbox,
            "a_workloads": account("workloads-shared", workloads),
            "a_prod": account("prod-app", prod),
            "a_payments": account("payments", payments),
            "a_sandbox": account("sandbox", sandbox),
            "a_root": account("loose", root),
        }
        ids["management"] = client.describe_organization()["Organization"]["MasterAccountId"]
        yield client, ids


def test_describe_organization_is_snake_case(org):
    client, ids = org
    described = organization.describe_organization(client)
    assert described["master_account_id"] == ids["management"]
    assert described["id"].startswith("o-")
    assert described["feature_set"] == "ALL"
    assert set(described) >= {"id", "arn", "master_account_id", "master_account_arn", "feature_set"}


def test_list_tree_reaches_every_depth(org):
    client, ids = org
    tree = organization.list_tree(client)
    assert tree["root_id"] == ids["root"]
    assert tree["ous"][ids["payments"]] == {"name": "Payments", "parent_id": ids["prod"]}
    assert tree["ous"][ids["prod"]]["parent_id"] == ids["workloads"]
    assert tree["accounts"][ids["a_payments"]]["parent_id"] == ids["payments"]
    assert tree["accounts"][ids["a_payments"]]["email"] == "payments@example.com"
    assert tree["accounts"][ids["a_payments"]]["status"] == "ACTIVE"
    assert tree["accounts"][ids["management"]]["parent_id"] == ids["root"]
    assert len(tree["accounts"]) == 6
    assert organization.ou_path(tree, ids["payments"]) == "Root/Workloads/Prod/Payments"


def test_list_tree_paginates(org, monkeypatch):
    client, ids = org
    original = client.list_accounts_for_parent
    pages = []

    def one_at_a_time(**kwargs):
        kwargs["MaxResults"] = 1
        page = original(**kwargs)
        pages.append(kwargs["ParentId"])
        return page

    monkeypatch.setattr(client, "list_accounts_for_parent", one_at_a_time)
    tree = organization.list_tree(client)
    assert len(tree["accounts"]) == 6
    # the root holds two accounts (management + loose): two pages, at least
    assert pages.count(ids["root"]) >= 2


def test_resolve_with_and_without_children(org):
    client, ids = org
    tree = organization.list_tree(client)
    deep = organization.resolve_accounts(tree, [ids["workloads"]])
    assert deep == sorted([ids["a_workloads"], ids["a_prod"], ids["a_payments"]])
    shallow = organization.resolve_accounts(tree, [ids["workloads"]], include_children=False)
    assert shallow == [ids["a_workloads"]]


def test_root_includes_management_account(org):
    client, ids = org
    tree = organization.list_tree(client)
    everything = organization.resolve_accounts(tree, [ids["root"]])
    assert ids["management"] in everything
    assert len(everything) == 6
    direct = organization.resolve_accounts(tree, [ids["root"]], include_children=False)
    assert sorted(direct) == sorted([ids["management"], ids["a_root"]])


def test_exclude_after_expansion_accounts_and_ous(org):
    client, ids = org
    tree = organization.list_tree(client)
    result = organization.resolve_accounts(tree, [ids["root"]], exclude=[ids["prod"], ids["management"]])
    assert result == sorted([ids["a_workloads"], ids["a_sandbox"], ids["a_root"]])


def test_accounts_and_duplicates(org):
    client, ids = org
    tree = organization.list_tree(client)
    result = organization.resolve_accounts(tree, [ids["a_sandbox"], ids["sandbox"], ids["a_payments"]])
    assert result == sorted([ids["a_sandbox"], ids["a_payments"]])


@pytest.mark.parametrize(
    ("targets", "exclude", "field"),
    [
        (["ou-nope"], None, "targets[0]"),
        (["12345"], None, "targets[0]"),
        (["ou-zzzz-zzzzzzzz"], None, "targets[0]"),
        (["999999999999"], None, "targets[0]"),
        (None, ["r-zzzz"], "exclude[0]"),
    ],
)
def test_bad_or_unknown_ids_name_the_field(org, targets, exclude, field):
    client, ids = org
    tree = organization.list_tree(client)
    with pytest.raises(InvalidInput) as err:
        organization.resolve_accounts(tree, targets or [ids["root"]], exclude=exclude)
    assert err.value.field == field


def test_pure_tree_without_aws():
    tree = {
        "root_id": "r-ab12",
        "ous": {"ou-ab12-11111111": {"name": "A", "parent_id": "r-ab12"}},
        "accounts": {
            "111111111111": {"name": "m", "email": "m@x", "status": "ACTIVE", "parent_id": "r-ab12"},
            "222222222222": {"name": "a", "email": "a@x", "status": "ACTIVE", "parent_id": "ou-ab12-11111111"},
        },
    }
    assert organization.resolve_accounts(tree, ["ou-ab12-11111111"]) == ["222222222222"]
    assert organization.resolve_accounts(tree, ["r-ab12"], exclude=["ou-ab12-11111111"]) == ["111111111111"]


def _stubbed_tree(accounts):
    """list_tree over a botocore Stubber whose ListAccountsForParent answers ``accounts`` (validated by the model)."""
    from botocore.stub import Stubber

    from ansible_collections.orgops.ssm_automation.plugins.module_utils import automation

    client = boto3.client("organizations", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        stub.add_response("list_roots", {"Roots": [{"Id": "r-ab12", "Name": "Root"}]})
        stub.add_response("list_organizational_units_for_parent", {"OrganizationalUnits": []}, {"ParentId": "r-ab12"})
        stub.add_response("list_accounts_for_parent", {"Accounts": accounts}, {"ParentId": "r-ab12"})
        tree = organization.list_tree(client)
        stub.assert_no_pending_responses()
    ids = sorted(tree["accounts"])
    location = {
        "accounts": ["r-ab12"],
        "regions": ["eu-west-1"],
        "include_child_ous": True,
        "exclude_accounts": [],
        "execution_role_name": automation.DEFAULT_EXECUTION_ROLE,
    }
    instances = [{"account": a, "region": "eu-west-1", "status": "CURRENT"} for a in ids]
    checked = automation.evaluate_preflight(tree, [location], instances, None, False, organization.resolve_accounts)
    return tree, checked


def _account(number, **state):
    return dict({"Id": str(number) * 12, "Name": "a%d" % number, "Email": "a%d@example.com" % number}, **state)


def test_account_state_is_read_from_state_then_the_retired_status():
    # botocore's organizations model: Account.Status is retired on 2026-09-09 in favour of Account.State.
    tree, checked = _stubbed_tree(
        [
            _account(1, State="ACTIVE"),  # after the retirement: State only
            _account(2, Status="ACTIVE"),  # before State existed: Status only
            _account(3, State="ACTIVE", Status="ACTIVE"),  # today: both
        ]
    )
    assert {a["status"] for a in tree["accounts"].values()} == {"ACTIVE"}
    assert checked["ok"], checked["message"]
    assert checked["inactive_accounts"] == []


def test_account_state_wins_over_status_and_inactive_accounts_are_named_with_it():
    tree, checked = _stubbed_tree(
        [
            _account(1, State="CLOSED", Status="SUSPENDED"),
            _account(2, State="SUSPENDED"),
            _account(3, Status="PENDING_CLOSURE"),
            _account(4, State="ACTIVE"),
        ]
    )
    assert tree["accounts"]["111111111111"]["status"] == "CLOSED"
    assert checked["inactive_accounts"] == ["111111111111", "222222222222", "333333333333"]
    assert not checked["ok"]
    assert "111111111111 (CLOSED), 222222222222 (SUSPENDED), 333333333333 (PENDING_CLOSURE)" in checked["message"]
