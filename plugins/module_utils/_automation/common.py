# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Constants, AWS's limits and small helpers of the automation area (private; import from ``automation``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import uuid

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, validation

DEFAULT_EXECUTION_ROLE = "AWS-SystemsManager-AutomationExecutionRole"
DEFAULT_ADMIN_ROLE = "AWS-SystemsManager-AutomationAdministrationRole"
DEFAULT_EXECUTION_STACK_SET = "AWS-SystemsManager-AutomationExecutionRole"
DEFAULT_MANAGEMENT_STACK = "AWS-SystemsManager-AutomationExecutionRole-org"

# AWS's limits, read from botocore's ssm model (the documented value as the fallback for an older botocore).
MAX_ACCOUNTS_PER_LOCATION = _aws.model_limit("ssm", "TargetLocation", "Accounts", default=50)
MAX_REGIONS_PER_LOCATION = _aws.model_limit("ssm", "TargetLocation", "Regions", default=50)
MAX_EXCLUDE_ACCOUNTS = _aws.model_limit("ssm", "TargetLocation", "ExcludeAccounts", default=5000)
MAX_TARGET_LOCATIONS = _aws.model_limit("ssm", "StartAutomationExecutionRequest", "TargetLocations", default=100)
# AutomationTargets: max 1. AWS answers "Only one resource group or tag can be specified at a time".
MAX_TARGETS = _aws.model_limit("ssm", "StartAutomationExecutionRequest", "Targets", default=1)
MAX_TARGET_KEY_LENGTH = _aws.model_limit("ssm", "Target", "Key", default=163)
MAX_TARGET_VALUES = _aws.model_limit("ssm", "Target", "Values", default=50)
MAX_PARAMETER_VALUES = _aws.model_limit("ssm", "AutomationParameterValueList", default=50)
MAX_PARAMETER_VALUE_LENGTH = _aws.model_limit("ssm", "AutomationParameterValue", default=512)
# The collection's TargetLocationMaxErrors / TargetLocationMaxConcurrency when none is given. AWS's own are 0 and 1
# (botocore's ssm model, TargetLocation): one location error stops queueing the rest, and locations run one at a
# time. AWS does not document what counts as a location error (a location that could not start, such as a role it
# cannot assume, or also one whose execution ends Failed); with 100% no reading stops queueing, so every location
# runs and reports its own outcome, and the pass/fail policy judges the run. 10 locations at once stays well below
# the 100 concurrently running automations per account (Systems Manager service quotas).
DEFAULT_LOCATION_MAX_ERRORS = "100%"
DEFAULT_LOCATION_MAX_CONCURRENCY = "10"
MAX_TAGS = 5  # "You can specify a maximum of five tags for an automation" (API reference, StartAutomationExecution)


# Every pattern lives in validation.py; these names are kept for the callers that import them from here.
DOCUMENT_NAME_RE = validation.DOCUMENT_NAME_RE
DOCUMENT_ARN_RE = validation.DOCUMENT_ARN_RE
DOCUMENT_VERSION_RE = validation.DOCUMENT_VERSION_RE
CLIENT_TOKEN_RE = validation.UUID_RE
EXECUTION_ID_RE = validation.UUID_RE
PARAMETER_NAME_RE = validation.PARAMETER_NAME_RE
TAG_KEY_RE = validation.TAG_KEY_RE
ASSUME_ROLE_TEMPLATE_RE = validation.ASSUME_ROLE_TEMPLATE_RE
ROLE_ARN_RE = validation.ROLE_ARN_RE

# A fixed namespace: the same idempotency key and request always give the same ClientToken.
TOKEN_NAMESPACE = uuid.UUID("5b0c6f4e-3a4b-5d7e-9f10-6f7267f70001")
# Tag put on executions started with an idempotency key, so that a later run finds them with a read
# (DescribeAutomationExecutions filter TagKey) instead of calling StartAutomationExecution again.
TOKEN_TAG_PREFIX = "orgops-ssm-automation:client-token:"  # noqa: S105 - a tag key, not a secret

DOCUMENT_NAME_FORM = "a runbook name of 3-128 characters from [a-zA-Z0-9_-.], or a document ARN"
DOCUMENT_VERSION_FORM = "$DEFAULT, $LATEST or a version number such as 6"
EXECUTION_ID_FORM = validation.EXECUTION_ID_FORM


# ---------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------


def chunks(values, size):
    return [values[i : i + size] for i in range(0, len(values), size)] or [[]]


def partition_from_arn(arn, default="aws"):
    parts = (arn or "").split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else default


def role_arn(account, role_name, partition="aws"):
    return "arn:%s:iam::%s:role/%s" % (partition, account, role_name)


class AutomationError(_aws.OrgOpsAWSError):
    """A failed or refused call of the automation area; ``field`` names the option to change, when there is one."""


class AutomationErrorHandler(_aws.ErrorHandler):
    """amazon.aws's AWSErrorHandler pattern for the automation area: botocore errors become AutomationError."""

    _CUSTOM_EXCEPTION = AutomationError
