"""World files are validated with a JSON Schema; every error names the path in the file."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from sandbox.world import DEMO_WORLD, REPO_ROOT, WorldError, load_world

DEMO = yaml.safe_load(DEMO_WORLD.read_text())


def errors_of(mutate) -> list[str]:
    doc = copy.deepcopy(DEMO)
    mutate(doc)
    with pytest.raises(WorldError) as err:
        load_world(doc)
    return err.value.errors


def test_the_demo_world_is_valid_and_as_described():
    world = load_world(DEMO_WORLD)
    assert world.management_account_id == "111122223333"
    assert len(world.member_account_ids) == 6
    assert set(world.regions) == {"eu-west-1", "ap-northeast-1"}
    specs = world.instance_specs
    assert 14 <= sum(s.count for s in specs) <= 16
    assert any(s.state == "stopped" for s in specs)
    assert any(not s.managed for s in specs)
    assert any(s.platform == "Windows" for s in specs)
    assert any("ssm-automation" not in s.tags for s in specs)
    assert any(s.os_profile == "amazon-linux-2023-updates" for s in specs)
    assert any(s.account_id == world.management_account_id and s.tags.get("ssm-automation") == "true" for s in specs)
    # OUs three deep: Workloads -> Prod -> Payments.
    assert world.ou_path("ou-o2pk-paymnts1") == ["ou-o2pk-prod0001", "ou-o2pk-wrkloads", "r-o2pk"]
    assert world.descendants("ou-o2pk-wrkloads") == [  # sandbox.orgtree's order: child OUs first, depth first
        "222233334444",
        "333344445555",
        "777788889999",
        "444455556666",
        "666677778888",
    ]
    assert world.descendants("ou-o2pk-wrkloads", include_children=False) == ["666677778888"]
    assert world.descendants("r-o2pk")[-1] == "111122223333"  # the root includes the management account, last
    assert world.time_scale == 0.05


def test_bad_account_id_names_the_path():
    errs = errors_of(lambda d: d["accounts"][3].__setitem__("id", "12345"))
    assert "accounts[3].id: '12345' does not match '^\\d{12}$'" in errs


def test_nested_ou_id_error_names_the_nested_path():
    errs = errors_of(lambda d: d["organizational_units"][0]["children"][1].__setitem__("id", "ou-BAD"))
    assert errs == [
        "organizational_units[0].children[1].id: 'ou-BAD' does not match '^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$'"
    ]


def test_instance_field_errors_name_the_instance():
    errs = errors_of(lambda d: d["accounts"][1]["instances"][2].__setitem__("platform", "Solaris"))
    assert errs == ["accounts[1].instances[2].platform: 'Solaris' is not one of ['Linux', 'Windows']"]
    errs = errors_of(lambda d: d["management_account"]["instances"][0].__setitem__("state", "pending"))
    assert errs[0].startswith("management_account.instances[0].state: 'pending' is not one of")


def test_semantic_errors_name_the_path():
    errs = errors_of(lambda d: d["accounts"][0].__setitem__("parent", "ou-o2pk-nowhere1"))
    assert errs == ["accounts[0].parent: 'ou-o2pk-nowhere1' is neither the root (r-o2pk) nor an OU of this world"]
    errs = errors_of(lambda d: d["accounts"][2]["instances"][0].__setitem__("region", "us-west-2"))
    assert errs == [
        "accounts[2].instances[0].region: 'us-west-2' is not one of the world's regions ['ap-northeast-1', 'eu-west-1']"
    ]
    errs = errors_of(lambda d: d["accounts"][2]["instances"][0].__setitem__("os_profile", "beos-5"))
    assert errs[0].startswith("accounts[2].instances[0].os_profile: unknown profile 'beos-5'")
    errs = errors_of(lambda d: d["accounts"][4].__setitem__("id", d["accounts"][0]["id"]))
    assert errs == ["accounts[4].id: duplicate account id '222233334444'"]
    errs = errors_of(lambda d: d["automation_roles"].__setitem__("execution_stackset_targets", ["ou-o2pk-missing1"]))
    assert errs == [
        "automation_roles.execution_stackset_targets[0]: 'ou-o2pk-missing1' is neither the root nor an OU of this world"
    ]
    errs = errors_of(lambda d: d.__setitem__("stacksets", {"broken_accounts": {"111122223333": "x"}}))
    assert errs[0].startswith("stacksets.broken_accounts.111122223333: the management account never")


def test_structural_errors():
    errs = errors_of(lambda d: d.__setitem__("colour", "blue"))
    assert errs == ["(top level): Additional properties are not allowed ('colour' was unexpected)"]
    errs = errors_of(lambda d: d["management_account"].pop("id"))
    assert errs == ["management_account: 'id' is a required property"]
    errs = errors_of(lambda d: d.__setitem__("faults", [{"service": "ssm", "throttle_rate": 3}]))
    assert errs == ["faults[0].throttle_rate: 3 is greater than the maximum of 1"]
    errs = errors_of(lambda d: d.__setitem__("faults", [{"service": [], "tps": 5}]))
    assert errs[0].startswith("faults[0].service:")
    errs = errors_of(lambda d: d.__setitem__("faults", [{"action": "StartAutomationExecution", "barrier": 1}]))
    assert errs == ["faults[0].barrier: 1 is less than the minimum of 2"]


def test_a_world_file_can_hold_starts_at_a_barrier_and_refuse_reused_tokens():
    doc = copy.deepcopy(DEMO)
    rule = {
        "service": "ssm",
        "action": "StartAutomationExecution",
        "barrier": 2,
        "barrier_timeout_seconds": 30,
        "client_token_reuse_refused": 1,
    }
    doc["faults"] = [rule]
    assert load_world(doc).faults == [rule]


def test_several_errors_are_all_reported():
    def mutate(d):
        d["accounts"][0]["id"] = "x"
        d["accounts"][1]["email"] = "not-an-email"
        d["regions"] = ["mars-north-1"]

    errs = errors_of(mutate)
    assert {e.split(":")[0] for e in errs} == {"accounts[0].id", "accounts[1].email", "regions[0]"}


def test_yaml_syntax_error(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("regions: [eu-west-1\norganization: {")
    with pytest.raises(WorldError) as err:
        load_world(bad)
    assert err.value.errors[0].startswith("(file): not valid YAML")


def test_serve_refuses_an_invalid_world_and_names_the_path(tmp_path):
    doc = copy.deepcopy(DEMO)
    doc["accounts"][3]["id"] = "12345"
    bad = tmp_path / "world.yml"
    bad.write_text(yaml.safe_dump(doc))
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--world", str(bad), "--port", "0"],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "accounts[3].id: '12345' does not match '^\\d{12}$'" in proc.stderr
    check = subprocess.run(
        [sys.executable, "-m", "sandbox", "check-world", str(bad)],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 1
    assert "accounts[3].id" in check.stderr
