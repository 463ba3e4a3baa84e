# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Constants and the error of the StackSet area (private; import from ``stack_set``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, validation

CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
PERMISSION_MODELS = ("SERVICE_MANAGED", "SELF_MANAGED")
CALL_AS = ("SELF", "DELEGATED_ADMIN")
ACCOUNT_FILTER_TYPES = ("NONE", "INTERSECTION", "DIFFERENCE", "UNION")
REGION_CONCURRENCY_TYPES = ("SEQUENTIAL", "PARALLEL")
CONCURRENCY_MODES = ("STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE")
TERMINAL_OPERATION_STATUSES = ("SUCCEEDED", "FAILED", "STOPPED")
ACTIVE_OPERATION_STATUSES = ("RUNNING", "QUEUED", "STOPPING")
NO_ECHO_MASK = "****"

STACK_SET_NAME_RE = validation.STACK_SET_NAME_RE
STACK_SET_NAME_FORM = "1-128 characters, letters, digits and hyphens, starting with a letter"
ROLE_ARN_RE = validation.ROLE_ARN_RE
ROLE_ARN_FORM = "an IAM role ARN such as arn:aws:iam::123456789012:role/AWSCloudFormationStackSetAdministrationRole"
TEMPLATE_URL_RE = validation.TEMPLATE_URL_RE


class StackSetError(_aws.OrgOpsAWSError):
    """An AWS-side failure while changing a StackSet. Carries what was done so far (``operations``), so nothing is
    lost; the collection's one error style (an :class:`_aws.OrgOpsAWSError`)."""

    def __init__(self, message, operations=None, exception=None, field=None):
        operations = operations or []
        super(StackSetError, self).__init__(message=message, exception=exception, field=field, operations=operations)
        self.operations = operations


class StackSetErrorHandler(_aws.ErrorHandler):
    """amazon.aws's AWSErrorHandler pattern for the StackSet area: botocore errors become StackSetError."""

    _CUSTOM_EXCEPTION = StackSetError
