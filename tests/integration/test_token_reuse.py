"""Two jobs started at once with the same idempotency key: the second one's StartAutomationExecution reuses the
ClientToken the first one used.

botocore's model of StartAutomationExecution says of ClientToken: "The token must be unique, is case insensitive,
enforces the UUID format, and can't be reused." AWS may answer a second call with the same token and request with
the first call's execution id (the usual idempotency contract, the sandbox's default), or refuse it with
IdempotentParameterMismatch (the sandbox's ``client_token_reuse_refused`` fault). Under both readings the collection
must end with one execution between the two jobs: the refused start looks the execution up by the idempotency tag
and attaches to it (``calls.start_or_attach``), against the real sandbox over HTTP.

The race itself (both jobs' look-ups find nothing, then both start) is made two ways: through two real
``automation_execution`` module runs at once, whose StartAutomationExecution requests the sandbox's ``barrier: 2``
fault holds until both are in flight (so both look-ups are over before either start is served), and directly, by
starting "the other job" with the request the module built (check mode returns it) right before
``calls.start_or_attach``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
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


# Holds each StartAutomationExecution until two are in flight (sandbox/faults.py); the bound makes a run whose other
# start never comes fail with SandboxBarrierTimeout instead of hanging.
BARRIER = {
    "name": "both-starts-in-flight",
    "service": "ssm",
    "action": "StartAutomationExecution",
    "barrier": 2,
    "barrier_timeout_seconds": 120,
}


def start_params(key):
    return {
        "document_name": "check-os",
        "parameters": CHECKS,
        "targets": {"tags": {"ssm-automation": "true"}},
        "target_locations": [{"accounts": ["ou-o2pk-prod0001"], "regions": [TOKYO]}],
        "idempotency_key": key,
        "preflight": False,
    }


def built_request(tmp_path, box, key):
    """The StartAutomationExecution request automation_execution builds for ``key`` (tagged with its token)."""
    result = run_module(tmp_path, EXEC, start_params(key), env=box.env, check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["status"] == "WouldStart"
    return result["request"], result["client_token"]


def executions_with(ssm, token):
    tagged = ssm.describe_automation_executions(
        Filters=[{"Key": "TagKey", "Values": ["orgops-ssm-automation:client-token:" + token]}]
    )["AutomationExecutionMetadataList"]
    return sorted(m["AutomationExecutionId"] for m in tagged if not m.get("ParentAutomationExecutionId"))


@pytest.mark.parametrize("refused", [True, False], ids=["aws-refuses-the-reused-token", "aws-replays-the-first-id"])
def test_two_module_runs_at_once_with_one_key_start_one_execution(tmp_path, box, refused):
    """Two automation_execution runs (two ansible-playbook processes) with the same idempotency_key, at once. The
    barrier holds each one's StartAutomationExecution until both are in flight, so both look-ups by the token's tag
    found nothing: the race, every time, without sleeping."""
    box.set_faults({**BARRIER, "client_token_reuse_refused": 1} if refused else BARRIER)
    params = start_params("awx-job-launched-twice")
    for job in ("one", "two"):
        (tmp_path / job).mkdir()  # each run its own play and result files
    since = box.last_seq()
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(run_module, tmp_path / job, EXEC, params, env=box.env) for job in ("one", "two")]
        results = [run.result() for run in runs]
    for result in results:
        assert not result.get("failed"), (result.get("msg"), result.get("error"))

    # Each run calls StartAutomationExecution only when its look-up by the token's tag found nothing: two starts
    # mean both look-ups missed the other run's execution. Both were held together: the first one to arrive ended
    # after the second one arrived (the request log's ts is when a call ended).
    starts = [r for r in box.requests(since) if r["action"] == "StartAutomationExecution"]
    assert len(starts) == 2
    first, second = starts
    assert first["ts"] >= second["ts"] - second["duration_ms"] / 1000
    assert box.faults()["stats"]["held"] == 2
    (execution_id,) = {r["automation_execution_id"] for r in results}
    token = results[0]["client_token"]
    assert results[1]["client_token"] == token
    assert executions_with(box.client("ssm", region=TOKYO), token) == [execution_id]
    outcomes = sorted((r["changed"], r["existing"]) for r in results)
    if refused:
        # AWS refused the second start: that job attached to the execution the other one started
        assert sorted((r["status"], r["error_code"]) for r in starts) == [
            (200, None),
            (400, "IdempotentParameterMismatch"),
        ]
        assert outcomes == [(False, True), (True, False)]
        (attached,) = [r for r in results if r["existing"]]
        assert "was started at the same time with this idempotency key; attached to it" in attached["msg"]
    else:
        # AWS answered both starts with the one id: neither job can tell that the other one started it
        assert [r["status"] for r in starts] == [200, 200]
        assert outcomes == [(True, False), (True, False)]


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
