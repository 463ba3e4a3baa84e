#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ssm_document
version_added: 0.1.0
short_description: Create, update (as a new default version) or delete an SSM document such as an Automation runbook
description:
  - Keeps an AWS Systems Manager document, typically an Automation runbook, in step with content kept in git.
  - The wanted content is compared B(normalized) with the document's default and latest versions, so key order and
    YAML versus JSON formatting do not count as changes. When nothing differs, nothing is written.
  - When the content differs, the module calls C(UpdateDocument) on C($LATEST) and then makes the new version the
    default (C(UpdateDocumentDefaultVersion)) unless O(set_default_version=false).
  - When AWS answers C(DuplicateDocumentContent) (the content equals an older version), no version is created; that
    older version is made the default if O(set_default_version=true).
  - With O(validate=true), Automation runbooks are linted first (schema, step graph, references, command injection,
    operability) and the module fails on lint errors, before any AWS call. See M(orgops.ssm_automation.runbook_lint).
  - Check mode reports what would change; diff mode shows a unified diff of the runbook content rendered as YAML.
author:
  - orgops maintainers (@orgops)
options:
  name:
    description:
      - Name of the document.
      - 3 to 128 characters from C([a-zA-Z0-9_.-]). Names starting with C(AWS-), C(aws), C(amazon) or C(amzn) (in any
        case) are reserved by AWS and refused.
    type: str
    required: true
  state:
    description:
      - C(present) creates or updates the document, C(absent) deletes it with all its versions (unsharing it first).
    type: str
    choices: [present, absent]
    default: present
  content:
    description:
      - The document content, as a dict, or as a YAML or JSON string.
      - A string already in O(document_format) is uploaded as is (comments kept); otherwise the content is
        serialized in O(document_format).
      - Content must stay within the SSM limit of 64 KB.
      - Mutually exclusive with O(content_path). One of them is required with O(state=present).
    type: raw
  content_path:
    description:
      - Path to a YAML or JSON file holding the document content, read on the host running the module.
      - Mutually exclusive with O(content).
    type: path
  document_type:
    description:
      - The document type. The type of an existing document cannot change.
    type: str
    choices: [Automation, Command]
    default: Automation
  document_format:
    description:
      - The format the content is stored in by SSM.
      - Changing only the format of identical content is not a change.
    type: str
    choices: [YAML, JSON]
    default: YAML
  version_name:
    description:
      - Optional version name given to the version this run creates (for example C(1.2.0)).
      - Version names are unique across the versions of a document; it is only used when a new version is created.
    type: str
  target_type:
    description:
      - The resource type the document can run on, such as C(/AWS::EC2::Instance), or C(/) for all.
    type: str
  set_default_version:
    description:
      - Make the version holding the wanted content the default version, so that runs use it.
    type: bool
    default: true
  shared_with_accounts:
    description:
      - Account ids the document is shared with (C(ModifyDocumentPermission)), or C([all]) to share publicly.
      - The list is exact; accounts not listed are unshared. When not set, sharing is left as it is.
    type: list
    elements: str
  validate:
    description:
      - Lint an Automation runbook before any AWS call and fail on errors.
      - Warnings and infos are returned in RV(lint) but do not fail the task.
    type: bool
    default: true
  lint_waivers:
    description:
      - Parameter names whose interpolation into commands was reviewed and is accepted (the command-injection
        error becomes an info), and C(rule:<rule-id>) entries silencing warnings of that rule.
    type: list
    elements: str
    default: []
notes:
  - Every AWS call is retried with jittered backoff on throttling.
  - A run that changes nothing makes read calls only (C(DescribeDocument), C(GetDocument), and
    C(ListTagsForResource) or C(DescribeDocumentPermission) when O(tags) or O(shared_with_accounts) are set).
extends_documentation_fragment:
  - orgops.ssm_automation.trace
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Upload the check-os runbook; a new default version only when it changed
  orgops.ssm_automation.ssm_document:
    name: check-os
    content_path: "{{ role_path }}/files/check-os.yml"
    tags:
      owner: platform-team

- name: Upload a runbook from a dict, stored as JSON, without making it the default yet
  orgops.ssm_automation.ssm_document:
    name: check-os-canary
    content: "{{ lookup('ansible.builtin.file', 'check-os.yml') | from_yaml }}"
    document_format: JSON
    set_default_version: false

- name: Share the runbook with two accounts (exact list)
  orgops.ssm_automation.ssm_document:
    name: check-os
    content_path: files/check-os.yml
    shared_with_accounts:
      - "111122223333"
      - "444455556666"

- name: Delete the runbook
  orgops.ssm_automation.ssm_document:
    name: check-os-canary
    state: absent
"""

RETURN = r"""
document:
  description: The document after the run (or as it would be, in check mode). Empty after O(state=absent).
  returned: always
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
      description: The format of the version holding the content.
      type: str
      sample: YAML
    document_version:
      description: The version that holds the wanted content.
      type: str
      sample: "2"
    default_version:
      description: The default version.
      type: str
      sample: "2"
    latest_version:
      description: The latest version.
      type: str
      sample: "2"
    status:
      description: The status of that version (null in check mode for a version not created yet).
      type: str
      sample: Active
    content_hash:
      description: sha256 of the normalized content (canonical JSON with sorted keys).
      type: str
      sample: 22ea0f2b07657c2ef0e0ba1b8884765bb5fb16b51fd991ae1f7d744aa9a8d82c
    parameters:
      description: The runbook's declared parameters.
      type: list
      elements: dict
      sample: [{"name": "CheckUpdate", "type": "String", "default": "check", "allowed_values": ["check", "skip"], "required": false}]
    version_name:
      description: The version name of that version, if any.
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
    tags:
      description: The document's tags, when O(tags) is set.
      type: dict
      returned: when O(tags) is set
    shared_with_accounts:
      description: The accounts the document is shared with, when O(shared_with_accounts) is set.
      type: list
      elements: str
      returned: when O(shared_with_accounts) is set
actions:
  description: What the run did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["update_document", "update_default_version"]
lint:
  description: Lint findings (error, warning, info) with the step name and field path.
  returned: when the content was linted
  type: list
  elements: dict
  sample: [{"severity": "info", "rule": "operability.output-cap", "step": "CheckHostname",
            "path": "mainSteps[0].outputs[0].Selector", "message": "AWS keeps only the first 2500 characters ..."}]
"""

from ansible.module_utils.basic import missing_required_lib  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402

from ansible_collections.orgops.ssm_automation.plugins.module_utils import documents, runbook, trace  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput  # noqa: E402


def main():
    argument_spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "content": {"type": "raw"},
        "content_path": {"type": "path"},
        "document_type": {"type": "str", "choices": list(documents.DOCUMENT_TYPES), "default": "Automation"},
        "document_format": {"type": "str", "choices": list(documents.DOCUMENT_FORMATS), "default": "YAML"},
        "version_name": {"type": "str"},
        "target_type": {"type": "str"},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
        "set_default_version": {"type": "bool", "default": True},
        "shared_with_accounts": {"type": "list", "elements": "str"},
        "validate": {"type": "bool", "default": True},
        "lint_waivers": {"type": "list", "elements": "str", "default": []},
    }
    module = AnsibleAWSModule(
        argument_spec=dict(argument_spec, **trace.ARGUMENT_SPEC),
        supports_check_mode=True,
        mutually_exclusive=[["content", "content_path"]],
        required_if=[["state", "present", ["content", "content_path"], True]],
    )
    trace.install(module)
    if not runbook.HAS_YAML:
        module.fail_json(msg=missing_required_lib(runbook.YAML_REQUIREMENT))
    result = {"changed": False}
    try:
        _run(module, result)
    except InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field, **result)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)
    module.exit_json(**result)


def _run(module, result):
    """Check the input, lint, then create/update/delete; fills ``result`` (kept for a failure's message)."""
    p = module.params
    doc = upload = shared = None
    name = documents.check_name(p["name"])
    if p["state"] == "present":
        documents.check_version_name(p["version_name"])
        documents.check_target_type(p["target_type"])
        shared = documents.check_shared_accounts(p["shared_with_accounts"])
        doc, text, text_format = documents.load_content(p["content"], p["content_path"])
        upload = documents.upload_text(doc, text, text_format, p["document_format"])
        runbook.check_size(upload, "content_path" if p["content_path"] else "content")
        if p["validate"] and p["document_type"] == "Automation":
            findings = runbook.lint(doc, p["lint_waivers"])
            result["lint"] = findings
            errors = runbook.errors(findings)
            if errors:
                module.fail_json(
                    msg="runbook %s has %d lint error(s): %s"
                    % (name, len(errors), "; ".join(runbook.format_finding(x) for x in errors)),
                    lint=findings,
                )

    api = documents.DocumentAPI(
        module.client("ssm", retry_decorator=AWSRetry.jittered_backoff(catch_extra_error_codes=documents.RETRY_CODES))
    )
    if p["state"] == "absent":
        outcome = documents.ensure_absent(api, name, check_mode=module.check_mode)
    else:
        spec = {
            "name": name,
            "doc": doc,
            "text": upload,
            "document_type": p["document_type"],
            "document_format": p["document_format"],
            "version_name": p["version_name"],
            "target_type": p["target_type"],
            "tags": p["tags"],
            "purge_tags": p["purge_tags"],
            "set_default_version": p["set_default_version"],
            "shared_with_accounts": shared,
        }
        outcome = documents.ensure_present(api, spec, check_mode=module.check_mode)

    for warning in outcome["warnings"]:
        module.warn(warning)
    result.update(changed=outcome["changed"], actions=outcome["actions"], document=outcome["document"])
    if module._diff and outcome["changed"]:
        result["diff"] = outcome["diff"]


if __name__ == "__main__":
    main()
