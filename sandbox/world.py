"""The world: what the sandbox's AWS Organization contains, loaded from a YAML file and validated.

The world file is validated with a JSON Schema (``world.schema.json``, next to this file). Every error names the
path in the file, such as ``accounts[3].id: '12345' does not match '^\\d{12}$'``. Semantic checks that a schema
cannot express (unknown parent OU, duplicate ids, an instance region the world does not list, ...) get the same
treatment.

The dataclasses below are read by the SSM Automation engine (``sandbox/engine``): keep their names and fields.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).with_name("world.schema.json")
REPO_ROOT = Path(__file__).resolve().parent.parent
WORLDS = Path(__file__).with_name("worlds")
DEMO_WORLD = WORLDS / "demo.yml"

# Built-in OS profiles the engine knows; a world's own ``profiles`` may add more (and may extend these).
BUILTIN_PROFILES = (
    "amazon-linux-2023",
    "amazon-linux-2023-updates",
    "rhel-9",
    "ubuntu-22.04",
    "windows-server-2022",
    "local-shell",
)
DEFAULT_PROFILE = {"Linux": "amazon-linux-2023", "Windows": "windows-server-2022"}
# The sandbox's AMIs (sandbox/amis.json, loaded by moto through MOTO_AMIS_PATH), by OS profile and platform.
AMIS_PATH = Path(__file__).with_name("amis.json")
PROFILE_AMI = {
    "amazon-linux-2023": "ami-0a1b2c3d4e5f60001",
    "amazon-linux-2023-updates": "ami-0a1b2c3d4e5f60001",
    "rhel-9": "ami-0a1b2c3d4e5f60002",
    "ubuntu-22.04": "ami-0a1b2c3d4e5f60003",
    "windows-server-2022": "ami-0a1b2c3d4e5f60004",
}
DEFAULT_AMI = {"Linux": "ami-0a1b2c3d4e5f60001", "Windows": "ami-0a1b2c3d4e5f60004"}

DEFAULT_MANAGEMENT_KEY = "AKIASANDBOXMGMT00001"
DEFAULT_MANAGEMENT_SECRET = "sandbox/management/secret/key/do-not-use-elsewhere"  # noqa: S105 - a sandbox-only key


class WorldError(ValueError):
    """A world file that cannot be used. ``errors`` lists every problem as ``path: message``."""

    def __init__(self, errors: list[str], source: str = "world"):
        self.errors = errors
        self.source = source
        super().__init__(f"{source}: invalid world file:\n  " + "\n  ".join(errors))


@dataclass
class Instance:
    instance_id: str
    account_id: str
    region: str
    name: str
    tags: dict[str, str]
    platform: str  # "Linux" | "Windows"
    state: str  # "running" | "stopped"
    managed: bool  # registered with SSM at all
    agent_online: bool
    os_profile: str
    ami: str = ""
    instance_type: str = "t3.micro"


@dataclass
class Account:
    id: str
    name: str
    email: str
    parent_id: str  # OU id or root id


@dataclass
class OrganizationalUnit:
    id: str
    name: str
    parent_id: str


@dataclass
class InstanceSpec:
    """An instance (or ``count`` identical instances) as the world file asks for it, before it exists in EC2."""

    account_id: str
    region: str
    name: str
    tags: dict[str, str]
    platform: str
    state: str
    managed: bool
    agent_online: bool
    os_profile: str
    ami: str
    instance_type: str
    count: int = 1


@dataclass
class World:
    management_account_id: str
    organization_id: str
    root_id: str
    regions: list[str]
    accounts: dict[str, Account]  # includes the management account
    ous: dict[str, OrganizationalUnit]
    instances: list[Instance]
    profiles: dict[str, dict]
    time_scale: float
    seed: int
    options: dict
    # Further settings (not part of the engine contract, but used by the server and tests).
    name: str = "world"
    management_access_key: str = DEFAULT_MANAGEMENT_KEY
    management_secret_key: str = DEFAULT_MANAGEMENT_SECRET
    management_user: str = "sandbox-admin"
    feature_set: str = "ALL"
    # Organizations Account objects carry the retired ``Status`` next to ``State`` (moto's default); False: only
    # ``State``, as AWS answers once ``Status`` is retired (organizations model, ``Account.Status``: 2026-09-09).
    legacy_account_status: bool = True
    automation_roles: dict = field(default_factory=dict)
    stacksets: dict = field(default_factory=dict)
    credentials: dict = field(default_factory=dict)
    faults: list = field(default_factory=list)
    instance_specs: list[InstanceSpec] = field(default_factory=list)
    source: dict = field(default_factory=dict)  # the validated world document, as loaded

    # -- queries the engine uses --------------------------------------------------------------------------------
    def instances_in(self, account_id: str, region: str) -> list[Instance]:
        return [i for i in self.instances if i.account_id == account_id and i.region == region]

    def children(self, parent_id: str) -> tuple[list[str], list[str]]:
        """(account ids, OU ids) directly under ``parent_id``."""
        accounts = [a.id for a in self.accounts.values() if a.parent_id == parent_id]
        ous = [o.id for o in self.ous.values() if o.parent_id == parent_id]
        return accounts, ous

    def descendants(self, parent_id: str, include_children: bool = True) -> list[str]:
        """Account ids under an OU or the root (the root includes the management account), in sandbox.orgtree's
        order (child OUs first, depth first; then the accounts directly under it).

        With ``include_children`` false, only the accounts directly under ``parent_id``.
        """
        from sandbox import orgtree

        if parent_id not in self.ous and parent_id != self.root_id:
            return []
        return orgtree.accounts_under(parent_id, self.children, include_children)

    def ou_path(self, account_or_ou: str) -> list[str]:
        """Parents of an account or OU, nearest first, ending with the root id."""
        node = self.accounts.get(account_or_ou) or self.ous.get(account_or_ou)
        path = []
        while node is not None:
            path.append(node.parent_id)
            node = self.ous.get(node.parent_id)
        return path

    @property
    def member_account_ids(self) -> list[str]:
        return [a for a in self.accounts if a != self.management_account_id]

    def to_dict(self) -> dict:
        """JSON-serialisable view, as served by ``GET /_sandbox/world`` (no secret key)."""
        out = {
            "name": self.name,
            "management_account_id": self.management_account_id,
            "organization_id": self.organization_id,
            "root_id": self.root_id,
            "regions": list(self.regions),
            "accounts": {k: asdict(v) for k, v in self.accounts.items()},
            "ous": {k: asdict(v) for k, v in self.ous.items()},
            "instances": [asdict(i) for i in self.instances],
            "profiles": self.profiles,
            "time_scale": self.time_scale,
            "seed": self.seed,
            "options": self.options,
            "management_access_key": self.management_access_key,
            "management_user": self.management_user,
            "automation_roles": self.automation_roles,
            "stacksets": self.stacksets,
            "credentials": self.credentials,
            "faults": self.faults,
            "legacy_account_status": self.legacy_account_status,
        }
        return out

    @classmethod
    def from_dict(cls, data: dict) -> World:
        """Rebuild from :meth:`to_dict` output (the test fixture reads the world over HTTP)."""
        return cls(
            name=data.get("name", "world"),
            management_account_id=data["management_account_id"],
            organization_id=data["organization_id"],
            root_id=data["root_id"],
            regions=list(data["regions"]),
            accounts={k: Account(**v) for k, v in data["accounts"].items()},
            ous={k: OrganizationalUnit(**v) for k, v in data["ous"].items()},
            instances=[Instance(**i) for i in data["instances"]],
            profiles=data.get("profiles", {}),
            time_scale=data["time_scale"],
            seed=data["seed"],
            options=data.get("options", {}),
            management_access_key=data.get("management_access_key", DEFAULT_MANAGEMENT_KEY),
            management_user=data.get("management_user", "sandbox-admin"),
            automation_roles=data.get("automation_roles", {}),
            stacksets=data.get("stacksets", {}),
            credentials=data.get("credentials", {}),
            faults=data.get("faults", []),
            legacy_account_status=data.get("legacy_account_status", True),
        )


# ---------------------------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------------------------
_SCHEMA: dict | None = None


def schema() -> dict:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = json.loads(SCHEMA_PATH.read_text())
    return _SCHEMA


def _path(parts) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out or "(top level)"


def _schema_errors(doc: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema())
    errors = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        # For anyOf/oneOf, the most specific sub-error says more than "is not valid under any of the given schemas".
        best = jsonschema.exceptions.best_match([err]) if err.context else err
        message = best.message
        if best.validator == "pattern":
            message = f"{best.instance!r} does not match '{best.validator_value}'"
        errors.append(f"{_path(best.absolute_path)}: {message}")
    return errors


def load_world(source: Path | str | dict, name: str | None = None) -> World:
    """Load, validate and normalise a world from a YAML file path or an already-parsed dict."""
    label = "world"
    if isinstance(source, dict):
        doc = copy.deepcopy(source)
    else:
        path = Path(source)
        label = str(path)
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise WorldError([f"(file): not valid YAML: {exc}"], label) from exc
        except OSError as exc:
            raise WorldError([f"(file): cannot read: {exc}"], label) from exc
    errors = _schema_errors(doc)
    if errors:
        raise WorldError(errors, label)
    world = _normalise(doc, errors)
    if errors:
        raise WorldError(errors, label)
    world.name = name or doc.get("name") or (Path(source).stem if not isinstance(source, dict) else "world")
    return world


def _normalise(doc: dict, errors: list[str]) -> World:
    regions = list(doc["regions"])
    org = doc["organization"]
    mgmt = doc["management_account"]
    root_id = org["root_id"]
    ous: dict[str, OrganizationalUnit] = {}

    def walk(nodes, parent, path):
        for i, node in enumerate(nodes):
            p = f"{path}[{i}]"
            if node["id"] in ous:
                errors.append(f"{p}.id: duplicate OU id '{node['id']}'")
            ous[node["id"]] = OrganizationalUnit(node["id"], node["name"], parent)
            walk(node.get("children", []), node["id"], f"{p}.children")

    walk(doc.get("organizational_units", []), root_id, "organizational_units")
    accounts: dict[str, Account] = {}
    specs: list[InstanceSpec] = []
    mgmt_id = str(mgmt["id"])
    accounts[mgmt_id] = Account(
        mgmt_id, mgmt.get("name", "management"), mgmt.get("email", f"{mgmt_id}@example.com"), root_id
    )
    profiles = dict(doc.get("profiles", {}))
    known_profiles = set(BUILTIN_PROFILES) | set(profiles)

    def add_instances(account_id, entries, path):
        for j, inst in enumerate(entries or []):
            p = f"{path}[{j}]"
            region = inst.get("region", regions[0])
            if region not in regions:
                errors.append(f"{p}.region: '{region}' is not one of the world's regions {regions}")
            platform = inst.get("platform", "Linux")
            profile = inst.get("os_profile", DEFAULT_PROFILE[platform])
            if profile not in known_profiles:
                errors.append(
                    f"{p}.os_profile: unknown profile '{profile}' (built-in: {', '.join(BUILTIN_PROFILES)}; or define it under profiles)"
                )
            managed = inst.get("managed", True)
            specs.append(
                InstanceSpec(
                    account_id=account_id,
                    region=region,
                    name=inst["name"],
                    tags={str(k): str(v) for k, v in (inst.get("tags") or {}).items()},
                    platform=platform,
                    state=inst.get("state", "running"),
                    managed=managed,
                    agent_online=inst.get("agent_online", managed),
                    os_profile=profile,
                    ami=inst.get("ami", PROFILE_AMI.get(profile, DEFAULT_AMI[platform])),
                    instance_type=inst.get("instance_type", "t3.micro"),
                    count=inst.get("count", 1),
                )
            )

    add_instances(mgmt_id, mgmt.get("instances"), "management_account.instances")
    for i, acct in enumerate(doc.get("accounts", [])):
        p = f"accounts[{i}]"
        aid = str(acct["id"])
        if aid in accounts:
            errors.append(f"{p}.id: duplicate account id '{aid}'")
        parent = acct.get("parent", root_id)
        if parent != root_id and parent not in ous:
            errors.append(f"{p}.parent: '{parent}' is neither the root ({root_id}) nor an OU of this world")
        accounts[aid] = Account(aid, acct["name"], acct.get("email", f"{acct['name']}@example.com"), parent)
        add_instances(aid, acct.get("instances"), f"{p}.instances")

    for name, prof in profiles.items():
        ext = prof.get("extends")
        if ext and ext not in known_profiles:
            errors.append(f"profiles.{name}.extends: unknown profile '{ext}'")

    roles = dict(doc.get("automation_roles", {}))
    for key in ("execution_stackset_targets", "reader_role_targets"):
        for k, target in enumerate(roles.get(key, []) or []):
            if target != root_id and target not in ous:
                errors.append(f"automation_roles.{key}[{k}]: '{target}' is neither the root nor an OU of this world")
    for key in ("missing_execution_role", "missing_reader_role"):
        for k, acct in enumerate(roles.get(key, []) or []):
            if acct not in accounts:
                errors.append(f"automation_roles.{key}[{k}]: '{acct}' is not an account of this world")
    for k, region in enumerate(roles.get("regions", []) or []):
        if region not in regions:
            errors.append(f"automation_roles.regions[{k}]: '{region}' is not one of the world's regions {regions}")
    stacksets = dict(doc.get("stacksets", {}))
    for acct in stacksets.get("broken_accounts", {}) or {}:
        if acct not in accounts:
            errors.append(f"stacksets.broken_accounts.{acct}: not an account of this world")
        elif acct == mgmt_id:
            errors.append(
                f"stacksets.broken_accounts.{acct}: the management account never gets service-managed stack instances"
            )

    creds = mgmt.get("credentials", {}) or {}
    return World(
        management_account_id=mgmt_id,
        organization_id=org["id"],
        root_id=root_id,
        regions=regions,
        accounts=accounts,
        ous=ous,
        instances=[],
        profiles=profiles,
        time_scale=float(doc.get("time_scale", 1.0)),
        seed=int(doc.get("seed", 0)),
        options=dict(doc.get("options", {}) or {}),
        management_access_key=creds.get("access_key_id", DEFAULT_MANAGEMENT_KEY),
        management_secret_key=creds.get("secret_access_key", DEFAULT_MANAGEMENT_SECRET),
        management_user=creds.get("user", "sandbox-admin"),
        feature_set=org.get("feature_set", "ALL"),
        legacy_account_status=bool(org.get("legacy_account_status", True)),
        automation_roles=roles,
        stacksets=stacksets,
        credentials=dict(doc.get("credentials", {}) or {}),
        faults=list(doc.get("faults", []) or []),
        instance_specs=specs,
        source=doc,
    )
