# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared AWS helpers: one call, one pager, one error shape, one time format, one error style, AWS's own limits.

Pure Python on boto3 clients (plain ones, or amazon.aws's ``RetryingBotoClientWrapper``, whose retries are then
used on every call and every page). Private to the collection.

- :func:`call` and :func:`paginate`: every call of the collection's module_utils goes through these two, so that
  each call and each page gets the client's retries (a botocore paginator would bypass amazon.aws's retry wrapper).
- :func:`error_info` and :func:`error_code`: the ``{"code", "message"}`` of any exception, with AWS's error code.
- :func:`iso`: a datetime (or anything) as ISO 8601 text, None kept.
- :class:`ErrorHandler` and :class:`OrgOpsAWSError`: the collection's one error style, amazon.aws's
  ``AWSErrorHandler`` pattern (a subclass per area, such as ``StackSetErrorHandler``), caught once in each module's
  ``main`` with :func:`fail`.
- :func:`model_limit`: a constraint (``min``/``max``/``pattern``) read from botocore's service model, so that the
  limits we check before calling AWS are AWS's own, with the documented value as a fallback.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

try:
    import botocore
    import botocore.exceptions
    import botocore.session
except ImportError:  # pragma: no cover - the modules report a missing botocore themselves
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

NEXT_TOKEN = "NextToken"  # noqa: S105 - the pagination member's name, not a secret
MARKER = "Marker"  # IAM's pagination member, in the request and in the response


def is_retrying(client):
    """True for amazon.aws's RetryingBotoClientWrapper, which only retries when a call passes ``aws_retry=True``."""
    return hasattr(client, "retry") and hasattr(client, "client")


def call(client, operation, **kwargs):
    """``client.<operation>(**kwargs)``, with amazon.aws's retries when the client has them."""
    if is_retrying(client):
        kwargs["aws_retry"] = True
    return getattr(client, operation)(**kwargs)


def pages(client, operation, input_token=None, output_token=None, **kwargs):
    """Every page of a token-paginated call, each one through :func:`call` (so with the client's retries).

    ``input_token``/``output_token`` name the request and response members that carry the token (``NextToken``).
    """
    input_token = input_token or NEXT_TOKEN
    output_token = output_token or NEXT_TOKEN
    token = None
    while True:
        if token:
            kwargs[input_token] = token
        page = call(client, operation, **kwargs)
        yield page
        token = page.get(output_token)
        if not token:
            return


def paginate(client, operation, result_key, input_token=None, output_token=None, **kwargs):
    """Every item of ``result_key`` over all the pages of a token-paginated call."""
    items = []
    for page in pages(client, operation, input_token=input_token, output_token=output_token, **kwargs):
        items.extend(page.get(result_key) or [])
    return items


def paginate_marker(client, operation, result_key, **kwargs):
    """:func:`paginate` for the APIs that page with ``Marker`` (IAM)."""
    return paginate(client, operation, result_key, input_token=MARKER, output_token=MARKER, **kwargs)


def error_code(exc):
    """AWS's error code of a botocore ClientError (``""`` for anything else)."""
    return ((getattr(exc, "response", None) or {}).get("Error") or {}).get("Code") or ""


def error_info(exc):
    """``{"code", "message"}`` for any exception, with AWS's error code when there is one. No secrets."""
    cause = getattr(exc, "exception", None)  # an OrgOpsAWSError carries the botocore error it wraps
    if cause is not None and not getattr(exc, "response", None):
        return error_info(cause)
    response = getattr(exc, "response", None) or {}
    err = response.get("Error") or {}
    return {"code": err.get("Code") or type(exc).__name__, "message": err.get("Message") or str(exc)}


def iso(value):
    """A datetime as ISO 8601 text; None stays None; anything else as text."""
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class OrgOpsAWSError(AnsibleAWSError):
    """A failed AWS call (or a refusal of ours that is about AWS's state), raised in module_utils.

    ``field`` names the option (or role variable) the user can change, when there is one; ``details`` is extra,
    JSON-safe data for the module's result.
    """

    def __init__(self, message=None, exception=None, field=None, **details):
        super(OrgOpsAWSError, self).__init__(message=message, exception=exception, **details)
        self.field = field
        self.details = self.kwargs


class ErrorHandler(AWSErrorHandler):
    """amazon.aws's AWSErrorHandler with the collection's exception; subclass it per area.

    ``@Handler.common_error_handler("describe stack set X")`` turns a botocore error into ``OrgOpsAWSError`` with
    ``message="Failed to describe stack set X"``, and ``list_error_handler`` returns a default when the subclass's
    :meth:`_is_missing` matches.
    """

    _CUSTOM_EXCEPTION = OrgOpsAWSError


def fail(module, error, **result):
    """``module.fail_json_aws`` for an :class:`OrgOpsAWSError` (or any exception), once, in a module's main."""
    extra = dict(result)
    field = getattr(error, "field", None)
    if field:
        extra["field"] = field
    extra.update(getattr(error, "details", None) or {})
    cause = getattr(error, "exception", None)
    message = getattr(error, "message", None) or str(error)
    if cause is not None:
        module.fail_json_aws(cause, msg=message, **extra)
    module.fail_json(msg=message, **extra)


@functools.lru_cache(maxsize=None)
def _service_model(service):
    return botocore.session.get_session().get_service_model(service)


def model_limit(service, shape, member=None, key="max", default=None):
    """A constraint of botocore's model: ``model_limit("ssm", "TargetLocation", "Accounts")`` is 50.

    ``shape`` is a structure's name (with ``member``) or a shape's own name (without). Returns ``default`` when the
    installed botocore has no such shape or constraint, so a check never disappears with an older botocore.
    """
    try:
        found = _service_model(service).shape_for(shape)
        if member is not None:
            found = found.members[member]
        value = found.metadata.get(key)
    except Exception:  # pylint: disable=broad-except  # noqa: BLE001 - no botocore, or an older model
        return default
    return default if value is None else value
