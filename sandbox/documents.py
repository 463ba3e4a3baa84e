"""The AWS-owned Command documents ``AWS-RunShellScript`` and ``AWS-RunPowerShellScript``, in every account and region.

moto has no AWS-owned documents. The layer answers DescribeDocument / GetDocument for these names, and adds them to
ListDocuments (last page; filters Owner, Name, DocumentType, PlatformTypes honoured); every other document is
moto's. The content is AWS's (schemaVersion 1.2, parameters ``commands`` / ``workingDirectory`` /
``executionTimeout``), as ``aws ssm get-document --name AWS-RunShellScript`` shows it (AWS CLI reference,
get-document example).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json

from sandbox.server import AwsError, Call, PassThrough

try:  # the declared parameters of AWS-owned Command documents: data the collection's linter ships
    from ansible_collections.orgops.ssm_automation.plugins.module_utils.command_documents import declared_parameters
except ImportError:  # pragma: no cover - run from the repository root without the collections path
    from plugins.module_utils.command_documents import declared_parameters

_TIMEOUT_PATTERN = "([1-9][0-9]{0,4})|(1[0-6][0-9]{4})|(17[0-1][0-9]{3})|(172[0-7][0-9]{2})|(172800)"
_TIMEOUT_DESC = (
    "(Optional) The time in seconds for a command to {verb} before it is considered to have failed. "
    "Default is 3600 (1 hour). Maximum is 172800 (48 hours)."
)


def _content(description: str, commands_desc: str, plugin: str, verb: str) -> dict:
    return {
        "schemaVersion": "1.2",
        "description": description,
        "parameters": {
            "commands": {"type": "StringList", "description": commands_desc, "minItems": 1, "displayType": "textarea"},
            "workingDirectory": {
                "type": "String",
                "default": "",
                "description": "(Optional) The path to the working directory on your instance.",
                "maxChars": 4096,
            },
            "executionTimeout": {
                "type": "String",
                "default": "3600",
                "description": _TIMEOUT_DESC.format(verb=verb),
                "allowedPattern": _TIMEOUT_PATTERN,
            },
        },
        "runtimeConfig": {
            plugin: {
                "properties": [
                    {
                        "id": f"0.{plugin}",
                        "runCommand": "{{ commands }}",
                        "workingDirectory": "{{ workingDirectory }}",
                        "timeoutSeconds": "{{ executionTimeout }}",
                    }
                ]
            }
        },
    }


_PLATFORMS = ("Windows", "Linux", "MacOS")  # the PlatformType enum of the SSM API model

AWS_DOCUMENTS = {
    "AWS-RunShellScript": {
        "content": _content(
            "Run a shell script or specify the commands to run.",
            "(Required) Specify a shell script or a command to run.",
            "aws:runShellScript",
            "complete",
        ),
        "platforms": ["Linux", "MacOS"],
        "created": _dt.datetime(2015, 12, 15, 18, 50, 44, tzinfo=_dt.UTC),
    },
    "AWS-RunPowerShellScript": {
        "content": _content(
            "Run a PowerShell script or specify the paths to scripts to run.",
            "(Required) Specify the commands to run or the paths to existing scripts on the instance.",
            "aws:runPowerShellScript",
            "be completed",
        ),
        "platforms": ["Windows", "Linux", "MacOS"],
        "created": _dt.datetime(2015, 12, 15, 18, 50, 44, tzinfo=_dt.UTC),
    },
}


def check_command_parameters(document_name: str, parameters: dict) -> str | None:
    """SendCommand's InvalidParameters message when ``parameters`` name one that the AWS-owned Command document does
    not declare, or omit a required one; None when they fit (or the document is not in the collection's data).

    The declarations are plugins/module_utils/command_documents.py (taken from AWS's own documents), the same data
    the linter's schema.command-parameter rule reads.
    """
    declared = declared_parameters(document_name.rsplit("/", 1)[-1] if document_name else document_name)
    if declared is None:
        return None
    unknown = sorted(k for k in parameters if k not in declared)
    if unknown:
        return "Parameter%s %s not defined in document %s." % (
            "s" if len(unknown) > 1 else "",
            ", ".join('"%s"' % k for k in unknown),
            document_name,
        )
    missing = sorted(k for k, spec in declared.items() if spec["required"] and not parameters.get(k))
    if missing:
        return 'Parameter "%s" is required.' % missing[0]
    return None


def aws_document(name: str) -> dict | None:
    """The AWS-owned document ``name`` (by name or ARN ``arn:aws:ssm:<region>::document/<name>``), or None."""
    if name and name.startswith("arn:") and "::document/" in name:
        name = name.rsplit("/", 1)[-1]
    return AWS_DOCUMENTS.get(name)


def _content_text(name: str) -> str:
    return json.dumps(AWS_DOCUMENTS[name]["content"], indent=4)


def _parameters(content: dict) -> list[dict]:
    out = []
    for pname, spec in content["parameters"].items():
        item = {"Name": pname, "Type": spec["type"], "Description": spec.get("description", "")}
        if "default" in spec:
            item["DefaultValue"] = spec["default"]
        out.append(item)
    return out


def _resolve(call: Call) -> tuple[str, dict] | None:
    name = call.params.get("Name", "")
    doc = aws_document(name)
    if doc is None:
        return None
    version = call.params.get("DocumentVersion")
    if version not in (None, "", "1", "$DEFAULT", "$LATEST"):
        raise AwsError("InvalidDocumentVersion", "The document version is not valid or does not exist.", 400)
    return name.rsplit("/", 1)[-1], doc


def describe(name: str) -> dict:
    doc = AWS_DOCUMENTS[name]
    text = _content_text(name)
    return {
        "Hash": hashlib.sha256(text.encode()).hexdigest(),
        "HashType": "Sha256",
        "Name": name,
        "Owner": "Amazon",
        "CreatedDate": doc["created"],
        "Status": "Active",
        "DocumentVersion": "1",
        "Description": doc["content"]["description"],
        "Parameters": _parameters(doc["content"]),
        "PlatformTypes": list(doc["platforms"]),
        "DocumentType": "Command",
        "SchemaVersion": "1.2",
        "LatestVersion": "1",
        "DefaultVersion": "1",
        "DocumentFormat": "JSON",
        "Tags": [],
    }


def _identifier(name: str) -> dict:
    doc = AWS_DOCUMENTS[name]
    return {
        "Name": name,
        "CreatedDate": doc["created"],
        "Owner": "Amazon",
        "PlatformTypes": list(doc["platforms"]),
        "DocumentVersion": "1",
        "DocumentType": "Command",
        "SchemaVersion": "1.2",
        "DocumentFormat": "JSON",
        "Tags": [],
    }


def install(sb) -> None:
    def describe_document(call: Call) -> dict:
        found = _resolve(call)
        if found is None:
            data = call.forward_json()
            doc = data.get("Document") or {}
            # moto 5.2 answers PlatformTypes ["Not Implemented (moto)"], outside the API's enum. AWS derives it from
            # the document's plugins; an Automation runbook reports every platform.
            if any(p not in _PLATFORMS for p in doc.get("PlatformTypes") or []):
                doc["PlatformTypes"] = list(_PLATFORMS)
            return data
        return {"Document": describe(found[0])}

    def get_document(call: Call) -> dict:
        found = _resolve(call)
        if found is None:
            raise PassThrough()
        name = found[0]
        fmt = call.params.get("DocumentFormat", "JSON")
        content = _content_text(name)
        if fmt == "YAML":
            import yaml

            content = yaml.safe_dump(AWS_DOCUMENTS[name]["content"], sort_keys=False)
        return {
            "Name": name,
            "CreatedDate": AWS_DOCUMENTS[name]["created"],
            "DocumentVersion": "1",
            "Status": "Active",
            "Content": content,
            "DocumentType": "Command",
            "DocumentFormat": fmt,
        }

    def list_documents(call: Call) -> dict:
        data = call.forward_json()
        if data.get("NextToken"):
            return data
        wanted = list(AWS_DOCUMENTS)
        for flt in call.params.get("Filters", []) or []:
            key, values = flt.get("Key"), flt.get("Values", [])
            if key == "Owner" and not any(v in ("Amazon", "All", "Public") for v in values):
                wanted = []
            elif key == "Name":
                wanted = [n for n in wanted if any(n.startswith(v) for v in values)]
            elif key == "DocumentType":
                wanted = [n for n in wanted if "Command" in values]
            elif key == "PlatformTypes":
                wanted = [n for n in wanted if set(values) & set(AWS_DOCUMENTS[n]["platforms"])]
            elif key == "SearchKeyword":
                wanted = [n for n in wanted if any(v.lower() in n.lower() for v in values)]
        for flt in call.params.get("DocumentFilterList", []) or []:
            key, value = flt.get("key"), flt.get("value", "")
            if key == "Owner" and value not in ("Amazon", "All", "Public"):
                wanted = []
            elif key == "Name":
                wanted = [n for n in wanted if n == value]
            elif key == "DocumentType":
                wanted = [n for n in wanted if value == "Command"]
            elif key == "PlatformTypes":
                wanted = [n for n in wanted if value in AWS_DOCUMENTS[n]["platforms"]]
        have = {d.get("Name") for d in data.get("DocumentIdentifiers", [])}
        data.setdefault("DocumentIdentifiers", [])
        data["DocumentIdentifiers"] += [_identifier(n) for n in wanted if n not in have]
        return data

    def list_document_versions(call: Call) -> dict:
        found = _resolve(call)
        if found is None:
            return _customer_document_versions(sb, call)
        name = found[0]
        return {
            "DocumentVersions": [
                {
                    "Name": name,
                    "CreatedDate": AWS_DOCUMENTS[name]["created"],
                    "DocumentVersion": "1",
                    "IsDefaultVersion": True,
                    "DocumentFormat": "JSON",
                    "Status": "Active",
                }
            ]
        }

    sb.register("ssm", "DescribeDocument", describe_document)
    sb.register("ssm", "GetDocument", get_document)
    sb.register("ssm", "ListDocuments", list_documents)
    sb.register("ssm", "ListDocumentVersions", list_document_versions)


def _customer_document_versions(sb, call: Call) -> dict:
    """ListDocumentVersions for the account's own documents, which moto 5.2 does not serve (HTTP 500).

    Read from moto's SSM backend (no writes). Newest version first, as the API reference's example shows;
    MaxResults 1-50 (default 50) with an opaque NextToken (API reference, ListDocumentVersions).
    """
    name = call.params.get("Name", "")
    if name.startswith("arn:"):
        name = name.rsplit("/", 1)[-1]
    backend = sb.moto_backend("ssm", call.account_id, call.region)
    documents = backend._documents.get(name)  # noqa: SLF001 - read-only view of moto's state
    if not documents:
        raise AwsError("InvalidDocument", "The specified document does not exist.", 400)
    max_results = int(call.params.get("MaxResults") or 50)
    if not 1 <= max_results <= 50:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: "
            "Member must have value less than or equal to 50",
            400,
        )
    start = int(call.params.get("NextToken") or 0)
    ordered = sorted(documents.versions.values(), key=lambda d: int(d.document_version), reverse=True)
    page = ordered[start : start + max_results]
    versions = []
    for doc in page:
        item = {
            "Name": doc.name,
            "CreatedDate": doc.created_date,
            "DocumentVersion": doc.document_version,
            "IsDefaultVersion": doc.document_version == documents.default_version,
            "DocumentFormat": doc.document_format,
            "Status": doc.status,
        }
        if doc.version_name:
            item["VersionName"] = doc.version_name
        versions.append(item)
    out = {"DocumentVersions": versions}
    if start + max_results < len(ordered):
        out["NextToken"] = str(start + max_results)
    return out
