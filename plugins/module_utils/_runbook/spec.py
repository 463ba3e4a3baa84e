# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an Automation runbook (schemaVersion 0.3) may contain: keys, types, actions, variables."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# CreateDocument: "The content of the document must not exceed 64KB" (SSM API reference, CreateDocument.Content;
# exception MaxDocumentSizeExceeded: "The size limit of a document is 64 KB").
MAX_CONTENT_BYTES = 64 * 1024
# GetAutomationExecution step outputs: Automation keeps the first 2,500 characters of a command's output.
OUTPUT_CAP_CHARS = 2500

SCHEMA_VERSION = "0.3"
TOP_LEVEL_KEYS = frozenset(
    ["schemaVersion", "description", "assumeRole", "parameters", "variables", "mainSteps", "outputs", "files"]
)
STEP_KEYS = frozenset(
    [
        "name",
        "action",
        "description",
        "inputs",
        "outputs",
        "onFailure",
        "onCancel",
        "maxAttempts",
        "timeoutSeconds",
        "nextStep",
        "isEnd",
        "isCritical",
    ]
)
PARAMETER_KEYS = frozenset(
    [
        "type",
        "description",
        "default",
        "allowedValues",
        "allowedPattern",
        "displayType",
        "minItems",
        "maxItems",
        "maxChars",
        "minChars",
    ]
)
BASIC_TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
# Automation also accepts AWS resource types for parameters; AWS validates their format itself.
AWS_RESOURCE_TYPES = (
    "AWS::EC2::Instance::Id",
    "List<AWS::EC2::Instance::Id>",
    "AWS::EC2::Image::Id",
    "List<AWS::EC2::Image::Id>",
    "AWS::IAM::Role::Arn",
    "AWS::S3::Bucket::Name",
)
PARAMETER_TYPES = BASIC_TYPES + AWS_RESOURCE_TYPES
OUTPUT_TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")

# Systems Manager Automation actions reference: action -> required inputs. A tuple inside the list means
# "one of these". Built-in outputs are those an action returns without an ``outputs`` declaration.
ACTIONS = {
    "aws:approve": {"required": ["Approvers"], "builtin_outputs": ["ApprovalStatus", "ApproverDecisions"]},
    "aws:assertAwsResourceProperty": {"required": ["Service", "Api", "PropertySelector", "DesiredValues"]},
    "aws:branch": {"required": ["Choices"]},
    "aws:changeInstanceState": {"required": ["InstanceIds", "DesiredState"]},
    "aws:copyImage": {
        "required": ["SourceImageId", "SourceRegion", "ImageName"],
        "builtin_outputs": ["ImageId", "ImageState"],
    },
    "aws:createImage": {"required": ["InstanceId", "ImageName"], "builtin_outputs": ["ImageId", "ImageState"]},
    "aws:createStack": {"required": ["StackName"], "builtin_outputs": ["StackId", "StackStatus", "StackStatusReason"]},
    "aws:createTags": {"required": ["ResourceIds", "Tags"]},
    "aws:deleteImage": {"required": ["ImageId"]},
    "aws:deleteStack": {"required": ["StackName"]},
    "aws:executeAutomation": {"required": ["DocumentName"], "builtin_outputs": ["Output", "ExecutionId", "Status"]},
    "aws:executeAwsApi": {"required": ["Service", "Api"]},
    "aws:executeScript": {"required": ["Runtime"], "builtin_outputs": ["OutputPayload"]},
    "aws:executeStateMachine": {"required": ["stateMachineArn"]},
    "aws:invokeLambdaFunction": {
        "required": ["FunctionName"],
        "builtin_outputs": ["StatusCode", "FunctionError", "LogResult", "Payload"],
    },
    "aws:invokeWebhook": {"required": ["IntegrationName"], "builtin_outputs": ["Response", "ResponseCode"]},
    # "When using an aws:loop action, only specify either the Iterators or LoopCondition input parameter"
    # (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-loop.html).
    "aws:loop": {
        "required": ["Steps", ("Iterators", "LoopCondition")],
        "builtin_outputs": ["CurrentIteration", "CurrentIteratorValue"],
    },
    "aws:pause": {"required": []},
    "aws:runCommand": {
        "required": ["DocumentName", ("InstanceIds", "Targets")],
        "builtin_outputs": ["CommandId", "Status", "ResponseCode", "Output"],
    },
    "aws:runInstances": {"required": ["ImageId"], "builtin_outputs": ["InstanceIds", "InstanceStates"]},
    "aws:sleep": {"required": [("Duration", "Timestamp")]},
    "aws:updateVariable": {"required": ["Name", "Value"]},
    "aws:waitForAwsResourceProperty": {"required": ["Service", "Api", "PropertySelector", "DesiredValues"]},
}
BRANCH_OPERATORS = frozenset(
    [
        "StringEquals",
        "EqualsIgnoreCase",
        "StartsWith",
        "EndsWith",
        "Contains",
        "NumericEquals",
        "NumericGreater",
        "NumericLesser",
        "NumericGreaterOrEquals",
        "NumericLesserOrEquals",
        "BooleanEquals",
    ]
)
# Automation system and automation variables (Systems Manager user guide, "Automation system variables").
AUTOMATION_VARIABLES = frozenset(
    [
        "automation:EXECUTION_ID",
        "global:ACCOUNT_ID",
        "global:DATE",
        "global:DATE_TIME",
        "global:AWS_PARTITION",
        "global:AWS_URL_SUFFIX",
        "global:REGION",
    ]
)
SHELL_DOCUMENTS = ("AWS-RunShellScript",)
POWERSHELL_DOCUMENTS = ("AWS-RunPowerShellScript",)

REF_RE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
STEP_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
CHECK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
# Characters a value may carry into a shell or PowerShell command without changing its meaning.
SAFE_VALUE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/=@+,- ")
SAFE_VALUE_FORM = "letters, digits, space and _ . : / = @ + , -"
INTERPOLATED_UNSAFE_TYPES = ("String", "StringList", "MapList", "StringMap")

SEVERITIES = ("error", "warning", "info")

# Actions that only AWS-owned runbooks use (not in the Automation actions reference): AWS runs them in its own
# documents; whether it accepts them in a customer's document is not documented, so they are a warning.
INTERNAL_ACTIONS = frozenset(
    ["aws:installDistributorPackageOnAzure", "aws:putServerUpgradeMetrics", "aws:shareSQLMedia"]
)

# Type coercion as AWS reads step properties: AWS-owned runbooks write isEnd: "true", isCritical: "false",
# timeoutSeconds: "600", maxAttempts: "3", and AWS accepts them.
_TRUE = ("true",)
_FALSE = ("false",)


def as_bool(value):
    """True/False for a boolean or the strings true/false (any case); None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    return None


def as_int(value):
    """The integer of an int or a string of digits; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r"^\s*[0-9]+\s*$", value):
        return int(value.strip())
    return None


def is_end(step):
    return as_bool(step.get("isEnd")) is True
