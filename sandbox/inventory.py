"""The AWS API operations the collection can call, derived from its code (``plugins/``), not typed by hand.

An AST scan of every Python file under ``plugins/``:

- the services: the first string literal given to a ``client(...)``-like call (``module.client("ssm")``,
  ``self._base_client("sts", ...)``, ``factory.client("ssm", region)``, ``_client(module, "iam")``) that names a
  botocore service;
- the operations: every operation of those services (botocore's model) whose Python name (``xform_name``) appears
  in the code as a called attribute (``client.describe_stack_set(...)``) or as a string constant (paginators,
  ``paginate(client, "list_roots", ...)``, ``self._call("ssm", "get_automation_execution", ...)``).

An operation name that several of those services share (``list_tags_for_resource``) is given to the services whose
input shape has every keyword argument of the call that names it (``ResourceType=`` is SSM's, not Organizations'),
then to the services named in the same file; to all of them when neither decides: over-counting is safe (one more
operation to document and test), missing one is not. ``sandbox/tests/test_call_inventory.py`` checks each operation against docs/permissions.md, the sandbox and
the contract test.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLIENT_FACTORIES = frozenset({"client", "_base_client", "_member_client", "_client"})


def _scan(path: Path) -> tuple[set[str], dict[str, set[frozenset]], set[str]]:
    """(service literals, {name: keyword sets of the calls that name it}, every string constant) of one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    services: set[str] = set()
    calls: dict[str, set[frozenset]] = {}
    strings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            keywords = frozenset(k.arg for k in node.keywords if k.arg)
            if isinstance(func, ast.Attribute):
                calls.setdefault(func.attr, set()).add(keywords)
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    calls.setdefault(arg.value, set()).add(keywords)
            if name in CLIENT_FACTORIES:
                # the service is the first string argument: client("ssm"), or after the module: _client(module, "iam")
                first = next((a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)), None)
                if first is not None:
                    services.add(first.value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.add(node.value)
    return services, calls, strings


@functools.cache
def operations(root: Path = REPO / "plugins") -> tuple[tuple[str, str], ...]:
    """Sorted (botocore service name, operation name) pairs the code under ``root`` can call."""
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    known = set(session.get_available_services())
    files = {p: _scan(p) for p in sorted(root.rglob("*.py"))}
    services = sorted({s for svc, _a, _s in files.values() for s in svc if s in known})
    by_name: dict[str, set[str]] = {}
    for svc in services:
        for op in session.get_service_model(svc).operation_names:
            by_name.setdefault(xform_name(op), set()).add(svc)
    found: set[tuple[str, str]] = set()
    for _svc, calls, strings in files.values():
        named_here = {s for s in strings if s in services}
        for py_name in (set(calls) | strings) & set(by_name):
            owners = {svc: _operation(session, svc, py_name) for svc in by_name[py_name]}
            if len(owners) > 1:
                kw_sets = [k for k in calls.get(py_name, ()) if k]
                fitting = {
                    svc
                    for svc, op in owners.items()
                    if kw_sets and any(k <= set(_members(session, svc, op)) for k in kw_sets)
                }
                if fitting:
                    owners = {svc: owners[svc] for svc in fitting}
                elif set(owners) & named_here:
                    owners = {svc: op for svc, op in owners.items() if svc in named_here}
            found.update(owners.items())
    return tuple(sorted(found))


def _operation(session, service: str, py_name: str) -> str:
    from botocore import xform_name

    return next(o for o in session.get_service_model(service).operation_names if xform_name(o) == py_name)


def _members(session, service: str, op: str) -> list[str]:
    shape = session.get_service_model(service).operation_model(op).input_shape
    return list(shape.members) if shape is not None else []


if __name__ == "__main__":  # python -m sandbox.inventory
    for service, op in operations():
        print(f"{service}:{op}")
