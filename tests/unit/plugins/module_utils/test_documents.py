"""documents module_utils: the SSM document upsert, delete and info logic, on moto's in-process SSM (and botocore's
Stubber for what moto lacks). Write calls are counted from botocore's own events, so "no change" means no write."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from botocore.stub import Stubber
from moto import mock_aws

from ansible_collections.orgops.ssm_automation.plugins.module_utils import documents, runbook
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

REPO = Path(__file__).resolve().parents[4]
SEED_TEXT = (REPO / "roles/check_os/files/check-os.yml").read_text()
WRITES = {
    "CreateDocument",
    "UpdateDocument",
    "UpdateDocumentDefaultVersion",
    "DeleteDocument",
    "AddTagsToResource",
    "RemoveTagsFromResource",
    "ModifyDocumentPermission",
}


class Recorder:
    def __init__(self, client):
        self.calls = []
        client.meta.events.register("before-call.ssm.*", self._record)

    def _record(self, model, **_kwargs):
        self.calls.append(model.name)

    def writes(self):
        return [c for c in self.calls if c in WRITES]

    def reset(self):
        self.calls.clear()


@pytest.fixture
def ssm():
    with mock_aws():
        client = boto3.client("ssm", region_name="eu-west-1")
        yield client, Recorder(client)


def spec(text=SEED_TEXT, name="check-os", fmt="YAML", **kw):
    doc, raw, raw_fmt = documents.load_content(text)
    out = {
        "name": name,
        "doc": doc,
        "text": documents.upload_text(doc, raw, raw_fmt, fmt),
        "document_type": "Automation",
        "document_format": fmt,
        "version_name": None,
        "target_type": None,
        "tags": None,
        "purge_tags": True,
        "set_default_version": True,
        "shared_with_accounts": None,
    }
    out.update(kw)
    return out


def changed_seed(old="yum check-update", new="dnf check-update"):
    return SEED_TEXT.replace(old, new)


def test_create_then_same_content_is_no_change_and_no_write(ssm):
    client, rec = ssm
    api = documents.DocumentAPI(client)
    first = documents.ensure_present(api, spec())
    assert first["changed"] and first["actions"] == ["create_document"]
    doc = first["document"]
    assert (doc["document_version"], doc["default_version"], doc["latest_version"], doc["status"]) == (
        "1",
        "1",
        "1",
        "Active",
    )
    assert doc["content_hash"] == runbook.content_hash(runbook.parse_content(SEED_TEXT))
    assert {p["name"] for p in doc["parameters"]} >= {"InstanceId", "CheckUpdate"}
    rec.reset()
    second = documents.ensure_present(api, spec())
    assert not second["changed"] and second["actions"] == []
    assert rec.writes() == [] and rec.calls == ["DescribeDocument", "GetDocument"]
    assert second["document"]["document_version"] == "1" and second["document"]["latest_version"] == "1"


def test_json_and_key_order_are_no_change(ssm):
    client, rec = ssm
    api = documents.DocumentAPI(client)
    documents.ensure_present(api, spec())
    doc = runbook.parse_content(SEED_TEXT)
    reordered = json.dumps(dict(reversed(list(doc.items()))), indent=4)
    rec.reset()
    for variant in (spec(reordered), spec(reordered, fmt="JSON"), spec(runbook.to_yaml(doc))):
        result = documents.ensure_present(api, variant)
        assert not result["changed"], result
    assert rec.writes() == []


def test_changed_command_makes_version_2_the_default_with_a_diff(ssm):
    client, rec = ssm
    api = documents.DocumentAPI(client)
    documents.ensure_present(api, spec())
    rec.reset()
    result = documents.ensure_present(api, spec(changed_seed()))
    assert result["changed"] and result["actions"] == ["update_document", "update_default_version"]
    assert rec.writes() == ["UpdateDocument", "UpdateDocumentDefaultVersion"]
    doc = result["document"]
    assert (doc["document_version"], doc["default_version"], doc["latest_version"]) == ("2", "2", "2")
    diff = list(
        difflib.unified_diff(result["diff"]["before"].splitlines(), result["diff"]["after"].splitlines(), lineterm="")
    )
    removed = [line for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line for line in diff if line.startswith("+") and not line.startswith("+++")]
    assert len(removed) == len(added) == 1
    assert "yum check-update" in removed[0] and "dnf check-update" in added[0]
    got = client.get_document(Name="check-os")
    assert got["DocumentVersion"] == "2" and "dnf check-update" in got["Content"]


def test_without_set_default_the_new_version_waits_then_promotion_makes_no_new_version(ssm):
    client, rec = ssm
    api = documents.DocumentAPI(client)
    documents.ensure_present(api, spec())
    staged = documents.ensure_present(api, spec(changed_seed(), set_default_version=False))
    assert staged["actions"] == ["update_document"]
    assert (staged["document"]["document_version"], staged["document"]["default_version"]) == ("2", "1")
    rec.reset()
    promoted = documents.ensure_present(api, spec(changed_seed()))
    assert promoted["actions"] == ["update_default_version"] and rec.writes() == ["UpdateDocumentDefaultVersion"]
    assert (promoted["document"]["document_version"], promoted["document"]["default_version"]) == ("2", "2")
    assert promoted["document"]["latest_version"] == "2"


def test_check_mode_writes_nothing_and_predicts(ssm):
    client, rec = ssm
    api = documents.DocumentAPI(client)
    created = documents.ensure_present(api, spec(), check_mode=True)
    assert created["changed"] and created["actions"] == ["create_document"]
    assert created["document"]["document_version"] == "1" and rec.writes() == []
    assert client.list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"] == []
    documents.ensure_present(api, spec())
    rec.reset()
    updated = documents.ensure_present(api, spec(changed_seed()), check_mode=True)
    assert updated["actions"] == ["update_document", "update_default_version"]
    assert (updated["document"]["document_version"], updated["document"]["default_version"]) == ("2", "2")
    assert "dnf check-update" in updated["diff"]["after"] and rec.writes() == []
    assert client.describe_document(Name="check-os")["Document"]["LatestVersion"] == "1"


def test_duplicate_content_of_an_older_version_makes_it_default_again(ssm):
    client, rec = ssm
    api = documents.DocumentAPI(client)
    documents.ensure_present(api, spec())
    documents.ensure_present(api, spec(changed_seed()))
    rec.reset()
    rollback = documents.ensure_present(
        api, spec()
    )  # the exact text of version 1: AWS answers DuplicateDocumentContent
    assert "UpdateDocument" in rec.calls
    assert rollback["changed"] and rollback["actions"] == ["update_default_version"]
    assert (rollback["document"]["document_version"], rollback["document"]["default_version"]) == ("1", "1")
    assert rollback["document"]["latest_version"] == "2"
    assert client.describe_document(Name="check-os")["Document"]["LatestVersion"] == "2"
    rec.reset()
    again = documents.ensure_present(api, spec())
    assert not again["changed"] and rec.writes() == []
    assert "latest version 2 differs" in again["warnings"][0]


def test_tags_added_changed_purged_then_stable(ssm):
    client, rec = ssm
    api = documents.DocumentAPI(client)
    documents.ensure_present(api, spec(tags={"team": "ops", "env": "prod"}))
    tags = client.list_tags_for_resource(ResourceType="Document", ResourceId="check-os")["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "ops", "env": "prod"}
    rec.reset()
    result = documents.ensure_present(api, spec(tags={"team": "platform"}))
    assert result["actions"] == ["update_tags"] and result["document"]["tags"] == {"team": "platform"}
    assert sorted(rec.writes()) == ["AddTagsToResource", "RemoveTagsFromResource"]
    rec.reset()
    kept = documents.ensure_present(api, spec(tags={"extra": "1"}, purge_tags=False))
    assert kept["document"]["tags"] == {"team": "platform", "extra": "1"} and rec.writes() == ["AddTagsToResource"]
    rec.reset()
    assert not documents.ensure_present(api, spec(tags={"team": "platform", "extra": "1"}))["changed"]
    assert rec.writes() == []


def test_sharing_is_exact_and_absent_unshares_before_deleting(ssm):
    client, rec = ssm
    api = documents.DocumentAPI(client)
    first = documents.ensure_present(api, spec(shared_with_accounts=["111111111111", "222222222222"]))
    assert first["actions"] == ["create_document", "share_document"]
    assert sorted(client.describe_document_permission(Name="check-os", PermissionType="Share")["AccountIds"]) == [
        "111111111111",
        "222222222222",
    ]
    rec.reset()
    moved = documents.ensure_present(api, spec(shared_with_accounts=["222222222222", "333333333333"]))
    assert moved["actions"] == ["update_sharing"] and rec.writes() == ["ModifyDocumentPermission"]
    assert moved["document"]["shared_with_accounts"] == ["222222222222", "333333333333"]
    rec.reset()
    assert not documents.ensure_present(api, spec(shared_with_accounts=["333333333333", "222222222222"]))["changed"]
    assert rec.writes() == []
    gone = documents.ensure_absent(api, "check-os", check_mode=True)
    assert gone["actions"] == ["unshare_document", "delete_document"] and rec.writes() == []
    gone = documents.ensure_absent(api, "check-os")
    assert rec.writes() == ["ModifyDocumentPermission", "DeleteDocument"]
    assert gone["diff"]["after"] == "" and "CheckNTP" in gone["diff"]["before"]
    rec.reset()
    assert documents.ensure_absent(api, "check-os")["changed"] is False and rec.writes() == []


def test_permission_batches_of_20(ssm):
    client, rec = ssm
    api = documents.DocumentAPI(client)
    accounts = ["%012d" % (100000000000 + i) for i in range(45)]
    documents.ensure_present(api, spec(shared_with_accounts=documents.check_shared_accounts(accounts)))
    assert rec.writes().count("ModifyDocumentPermission") == 3
    assert len(client.describe_document_permission(Name="check-os", PermissionType="Share")["AccountIds"]) == 45


def test_document_type_cannot_change(ssm):
    client, rec = ssm
    api = documents.DocumentAPI(client)
    documents.ensure_present(api, spec())
    rec.reset()
    with pytest.raises(InvalidInput) as e:
        documents.ensure_present(api, spec(changed_seed(), document_type="Command"))
    assert e.value.field == "document_type" and "existing Automation document" in e.value.message
    assert rec.writes() == []


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("AWS-RunShellScript", "reserves"),
        ("aws-check", "reserves"),
        ("Amazon-check", "reserves"),
        ("amzn-check", "reserves"),
        ("AWSSupport-check", "reserves"),
        ("ab", "3-128 characters"),
        ("check os", "3-128 characters"),
        ("check/os", "3-128 characters"),
        ("x" * 129, "3-128 characters"),
    ],
)
def test_bad_names(name, says):
    with pytest.raises(InvalidInput) as e:
        documents.check_name(name)
    assert e.value.field == "name" and says in e.value.message


def test_good_names():
    for name in ("check-os", "check_os.v2", "abc", "CheckOS-improved"):
        assert documents.check_name(name) == name


def test_other_input_checks():
    with pytest.raises(InvalidInput, match="shared_with_accounts\\[1\\]"):
        documents.check_shared_accounts(["111111111111", "12345"])
    with pytest.raises(InvalidInput, match="cannot be combined"):
        documents.check_shared_accounts(["all", "111111111111"])
    assert documents.check_shared_accounts(["ALL"]) == ["all"]
    with pytest.raises(InvalidInput, match="version_name"):
        documents.check_version_name("1.0 beta")
    with pytest.raises(InvalidInput, match="target_type"):
        documents.check_target_type("AWS::EC2::Instance")
    assert documents.check_target_type("/AWS::EC2::Instance") == "/AWS::EC2::Instance"
    with pytest.raises(InvalidInput, match="document_version"):
        documents.check_document_version("latest")


def test_load_content_from_file_and_errors(tmp_path):
    doc, text, fmt = documents.load_content(content_path=str(REPO / "roles/check_os/files/check-os.yml"))
    assert fmt == "YAML" and text == SEED_TEXT and doc["schemaVersion"] == "0.3"
    with pytest.raises(InvalidInput) as e:
        documents.load_content(content_path=str(tmp_path / "missing.yml"))
    assert e.value.field == "content_path" and "cannot read" in e.value.message
    bad = tmp_path / "bad.yml"
    bad.write_text("mainSteps: [\n")
    with pytest.raises(InvalidInput) as e:
        documents.load_content(content_path=str(bad))
    assert e.value.field == "content_path" and "not valid YAML" in e.value.message


def test_upload_text_keeps_the_users_text_when_formats_agree():
    commented = "# owned by platform\n" + SEED_TEXT
    doc, raw, fmt = documents.load_content(commented)
    assert documents.upload_text(doc, raw, fmt, "YAML") == commented
    as_json = documents.upload_text(doc, raw, fmt, "JSON")
    assert json.loads(as_json) == doc
    assert documents.upload_text(doc, None, None, "YAML") == runbook.to_yaml(doc)


def test_info_and_list(ssm):
    client, _rec = ssm
    api = documents.DocumentAPI(client)
    documents.ensure_present(api, spec(tags={"team": "ops"}, shared_with_accounts=["111111111111"]))
    documents.ensure_present(api, spec(changed_seed(), set_default_version=False))
    info = documents.document_info(api, "check-os", include_sharing=True)
    assert info["document_version"] == "1" and info["default_version"] == "1" and info["latest_version"] == "2"
    assert info["content"] == runbook.parse_content(SEED_TEXT) and info["tags"] == {"team": "ops"}
    assert info["shared_with_accounts"] == ["111111111111"]
    assert [f["rule"] for f in info["lint"]] == ["operability.output-cap"]
    latest = documents.document_info(api, "check-os", version="$LATEST")
    assert latest["document_version"] == "2" and "dnf check-update" in json.dumps(latest["content"])
    assert documents.document_info(api, "no-such-doc") is None
    listed = documents.list_documents(api, "Self", "Automation")
    assert [d["name"] for d in listed] == ["check-os"]


def test_info_versions_through_list_document_versions():
    # moto 5.2.5 does not implement ListDocumentVersions: checked against the botocore shape with a Stubber.
    client = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    desc = {
        "Name": "check-os",
        "DocumentVersion": "2",
        "DefaultVersion": "2",
        "LatestVersion": "2",
        "Owner": "111111111111",
    }
    stub.add_response("describe_document", {"Document": desc}, {"Name": "check-os"})
    stub.add_response("list_tags_for_resource", {"TagList": []}, {"ResourceType": "Document", "ResourceId": "check-os"})
    stub.add_response(
        "list_document_versions",
        {"DocumentVersions": [{"DocumentVersion": "2", "IsDefaultVersion": True}], "NextToken": "t"},
        {"Name": "check-os"},
    )
    stub.add_response(
        "list_document_versions",
        {"DocumentVersions": [{"DocumentVersion": "1", "IsDefaultVersion": False, "DocumentFormat": "YAML"}]},
        {"Name": "check-os", "NextToken": "t"},
    )
    with stub:
        info = documents.document_info(
            documents.DocumentAPI(client), "check-os", include_content=False, include_versions=True
        )
    stub.assert_no_pending_responses()
    assert [(v["document_version"], v["is_default_version"]) for v in info["versions"]] == [("2", True), ("1", False)]


def test_wait_active_polls_until_active_and_reports_failures():
    client = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    sleeps = []
    api = documents.DocumentAPI(client, sleep=sleeps.append)
    for status in ("Updating", "Updating", "Active"):
        stub.add_response(
            "describe_document", {"Document": {"Name": "d", "Status": status}}, {"Name": "d", "DocumentVersion": "2"}
        )
    stub.add_response(
        "describe_document",
        {"Document": {"Name": "d", "Status": "Failed", "StatusInformation": "bad attachment"}},
        {"Name": "d", "DocumentVersion": "3"},
    )
    with stub:
        assert api.wait_active("d", "2")["Status"] == "Active"
        assert len(sleeps) == 2
        with pytest.raises(documents.DocumentError, match="bad attachment"):
            api.wait_active("d", "3")


def test_retrying_client_retries_throttling():
    client = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_client_error("describe_document", service_error_code="ThrottlingException", http_status_code=400)
    stub.add_response("describe_document", {"Document": {"Name": "d", "Status": "Active"}}, {"Name": "d"})
    api = documents.DocumentAPI(
        RetryingBotoClientWrapper(
            client, AWSRetry.jittered_backoff(retries=3, delay=0, catch_extra_error_codes=documents.RETRY_CODES)
        )
    )
    with stub:
        assert api.describe("d")["Status"] == "Active"
    stub.assert_no_pending_responses()


def test_api_errors_become_document_errors():
    client = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_client_error("update_document", service_error_code="MaxDocumentSizeExceeded", service_message="too big")
    stub.add_client_error("describe_document", service_error_code="InvalidDocument", service_message="missing")
    with stub:
        with pytest.raises(documents.DocumentError, match="Failed to update SSM document"):
            documents.DocumentAPI(client).update(Name="d", Content="{}", DocumentVersion="$LATEST")
        assert documents.DocumentAPI(client).describe("d") is None
