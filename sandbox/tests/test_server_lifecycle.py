"""Process-level behaviour: loopback only, two sandboxes are isolated, clean SIGTERM, reset rebuilds the world."""

from __future__ import annotations

import subprocess
import sys

import botocore.exceptions
import pytest

from sandbox.world import REPO_ROOT


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])  # noqa: S104 - the point is to refuse them
def test_non_loopback_bind_is_refused(host):
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--host", host, "--port", "0"],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert f"refusing to listen on non-loopback address '{host}'" in proc.stderr


def test_loopback_addresses_are_recognised():
    from sandbox.server import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")  # noqa: S104


def test_two_sandboxes_do_not_share_state_and_stop_cleanly(sandbox_factory):
    one = sandbox_factory(name="one")
    two = sandbox_factory(name="two")
    assert one.port != two.port
    one.client("ssm", region="eu-west-1").put_parameter(Name="/isolation/probe", Value="one", Type="String")
    assert one.client("ssm", region="eu-west-1").get_parameter(Name="/isolation/probe")["Parameter"]["Value"] == "one"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        two.client("ssm", region="eu-west-1").get_parameter(Name="/isolation/probe")
    assert err.value.response["Error"]["Code"] == "ParameterNotFound"
    seq_two = two.last_seq()
    one.client("sts").get_caller_identity()
    assert two.last_seq() == seq_two  # the other sandbox's request log did not move
    process, log_path = one.process, one.log_path
    log_text_before = log_path.read_text()
    one.stop()
    assert process.returncode == 0  # SIGTERM: a clean exit
    assert "ready in" in log_text_before
    assert "sandbox: stopped" in log_path.read_text()


def test_reset_rebuilds_the_same_world(sandbox_factory):
    sb = sandbox_factory(name="reset")
    before = {i.name: i.instance_id for i in sb.world.instances}
    sb.client("ssm", region="eu-west-1").put_parameter(Name="/reset/probe", Value="x", Type="String")
    sb.client("organizations").move_account(
        AccountId="666677778888", SourceParentId="ou-o2pk-wrkloads", DestinationParentId="ou-o2pk-security"
    )
    seq = sb.last_seq()
    sb.reset()
    assert sb.requests() == []  # the log is cleared; sequence numbers keep counting
    with pytest.raises(botocore.exceptions.ClientError):
        sb.client("ssm", region="eu-west-1").get_parameter(Name="/reset/probe")
    parents = sb.client("organizations").list_parents(ChildId="666677778888")["Parents"]
    assert parents == [{"Id": "ou-o2pk-wrkloads", "Type": "ORGANIZATIONAL_UNIT"}]
    assert {i.name: i.instance_id for i in sb.world.instances} == before  # seeded: the same instance ids
    assert all(r["seq"] > seq for r in sb.requests())
