# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runbooks as data: parse, normalise, hash, lint, check start parameters, and render from a list of checks.

The public face of the private package ``_runbook`` (split by concern: ``document``, ``regex_safety``, ``lint``
and its rule modules, ``parameters``, ``render``). Pure Python (PyYAML and the standard library), no Ansible and
no AWS, so that modules, roles, CI and tests share one implementation. Every public function raises
:class:`validation.InvalidInput` for bad input, naming the field and the accepted form.

Lint findings are dicts ``{"severity", "rule", "step", "path", "message"}``; ``severity`` is ``error``,
``warning`` or ``info``. The rules are documented in docs/runbooks.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# pylint: disable=unused-import
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.document import (  # noqa: F401
    HAS_YAML,
    YAML_REQUIREMENT,
    check_size,
    content_format,
    content_hash,
    content_size,
    dump_content,
    normalize,
    parse_content,
    to_json,
    to_yaml,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.files import (  # noqa: F401
    RUNBOOK_SUFFIXES,
    expand_paths,
    lint_file,
    lint_paths,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.lint import (  # noqa: F401
    RULES,
    errors,
    format_finding,
    lint,
    summarize,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.parameters import (  # noqa: F401
    check_parameters,
    parameter_summary,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.regex_safety import (  # noqa: F401
    is_safe_value,
    is_strict_pattern,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.render import (  # noqa: F401
    ASSUME_ROLE_PATTERN,
    CHECK_KEYS,
    DEFAULT_TIMEOUT,
    INSTANCE_ID_PATTERN,
    ONLINE_STEP,
    render_checks,
    validate_checks,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import (  # noqa: F401
    ACTIONS,
    AUTOMATION_VARIABLES,
    MAX_CONTENT_BYTES,
    OUTPUT_CAP_CHARS,
    REF_RE,
    SAFE_VALUE_CHARS,
    SAFE_VALUE_FORM,
    SCHEMA_VERSION,
    SEVERITIES,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput  # noqa: F401
