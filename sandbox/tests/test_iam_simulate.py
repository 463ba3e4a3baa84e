"""iam:SimulatePrincipalPolicy as the current botocore iam model describes it (sandbox/iam_simulate.py): one
EvaluationResult per action with the most restrictive decision on top and one ResourceSpecificResults entry per
resource, EvalDecision in the model's enum, MaxItems/Marker paging with IsTruncated, NoSuchEntity for an unknown
entity, a role's and a group member's policies, and the request log counting it as a read."""

from __future__ import annotations

import json

import botocore.exceptions
import botocore.session
import pytest

from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

MGMT = "111122223333"
DOC = f"arn:aws:ssm:ap-northeast-1:{MGMT}:document/check-os"
OTHER = "arn:aws:ssm:ap-northeast-1:999988887777:document/check-os"
ENUM = set(
    botocore.session.get_session().get_service_model("iam").shape_for("EvaluationResult").members["EvalDecision"].enum
)


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    handle = SandboxHandle(DEMO_WORLD, name="iam-simulate", workdir=tmp_path_factory.mktemp("iam-simulate"))
    handle.start()
    try:
        iam = handle.client("iam")
        iam.create_user(UserName="ops")
        iam.put_user_policy(
            UserName="ops",
            PolicyName="p",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "ssm:GetDocument",
                            "Resource": f"arn:aws:ssm:*:{MGMT}:document/*",
                        },
                        {"Effect": "Deny", "Action": "ssm:DeleteDocument", "Resource": "*"},
                        {
                            "Effect": "Allow",
                            "Action": "iam:PassRole",
                            "Resource": "*",
                            "Condition": {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}},
                        },
                    ],
                }
            ),
        )
        iam.create_group(GroupName="readers")
        iam.add_user_to_group(GroupName="readers", UserName="ops")
        iam.put_group_policy(
            GroupName="readers",
            PolicyName="g",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "ssm:ListDocuments", "Resource": "*"}],
                }
            ),
        )
        yield handle
    finally:
        handle.stop()


def simulate(box, **kw):
    out = box.client("iam").simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{MGMT}:user/ops", **kw)
    out.pop("ResponseMetadata")
    return out


def test_one_result_per_action_with_the_most_restrictive_decision_and_one_entry_per_resource(box):
    out = simulate(box, ActionNames=["ssm:GetDocument", "ssm:DeleteDocument"], ResourceArns=[DOC, OTHER])
    got = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    assert list(got) == ["ssm:GetDocument", "ssm:DeleteDocument"] and out["IsTruncated"] is False
    assert got["ssm:GetDocument"]["EvalDecision"] == "implicitDeny"  # allowed on DOC, not on OTHER
    assert [
        (r["EvalResourceName"], r["EvalResourceDecision"]) for r in got["ssm:GetDocument"]["ResourceSpecificResults"]
    ] == [
        (DOC, "allowed"),
        (OTHER, "implicitDeny"),
    ]
    assert got["ssm:DeleteDocument"]["EvalDecision"] == "explicitDeny"
    decisions = {r["EvalDecision"] for r in out["EvaluationResults"]}
    decisions |= {s["EvalResourceDecision"] for r in out["EvaluationResults"] for s in r["ResourceSpecificResults"]}
    assert decisions <= ENUM


def test_the_groups_policies_count_and_the_conditions_take_the_context_entries(box):
    listed = simulate(box, ActionNames=["ssm:ListDocuments"])
    assert listed["EvaluationResults"][0]["EvalDecision"] == "allowed"
    passed = [
        {"ContextKeyName": "iam:PassedToService", "ContextKeyValues": ["ssm.amazonaws.com"], "ContextKeyType": "string"}
    ]
    assert (
        simulate(box, ActionNames=["iam:PassRole"], ContextEntries=passed)["EvaluationResults"][0]["EvalDecision"]
        == "allowed"
    )
    assert simulate(box, ActionNames=["iam:PassRole"])["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"


def test_pages_with_max_items_and_marker(box):
    actions = ["ssm:GetDocument", "ssm:DeleteDocument", "ssm:ListDocuments"]
    first = simulate(box, ActionNames=actions, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["EvaluationResults"]) == 2
    rest = simulate(box, ActionNames=actions, MaxItems=2, Marker=first["Marker"])
    assert rest["IsTruncated"] is False and "Marker" not in rest
    assert [r["EvalActionName"] for r in first["EvaluationResults"] + rest["EvaluationResults"]] == actions


def test_an_unknown_entity_is_no_such_entity_and_the_call_is_a_read(box):
    seq = box.last_seq()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        box.client("iam").simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{MGMT}:role/nobody", ActionNames=["ssm:GetDocument"]
        )
    assert err.value.response["Error"]["Code"] == "NoSuchEntity"
    simulate(box, ActionNames=["ssm:GetDocument"])
    calls = [c for c in box.requests(seq) if c["action"] == "SimulatePrincipalPolicy"]
    assert len(calls) == 2 and not any(c["write"] for c in calls)
