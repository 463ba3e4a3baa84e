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
from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import clients, expected, harvest

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


def _record(path, run, module, seq, operation, params, response, v=trace.FORMAT_VERSION):
    item = {"v": v, "seq": seq, "time": "t", "pid": 1, "service": "ssm", "operation": operation, "account": None}
    item.update({"region": "eu-west-1", "params": params, "response": response})
    if v >= 2:
        item.update({"run": run, "module": module})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(item) + "\n")


PARENT = {"AutomationExecutionId": "00000000-0000-4000-8000-00000000000a"}


def _playbook_like(path, v, one_run=False):
    """Module runs appended to one file as a playbook's phases append them, seq starting at 1 in each: the start
    (its own poll), two wait polls (the parent still InProgress), the harvest (Success), then a read of another
    execution. With ``one_run``, every record claims the same run (what a reader that does not tell runs apart
    sees)."""

    def add(run, module, seq, operation, params, response):
        _record(path, "x" if one_run else run, module, seq, operation, params, response, v)

    add("a", "automation_execution", 1, "StartAutomationExecution", {"DocumentName": "check-os"}, PARENT)
    add("a", "automation_execution", 2, "GetAutomationExecution", PARENT, {"Status": "InProgress"})
    add("b", "automation_execution", 1, "GetAutomationExecution", PARENT, {"Status": "InProgress"})
    add("c", "automation_execution", 1, "GetAutomationExecution", PARENT, {"Status": "InProgress"})
    add("d", "automation_execution_info", 1, "DescribeAutomationExecutions", {}, {})
    add("d", "automation_execution_info", 2, "GetAutomationExecution", PARENT, {"Status": "Success"})
    other = {"AutomationExecutionId": "00000000-0000-4000-8000-00000000000b"}
    add("e", "automation_execution_info", 1, "GetAutomationExecution", other, {"Status": "Failed"})


@pytest.mark.parametrize("version", [1, 2])
def test_replay_picks_the_run_that_read_the_execution_from_a_playbook_trace(tmp_path, version):
    path = tmp_path / "t.jsonl"
    _playbook_like(path, version)
    answers = trace.Replay(str(path), module="automation_execution_info", reads=("GetAutomationExecution", PARENT))
    assert len(answers.runs) == 5  # format 1: told apart where seq starts again
    client = ssm_client()
    answers.hook(client)
    got = client.get_automation_execution(**PARENT)
    assert got["Status"] == "Success"  # the harvest's answer, not the wait's InProgress polls
    with pytest.raises(LookupError):
        client.start_automation_execution(DocumentName="check-os")  # another run's call is not answered


def test_runs_not_told_apart_would_answer_the_harvest_with_a_wait_poll(tmp_path):
    """Why runs matter: read as one run, the file answers the harvest's read of the parent with a poll's InProgress
    (the polls' seq 1 comes before the harvest's seq 2)."""
    path = tmp_path / "t.jsonl"
    _playbook_like(path, 2, one_run=True)
    client = ssm_client()
    trace.Replay(str(path)).hook(client)
    assert client.get_automation_execution(**PARENT)["Status"] == "InProgress"


def test_replay_of_the_wait_run_answers_its_polls_in_order(tmp_path):
    path = tmp_path / "t.jsonl"
    _playbook_like(path, 2)
    answers = trace.Replay(str(path), module="automation_execution", reads=("StartAutomationExecution", {}))
    client = ssm_client()
    answers.hook(client)
    assert (
        client.start_automation_execution(DocumentName="check-os")["AutomationExecutionId"]
        == PARENT["AutomationExecutionId"]
    )
    assert client.get_automation_execution(**PARENT)["Status"] == "InProgress"


def test_replay_without_a_matching_run_names_the_runs(tmp_path):
    path = tmp_path / "t.jsonl"
    _playbook_like(path, 2)
    missing = {"AutomationExecutionId": "00000000-0000-4000-8000-0000000000ff"}
    with pytest.raises(ValueError, match=r"no run .*0000000000ff.*run 1 \(automation_execution, 2 calls\)"):
        trace.Replay(str(path), module="automation_execution_info", reads=("GetAutomationExecution", missing))


def test_a_trace_of_an_unknown_format_version_is_refused(tmp_path):
    path = tmp_path / "t.jsonl"
    _record(path, "a", "m", 1, "GetAutomationExecution", PARENT, {}, v=2)
    text = path.read_text().replace('"v": 2', '"v": 3')
    path.write_text(text)
    with pytest.raises(ValueError, match="line 1: trace format version 3, this collection reads 1, 2"):
        trace.Replay(str(path))


def test_every_record_of_a_run_carries_its_run_id_and_module(tmp_path):
    path = tmp_path / "t.jsonl"
    first, second = trace.Tracer(str(path), "automation_execution"), trace.Tracer(str(path), "automation_report")
    first.record("ssm", "Op", None, "eu-west-1", {}, response={})
    second.record("ssm", "Op", None, "eu-west-1", {}, response={})
    first.record("ssm", "Op", None, "eu-west-1", {}, response={})
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["v"], r["run"], r["module"], r["seq"]) for r in records] == [
        (2, first.run, "automation_execution", 1),
        (2, second.run, "automation_report", 1),
        (2, first.run, "automation_execution", 2),
    ]
    assert first.run != second.run


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
    parent = {"AutomationExecutionId": report["automation_execution_id"]}
    answers = trace.Replay(str(case / "trace.jsonl"), reads=("GetAutomationExecution", parent))
    factory.observers.append(answers)
    options = dict(report.get("module_params", {}))  # the options the recorded harvest ran with
    if (case / "targets.json").is_file():  # the kept target set it read
        options["expected"] = expected.read_file(str(case / "targets.json"))
    result = harvest.gather(
        factory, report["automation_execution_id"], report["region"], rate=0, concurrency=4, **options
    )
    assert answers.unanswered == []
    got = [{k: v for k, v in r.items() if k not in COUNTERS} for r in result["locations"]]
    assert json.loads(json.dumps(got, sort_keys=True)) == report["locations"]
