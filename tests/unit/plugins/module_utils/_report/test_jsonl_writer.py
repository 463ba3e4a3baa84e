"""JsonLinesWriter writes a temporary file and renames it: two writers of the same run leave a whole file, and a
harvest that stops half-way leaves the previous results as they were."""

from __future__ import annotations

import json

from ansible_collections.orgops.ssm_automation.plugins.module_utils import report


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_two_interleaved_writers_leave_one_whole_file(tmp_path):
    path = tmp_path / "run" / "results.jsonl"
    one = report.JsonLinesWriter(str(path)).open()
    two = report.JsonLinesWriter(str(path)).open()
    one.header({"automation_execution_id": "x", "writer": 1})
    two.header({"automation_execution_id": "x", "writer": 2})
    for n in range(50):
        one.location({"account": "%012d" % n, "writer": 1})
        two.location({"account": "%012d" % n, "writer": 2})
    one.summary({"instances": 50, "writer": 1})
    assert not path.exists()  # nothing is visible under the final name while being written
    one.close()
    first = lines(path)
    assert [x["type"] for x in first] == ["execution"] + ["location"] * 50 + ["summary"]
    assert {x["writer"] for x in first} == {1}
    two.summary({"instances": 50, "writer": 2})
    two.close()
    second = lines(path)
    assert [x["type"] for x in second] == ["execution"] + ["location"] * 50 + ["summary"]
    assert {x["writer"] for x in second} == {2}
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.jsonl"]
    assert (path.stat().st_mode & 0o777) == 0o644


def test_a_harvest_that_stops_half_way_leaves_the_previous_results(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"type": "summary", "instances": 3}\n')
    writer = report.JsonLinesWriter(str(path)).open()
    writer.header({"automation_execution_id": "x"})
    writer._discard()  # what the exit handler does when close() was never reached
    assert lines(path) == [{"type": "summary", "instances": 3}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl"]
