"""_aws.py: the shared call, pager, error shape, time format, error style and botocore-model limits."""

import datetime

import boto3
import botocore.session
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws


def _ssm():
    return boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")


def test_paginate_follows_next_token_over_every_page():
    ssm = _ssm()
    with Stubber(ssm) as stub:
        stub.add_response("list_documents", {"DocumentIdentifiers": [{"Name": "a"}], "NextToken": "t1"}, {})
        stub.add_response(
            "list_documents", {"DocumentIdentifiers": [{"Name": "b"}], "NextToken": "t2"}, {"NextToken": "t1"}
        )
        stub.add_response("list_documents", {"DocumentIdentifiers": [{"Name": "c"}]}, {"NextToken": "t2"})
        names = [d["Name"] for d in _aws.paginate(ssm, "list_documents", "DocumentIdentifiers")]
        stub.assert_no_pending_responses()
    assert names == ["a", "b", "c"]


def test_call_uses_amazon_aws_retries_on_every_page():
    ssm = _ssm()
    wrapped = RetryingBotoClientWrapper(ssm, AWSRetry.jittered_backoff(retries=2, delay=0, max_delay=0))
    throttled = {"service_error_code": "Throttling", "service_message": "Rate exceeded", "http_status_code": 400}
    with Stubber(ssm) as stub:
        stub.add_client_error("list_documents", **throttled)
        stub.add_response("list_documents", {"DocumentIdentifiers": [{"Name": "a"}], "NextToken": "t1"})
        stub.add_client_error("list_documents", **throttled)
        stub.add_response("list_documents", {"DocumentIdentifiers": [{"Name": "b"}]})
        names = [d["Name"] for d in _aws.paginate(wrapped, "list_documents", "DocumentIdentifiers")]
        stub.assert_no_pending_responses()
    assert names == ["a", "b"]


def test_error_info_and_code():
    error = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListRoots")
    assert _aws.error_info(error) == {"code": "AccessDenied", "message": "no"}
    assert _aws.error_code(error) == "AccessDenied"
    assert _aws.error_info(ValueError("bad")) == {"code": "ValueError", "message": "bad"}
    assert _aws.error_code(ValueError("bad")) == ""
    wrapped = _aws.OrgOpsAWSError(message="Failed to list roots", exception=error, field="x")
    assert _aws.error_info(wrapped) == {"code": "AccessDenied", "message": "no"}


def test_iso():
    assert _aws.iso(None) is None
    assert _aws.iso(datetime.datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05"
    assert _aws.iso("2026-01-02") == "2026-01-02"


class _Handler(_aws.ErrorHandler):
    @classmethod
    def _is_missing(cls):
        from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

        return is_boto3_error_code("InvalidDocument")


def test_error_handler_raises_the_collections_error_with_the_cause():
    @_Handler.common_error_handler("read the runbook")
    def read():
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "GetDocument")

    with pytest.raises(_aws.OrgOpsAWSError) as err:
        read()
    assert err.value.message == "Failed to read the runbook"
    assert _aws.error_code(err.value.exception) == "AccessDeniedException"

    @_Handler.list_error_handler("read the runbook", default_value="none")
    def missing():
        raise ClientError({"Error": {"Code": "InvalidDocument", "Message": "not found"}}, "GetDocument")

    assert missing() == "none"


def test_fail_names_the_field_and_passes_the_cause():
    calls = []

    class Module:
        def fail_json_aws(self, exception, msg, **kwargs):
            calls.append(("aws", exception, msg, kwargs))
            raise SystemExit

        def fail_json(self, msg, **kwargs):
            calls.append(("plain", None, msg, kwargs))
            raise SystemExit

    cause = ClientError({"Error": {"Code": "X", "Message": "y"}}, "Op")
    with pytest.raises(SystemExit):
        _aws.fail(Module(), _aws.OrgOpsAWSError("Failed to do", exception=cause, field="f", extra=1), changed=False)
    assert calls[-1] == ("aws", cause, "Failed to do", {"changed": False, "field": "f", "extra": 1})
    with pytest.raises(SystemExit):
        _aws.fail(Module(), _aws.OrgOpsAWSError("refused", field="g"))
    assert calls[-1] == ("plain", None, "refused", {"field": "g"})


def test_model_limits_are_botocores():
    model = botocore.session.get_session().get_service_model("ssm")
    location = model.shape_for("TargetLocation")
    assert _aws.model_limit("ssm", "TargetLocation", "Accounts") == location.members["Accounts"].metadata["max"]
    assert _aws.model_limit("ssm", "StartAutomationExecutionRequest", "Targets") == 1
    assert _aws.model_limit("ssm", "AutomationParameterValue") == 512
    assert _aws.model_limit("ssm", "NoSuchShape", "X", default=7) == 7
    assert _aws.model_limit("ssm", "TargetLocation", "NoSuchMember", default=3) == 3
