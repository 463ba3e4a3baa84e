"""Generate large worlds for benchmarks: N member accounts x R regions x M instances, in an OU tree.

``python -m sandbox generate-world --accounts 200 --regions 2 --instances 10 --out /tmp/world.yml``

Accounts are spread over an OU tree (``--ou-depth`` levels, ``--ou-fanout`` children per OU), at every level.
Each account gets, in each region, one group of M identical instances tagged ``ssm-automation=true`` (one
RunInstances call per group keeps the build fast). The automation roles are deployed as in the demo world, plus
the management account's execution stack, so that the root OU can be targeted everywhere.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REGIONS = [
    "eu-west-1",
    "ap-northeast-1",
    "us-east-1",
    "us-west-2",
    "eu-central-1",
    "ap-southeast-2",
    "sa-east-1",
    "ca-central-1",
]
PROFILES = ["amazon-linux-2023", "rhel-9", "ubuntu-22.04"]


def generate_world(
    accounts: int,
    regions: int = 2,
    instances: int = 10,
    ou_depth: int = 3,
    ou_fanout: int = 3,
    seed: int = 1,
    time_scale: float = 0.01,
    roles: bool = True,
    name: str | None = None,
) -> dict:
    if not 1 <= regions <= len(REGIONS):
        raise ValueError(f"--regions must be between 1 and {len(REGIONS)}")
    if accounts < 1 or instances < 0:
        raise ValueError("--accounts must be at least 1 and --instances at least 0")
    region_names = REGIONS[:regions]
    root = "r-gen0"
    counter = 0

    def ou_id() -> str:
        nonlocal counter
        counter += 1
        return f"ou-gen0-{counter:08d}"

    # OU tree, breadth-first ids; remember every OU with its depth.
    all_ous: list[str] = []

    def build(level: int) -> list[dict]:
        if level > ou_depth:
            return []
        nodes = []
        for i in range(ou_fanout):
            oid = ou_id()
            all_ous.append(oid)
            nodes.append({"id": oid, "name": f"OU-L{level}-{i + 1}-{oid[-4:]}", "children": build(level + 1)})
        return nodes

    tree = build(1) if ou_depth > 0 else []
    parents = [root, *all_ous]
    mgmt = "100000000000"
    member_list = []
    for i in range(accounts):
        aid = f"{100000000001 + i:012d}"
        entry = {
            "id": aid,
            "name": f"member-{i + 1:05d}",
            "email": f"member-{i + 1:05d}@example.com",
            "parent": parents[i % len(parents)],
        }
        if instances:
            entry["instances"] = [
                {
                    "name": f"app-{i + 1:05d}-{r}",
                    "region": region,
                    "tags": {"ssm-automation": "true", "Env": "bench"},
                    "os_profile": PROFILES[i % len(PROFILES)],
                    "count": instances,
                }
                for r, region in enumerate(region_names)
            ]
        member_list.append(entry)
    world = {
        "name": name or f"generated-{accounts}x{regions}x{instances}",
        "version": 1,
        "seed": seed,
        "time_scale": time_scale,
        "regions": region_names,
        "organization": {"id": "o-genworld0001", "root_id": root, "feature_set": "ALL"},
        "management_account": {"id": mgmt, "name": "management", "email": "management@example.com"},
        "organizational_units": tree,
        "accounts": member_list,
        "stacksets": {"operation_seconds": 0},
    }
    if roles:
        world["automation_roles"] = {
            "admin": True,
            "execution_stackset_targets": [root],
            "regions": [region_names[0]],
            "management_execution_stack": True,
            "reader_role": True,
        }
    return world


def write_world(args) -> Path:
    world = generate_world(
        accounts=args.accounts,
        regions=args.regions,
        instances=args.instances,
        ou_depth=args.ou_depth,
        ou_fanout=args.ou_fanout,
        seed=args.seed,
        time_scale=args.time_scale,
        roles=not args.no_roles,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(world, sort_keys=False, width=160))
    return out
