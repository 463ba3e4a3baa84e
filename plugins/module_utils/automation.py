# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start, validate, split, preflight, follow and stop a multi-account SSM Automation execution.

Pure Python on boto3 clients; no Ansible. The ``automation_execution`` module is a thin wrapper around
:func:`build_request`, :func:`preflight`, :func:`find_by_token`, :func:`start`, :func:`wait` and :func:`stop`.

Shapes follow the SSM API reference (StartAutomationExecution, TargetLocation, AutomationExecution):
a TargetLocation takes at most 50 ``Accounts`` and 50 ``Regions`` and at most 5,000 ``ExcludeAccounts``;
a request takes at most 100 TargetLocations and one Target (one tag key, with up to 50 values). The limits are
read from botocore's ssm model.

The public face of the private package ``_automation`` (``common``, ``request``, ``preflight``, ``execution``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# pylint: disable=unused-import
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.common import (  # noqa: F401
    ASSUME_ROLE_TEMPLATE_RE,
    CLIENT_TOKEN_RE,
    DEFAULT_ADMIN_ROLE,
    DEFAULT_EXECUTION_ROLE,
    DEFAULT_EXECUTION_STACK_SET,
    DEFAULT_LOCATION_MAX_CONCURRENCY,
    DEFAULT_LOCATION_MAX_ERRORS,
    DEFAULT_MANAGEMENT_STACK,
    DOCUMENT_ARN_RE,
    DOCUMENT_NAME_FORM,
    DOCUMENT_NAME_RE,
    DOCUMENT_VERSION_FORM,
    DOCUMENT_VERSION_RE,
    EXECUTION_ID_FORM,
    EXECUTION_ID_RE,
    MAX_ACCOUNTS_PER_LOCATION,
    MAX_EXCLUDE_ACCOUNTS,
    MAX_PARAMETER_VALUE_LENGTH,
    MAX_PARAMETER_VALUES,
    MAX_REGIONS_PER_LOCATION,
    MAX_TAGS,
    MAX_TARGET_KEY_LENGTH,
    MAX_TARGET_LOCATIONS,
    MAX_TARGET_VALUES,
    MAX_TARGETS,
    PARAMETER_NAME_RE,
    ROLE_ARN_RE,
    TAG_KEY_RE,
    TOKEN_NAMESPACE,
    TOKEN_TAG_PREFIX,
    AutomationError,
    AutomationErrorHandler,
    chunks,
    partition_from_arn,
    role_arn,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.execution import (  # noqa: F401
    count_statuses,
    fetch_runbook,
    find_by_token,
    get_execution,
    start,
    stop,
    summarize_execution,
    wait,
    with_token_tag,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.preflight import (  # noqa: F401
    check_assume_role,
    evaluate_preflight,
    find_role,
    find_stack_set,
    preflight,
    search_regions,
    stack_exists,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.request import (  # noqa: F401
    apply_runbook,
    assume_role_mode,
    assume_role_parameter,
    build_request,
    build_targets,
    check_document,
    check_execution_id,
    check_location,
    client_token,
    needs_caller_identity,
    normalize_parameters,
    split_locations,
    token_tag_key,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.status import (  # noqa: F401
    SUCCESS_STATUSES,
    TERMINAL_STATUSES,
    is_terminal,
    progress_line,
)
