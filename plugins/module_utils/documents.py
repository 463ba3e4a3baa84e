# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSM document (runbook) logic behind the ssm_document and ssm_document_info modules.

Pure Python over a boto3 SSM client (plain, or amazon.aws's retrying wrapper): no Ansible module here.

Upsert rules (see docs/runbooks.md):
- the wanted content is compared, normalised (key order, YAML vs JSON do not count), with the document's default
  and latest versions; equal to either means no new version;
- otherwise UpdateDocument on $LATEST, then UpdateDocumentDefaultVersion to the new version (unless told not to);
- DuplicateDocumentContent from AWS (the content equals an older version) is no new version: the matching version
  is made the default if asked;
- nothing is written in check mode, and a run that finds nothing to do makes read calls only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

try:
    import botocore  # noqa: F401  # pylint: disable=unused-import
except ImportError:
    pass  # the modules report a missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

from ansible_collections.orgops.ssm_automation.plugins.module_utils import _aws, runbook, validation
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

# SSM API reference: DocumentName, DocumentVersionName, TargetType; CreateDocument's reserved name prefixes.
NAME_RE = validation.DOCUMENT_NAME_RE
ARN_OR_NAME_RE = validation.DOCUMENT_ARN_OR_NAME_RE
VERSION_NAME_RE = validation.DOCUMENT_VERSION_NAME_RE
TARGET_TYPE_RE = validation.TARGET_TYPE_RE
DOCUMENT_VERSION_RE = validation.DOCUMENT_VERSION_RE
# CreateDocument: "You can't use the following strings as document name prefixes: aws, amazon, amzn, AWSEC2,
# AWSConfigRemediation, AWSSupport". Compared case-insensitively, which also covers AWS-.
RESERVED_PREFIXES = ("aws", "amazon", "amzn")
NAME_FORM = "3-128 characters from [a-zA-Z0-9_.-], not starting with AWS-, aws, amazon or amzn"
DOCUMENT_TYPES = ("Automation", "Command")
DOCUMENT_FORMATS = ("YAML", "JSON")
# ModifyDocumentPermission takes at most 20 account ids per list (AccountIdList max 20).
PERMISSION_BATCH = 20
# SSM answers ThrottlingException, which AWSRetry.jittered_backoff does not retry by default (it knows Throttling,
# RequestLimitExceeded, ...): the modules add it.
RETRY_CODES = ["ThrottlingException"]
ACTIVE_WAIT_ATTEMPTS = 30
ACTIVE_WAIT_DELAY = 2


class DocumentError(AnsibleAWSError):
    pass


class DocumentErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = DocumentError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("InvalidDocument")


# --------------------------------------------------------------------------------------------------
# Input checks (before any AWS call)
# --------------------------------------------------------------------------------------------------


def check_name(name, field="name"):
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInput(field, "%r is not a document name; accepted: %s" % (name, NAME_FORM))
    lowered = name.lower()
    for prefix in RESERVED_PREFIXES:
        if lowered.startswith(prefix):
            raise InvalidInput(
                field,
                "%r starts with %r, a prefix AWS reserves for its own documents; accepted: %s"
                % (name, name[: len(prefix)], NAME_FORM),
            )
    return name


def check_version_name(value, field="version_name"):
    if value is not None and (not isinstance(value, str) or not VERSION_NAME_RE.match(value)):
        raise InvalidInput(field, "%r; accepted: 1-128 characters from [a-zA-Z0-9_.-]" % (value,))
    return value


def check_target_type(value, field="target_type"):
    if value is not None and (not isinstance(value, str) or len(value) > 200 or not TARGET_TYPE_RE.match(value)):
        raise InvalidInput(
            field, "%r; accepted: a resource type path such as /AWS::EC2::Instance, or / for all" % (value,)
        )
    return value


def check_document_version(value, field="document_version"):
    if value is not None and not DOCUMENT_VERSION_RE.match(str(value)):
        raise InvalidInput(field, "%r; accepted: a version number, $LATEST or $DEFAULT" % (value,))
    return None if value is None else str(value)


def check_shared_accounts(values, field="shared_with_accounts"):
    if values is None:
        return None
    out = []
    for i, v in enumerate(values):
        if isinstance(v, str) and v.lower() == "all":
            out.append("all")
        else:
            out.append(validation.account_id(v, "%s[%d]" % (field, i)))
    if "all" in out and len(out) > 1:
        raise InvalidInput(
            field, "'all' shares publicly and cannot be combined with account ids; accepted: ['all'] or account ids"
        )
    return sorted(set(out))


def load_content(content=None, content_path=None):
    """(doc, text, text_format) from a dict / YAML / JSON string, or a file. text is None for dicts."""
    if content_path is not None:
        path = os.path.expanduser(content_path)
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except (IOError, OSError) as e:
            raise InvalidInput(
                "content_path",
                "cannot read %s: %s; accepted: a readable YAML or JSON file" % (content_path, e.strerror),
            ) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(
                "content_path", "%s is not UTF-8 text; accepted: a YAML or JSON runbook file" % content_path
            ) from None
        try:
            doc = runbook.parse_content(text)
        except InvalidInput as e:
            raise InvalidInput("content_path", "%s %s" % (content_path, e.message)) from None
        return doc, text, runbook.content_format(text)
    if content is None:
        raise InvalidInput("content", "is missing; accepted: content (a dict, YAML or JSON) or content_path")
    doc = runbook.parse_content(content)
    if isinstance(content, str):
        return doc, content, runbook.content_format(content)
    return doc, None, None


def upload_text(doc, text, text_format, document_format):
    """The text to send: the user's own text when it already is in document_format (comments kept), else a dump."""
    if text is not None and text_format == document_format:
        return text
    return runbook.dump_content(doc, document_format)


# --------------------------------------------------------------------------------------------------
# API access
# --------------------------------------------------------------------------------------------------


class DocumentAPI:
    """Thin wrapper: every SSM call the modules make, with retries when the client is amazon.aws's wrapper."""

    def __init__(self, client, sleep=time.sleep):
        self.client = client
        self._kw = {"aws_retry": True} if isinstance(client, RetryingBotoClientWrapper) else {}
        self.sleep = sleep

    def _call(self, method, **kwargs):
        kwargs.update(self._kw)
        return getattr(self.client, method)(**kwargs)

    @DocumentErrorHandler.list_error_handler("describe SSM document", default_value=None)
    def describe(self, name, version=None, version_name=None):
        kwargs = {"Name": name}
        if version:
            kwargs["DocumentVersion"] = version
        if version_name:
            kwargs["VersionName"] = version_name
        return self._call("describe_document", **kwargs)["Document"]

    @DocumentErrorHandler.list_error_handler("get SSM document content", default_value=None)
    def get(self, name, version=None, version_name=None):
        kwargs = {"Name": name}
        if version:
            kwargs["DocumentVersion"] = version
        if version_name:
            kwargs["VersionName"] = version_name
        return self._call("get_document", **kwargs)

    @DocumentErrorHandler.list_error_handler("list SSM document versions", default_value=[])
    def versions(self, name):
        return _aws.paginate(self.client, "list_document_versions", "DocumentVersions", Name=name)

    @DocumentErrorHandler.common_error_handler("list SSM documents")
    def list(self, filters):
        return _aws.paginate(self.client, "list_documents", "DocumentIdentifiers", Filters=filters, MaxResults=50)

    @DocumentErrorHandler.common_error_handler("create SSM document")
    def create(self, **kwargs):
        return self._call("create_document", **kwargs)["DocumentDescription"]

    def update(self, **kwargs):
        """UpdateDocument; returns None when AWS answers DuplicateDocumentContent."""
        try:
            return self._call("update_document", **kwargs)["DocumentDescription"]
        except is_boto3_error_code("DuplicateDocumentContent"):
            return None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            raise DocumentError(message="Failed to update SSM document", exception=e) from e

    @DocumentErrorHandler.common_error_handler("set the default version of the SSM document")
    def set_default(self, name, version):
        return self._call("update_document_default_version", Name=name, DocumentVersion=str(version))

    @DocumentErrorHandler.deletion_error_handler("delete SSM document")
    def delete(self, name):
        self._call("delete_document", Name=name)
        return True

    @DocumentErrorHandler.list_error_handler("list SSM document tags", default_value={})
    def tags(self, name):
        resp = self._call("list_tags_for_resource", ResourceType="Document", ResourceId=name)
        return boto3_tag_list_to_ansible_dict(resp.get("TagList", []))

    @DocumentErrorHandler.common_error_handler("tag SSM document")
    def add_tags(self, name, tags):
        self._call(
            "add_tags_to_resource", ResourceType="Document", ResourceId=name, Tags=ansible_dict_to_boto3_tag_list(tags)
        )

    @DocumentErrorHandler.common_error_handler("untag SSM document")
    def remove_tags(self, name, keys):
        self._call("remove_tags_from_resource", ResourceType="Document", ResourceId=name, TagKeys=list(keys))

    @DocumentErrorHandler.list_error_handler("describe SSM document permissions", default_value=[])
    def shared_accounts(self, name):
        out = _aws.paginate(
            self.client, "describe_document_permission", "AccountIds", Name=name, PermissionType="Share"
        )
        return sorted({a.lower() if a.lower() == "all" else a for a in out})

    @DocumentErrorHandler.common_error_handler("modify SSM document permissions")
    def modify_permission(self, name, add=(), remove=()):
        add, remove = list(add), list(remove)
        while add or remove:
            kwargs = {"Name": name, "PermissionType": "Share"}
            if add:
                kwargs["AccountIdsToAdd"], add = add[:PERMISSION_BATCH], add[PERMISSION_BATCH:]
            if remove:
                kwargs["AccountIdsToRemove"], remove = remove[:PERMISSION_BATCH], remove[PERMISSION_BATCH:]
            self._call("modify_document_permission", **kwargs)

    def wait_active(self, name, version):
        """Bounded wait for a new version to leave Creating/Updating (AWS answers those briefly)."""
        desc = None
        for attempt in range(ACTIVE_WAIT_ATTEMPTS):
            desc = self.describe(name, version=version)
            status = (desc or {}).get("Status")
            if status == "Active":
                return desc
            if status == "Failed":
                raise DocumentError(
                    message="SSM document %s version %s failed: %s"
                    % (name, version, (desc or {}).get("StatusInformation", "no reason given"))
                )
            if attempt + 1 < ACTIVE_WAIT_ATTEMPTS:
                self.sleep(ACTIVE_WAIT_DELAY)
        raise DocumentError(
            message="SSM document %s version %s is still %s" % (name, version, (desc or {}).get("Status"))
        )


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


def document_result(desc, doc, version=None, tags=None, shared=None):
    """The ``document`` return value of the modules."""
    out = {
        "name": desc.get("Name"),
        "document_type": desc.get("DocumentType"),
        "document_format": desc.get("DocumentFormat"),
        "document_version": str(version or desc.get("DocumentVersion")),
        "default_version": desc.get("DefaultVersion"),
        "latest_version": desc.get("LatestVersion"),
        "status": desc.get("Status"),
        "content_hash": runbook.content_hash(doc) if doc is not None else None,
        "parameters": runbook.parameter_summary(doc) if doc is not None else [],
        "version_name": desc.get("VersionName"),
        "target_type": desc.get("TargetType"),
        "owner": desc.get("Owner"),
        "created_date": _aws.iso(desc.get("CreatedDate")),
        "hash": desc.get("Hash"),
        "hash_type": desc.get("HashType"),
    }
    if tags is not None:
        out["tags"] = tags
    if shared is not None:
        out["shared_with_accounts"] = shared
    return out


def _content_of(api, name, version):
    got = api.get(name, version=version)
    if got is None:
        return None, None
    return runbook.parse_content(got["Content"]), got


# --------------------------------------------------------------------------------------------------
# Upsert and delete
# --------------------------------------------------------------------------------------------------


def ensure_present(api, spec, check_mode=False):
    """Create or update a document so that its default (or latest) version holds ``spec['doc']``.

    ``spec``: name, doc, text (upload text), document_type, document_format, version_name, target_type,
    tags (dict or None), purge_tags, set_default_version, shared_with_accounts (list or None).
    Returns ``{changed, actions, document, diff, warnings}``.
    """
    name = spec["name"]
    doc = spec["doc"]
    wanted_hash = runbook.content_hash(doc)
    actions = []
    warnings = []
    after_yaml = runbook.to_yaml(doc)
    current = api.describe(name)

    if current is None:
        actions.append("create_document")
        diff = {
            "before": "",
            "after": after_yaml,
            "before_header": "%s (absent)" % name,
            "after_header": "%s version 1" % name,
        }
        if spec.get("shared_with_accounts"):
            actions.append("share_document")
        if check_mode:
            predicted = {
                "Name": name,
                "DocumentType": spec["document_type"],
                "DocumentFormat": spec["document_format"],
                "DocumentVersion": "1",
                "DefaultVersion": "1",
                "LatestVersion": "1",
                "Status": None,
                "VersionName": spec.get("version_name"),
                "TargetType": spec.get("target_type"),
            }
            return _result(
                True,
                actions,
                document_result(predicted, doc, "1", spec.get("tags"), spec.get("shared_with_accounts")),
                diff,
                warnings,
            )
        kwargs = {
            "Name": name,
            "Content": spec["text"],
            "DocumentType": spec["document_type"],
            "DocumentFormat": spec["document_format"],
        }
        if spec.get("version_name"):
            kwargs["VersionName"] = spec["version_name"]
        if spec.get("target_type"):
            kwargs["TargetType"] = spec["target_type"]
        if spec.get("tags"):
            kwargs["Tags"] = ansible_dict_to_boto3_tag_list(spec["tags"])
        created = api.create(**kwargs)
        version = created.get("DocumentVersion", "1")
        api.wait_active(name, version)
        if spec.get("shared_with_accounts"):
            api.modify_permission(name, add=spec["shared_with_accounts"])
        final = api.describe(name, version=version)
        return _result(
            True,
            actions,
            document_result(final, doc, version, spec.get("tags"), spec.get("shared_with_accounts")),
            diff,
            warnings,
        )

    if current.get("DocumentType") != spec["document_type"]:
        raise InvalidInput(
            "document_type",
            "%s is an existing %s document and the type of a document cannot change; accepted: %s (or delete the document first)"
            % (name, current.get("DocumentType"), current.get("DocumentType")),
        )
    default_v = str(current.get("DefaultVersion") or current.get("DocumentVersion"))
    latest_v = str(current.get("LatestVersion") or default_v)
    default_doc, _got = _content_of(api, name, default_v)
    latest_doc = default_doc
    latest_desc = current
    if latest_v != default_v:
        latest_doc, _got = _content_of(api, name, latest_v)
        latest_desc = None
    target_type = spec.get("target_type")

    def target_ok(desc):
        return target_type is None or (desc or {}).get("TargetType") == target_type

    before_yaml = runbook.to_yaml(default_doc) if default_doc is not None else ""
    diff = {"before": before_yaml, "after": before_yaml, "before_header": "%s version %s (default)" % (name, default_v)}
    result_version = None
    final_default = default_v
    final_latest = latest_v

    if default_doc is not None and runbook.content_hash(default_doc) == wanted_hash and target_ok(current):
        result_version = default_v
        if latest_v != default_v:
            warnings.append(
                "%s: the default version %s already holds this content; the newer latest version %s differs and was left alone"
                % (name, default_v, latest_v)
            )
    elif latest_v != default_v and latest_doc is not None and runbook.content_hash(latest_doc) == wanted_hash:
        latest_desc = api.describe(name, version=latest_v)
        if target_ok(latest_desc):
            result_version = latest_v
            diff.update(after=after_yaml, after_header="%s version %s" % (name, latest_v))
            if spec.get("set_default_version", True):
                actions.append("update_default_version")
                final_default = latest_v
                if not check_mode:
                    api.set_default(name, latest_v)

    if result_version is None:
        # New content: UpdateDocument on $LATEST, then make it the default.
        actions.append("update_document")
        new_v = str(int(latest_v) + 1)
        diff.update(after=after_yaml, after_header="%s version %s" % (name, new_v))
        if check_mode:
            result_version = new_v
            final_latest = new_v
            if spec.get("set_default_version", True):
                actions.append("update_default_version")
                final_default = new_v
        else:
            kwargs = {
                "Name": name,
                "Content": spec["text"],
                "DocumentVersion": "$LATEST",
                "DocumentFormat": spec["document_format"],
            }
            if spec.get("version_name"):
                kwargs["VersionName"] = spec["version_name"]
            if target_type:
                kwargs["TargetType"] = target_type
            updated = api.update(**kwargs)
            if updated is None:
                # DuplicateDocumentContent: an older version already holds exactly this text.
                actions.remove("update_document")
                match = _find_version(api, name, wanted_hash, latest_v)
                if match is None:
                    warnings.append(
                        "%s: AWS reports the content duplicates an existing version; no new version was made" % name
                    )
                    result_version = default_v
                    diff.update(after=before_yaml)
                else:
                    result_version = match
                    diff.update(after_header="%s version %s" % (name, match))
                    if spec.get("set_default_version", True) and match != default_v:
                        actions.append("update_default_version")
                        api.set_default(name, match)
                        final_default = match
                    elif match == default_v:
                        diff.update(after=before_yaml)
            else:
                new_v = str(updated.get("DocumentVersion") or updated.get("LatestVersion"))
                result_version = new_v
                final_latest = new_v
                api.wait_active(name, new_v)
                if spec.get("set_default_version", True):
                    actions.append("update_default_version")
                    api.set_default(name, new_v)
                    final_default = new_v

    tags = None
    if spec.get("tags") is not None:
        tags = api.tags(name)
        to_set, to_unset = compare_aws_tags(tags, spec["tags"], spec.get("purge_tags", True))
        if to_set or to_unset:
            actions.append("update_tags")
            if not check_mode:
                if to_unset:
                    api.remove_tags(name, to_unset)
                if to_set:
                    api.add_tags(name, to_set)
            tags = {k: v for k, v in tags.items() if k not in to_unset}
            tags.update({k: str(v) for k, v in to_set.items()})
    shared = None
    if spec.get("shared_with_accounts") is not None:
        current_shared = api.shared_accounts(name)
        wanted = spec["shared_with_accounts"]
        add = [a for a in wanted if a not in current_shared]
        remove = [a for a in current_shared if a not in wanted]
        if add or remove:
            actions.append("update_sharing")
            if not check_mode:
                api.modify_permission(name, add=add, remove=remove)
        shared = list(wanted)

    changed = bool(actions)
    if changed and not check_mode:
        final = api.describe(name, version=result_version)
    else:
        final = dict(latest_desc if (result_version == latest_v and latest_desc) else current)
        final["DefaultVersion"] = final_default
        final["LatestVersion"] = final_latest
        if result_version not in (default_v, latest_v):
            final["DocumentFormat"] = spec["document_format"]
            final["Status"] = None
    if final is None:
        final = current
    return _result(changed, actions, document_result(final, doc, result_version, tags, shared), diff, warnings)


def _find_version(api, name, wanted_hash, latest):
    """The newest version whose content normalises to wanted_hash (GetDocument per version, newest first)."""
    for number in range(int(latest), 0, -1):
        doc, _got = _content_of(api, name, str(number))
        if doc is not None and runbook.content_hash(doc) == wanted_hash:
            return str(number)
    return None


def _result(changed, actions, document, diff, warnings):
    return {"changed": changed, "actions": actions, "document": document, "diff": diff, "warnings": warnings}


def ensure_absent(api, name, check_mode=False):
    current = api.describe(name)
    if current is None:
        return {"changed": False, "actions": [], "document": {}, "diff": {"before": "", "after": ""}, "warnings": []}
    default_v = str(current.get("DefaultVersion") or current.get("DocumentVersion"))
    default_doc, _got = _content_of(api, name, default_v)
    diff = {
        "before": runbook.to_yaml(default_doc) if default_doc is not None else "",
        "after": "",
        "before_header": "%s version %s (default)" % (name, default_v),
        "after_header": "%s (deleted)" % name,
    }
    actions = []
    shared = api.shared_accounts(name)
    if shared:
        actions.append("unshare_document")
        if not check_mode:
            api.modify_permission(name, remove=shared)
    actions.append("delete_document")
    if not check_mode:
        api.delete(name)
    return {"changed": True, "actions": actions, "document": {}, "diff": diff, "warnings": []}


# --------------------------------------------------------------------------------------------------
# Info
# --------------------------------------------------------------------------------------------------


def document_info(
    api, name, version=None, version_name=None, include_content=True, include_versions=False, include_sharing=False
):
    """One document as the info module returns it, or None when it does not exist."""
    desc = api.describe(name, version=version, version_name=version_name)
    if desc is None:
        return None
    doc = None
    got = None
    if include_content:
        got = api.get(name, version=str(desc.get("DocumentVersion")))
        doc = runbook.parse_content(got["Content"]) if got else None
    tags = api.tags(name) if desc.get("Owner") and not desc.get("Owner", "").startswith("Amazon") else None
    shared = api.shared_accounts(name) if include_sharing else None
    out = document_result(desc, doc, desc.get("DocumentVersion"), tags, shared)
    out["description"] = desc.get("Description")
    out["schema_version"] = desc.get("SchemaVersion")
    out["platform_types"] = desc.get("PlatformTypes", [])
    if not include_content:
        out["parameters"] = [
            {
                "name": p.get("Name"),
                "type": p.get("Type"),
                "description": p.get("Description", ""),
                "default": p.get("DefaultValue"),
            }
            for p in desc.get("Parameters", [])
        ]
    if doc is not None:
        out["content"] = doc
        out["lint"] = runbook.lint(doc) if str(doc.get("schemaVersion")) == runbook.SCHEMA_VERSION else []
    if include_versions:
        out["versions"] = [
            {
                "document_version": v.get("DocumentVersion"),
                "version_name": v.get("VersionName"),
                "created_date": _aws.iso(v.get("CreatedDate")),
                "is_default_version": v.get("IsDefaultVersion", False),
                "document_format": v.get("DocumentFormat"),
                "status": v.get("Status"),
            }
            for v in api.versions(name)
        ]
    return out


def list_documents(api, owner="Self", document_type=None):
    filters = [{"Key": "Owner", "Values": [owner]}]
    if document_type:
        filters.append({"Key": "DocumentType", "Values": [document_type]})
    out = []
    for ident in api.list(filters):
        out.append(
            {
                "name": ident.get("Name"),
                "document_type": ident.get("DocumentType"),
                "document_format": ident.get("DocumentFormat"),
                "document_version": ident.get("DocumentVersion"),
                "owner": ident.get("Owner"),
                "schema_version": ident.get("SchemaVersion"),
                "target_type": ident.get("TargetType"),
                "version_name": ident.get("VersionName"),
                "created_date": _aws.iso(ident.get("CreatedDate")),
                "tags": boto3_tag_list_to_ansible_dict(ident.get("Tags", [])),
            }
        )
    return out
