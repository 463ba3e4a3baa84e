"""Errors the engine raises from its handlers, rendered by the server layer as AWS JSON errors.

The server layer (``sandbox/server.py``) owns the ``AwsError`` class and its rendering ({"__type": code,
"message": ...}).  The engine raises that very class when the server is importable, so a handler error looks exactly
like any other AWS error on the wire; the local fallback only exists so the engine's pure parts can be unit-tested
while the server module is absent.
"""

from __future__ import annotations

try:  # the real one, rendered by the WSGI layer
    from sandbox.server import AwsError  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - only before the server layer exists

    class AwsError(Exception):  # type: ignore[no-redef]
        def __init__(self, code: str, message: str, status: int = 400):
            super().__init__(f"{code}: {message}")
            self.code = code
            self.message = message
            self.status = status


def error(code: str, message: str, status: int = 400) -> AwsError:
    return AwsError(code, message, status)


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def invalid_params(message: str) -> AwsError:
    return AwsError("InvalidAutomationExecutionParametersException", message)


class StepFailure(Exception):
    """Raised inside step interpretation: the step fails with this message (never the whole engine)."""

    def __init__(self, message: str, failure_type: str = "Verification", stage: str = "Invocation", details=None):
        super().__init__(message)
        self.message = message
        self.failure_type = failure_type
        self.stage = stage
        self.details = details or {}


def api_exception_message(
    phase: str, api: str, service: str, aws_service: str, code: str, message: str, request_id: str
):
    """AWS's wording when an automation step gets an exception from an API it calls.

    Shape observed in real failure messages (e.g. aws-solutions/instance-scheduler-on-aws#281,
    aws-samples/aws-systemsmanagerautomation-with-asglifecyclehooks#2).
    """
    return (
        f"Automation Step Execution fails when it is {phase}. Get Exception from {api} API of {service} Service. "
        f"Exception Message from {api} API: [{message} (Service: {aws_service}; Status Code: 400; Error Code: {code}; "
        f"Request ID: {request_id}; Proxy: null)]. Please refer to Automation Service Troubleshooting Guide for more "
        "diagnosis details."
    )
