"""Two jobs started at once with the same idempotency key: the second one's StartAutomationExecution reuses the
ClientToken the first one used.

botocore's model of StartAutomationExecution says of ClientToken: "The token must be unique, is case insensitive,
enforces the UUID format, and can't be reused." AWS may answer a second call with the same token and request with
the first call's execution id (the usual idempotency contract, the sandbox's default), or refuse it with
IdempotentParameterMismatch (the sandbox's ``client_token_reuse_refused`` fault). Under both readings the collection
must end with one execution between the two jobs: the refused start looks the execution up by the idempotency tag
and attaches to it (``calls.start_or_attach``), against the real sandbox over HTTP.

The race itself (both jobs' look-ups find nothing, then both start) is produced by starting "the other job" with
the request the module built (check mode returns it) right before our start.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.ansible_run import run_module

from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation import calls
from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.common import AutomationError
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
EXEC = "orgops.ssm_automation.automation_execution"
TOKYO = "ap-northeast-1"
CHECKS = dict.fromkeys(("CheckHostname", "CheckTimezone", "CheckLocale", "CheckUpdate", "CheckNTP"), "check")
REFUSE = {
    "name": "token-reuse",
    "service": "ssm",
    "action": "StartAutomationExecution",
    "client_token_reuse_refused": 1,
}


@pytest.fixture
def box(sandbox_factory):
    handle = sandbox_factory(DEMO_WORLD, name="token-reuse")
    handle.client("ssm", region=TOKYO).create_document(
        Content=(REPO / "roles" / "check_os" / "files" / "check-os.yml").read_text(),
        Name="check-os",
        DocumentType="Automation",
        DocumentFormat="YAML",
    )
    return handle


def built_request(tmp_path, box, key):
    """The StartAutomationExecution request automation_execution builds for ``key`` (tagged with its token)."""
    params = {
        "document_name": "check-os",
        "parameters": CHECKS,
        "targets": {"tags": {"ssm-automation": "true"}},
        "target_locations": [{"accounts": ["ou-o2pk-prod0001"], "regions": [TOKYO]}],
        "idempotency_key": key,
        "preflight": False,
    }
    result = run_module(tmp_path, EXEC, params, env=box.env, check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["status"] == "WouldStart"
    return result["request"], result["client_token"]


def executions_with(ssm, token):
    tagged = ssm.describe_automation_executions(
        Filters=[{"Key": "TagKey", "Values": ["orgops-ssm-automation:client-token:" + token]}]
    )["AutomationExecutionMetadataList"]
    return sorted(m["AutomationExecutionId"] for m in tagged if not m.get("ParentAutomationExecutionId"))


@pytest.mark.parametrize("refused", [True, False], ids=["aws-refuses-the-reused-token", "aws-replays-the-first-id"])
def test_a_start_that_reuses_the_other_jobs_token_ends_on_its_execution(tmp_path, box, refused):
    request, token = built_request(tmp_path, box, "awx-job-race")
    ssm = box.client("ssm", region=TOKYO)
    other = ssm.start_automation_execution(**request)["AutomationExecutionId"]  # the other job, a moment earlier
    if refused:
        box.set_faults(REFUSE)
        with pytest.raises(ssm.exceptions.IdempotentParameterMismatch):
            ssm.start_automation_execution(**request)  # the sandbox answers as that reading of AWS would
    execution_id, attached = calls.start_or_attach(ssm, request, token)
    assert execution_id == other
    assert attached is refused
    assert executions_with(ssm, token) == [other]  # one execution between the two jobs


def test_a_refused_token_without_a_tagged_execution_is_reported_with_what_to_do(tmp_path, box):
    request, token = built_request(tmp_path, box, "awx-job-untagged")
    ssm = box.client("ssm", region=TOKYO)
    untagged = dict(request, Tags=[t for t in request["Tags"] if not t["Key"].startswith("orgops-ssm-automation:")])
    ssm.start_automation_execution(**untagged)  # the token is used, but nothing carries its tag
    box.set_faults(REFUSE)
    with pytest.raises(AutomationError) as refused:
        calls.start_or_attach(ssm, untagged, token)
    assert "run again with the same idempotency key" in refused.value.message
    assert refused.value.details["error"]["code"] == "IdempotentParameterMismatch"
