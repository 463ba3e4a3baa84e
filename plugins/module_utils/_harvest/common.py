# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every part of the harvest shares: constants, error info, the area's error handler and the one pager."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.orgops.ssm_automation.plugins.module_utils._aws import error_info, iso  # noqa: F401 pylint: disable=unused-import
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import UUID_RE  # noqa: F401 pylint: disable=unused-import

DEFAULT_READER_ROLE = "AWS-SystemsManager-AutomationResultsReaderRole"
SESSION_NAME = "orgops-ssm-automation-gather"
EXPIRED_CODES = frozenset(["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"])
THROTTLE_CODES = frozenset(["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"])
PAGE_SIZE = 50


class HarvestError(AnsibleAWSError):
    """A failure of the harvest as a whole (the parent execution cannot be read). A location's failure is never
    raised: it is recorded on the location."""


class HarvestErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = HarvestError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("AutomationExecutionNotFoundException")


def retry_attempts(obj):
    meta = (obj or {}).get("ResponseMetadata") or {}
    return meta.get("RetryAttempts", 0) or 0


def pages(call, result_key, page_size=PAGE_SIZE, **kwargs):
    """Every item under ``result_key`` of every page of ``call(**kwargs)`` (an SSM list operation with
    ``MaxResults``/``NextToken``), as botocore's paginators would, for clients that offer no paginator
    (:class:`~.clients.AccountClient`) or calls that must go through a pacer."""
    token = None
    while True:
        page = call(MaxResults=page_size, NextToken=token, **kwargs) if token else call(MaxResults=page_size, **kwargs)
        yield from page.get(result_key) or []
        token = page.get("NextToken")
        if not token:
            return
