"""Helpers for the engine's tests (sandbox/tests/test_engine_*.py): private sandboxes, response validation on every
call, the real AWS CLI in-process, and bounded polling.

Every boto3 client made through :class:`Checked` validates each SSM response body, as it comes off the wire, against
botocore's output shape for the operation (errors against the AWS JSON error shape); so does :func:`aws_cli`, which
runs the real AWS CLI (awscli's own driver) with the sandbox endpoint.  Violations are collected, and the tests
assert there are none.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from sandbox import fidelity

REPO = Path(__file__).resolve().parents[2]
CHECK_OS = REPO / "roles" / "check_os" / "files" / "check-os.yml"
EXECUTION_ROLE_TEMPLATE = REPO / "roles" / "execution_roles" / "files" / "execution-role.yml"
TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled"}


ENGINE_OPERATIONS = frozenset(
    {
        "StartAutomationExecution",
        "GetAutomationExecution",
        "DescribeAutomationExecutions",
        "DescribeAutomationStepExecutions",
        "StopAutomationExecution",
        "SendCommand",
        "CancelCommand",
        "ListCommands",
        "ListCommandInvocations",
        "GetCommandInvocation",
        "DescribeInstanceInformation",
    }
)


def wire_problems(service: str, operation: str, body: bytes, status: int) -> list[str]:
    """Problems with one response as sent, by sandbox.fidelity: a success body against botocore's output shape; an
    error as a JSON error body ({"__type", "message"} and nothing else) that botocore parses into a code and a
    message."""
    if status < 300:
        try:
            return fidelity.validate_output(service, operation, body)
        except ValueError:
            return [f"response is not JSON: {body[:200]!r}"]
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return [f"error response is not JSON: {body[:200]!r}"]
    problems = (
        []
        if isinstance(data.get("__type"), str) and isinstance(data.get("message", ""), str)
        else [f"bad error body {data!r}"]
    )
    extra = set(data) - {"__type", "message", "Message"}
    if extra:
        problems.append(f"unexpected error members {sorted(extra)}")
    try:
        fidelity.validate_error(service, body, status)
    except AssertionError as exc:
        problems.append(str(exc))
    return problems


class Violations(list):
    """Output-shape violations seen on the wire in the engine's responses: (operation, problems).

    Operations the engine does not serve (moto's DescribeDocument, ...) are recorded in ``others``, not here.
    """

    def __init__(self):
        super().__init__()
        self.others: list = []
        self.checked = 0

    def hook(self, service_filter: str = "ssm") -> Callable:
        def check(operation_model, response_dict, **_kw):
            if operation_model.service_model.service_name != service_filter:
                return
            sink = self if operation_model.name in ENGINE_OPERATIONS else self.others
            body = response_dict.get("body") or b""
            status = response_dict.get("status_code", 200)
            problems = wire_problems(service_filter, operation_model.name, body, status)
            if sink is self:
                self.checked += 1
            if problems:
                sink.append((operation_model.name, problems))

        return check


def with_checks(handle):
    """``handle`` with ``.violations`` and ``.checked``: clients (:class:`Checked`) that validate every SSM response
    into those violations."""
    handle.violations = Violations()
    handle.checked = Checked(handle, handle.violations)
    return handle


class Checked:
    """boto3 clients against a sandbox handle, each validating every SSM response."""

    def __init__(self, handle, violations: Violations):
        self.handle = handle
        self.violations = violations

    def client(self, service: str, region: str | None = None, account: str | None = None):
        client = self.handle.client(service, region=region, account=account)
        client.meta.events.register(f"before-parse.{service}", self.violations.hook(service))
        return client


def aws_cli(
    handle, command: str, violations: Violations | None = None, account: str | None = None, region: str | None = None
) -> tuple[int, dict | str, str]:
    """Run an ``aws ...`` command line (as a shell would split it) through awscli's driver, in-process, with
    ``--endpoint-url`` added. Returns (rc, parsed JSON output or text, stderr)."""
    from awscli.clidriver import create_clidriver

    argv = shlex.split(command.replace("\\\n", " "))  # backslash-newline: a line continuation, as in a shell
    if argv and argv[0] == "aws":
        argv = argv[1:]
    argv = ["--endpoint-url", handle.endpoint, "--output", "json", *argv]
    env = dict(handle.env)
    creds = handle.credentials(account)
    env["AWS_ACCESS_KEY_ID"] = creds["aws_access_key_id"]
    env["AWS_SECRET_ACCESS_KEY"] = creds["aws_secret_access_key"]
    env["AWS_SESSION_TOKEN"] = creds.get("aws_session_token", "")
    if region:
        env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = region
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_PAGER"] = ""
    saved = {k: os.environ.get(k) for k in env}
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.update({k: v for k, v in env.items() if v is not None})
        if not env["AWS_SESSION_TOKEN"]:
            os.environ.pop("AWS_SESSION_TOKEN", None)
        driver = create_clidriver()
        if violations is not None:
            driver.session.register("before-parse.ssm", violations.hook("ssm"))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = driver.main(argv)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    text = out.getvalue()
    try:
        parsed: dict | str = json.loads(text) if text.strip() else {}
    except ValueError:
        parsed = text
    return rc, parsed, err.getvalue()


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy (bounded); returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)  # polling interval of a bounded loop, not a synchronisation sleep


def wait_terminal(ssm, execution_id: str, timeout: float = 30.0) -> dict:
    def done():
        ex = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        return ex if ex["AutomationExecutionStatus"] in TERMINAL else None

    return wait_for(done, timeout, what=f"execution {execution_id} to end")


def demo_world(**changes) -> dict:
    from sandbox.world import DEMO_WORLD

    world = yaml.safe_load(Path(DEMO_WORLD).read_text())
    world.update(changes)
    return world


def create_check_os(ssm, name: str = "check-os", versions: int = 1) -> None:
    """The seed's runbook, verbatim, as version 1; then ``versions - 1`` more versions (descriptions changed)."""
    content = CHECK_OS.read_text()
    ssm.create_document(Content=content, Name=name, DocumentType="Automation", DocumentFormat="YAML")
    for n in range(2, versions + 1):
        changed = content.replace(
            "Check OS settings using SSM Automation.", f"Check OS settings using SSM Automation (revision {n})."
        )
        ssm.update_document(Content=changed, Name=name, DocumentVersion="$LATEST", DocumentFormat="YAML")
