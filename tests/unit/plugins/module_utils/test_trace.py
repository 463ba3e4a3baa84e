"""module_utils/trace.py: the trace of every AWS call, and its replay (tests/traces/ holds real runs' traces)."""

import datetime
import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ansible_collections.orgops.ssm_automation.plugins.module_utils import trace
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import clients, harvest

TRACES = Path(__file__).resolve().parents[3] / "traces"
COUNTERS = ("api_calls", "retries", "credential_renewals")


def ssm_client(region="eu-west-1"):
    return boto3.client("ssm", region_name=region, aws_access_key_id="a", aws_secret_access_key="b")


def test_redact_removes_credentials_everywhere_and_keeps_next_token():
    value = {
        "Credentials": {"AccessKeyId": "AKIA1", "SecretAccessKey": "s3cr3t", "SessionToken": "tok", "Expiration": 1},
        "Items": [{"Password": "p", "Name": "x"}],
        "NextToken": "page-2",
    }
    out = trace.redact(value)
    assert out["Credentials"] == {
        "AccessKeyId": trace.REDACTED,
        "SecretAccessKey": trace.REDACTED,
        "SessionToken": trace.REDACTED,
        "Expiration": 1,
    }
    assert out["Items"] == [{"Password": trace.REDACTED, "Name": "x"}]
    assert out["NextToken"] == "page-2"


def test_a_recorded_call_replays_with_the_same_answer_and_error(tmp_path):
    path = tmp_path / "t.jsonl"
    tracer = trace.Tracer(str(path))
    client = ssm_client()
    tracer.hook(client, lambda: "222222222222")
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    with Stubber(client) as stub:
        stub.add_response(
            "describe_automation_executions",
            {
                "AutomationExecutionMetadataList": [
                    {"AutomationExecutionId": "00000000-0000-4000-8000-00000000000a", "ExecutionStartTime": start}
                ],
                "NextToken": "n2",
            },
            {"MaxResults": 50},
        )
        stub.add_client_error("get_automation_execution", "AutomationExecutionNotFoundException", "gone", 400)
        first = client.describe_automation_executions(MaxResults=50)
        with pytest.raises(ClientError):
            client.get_automation_execution(AutomationExecutionId="00000000-0000-4000-8000-000000000000")
    tracer.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["seq"], r["operation"], r["account"], r["region"]) for r in records] == [
        (1, "DescribeAutomationExecutions", "222222222222", "eu-west-1"),
        (2, "GetAutomationExecution", "222222222222", "eu-west-1"),
    ]
    assert records[0]["params"] == {"MaxResults": 50}
    assert records[0]["response"]["NextToken"] == "n2"
    assert records[1]["error"]["code"] == "AutomationExecutionNotFoundException"

    fresh = ssm_client()
    answers = trace.Replay(str(path))
    answers.hook(fresh, lambda: "222222222222")
    again = fresh.describe_automation_executions(MaxResults=50)
    assert again["NextToken"] == first["NextToken"]
    assert again["AutomationExecutionMetadataList"][0]["ExecutionStartTime"] == start.isoformat()
    with pytest.raises(ClientError) as caught:
        fresh.get_automation_execution(AutomationExecutionId="00000000-0000-4000-8000-000000000000")
    assert caught.value.response["Error"]["Code"] == "AutomationExecutionNotFoundException"
    with pytest.raises(LookupError, match="no answer"):
        fresh.describe_automation_executions(MaxResults=10)  # never recorded: nothing is made up


def test_forked_processes_write_whole_records_numbered_once(tmp_path):
    path = tmp_path / "t.jsonl"
    tracer = trace.Tracer(str(path))
    big = {"Blob": "x" * 20000}  # larger than a pipe buffer: a record must still land whole
    children = []
    for n in range(3):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            try:
                for i in range(40):
                    tracer.record("ssm", "Op", str(n), "eu-west-1", {"i": i}, response=big)
            finally:
                os._exit(0)
        children.append(pid)
    for i in range(40):
        tracer.record("ssm", "Op", "parent", "eu-west-1", {"i": i}, response=big)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one whole JSON record
    assert len(records) == 160
    assert sorted(r["seq"] for r in records) == list(range(1, 161))
    assert {r["account"] for r in records} == {"0", "1", "2", "parent"}


def traces():
    return sorted(p for p in TRACES.iterdir() if (p / "trace.jsonl").is_file()) if TRACES.is_dir() else []


def test_tests_traces_holds_at_least_one_trace():
    assert traces(), "tests/traces/ must keep at least one trace with the report it produced"


@pytest.mark.parametrize("case", traces(), ids=lambda p: p.name)
def test_a_kept_trace_replays_to_the_report_it_produced(case):
    """The harvest, answered by the trace alone (nothing is reachable at the endpoint), gives the kept report."""
    report = json.loads((case / "report.json").read_text())
    session = boto3.session.Session(
        aws_access_key_id="replay", aws_secret_access_key="replay", region_name=report["region"]
    )
    factory = clients.ClientFactory(session=session, endpoint_url="http://127.0.0.1:9")
    answers = trace.Replay(str(case / "trace.jsonl"))
    factory.observers.append(answers)
    result = harvest.gather(factory, report["automation_execution_id"], report["region"], rate=0, concurrency=4)
    assert answers.unanswered == []
    got = [{k: v for k, v in r.items() if k not in COUNTERS} for r in result["locations"]]
    assert json.loads(json.dumps(got, sort_keys=True)) == report["locations"]
