# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""

The public face of the private package ``_stack_set`` (``common``, ``template``, ``reads``, ``spec``, ``plan``, ``apply``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# pylint: disable=unused-import
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.apply import (  # noqa: F401
    _deployment_targets,
    _stack_set_request,
    apply,
    ensure,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.common import (  # noqa: F401
    ACCOUNT_FILTER_TYPES,
    ACTIVE_OPERATION_STATUSES,
    CALL_AS,
    CAPABILITIES,
    CONCURRENCY_MODES,
    NO_ECHO_MASK,
    PERMISSION_MODELS,
    REGION_CONCURRENCY_TYPES,
    ROLE_ARN_FORM,
    ROLE_ARN_RE,
    STACK_SET_NAME_FORM,
    STACK_SET_NAME_RE,
    TEMPLATE_URL_RE,
    TERMINAL_OPERATION_STATUSES,
    StackSetError,
    StackSetErrorHandler,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.plan import (  # noqa: F401
    build_diff,
    describe_targets,
    plan,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.reads import (  # noqa: F401
    describe_stack_set,
    instance_to_dict,
    list_stack_instances,
    operation_failures,
    stack_set_to_dict,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.spec import (  # noqa: F401
    validate_operation_preferences,
    validate_spec,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._stack_set.template import (  # noqa: F401
    GLOBAL_NAMED_RESOURCES,
    HAS_YAML,  # noqa: F401
    global_named_resources,
    parse_template,
    template_parameters,
    template_text,
)
