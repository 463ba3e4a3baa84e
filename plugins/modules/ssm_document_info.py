#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ssm_document_info
version_added: 0.1.0
short_description: Describe an SSM document (runbook) with its content, versions and sharing, or list documents
description:
  - With O(name), returns that document (a given version, or the default one) with its parsed content, its lint
    findings, its tags, and optionally its versions and the accounts it is shared with.
  - Without O(name), lists the documents of an owner, optionally of one type.
  - A document that does not exist is not an error; RV(exists) is false and RV(documents) is empty.
author:
  - orgops maintainers (@orgops)
options:
  name:
    description:
      - Name or ARN of the document. When omitted, documents are listed.
    type: str
  document_version:
    description:
      - The version to describe, C($LATEST), C($DEFAULT) or a number. Defaults to the default version.
    type: str
  version_name:
    description:
      - The version name to describe, instead of O(document_version).
    type: str
  include_content:
    description:
      - Fetch the content of that version (C(GetDocument)), parsed, and lint it when it is an Automation runbook.
    type: bool
    default: true
  include_versions:
    description:
      - List all the versions of the document (C(ListDocumentVersions)).
    type: bool
    default: false
  include_sharing:
    description:
      - Return the accounts the document is shared with (C(DescribeDocumentPermission)); only for documents you own.
    type: bool
    default: false
  owner:
    description:
      - When listing, whose documents to list.
    type: str
    choices: [Self, Amazon, Public, Private, ThirdParty, All]
    default: Self
  document_type:
    description:
      - When listing, only documents of this type.
    type: str
    choices: [Automation, Command]
extends_documentation_fragment:
  - orgops.ssm_automation.trace
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the check-os runbook as deployed (default version)
  orgops.ssm_automation.ssm_document_info:
    name: check-os
  register: check_os_doc

- name: Read version 1 and the version history
  orgops.ssm_automation.ssm_document_info:
    name: check-os
    document_version: "1"
    include_versions: true

- name: List my Automation runbooks
  orgops.ssm_automation.ssm_document_info:
    document_type: Automation
"""

RETURN = r"""
exists:
  description: Whether the named document exists.
  returned: when O(name) is set
  type: bool
  sample: true
document:
  description: The named document; empty when it does not exist.
  returned: when O(name) is set
  type: dict
  contains:
    name:
      description: The document name.
      type: str
      sample: check-os
    document_type:
      description: The document type.
      type: str
      sample: Automation
    document_format:
      description: The stored format of that version.
      type: str
      sample: YAML
    document_version:
      description: The version described.
      type: str
      sample: "2"
    default_version:
      description: The default version.
      type: str
      sample: "2"
    latest_version:
      description: The latest version.
      type: str
      sample: "3"
    status:
      description: The status of that version.
      type: str
      sample: Active
    content_hash:
      description: sha256 of the normalized content (null without O(include_content)).
      type: str
    parameters:
      description: The declared parameters.
      type: list
      elements: dict
    content:
      description: The parsed content of that version.
      type: dict
      returned: with O(include_content)
    lint:
      description: Lint findings for that version, for Automation runbooks (schemaVersion 0.3).
      type: list
      elements: dict
      returned: with O(include_content)
    tags:
      description: The document's tags (documents you own).
      type: dict
    shared_with_accounts:
      description: The accounts the document is shared with.
      type: list
      elements: str
      returned: with O(include_sharing)
    versions:
      description: Every version with its number, name, format, status and whether it is the default.
      type: list
      elements: dict
      returned: with O(include_versions)
    description:
      description: The document's description.
      type: str
    schema_version:
      description: The schema version.
      type: str
      sample: "0.3"
    platform_types:
      description: The platform types reported by SSM.
      type: list
      elements: str
    version_name:
      description: The version name, if any.
      type: str
    target_type:
      description: The target type, if any.
      type: str
    owner:
      description: The owning account.
      type: str
    created_date:
      description: When that version was created (ISO 8601).
      type: str
    hash:
      description: The hash SSM computed over the stored text.
      type: str
    hash_type:
      description: The hash type SSM used.
      type: str
documents:
  description: The named document as a one-element list, or the listed documents.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "check-os", "document_type": "Automation", "document_version": "2", "owner": "123456789012"}]
"""

from ansible.module_utils.basic import missing_required_lib  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402

from ansible_collections.orgops.ssm_automation.plugins.module_utils import documents, runbook, trace  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput  # noqa: E402


def main():
    argument_spec = {
        "name": {"type": "str"},
        "document_version": {"type": "str"},
        "version_name": {"type": "str"},
        "include_content": {"type": "bool", "default": True},
        "include_versions": {"type": "bool", "default": False},
        "include_sharing": {"type": "bool", "default": False},
        "owner": {
            "type": "str",
            "choices": ["Self", "Amazon", "Public", "Private", "ThirdParty", "All"],
            "default": "Self",
        },
        "document_type": {"type": "str", "choices": list(documents.DOCUMENT_TYPES)},
    }
    module = AnsibleAWSModule(
        argument_spec=dict(argument_spec, **trace.ARGUMENT_SPEC),
        supports_check_mode=True,
        mutually_exclusive=[["document_version", "version_name"]],
    )
    trace.install(module)
    if not runbook.HAS_YAML:
        module.fail_json(msg=missing_required_lib(runbook.YAML_REQUIREMENT))
    try:
        module.exit_json(**_run(module))
    except InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


def _run(module):
    p = module.params
    if p["name"] is not None and not documents.ARN_OR_NAME_RE.match(p["name"]):
        raise InvalidInput(
            "name", "%r; accepted: a document name or ARN (3-128 characters from [a-zA-Z0-9_.:/-])" % p["name"]
        )
    version = documents.check_document_version(p["document_version"])
    documents.check_version_name(p["version_name"])
    api = documents.DocumentAPI(
        module.client("ssm", retry_decorator=AWSRetry.jittered_backoff(catch_extra_error_codes=documents.RETRY_CODES))
    )
    if p["name"] is None:
        return {"changed": False, "documents": documents.list_documents(api, p["owner"], p["document_type"])}
    info = documents.document_info(
        api,
        p["name"],
        version=version,
        version_name=p["version_name"],
        include_content=p["include_content"],
        include_versions=p["include_versions"],
        include_sharing=p["include_sharing"],
    )
    return {"changed": False, "exists": info is not None, "document": info or {}, "documents": [info] if info else []}


if __name__ == "__main__":
    main()
