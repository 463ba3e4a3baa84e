"""Security checks that the other suites do not already make (see docs/reliability.md, "Security checks").

Already covered elsewhere, and not repeated here:

- the IAM role templates' least privilege (no wildcard action, iam:PassRole only on the role's own ARN, the seed's
  trust conditions, a read-only results reader) and cfn-lint on each: tests/unit/test_templates_policy.py;
- options that need no_log: ansible-test sanity's validate-modules (no-log-needed), with empty ignore files;
- credentials in -vvv output, module results and reports: tests/integration/test_no_secrets.py;
- the sandbox refusing non-loopback binds: sandbox/tests/test_server_lifecycle.py.

Here: `make test`'s cfn-lint covers every CloudFormation template of the repository, the operator policy the docs
give is least privilege, no credential is committed, and no role or playbook task handles credentials in the open.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".yml", ".yaml", ".json", ".py", ".md", ".cfg", ".ini", ".toml", ".txt", ".j2", ".sh", ".template", ""}
# The sandbox's own fake keys (world files, tests): never valid on AWS.
FAKE_KEY_RE = re.compile(r"^AKIA(SANDBOX|FAULTSMALL|NOSECRETS|UNKNOWN)[A-Z0-9]*$")
KEY_ID_RE = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
# An AWS secret access key is 40 characters of base64; a literal one next to a secret-ish name is a leak.
SECRET_ASSIGNMENT_RE = re.compile(
    r"(?i)(secret_access_key|secret_key|aws_secret|SecretAccessKey|session_token|SessionToken)[\"']?\s*[:=]\s*[\"']?"
    r"(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
)
CREDENTIAL_WORDS = re.compile(
    r"(?i)\b(aws_secret_access_key|aws_session_token|secret_key|session_token|aws_secret_key|security_token)\b"
)


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, text=True
        ).stdout.split("\0")
        files = [REPO / f for f in out if f]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        skip = {".git", ".venv", ".build", "node_modules"}
        files = [p for p in REPO.rglob("*") if p.is_file() and not skip & set(p.relative_to(REPO).parts)]
    return [p for p in files if p.is_file() and p.suffix in TEXT_SUFFIXES]


def cloudformation_templates() -> list[Path]:
    """Every file of the repository that is a CloudFormation template (by its content, wherever it lives)."""
    found = []
    for path in tracked_files():
        if path.suffix not in (".yml", ".yaml", ".json", ".template"):
            continue
        text = path.read_text(errors="replace")
        if re.search(r"^\s*[\"']?AWSTemplateFormatVersion[\"']?\s*:", text, re.M) or (
            re.search(r"^[\"']?Resources[\"']?\s*:", text, re.M) and re.search(r"Type[\"']?\s*:\s*[\"']?AWS::", text)
        ):
            found.append(path)
    return found


def makefile_target(name: str) -> tuple[list[str], list[str]]:
    """(prerequisites, recipe lines) of a Makefile target."""
    lines = (REPO / "Makefile").read_text().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^%s:(.*)$" % re.escape(name), line)
        if m:
            recipe = []
            for nxt in lines[i + 1 :]:
                if not nxt.startswith("\t"):
                    break
                recipe.append(nxt.strip())
            return m.group(1).split(), recipe
    raise AssertionError(f"no `{name}` target in the Makefile")


def test_make_test_runs_cfn_lint_on_every_template():
    test_prereqs = makefile_target("test")[0]
    assert "cfn-lint" in test_prereqs, "make test does not run the cfn-lint target"
    recipe = makefile_target("cfn-lint")[1]
    patterns = [word for line in recipe if "cfn-lint" in line for word in line.split()[1:] if not word.startswith("-")]
    assert patterns, recipe
    linted = {p for pattern in patterns for p in REPO.glob(pattern)}
    templates = cloudformation_templates()
    assert len(templates) >= 3, templates  # admin, execution and reader roles at least
    missed = [str(t.relative_to(REPO)) for t in templates if t not in linted]
    assert not missed, f"CloudFormation templates that `make cfn-lint` does not lint: {missed} (patterns {patterns})"


def _policy_blocks(markdown: str) -> list[dict]:
    docs = []
    for block in re.findall(r"```json\n(.*?)```", markdown, re.S):
        doc = json.loads(block)
        if isinstance(doc, dict) and "Statement" in doc:
            docs.append(doc)
    return docs


def _as_list(value):
    return value if isinstance(value, list) else [value]


# IAM reads that name no resource type in the Service Authorization Reference (Actions defined by AWS Identity and
# Access Management: ListAccountAliases has no resource type), so "*" is the only Resource they can have.
IAM_READS_WITHOUT_RESOURCE_TYPE = frozenset(["iam:ListAccountAliases"])
# --check simulates the caller's own permissions (iam:SimulatePrincipalPolicy, a read): the caller's user or role name
# is not known when the policy is written, so it is granted on the management account's users and roles, never on
# another account's (the Service Authorization Reference: its resource types are user and role).
SIMULATE_OWN_ACCOUNT_RE = re.compile(r"^arn:aws:iam::MANAGEMENT_ACCOUNT_ID:(user|role)/\*$")


def test_operator_policy_in_the_docs_is_least_privilege():
    """The IAM policy docs/permissions.md gives the person running the playbook."""
    docs = _policy_blocks((REPO / "docs" / "permissions.md").read_text())
    assert docs, "docs/permissions.md gives no policy document"
    for doc in docs:
        for statement in doc["Statement"]:
            sid = statement.get("Sid", "?")
            assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
            actions = _as_list(statement["Action"])
            resources = _as_list(statement["Resource"])
            for action in actions:
                service, verb = (action.split(":", 1) + [""])[:2]
                assert verb and "*" not in verb and "*" not in service, f"{sid}: wildcard action {action}"
                assert action != "iam:PassRole" or "*" not in "".join(resources), f"{sid}: PassRole on a wildcard"
            if "*" in resources:
                # only reads whose API has no resource-level permission may be granted on every resource
                writes = [a for a in actions if not re.match(r"^[a-z0-9-]+:(Describe|List|Get)", a)]
                assert not writes, f"{sid}: write actions on Resource '*': {writes}"
            for action in actions:
                if action == "iam:SimulatePrincipalPolicy":
                    assert actions == [action] and all(SIMULATE_OWN_ACCOUNT_RE.match(r) for r in resources), (
                        sid,
                        resources,
                    )
                elif action.startswith("iam:") and action not in IAM_READS_WITHOUT_RESOURCE_TYPE:
                    assert all(":role/AWS-SystemsManager-Automation" in r for r in resources), (sid, resources)


def test_no_credentials_are_committed():
    problems = []
    for path in tracked_files():
        text = path.read_text(errors="replace")
        rel = path.relative_to(REPO)
        for key in set(KEY_ID_RE.findall(text)):
            if not FAKE_KEY_RE.match(key):
                problems.append(f"{rel}: access key id {key}")
        for m in SECRET_ASSIGNMENT_RE.finditer(text):
            problems.append(f"{rel}: a literal secret for {m.group(1)} ({m.group('value')[:4]}...)")
    assert not problems, "\n".join(problems)


def _tasks(node):
    """Every task (a mapping with a module or an include) in a parsed tasks/playbook file, blocks included."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        nested = [node.get(k) for k in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers")]
        if any(n is not None for n in nested):
            for n in nested:
                if n is not None:
                    yield from _tasks(n)
            if "block" in node:
                return
        if "hosts" not in node:
            yield node


def test_role_and_playbook_tasks_never_handle_credentials_in_the_open():
    """Credentials come from the usual AWS sources (environment, profile, instance role): no task of a role or a
    playbook names one, unless it is no_log. (Molecule scenarios export the sandbox's fake keys; not checked.)"""
    files = [p for p in (REPO / "roles").rglob("*.yml") if "/tasks/" in str(p) or "/handlers/" in str(p)]
    files += sorted((REPO / "playbooks").glob("*.yml"))
    assert files
    problems = []
    for path in files:
        for task in _tasks(yaml.safe_load(path.read_text()) or []):
            text = json.dumps({k: v for k, v in task.items() if k not in ("name", "no_log")})
            if CREDENTIAL_WORDS.search(text) and task.get("no_log") is not True:
                problems.append(f"{path.relative_to(REPO)}: task {task.get('name')!r} names credentials without no_log")
    assert not problems, "\n".join(problems)


def test_role_defaults_hold_no_credentials():
    """No role default, argument spec default or inventory variable carries a credential value."""
    files = list((REPO / "roles").glob("*/defaults/*.yml")) + list((REPO / "inventories").rglob("*.yml"))
    assert files
    problems = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if CREDENTIAL_WORDS.search(str(key)) and value not in (None, "", [], {}):
                    problems.append(f"{where}{key} has a value")
                walk(value, f"{where}{key}.")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}].")

    for path in files:
        walk(yaml.safe_load(path.read_text()) or {}, f"{path.relative_to(REPO)}: ")
    assert not problems, "\n".join(problems)


# Built at run time, so that the repository scan above does not find them in this file.
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"  # AWS's documentation example, 40 characters
EXAMPLE_KEYS = ["AS" + "IAZ2QXJ7EXAMPLE123", "AK" + "IAIOSFODNN7EXAMPLE"]


@pytest.mark.parametrize(
    "text, found",
    [
        ("aws_secret_access_key: " + EXAMPLE_SECRET, True),
        ('"SecretAccessKey": "%s"' % EXAMPLE_SECRET, True),
        ('secret_key: \'{{ lookup("env", "AWS_SECRET_ACCESS_KEY") }}\'', False),
        ("secret_access_key: sandbox/management/secret/key/do-not-use-elsewhere", False),
    ],
)
def test_the_secret_scan_finds_literal_secrets(text, found):
    assert bool(SECRET_ASSIGNMENT_RE.search(text)) is found


def test_the_key_scan_tells_fake_keys_from_real_ones():
    keys = KEY_ID_RE.findall("AKIASANDBOXMGMT00001 %s %s" % tuple(EXAMPLE_KEYS))
    assert [k for k in keys if not FAKE_KEY_RE.match(k)] == EXAMPLE_KEYS


def test_the_template_finder_and_the_task_walker_work():
    assert any(p.name == "reader-role.yml" for p in cloudformation_templates())
    play = [{"hosts": "x", "tasks": [{"name": "a", "block": [{"name": "b", "x.y": {"secret_key": "v"}}]}]}]
    assert [t["name"] for t in _tasks(play)] == ["b"]
    assert fnmatch.fnmatch("roles/execution_roles/files/admin-role.yml", "roles/*/files/*-role.yml")
