"""_harvest.parallel: threads and forked worker processes lose no location."""

import os

from support.harvest_fakes import (
    OK_STEPS,
    PARENT,
    FakeFactory,
    build_world,
)

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import harvest, parallel


def big_layout(accounts=6, regions=("eu-west-1", "ap-northeast-1"), instances=2):
    layout = {}
    for a in range(accounts):
        account = "4444444444%02d" % a
        for r, region in enumerate(regions):
            layout[(account, region)] = [
                ("i-%04d%04d%08d" % (a, r, n), "Success" if n % 2 == 0 else "Failed", OK_STEPS)
                for n in range(instances)
            ]
    return layout


def test_split_by_account_keeps_each_account_in_one_group_and_balances():
    locations = [{"account": a, "region": r} for a in ("a1", "a2", "a3", "a4", "a5") for r in ("r1", "r2")]
    locations += [{"account": "big", "region": "r%d" % n} for n in range(5)]
    groups = parallel.split_by_account(locations, 3)
    assert sorted(len(g) for g in groups) == [4, 5, 6]  # the best split of 5 + 5 x 2 locations in whole accounts
    owners = {}
    for n, group in enumerate(groups):
        for loc in group:
            assert owners.setdefault(loc["account"], n) == n
    assert sorted((loc["account"], loc["region"]) for g in groups for loc in g) == sorted(
        (loc["account"], loc["region"]) for loc in locations
    )


def test_processes_for(monkeypatch):
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    monkeypatch.setattr(parallel, "available_cpus", lambda: 4)
    assert parallel.processes_for(1, 1000, 64) == 1
    assert parallel.processes_for(0, 50, 64) == 1  # automatic: one per 100 locations
    assert parallel.processes_for(0, 400, 64) == 4
    assert parallel.processes_for(0, 2000, 64) == 4  # at most the CPUs
    assert parallel.processes_for(3, 2, 64) == 2  # never more than the locations
    assert parallel.processes_for(8, 1000, 2) == 2  # nor the concurrency
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    assert parallel.processes_for(4, 1000, 64) == 1


def strip_counters(locations):
    return [{k: v for k, v in r.items() if k not in ("api_calls", "retries", "credential_renewals")} for r in locations]


def test_worker_processes_return_the_same_records_and_summary_as_threads(monkeypatch):
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    threads = FakeFactory()
    build_world(threads, big_layout())
    expected = harvest.gather(threads, PARENT, "eu-west-1", concurrency=4, rate=0)
    forked = FakeFactory()
    build_world(forked, big_layout())
    streamed = []
    result = harvest.gather(forked, PARENT, "eu-west-1", concurrency=4, rate=0, processes=3, callback=streamed.append)
    assert result["summary"]["processes"] == 3
    assert expected["summary"]["processes"] == 1
    assert strip_counters(result["locations"]) == strip_counters(expected["locations"])
    assert len(streamed) == len(expected["locations"]) == 12
    for key in ("locations", "instances", "instances_by_status", "steps_by_status", "failures_total", "api_calls"):
        assert result["summary"][key] == expected["summary"][key], key
    assert result["progress"] == expected["progress"]


class DyingFactory(FakeFactory):
    """In a worker process, reading ``doomed`` kills that process (as the OOM killer or a segfault would)."""

    def __init__(self, doomed):
        super().__init__()
        self.doomed = doomed
        self.parent_pid = os.getpid()

    def client(self, service, region, account=None):
        if account == self.doomed and os.getpid() != self.parent_pid:
            os._exit(9)  # pylint: disable=protected-access
        return super().client(service, region, account)


def test_a_dead_worker_process_loses_no_location(monkeypatch):
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    doomed = "444444444403"
    factory = DyingFactory(doomed)
    build_world(factory, big_layout())
    result = harvest.gather(factory, PARENT, "eu-west-1", concurrency=2, rate=0, processes=2)
    locs = result["locations"]
    assert len(locs) == 12  # every location is there
    failed = [r for r in locs if r["read_status"] == "failed"]
    assert {r["account"] for r in failed} >= {doomed}
    assert all(r["read_error"]["code"] == "WorkerFailed" for r in failed)
    ok = [r for r in locs if r["read_status"] == "ok"]
    assert all(len(r["instances"]) == 2 for r in ok)
    assert len(ok) + len(failed) == 12
    assert result["summary"]["unreadable_locations"] == len(failed)
    assert result["summary"]["lost_locations"] == len(failed)


def _dies_on_the_marked_location(location):
    if location.get("die"):
        os._exit(9)  # pylint: disable=protected-access
    return dict(location, read_status="ok", instances=[])


def test_a_dead_worker_loses_neither_of_two_locations_with_the_same_account_and_region(monkeypatch):
    """Two parent steps may name the same account and region (overlapping TargetLocations): when the worker dies
    after sending the first, the second is still reported (WorkerFailed), not taken for the one already sent."""
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    first = {"account": "444444444401", "region": "eu-west-1", "step_name": "a"}
    second = dict(first, step_name="b", die=True)
    records = list(parallel.read_in_processes(object(), [first, second], _dies_on_the_marked_location, 1, 1))
    located = {r["step_name"]: r for r in records if isinstance(r, dict)}
    # each location exactly once; "b" killed its worker, so it is WorkerFailed. "a" is ok when the worker sent it
    # before dying (the usual order, in which the old code dropped "b" as already sent), else WorkerFailed too.
    assert sorted(r["step_name"] for r in records if isinstance(r, dict)) == ["a", "b"]
    assert located["b"]["read_status"] == "failed" and located["b"]["read_error"]["code"] == "WorkerFailed"
    assert located["a"]["read_status"] in ("ok", "failed")
