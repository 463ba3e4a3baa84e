# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input validation shared by every module and role of the collection.

Pure Python, no Ansible and no AWS: each check raises :class:`InvalidInput`, whose message names the field
and the form it accepts, before anything is sent to AWS. The patterns are AWS's own (API reference).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

ACCOUNT_ID_RE = re.compile(r"^\d{12}$")
# Organizations API reference: OrganizationalUnitId, RootId, OrganizationId.
OU_ID_RE = re.compile(r"^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$")
ROOT_ID_RE = re.compile(r"^r-[a-z0-9]{4,32}$")
ORG_ID_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
# SSM StartAutomationExecution MaxConcurrency / MaxErrors.
MAX_CONCURRENCY_RE = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
MAX_ERRORS_RE = re.compile(r"^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
# IAM role ARN (any partition); the path may hold slashes.
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# A UUID: SSM AutomationExecutionId, ClientToken (IdempotencyToken).
UUID_RE = re.compile(r"^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$")
# SSM: DocumentName, a document ARN, DocumentVersion, parameter names, tag keys (API reference).
DOCUMENT_NAME_RE = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
DOCUMENT_ARN_RE = re.compile(r"^arn:aws[a-z-]*:ssm:[a-z0-9-]*:\d{12}:document/[a-zA-Z0-9_\-.]{3,128}$")
DOCUMENT_VERSION_RE = re.compile(r"^([$]LATEST|[$]DEFAULT|[1-9][0-9]*)$")
DOCUMENT_ARN_OR_NAME_RE = re.compile(r"^[a-zA-Z0-9_\-.:/]{3,128}$")  # DocumentARN: a name or an ARN
DOCUMENT_VERSION_NAME_RE = re.compile(r"^[a-zA-Z0-9_\-.]{1,128}$")
TARGET_TYPE_RE = re.compile(r"^\/[\w\.\-\:\/]*$")
PARAMETER_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-:]{1,50}$")
TAG_KEY_RE = re.compile(r"^[\w\s.:/=+\-@]{1,128}$", re.UNICODE)
# A runbook's assumeRole that names one of its parameters: '{{ AutomationAssumeRole }}'.
ASSUME_ROLE_TEMPLATE_RE = re.compile(r"^\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}$")
# CloudFormation: StackSetName (also a stack name), TemplateURL.
STACK_SET_NAME_RE = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
TEMPLATE_URL_RE = re.compile(r"^https://\S+$")
# Tag keys and values the roles accept for targeting (EC2 / SSM Tag data type, restricted to the characters AWS
# documents for tags and nothing a shell would interpret: no newline, quote, semicolon, $, `, | or &).
SAFE_TAG_KEY_RE = re.compile(r"^[\w .:/=+@-]{1,128}$")
SAFE_TAG_VALUE_RE = re.compile(r"^[\w .:/=+@-]{0,256}$")

ACCOUNT_FORM = "a 12-digit AWS account id, such as 123456789012"
OU_FORM = "an OU id (ou-xxxx-xxxxxxxx, pattern ^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$) or a root id (r-xxxx)"
ORG_FORM = "an organization id matching ^o-[a-z0-9]{10,32}$"
REGION_FORM = "an AWS region name such as eu-west-1 or ap-northeast-1"
MAX_CONCURRENCY_FORM = "a positive number (10) or a percentage from 1% to 100%"
MAX_ERRORS_FORM = "a number (0, 10) or a percentage from 0% to 100%"
ROLE_NAME_FORM = "an IAM role name of 1-64 characters from [A-Za-z0-9+=,.@_-]"
TAG_KEY_FORM = "a tag key of 1-128 letters, digits, spaces and _ . : / = + - @"
TAG_VALUE_FORM = "a tag value of 0-256 letters, digits, spaces and _ . : / = + - @"

# Regions from botocore's endpoint data are preferred (see known_regions); this list is the floor.
_FALLBACK_REGIONS = frozenset(
    """us-east-1 us-east-2 us-west-1 us-west-2 af-south-1 ap-east-1 ap-east-2 ap-south-1 ap-south-2
    ap-southeast-1 ap-southeast-2 ap-southeast-3 ap-southeast-4 ap-southeast-5 ap-southeast-7
    ap-northeast-1 ap-northeast-2 ap-northeast-3 ca-central-1 ca-west-1 eu-central-1 eu-central-2
    eu-west-1 eu-west-2 eu-west-3 eu-south-1 eu-south-2 eu-north-1 il-central-1 me-south-1
    me-central-1 mx-central-1 sa-east-1 us-gov-east-1 us-gov-west-1 cn-north-1 cn-northwest-1""".split()
)


class InvalidInput(ValueError):
    """Bad input, found before any AWS call. ``field`` is the option path, such as ``target_locations[0].regions[1]``."""

    def __init__(self, field, message):
        self.field = field
        self.message = message
        super(InvalidInput, self).__init__("%s: %s" % (field, message))


def _describe(value):
    return repr(value) if not isinstance(value, str) else "'%s'" % value


def known_regions():
    """Every region botocore knows of, for any partition, plus a static floor."""
    regions = set(_FALLBACK_REGIONS)
    try:
        import botocore.session

        session = botocore.session.get_session()
        for partition in session.get_available_partitions():
            regions.update(session.get_available_regions("ssm", partition_name=partition))
    except Exception:  # pylint: disable=broad-except  # noqa: S110 - botocore data missing: the floor list stands
        pass
    return frozenset(regions)


EXECUTION_ID_FORM = "an automation execution id (36-character UUID such as 7e3c1d0a-1b2c-4d5e-8f90-123456789abc)"


def execution_id(value, field):
    """An SSM AutomationExecutionId (a UUID)."""
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise InvalidInput(field, "%r is not %s" % (value, EXECUTION_ID_FORM))
    return value


def account_id(value, field):
    if not isinstance(value, str) or not ACCOUNT_ID_RE.match(value):
        raise InvalidInput(field, "%s is not %s" % (_describe(value), ACCOUNT_FORM))
    return value


def ou_id(value, field, allow_root=True):
    ok = isinstance(value, str) and (OU_ID_RE.match(value) or (allow_root and ROOT_ID_RE.match(value)))
    if not ok:
        raise InvalidInput(field, "%s is not %s" % (_describe(value), OU_FORM))
    return value


def organization_id(value, field):
    if not isinstance(value, str) or not ORG_ID_RE.match(value):
        raise InvalidInput(field, "%s is not %s" % (_describe(value), ORG_FORM))
    return value


def account_or_ou(value, field):
    """A TargetLocation ``Accounts`` entry: account id, OU id or root id."""
    if isinstance(value, str) and (ACCOUNT_ID_RE.match(value) or OU_ID_RE.match(value) or ROOT_ID_RE.match(value)):
        return value
    raise InvalidInput(field, "%s is not %s, nor %s" % (_describe(value), ACCOUNT_FORM, OU_FORM))


def region(value, field, regions=None):
    if not isinstance(value, str) or not REGION_RE.match(value):
        raise InvalidInput(field, "%s is not %s" % (_describe(value), REGION_FORM))
    allowed = regions if regions is not None else known_regions()
    if value not in allowed:
        raise InvalidInput(field, "%s is not a known AWS region; expected %s" % (_describe(value), REGION_FORM))
    return value


def max_concurrency(value, field):
    value = str(value)
    if not MAX_CONCURRENCY_RE.match(value):
        raise InvalidInput(field, "%s is not %s" % (_describe(value), MAX_CONCURRENCY_FORM))
    return value


def max_errors(value, field):
    value = str(value)
    if not MAX_ERRORS_RE.match(value):
        raise InvalidInput(field, "%s is not %s" % (_describe(value), MAX_ERRORS_FORM))
    return value


def role_name(value, field):
    if not isinstance(value, str) or not ROLE_NAME_RE.match(value):
        raise InvalidInput(field, "%s is not %s" % (_describe(value), ROLE_NAME_FORM))
    return value


def each(values, check, field, **kwargs):
    """Apply ``check`` to every item of a list, naming ``field[i]`` on failure."""
    return [check(v, "%s[%d]" % (field, i), **kwargs) for i, v in enumerate(values or [])]
