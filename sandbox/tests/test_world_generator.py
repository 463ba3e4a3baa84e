"""The world generator writes valid worlds of the requested size, which the sandbox builds."""

from __future__ import annotations

import subprocess
import sys

from sandbox.generate import generate_world
from sandbox.world import REPO_ROOT, load_world


def test_generated_world_shape():
    doc = generate_world(accounts=30, regions=3, instances=4, ou_depth=3, ou_fanout=2, seed=7)
    world = load_world(doc)
    assert len(world.member_account_ids) == 30
    assert world.regions == ["eu-west-1", "ap-northeast-1", "us-east-1"]
    assert sum(s.count for s in world.instance_specs) == 30 * 3 * 4
    assert len(world.ous) == 2 + 4 + 8
    depths = {len(world.ou_path(a)) for a in world.member_account_ids}
    assert depths == {1, 2, 3, 4}  # directly under the root, and under OUs at every level
    assert sorted(world.descendants(world.root_id)) == sorted(world.accounts)
    assert world.seed == 7


def test_cli_writes_a_valid_file(tmp_path):
    out = tmp_path / "big.yml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "generate-world",
            "--accounts",
            "12",
            "--regions",
            "2",
            "--instances",
            "3",
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    check = subprocess.run(
        [sys.executable, "-m", "sandbox", "check-world", str(out)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "13 accounts" in check.stdout and "72 instances" in check.stdout


def test_generated_world_builds(sandbox_factory):
    sb = sandbox_factory(generate_world(accounts=5, regions=2, instances=3), name="generated")
    world = sb.world
    assert len(world.instances) == 5 * 2 * 3
    member = world.member_account_ids[2]
    ec2 = sb.client("ec2", region="ap-northeast-1", account=member)
    found = [
        i
        for r in ec2.describe_instances(Filters=[{"Name": "tag:ssm-automation", "Values": ["true"]}])["Reservations"]
        for i in r["Instances"]
    ]
    assert len(found) == 3
    # Roles everywhere, the management account included (so that the root OU can be targeted).
    for account in [world.management_account_id, member]:
        iam = sb.client("iam", account=account if account != world.management_account_id else None)
        assert iam.get_role(RoleName="AWS-SystemsManager-AutomationExecutionRole")["Role"]["RoleName"]
        assert iam.get_role(RoleName="AWS-SystemsManager-AutomationResultsReaderRole")["Role"]["RoleName"]
