"""The sandbox judges every request the collection can send as the botocore model says AWS's front end does.

For each operation of the call inventory (``sandbox.inventory``: derived from ``plugins/``) and the calls the roles
make through amazon.aws and the tests make to set up principals (``ROLE_AND_SETUP_CALLS``: the operation names are
listed, their cases are not), ``sandbox.contract`` derives from the pinned model a value just inside and just
outside each constraint of each member (required, enum, pattern, min/max of strings, numbers and lists). Each case
is sent over HTTP with botocore's client-side validation off (AWS receives what a client without it sends):

- outside: the answer is the protocol's validation error (400) and its message names the member;
- inside: the answer is not a validation error about that member (it may be another error: a name that does not
  exist, a trust policy that does not admit the caller).

botocore's own ParamValidator is an independent oracle for what it checks (required members, minimum lengths and
sizes, numbers below the minimum): every such outside case must be one it flags as well.
"""

from __future__ import annotations

import boto3
import botocore.exceptions
import botocore.parsers
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.validate import ParamValidator

from sandbox import contract, inventory
from sandbox.protocols import service_model
from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

VALIDATION_CODES = {"ValidationException", "ValidationError", "InvalidParameterValue"}
# Operations the roles call through amazon.aws (cloudformation, cloudformation_info, aws_caller_info), and the
# IAM/EC2 calls the tests use to set principals up: the model gives their cases as for the inventory's.
ROLE_AND_SETUP_CALLS = (
    ("cloudformation", "CreateStack"),
    ("cloudformation", "UpdateStack"),
    ("cloudformation", "GetTemplate"),
    ("cloudformation", "DescribeStackEvents"),
    ("cloudformation", "ListStackResources"),
    ("cloudformation", "CreateChangeSet"),
    ("cloudformation", "DescribeChangeSet"),
    ("cloudformation", "DeleteChangeSet"),
    ("iam", "CreateUser"),
    ("iam", "CreateAccessKey"),
    ("iam", "PutUserPolicy"),
    ("iam", "GetRole"),
    ("ec2", "DescribeInstances"),
)
OPERATIONS = sorted(set(inventory.operations()) | set(ROLE_AND_SETUP_CALLS))


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    with SandboxHandle(DEMO_WORLD, name="contract", workdir=tmp_path_factory.mktemp("contract")) as handle:
        yield handle


def _client(sb, service):
    return boto3.client(
        service,
        endpoint_url=sb.endpoint,
        region_name=sb.region,
        aws_access_key_id=sb.access_key,
        aws_secret_access_key=sb.secret_key,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


def _answer(client, operation: str, params: dict) -> tuple[str | None, str]:
    try:
        getattr(client, xform_name(operation))(**params)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"].get("Code"), exc.response["Error"].get("Message", "")
    except botocore.parsers.ResponseParserError as exc:
        # moto failing on a request the model accepts (e.g. DescribeStacks of a stack that does not exist answers an
        # HTML 500 page): not a model check, and listed in docs/aws-differences.md
        return "moto-internal-error", str(exc)[:200]
    return None, ""


def test_every_operation_has_cases_and_nothing_is_skipped():
    for service, operation in OPERATIONS:
        found, skipped = contract.cases(service, operation)
        assert not skipped, (service, operation, skipped)
        shape = service_model(service).operation_model(operation).input_shape
        constrained = shape is not None and _has_constraints(shape)
        assert found or not constrained, f"{service}:{operation} has constraints but no case"


def _has_constraints(shape, depth: int = 0, seen: tuple = ()) -> bool:
    """Whether the model states any constraint the contract derives cases for, anywhere in ``shape``."""
    if depth > contract.MAX_DEPTH + 1 or shape.name in seen:
        return False
    meta = shape.metadata
    if shape.type_name in ("string", "integer", "long", "list") and (
        {"min", "max", "pattern"} & set(meta) or getattr(shape, "enum", None)
    ):
        return True
    if shape.type_name == "structure":
        return bool(shape.required_members) or any(
            _has_constraints(m, depth + 1, (*seen, shape.name)) for m in shape.members.values()
        )
    if shape.type_name == "list":
        return _has_constraints(shape.member, depth + 1, seen)
    return False


@pytest.mark.parametrize(("service", "operation"), OPERATIONS, ids=[f"{s}:{o}" for s, o in OPERATIONS])
def test_the_sandbox_answers_each_case_as_the_model_says(sb, service, operation):
    found, _skipped = contract.cases(service, operation)
    client = _client(sb, service)
    wrong = []
    for case in found:
        code, message = _answer(client, operation, case.params)
        named = code in VALIDATION_CODES and f"at '{case.member}'" in message
        if case.inside and named:
            wrong.append(f"{case.id}: refused: {message[:300]}")
        elif not case.inside and not named:
            wrong.append(f"{case.id}: not refused by the model check (answer: {code} {message[:200]})")
    assert not wrong, f"{len(wrong)} of {len(found)} cases:\n  " + "\n  ".join(wrong[:40])


@pytest.mark.parametrize(("service", "operation"), OPERATIONS, ids=[f"{s}:{o}" for s, o in OPERATIONS])
def test_botocore_validator_agrees_where_it_checks(service, operation):
    """botocore's ParamValidator checks required members, minimum lengths/sizes and minimum numbers: every outside
    case of those constraints is one it also flags (cases generated from the model, not from our validator)."""
    shape = service_model(service).operation_model(operation).input_shape
    found, _skipped = contract.cases(service, operation)
    validator = ParamValidator()
    for case in found:
        if case.inside or case.constraint not in ("required", "min"):
            continue
        report = validator.validate(case.params, shape)
        assert report.has_errors(), f"{case.id}: botocore does not flag {case.params}"
