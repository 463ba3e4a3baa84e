# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The automation_execution module's AWS steps, each raising :class:`AutomationError` (one error style).

AWS's answers that are about the user's input (a runbook or an execution that does not exist, a request that
StartAutomationExecution refuses) become an AutomationError naming the option (``field``) and carrying AWS's
``error`` without the botocore exception, so the module reports them as input errors; every other botocore error is
wrapped with its exception, so the module reports it as amazon.aws does (``fail_json_aws``). The module catches
AutomationError once, in ``main``. Private; import from ``automation``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import botocore.exceptions

    BOTO_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
except ImportError:  # pragma: no cover - the module reports a missing botocore itself
    BOTO_ERRORS = ()

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, runbook
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation import execution, preflight
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.common import (
    AutomationError,
    AutomationErrorHandler,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

# StartAutomationExecution's answers about the request itself (API reference, Errors).
START_REFUSALS = (
    "InvalidAutomationExecutionParametersException",
    "InvalidTarget",
    "ValidationException",
    "AutomationDefinitionNotFoundException",
    "InvalidDocument",
)


def read_execution(ssm, execution_id, region=None):
    """GetAutomationExecution; an unknown id is an error on ``execution_id``."""
    try:
        return execution.get_execution(ssm, execution_id)
    except BOTO_ERRORS as e:
        if _aws.error_code(e) in ("AutomationExecutionNotFoundException", "ValidationException"):
            raise AutomationError(
                message="execution_id: automation execution %s was not found in this account and region (%s)"
                % (execution_id, region),
                field="execution_id",
                error=_aws.error_info(e),
            ) from e
        raise AutomationError(message="Failed to read automation execution %s" % execution_id, exception=e) from e


def follow(ssm, execution_id, wait, timeout, poll_interval):
    """``(execution, timed_out)``: waited for when ``wait``, else read once."""
    try:
        if wait:
            return execution.wait(ssm, execution_id, timeout, poll_interval)
        return execution.get_execution(ssm, execution_id), False
    except BOTO_ERRORS as e:
        raise AutomationError(
            message="Failed to follow automation execution %s" % execution_id,
            exception=e,
            automation_execution_id=execution_id,
        ) from e


def cancel(ssm, execution_id):
    """StopAutomationExecution (Cancel); False when the execution finished in between."""
    try:
        execution.stop(ssm, execution_id)
    except BOTO_ERRORS as e:
        if _aws.error_code(e) == "InvalidAutomationStatusUpdateException":
            return False
        raise AutomationError(message="Failed to cancel automation execution %s" % execution_id, exception=e) from e
    return True


def load_runbook(ssm, name, version, region=None):
    """``(parsed runbook, resolved version)``; a missing runbook or version is an error on that option."""
    try:
        content, _fmt, resolved_version = execution.fetch_runbook(ssm, name, version)
    except BOTO_ERRORS as e:
        code = _aws.error_code(e)
        if code in ("InvalidDocument", "InvalidDocumentVersion"):
            raise AutomationError(
                message="document_name: runbook %s%s was not found in this account and region (%s): %s"
                % (name, " version %s" % version if version else "", region, _aws.error_info(e)["message"]),
                field="document_name" if code == "InvalidDocument" else "document_version",
            ) from e
        raise AutomationError(message="Failed to read runbook %s" % name, exception=e) from e
    try:
        return runbook.parse_content(content), resolved_version
    except InvalidInput as e:
        raise AutomationError(
            message="document_name: runbook %s could not be parsed: %s" % (name, e), field="document_name"
        ) from e


@AutomationErrorHandler.common_error_handler("read the caller identity to build the automation assume role ARN")
def caller_arn(sts):
    return _aws.call(sts, "get_caller_identity")["Arn"]


def find_by_token(ssm, token):
    """The execution started earlier with ``token``, or None (also where the TagKey filter is not supported)."""
    try:
        return execution.find_by_token(ssm, token)
    except BOTO_ERRORS as e:
        if _aws.error_code(e) == "ValidationException":
            return None  # no TagKey filter here: ClientToken alone still keeps StartAutomationExecution idempotent
        raise AutomationError(
            message="Failed to look up an execution started with this idempotency key", exception=e
        ) from e


@AutomationErrorHandler.common_error_handler(
    "read the organization or the execution role's stacks in the preflight (set preflight=false to skip it)"
)
def run_preflight(*args, **kwargs):
    return preflight.preflight(*args, **kwargs)


# StartAutomationExecution's answers to a ClientToken that was already used. botocore's model says of ClientToken
# that it "can't be reused": AWS may answer a second call with the same token and request with the first call's
# execution id (the usual idempotency contract), or refuse it (IdempotentParameterMismatch). Under either reading
# two jobs started at once with the same idempotency key must end up on the one execution.
TOKEN_REUSED = ("IdempotentParameterMismatch",)


def start_or_attach(ssm, request, token=None):
    """StartAutomationExecution, returning ``(execution_id, attached)``. When AWS refuses ``token`` as already used
    (another job with the same idempotency key started between our look-up and our start), the execution started
    with it is looked up by its idempotency tag and attached to (``attached=True``) instead of failing; when it is
    not found either, the refusal is reported with what to do."""
    try:
        return execution.start(ssm, request), False
    except BOTO_ERRORS as e:
        if not token or _aws.error_code(e) not in TOKEN_REUSED:
            start_refused(e)
        found = find_by_token(ssm, token)
        if found:
            return found["AutomationExecutionId"], True
        raise AutomationError(
            message="StartAutomationExecution refused the request: its idempotency token was already used (%s), and "
            "no execution tagged with it was found yet; run again with the same idempotency key to attach to it"
            % _aws.error_info(e)["message"],
            error=_aws.error_info(e),
        ) from e


def start_refused(e):
    """Raise the AutomationError for StartAutomationExecution's botocore error ``e``."""
    if _aws.error_code(e) in START_REFUSALS:
        raise AutomationError(
            message="StartAutomationExecution refused the request: %s" % _aws.error_info(e)["message"],
            error=_aws.error_info(e),
        ) from e
    raise AutomationError(message="Failed to start automation execution", exception=e) from e
