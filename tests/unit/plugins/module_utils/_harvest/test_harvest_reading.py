"""_harvest.reading: one location's reader (pacing, throttling) and the parent's step shapes."""

import pytest
from support.harvest_fakes import (
    PARENT,
    FakeFactory,
    build_world,
    client_error,
    demo_layout,
    uid,
)

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import reading


def member_reader(factory, rate=10.0):
    """A LocationReader on 222222222222/eu-west-1 whose pacer records its sleeps instead of sleeping."""
    slept = []
    now = [0.0]

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    location = {
        "account": "222222222222",
        "region": "eu-west-1",
        "status": "Success",
        "member_execution_id": uid("222222222222", "eu-west-1"),
    }
    pacer = reading.Pacer(rate, clock=lambda: now[0], sleep=sleep)
    return reading.LocationReader(factory, location, pacer=pacer), slept


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999999])
def test_a_throttle_botocore_gave_up_on_slows_the_location_and_is_retried(monkeypatch, jitter):
    # The jitter is fixed so that the backoffs are known values: the pacer's own waits (the location slowed down)
    # are recorded by the same sleep and may be as long as a backoff, so the backoffs are told apart by value.
    monkeypatch.setattr(reading.random, "random", lambda: jitter)
    factory = FakeFactory()
    build_world(factory, demo_layout())
    member = factory.ssm("222222222222", "eu-west-1")
    member.fail["get_automation_execution"] = [client_error("ThrottlingException", "Rate exceeded")] * 2
    reader, slept = member_reader(factory)
    record = reader.read()
    assert record["read_status"] == "ok"
    assert [i["read_error"] for i in record["instances"]] == [None, None]
    assert all(i["steps"] for i in record["instances"])
    # two backoffs, jittered within [0.5, 1] x THROTTLE_BACKOFF x 2^round, in that order
    factor = 0.5 + jitter / 2
    first, second = reading.THROTTLE_BACKOFF * factor, 2 * reading.THROTTLE_BACKOFF * factor
    assert reading.THROTTLE_BACKOFF / 2 <= first <= reading.THROTTLE_BACKOFF
    assert reading.THROTTLE_BACKOFF <= second <= 2 * reading.THROTTLE_BACKOFF
    assert [s for s in slept if s in (first, second)][:2] == [first, second]
    assert reader.retries == 2 + 2 * 2  # botocore's attempts reported by each error, plus our two rounds
    assert member.calls.count("get_automation_execution") == 2 + 2
    assert reader.pacer.rate < 10.0  # the location slowed down


def test_a_location_throttled_past_the_rounds_records_the_reason():
    factory = FakeFactory()
    build_world(factory, demo_layout())
    member = factory.ssm("222222222222", "eu-west-1")
    member.fail["describe_automation_executions"] = [client_error("ThrottlingException", "Rate exceeded")] * 20
    reader, _slept = member_reader(factory)
    record = reader.read()
    assert record["read_status"] == "failed"
    assert record["read_error"]["code"] == "ThrottlingException"
    assert member.calls.count("describe_automation_executions") == 1 + reading.THROTTLE_ROUNDS
    assert reader.pacer.rate >= reading.MIN_RATE


def test_pacer_slows_down_and_comes_back():
    pacer = reading.Pacer(10, clock=lambda: 0.0, sleep=lambda s: None)
    pacer.slow_down()
    assert pacer.rate == 5
    pacer.slow_down()
    assert pacer.rate == 2.5
    for _n in range(100):
        pacer.recover()
    assert pacer.rate == 10 and pacer.target is None
    unpaced = reading.Pacer(0, clock=lambda: 0.0, sleep=lambda s: None)
    unpaced.slow_down()
    assert unpaced.rate == 5.0  # a throttled unpaced location gets paced...
    for _n in range(100):
        unpaced.recover()
    assert unpaced.rate == 0  # ...and unpaced again once calls go through
    floor = reading.Pacer(1, clock=lambda: 0.0, sleep=lambda s: None)
    for _n in range(10):
        floor.slow_down()
    assert floor.rate == reading.MIN_RATE


@pytest.mark.parametrize(
    "outputs, expected",
    [
        ({"ExecutionId": [PARENT]}, PARENT),
        ({"AutomationExecutionId": [PARENT]}, PARENT),
        ({"Other": ["x"], "ChildExecutionIds": [PARENT]}, PARENT),
        ({"ExecutionId": ["not-a-uuid"]}, None),
        ({}, None),
    ],
)
def test_member_execution_id(outputs, expected):
    assert reading.member_execution_id({"Outputs": outputs}) == expected


def test_pacer_spaces_calls():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    pacer = reading.Pacer(10, clock=lambda: now[0], sleep=sleep)
    for _call in range(25):
        pacer.take()
    assert sum(slept) == pytest.approx(1.5, abs=1e-6)
    unpaced = reading.Pacer(0, clock=lambda: now[0], sleep=sleep)
    before = len(slept)
    for _call in range(100):
        unpaced.take()
    assert len(slept) == before
