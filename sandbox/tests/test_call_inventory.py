"""The call inventory: every AWS API operation that plugins/ can call, derived from the code (sandbox.inventory),
is documented in docs/permissions.md, supported by the sandbox (a layer or engine handler, or moto), and driven by
the contract test."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest
from botocore import xform_name

from sandbox import contract, inventory

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = inventory.operations()


def test_the_scanner_finds_calls_however_they_are_written(tmp_path):
    (tmp_path / "m.py").write_text(
        textwrap.dedent(
            """
            def f(module, paginate, factory):
                ssm = module.client("ssm")
                ssm.get_document(Name="x")
                paginate(module.client("organizations"), "list_roots", "Roots")
                factory._call("ssm", "describe_automation_executions", Filters=[])
                _client(module, "iam").get_role(RoleName="r")
                api._call("list_tags_for_resource", ResourceType="Document", ResourceId="d")
                ssm.get_paginator("describe_automation_step_executions")
                ssm.not_an_operation()
            """
        )
    )
    found = set(inventory.operations.__wrapped__(tmp_path))
    assert found == {
        ("ssm", "GetDocument"),
        ("organizations", "ListRoots"),
        ("ssm", "DescribeAutomationExecutions"),
        ("iam", "GetRole"),  # the service after the module: _client(module, "iam")
        ("ssm", "DescribeAutomationStepExecutions"),
        ("ssm", "ListTagsForResource"),  # ResourceType= is SSM's member, not Organizations'
    }


def test_the_inventory_covers_every_service_the_plugins_create_clients_for():
    services = {s for s, _op in OPERATIONS}
    assert services == {"cloudformation", "iam", "organizations", "ssm", "sts"}, services
    assert len(OPERATIONS) >= 30


@pytest.mark.parametrize(("service", "operation"), OPERATIONS, ids=[f"{s}:{o}" for s, o in OPERATIONS])
def test_each_operation_is_documented(service, operation):
    text = (REPO / "docs" / "permissions.md").read_text()
    assert f"`{service}:{operation}`" in text


def _served() -> set[tuple[str, str]]:
    from sandbox.server import Sandbox
    from sandbox.world import DEMO_WORLD, load_world

    sb = Sandbox(load_world(DEMO_WORLD))
    sb.install_engine()
    return set(sb.handlers)


def _moto_serves(service: str, operation: str) -> bool:
    module = importlib.import_module(f"moto.{service}.responses")
    from moto.core.responses import BaseResponse

    classes = [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, BaseResponse)]
    return any(callable(getattr(c, xform_name(operation), None)) for c in classes)


def test_each_operation_is_supported_by_the_sandbox():
    served = _served()
    missing = [f"{s}:{o}" for s, o in OPERATIONS if (s, o) not in served and not _moto_serves(s, o)]
    assert not missing, f"neither the layer, the engine nor moto serves {missing}"


def test_each_operation_is_in_the_contract_test():
    spec = importlib.util.spec_from_file_location(
        "contract_test", Path(__file__).with_name("test_fidelity_contract.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(OPERATIONS) <= set(module.OPERATIONS)
    from sandbox.protocols import service_model

    for service, operation in OPERATIONS:
        found, skipped = contract.cases(service, operation)
        assert not skipped
        shape = service_model(service).operation_model(operation).input_shape
        constrained = shape is not None and module._has_constraints(shape)  # noqa: SLF001
        assert found or not constrained, f"{service}:{operation}: no contract case"
