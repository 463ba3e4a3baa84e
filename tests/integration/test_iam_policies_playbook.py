"""The whole check_os playbook passes as a principal whose only policies are exactly the documented ones
(plugins/module_utils/policies/<phase>.json, shown in docs/permissions.md), and the harvest runs as exactly the
results-reader role of the templates; without any one action the run fails clearly.

The sandbox judges an IAM user's policies on every call, for the action and the resource ARN
(sandbox/iam_enforcement.py), and its request log records what each call was judged on. Removing actions is checked
without a playbook run per action: the recorded calls of the passing run are judged again against the policies
minus each action. One real removal per phase then shows the failure a user sees.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.ansible_run import run_playbook

from sandbox import iam_enforcement
from sandbox.testing import SandboxHandle
from sandbox.world import DEMO_WORLD

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "check_os.yml"
INVENTORY = REPO / "inventories" / "sandbox"
POLICIES = REPO / "plugins" / "module_utils" / "policies"
PHASES = ("roles", "runbook", "run", "report")
USER = "orgops-runner"
READER = "AWS-SystemsManager-AutomationResultsReaderRole"
RECAP_RE = re.compile(r"^localhost\s+:\s+ok=\d+\s+changed=\d+\s+unreachable=\d+\s+failed=(\d+)", re.M)


def policy(phase: str, mgmt: str) -> dict:
    return json.loads((POLICIES / f"{phase}.json").read_text().replace("MANAGEMENT_ACCOUNT_ID", mgmt))


def actions(doc: dict) -> list[str]:
    out = []
    for stmt in doc["Statement"]:
        acts = stmt["Action"]
        out += [acts] if isinstance(acts, str) else acts
    return out


def without(doc: dict, action: str) -> dict:
    out = json.loads(json.dumps(doc))
    for stmt in out["Statement"]:
        acts = [stmt["Action"]] if isinstance(stmt["Action"], str) else stmt["Action"]
        stmt["Action"] = [a for a in acts if a != action]
    out["Statement"] = [s for s in out["Statement"] if s["Action"]]
    return out


def failed(stdout: str) -> int:
    m = RECAP_RE.search(stdout)
    assert m, f"no play recap in:\n{stdout[-3000:]}"
    return int(m.group(1))


@pytest.fixture(scope="module")
def restricted(tmp_path_factory):
    """A private demo-world sandbox, an IAM user with exactly the four phase policies (customer managed, attached),
    and one full check_os run with that user's access keys."""
    workdir = tmp_path_factory.mktemp("iam-policies")
    handle = SandboxHandle(DEMO_WORLD, name="iam-policies", workdir=workdir)
    handle.start()
    try:
        mgmt = handle.world.management_account_id
        iam = handle.client("iam")
        iam.create_user(UserName=USER)
        arns = {}
        for phase in PHASES:
            arns[phase] = iam.create_policy(
                PolicyName=f"orgops-ssm-automation-{phase}", PolicyDocument=json.dumps(policy(phase, mgmt))
            )["Policy"]["Arn"]
            iam.attach_user_policy(UserName=USER, PolicyArn=arns[phase])
        key = iam.create_access_key(UserName=USER)["AccessKey"]
        env = {
            **handle.env,
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "ORGOPS_REPORT_DIR": str(workdir / "reports"),
        }
        seq = handle.last_seq()
        run = run_playbook(PLAYBOOK, env=env, args=["-i", str(INVENTORY)], timeout=900)
        calls = handle.requests(seq)
        yield {"sandbox": handle, "run": run, "calls": calls, "env": env, "arns": arns, "mgmt": mgmt}
    finally:
        handle.stop()


def _user_calls(restricted) -> list[dict]:
    arn = f"arn:aws:iam::{restricted['mgmt']}:user/{USER}"
    return [c for c in restricted["calls"] if c["principal"] == arn]


def test_the_whole_playbook_passes_under_exactly_the_documented_policies(restricted):
    run = restricted["run"]
    assert run.rc == 0 and failed(run.stdout) == 0, run.stdout[-4000:]
    calls = _user_calls(restricted)
    denied = [c for c in calls if c["error_code"] in ("AccessDenied", "AccessDeniedException")]
    assert calls and not denied, sorted(
        {(c["service"], c["action"], c["account"], str(c.get("resources"))) for c in denied}
    )
    # the user really was the caller of every phase: each phase's policy allowed at least one of its calls
    mgmt = restricted["mgmt"]
    for phase in PHASES:
        doc = policy(phase, mgmt)
        used = [c for c in calls if c["resources"] and _allowed(c, [(phase, doc)])]
        assert used, f"no recorded call was allowed by the {phase} policy"


def test_the_harvest_runs_as_exactly_the_reader_role(restricted):
    sb = restricted["sandbox"]
    reads = [c for c in restricted["calls"] if f":assumed-role/{READER}/" in c["principal"]]
    accounts = {c["account"] for c in reads}
    members = set(sb.world.member_account_ids)
    assert accounts == members, f"the reader role read {sorted(accounts)}, the targets are {sorted(members)}"
    assert all(c["status"] == 200 for c in reads), [c for c in reads if c["status"] != 200]
    # exactly the template's role: its inline policy only, nothing attached (what the sandbox judged it by)
    template = (REPO / "roles" / "execution_roles" / "files" / "reader-role.yml").read_text()
    for account in sorted(members):
        iam = sb.client("iam", account=account)
        assert not iam.list_attached_role_policies(RoleName=READER)["AttachedPolicies"]
        names = iam.list_role_policies(RoleName=READER)["PolicyNames"]
        assert names and all(name in template for name in names), names


def _allowed(call: dict, policies: list[tuple[str, dict]]) -> bool:
    context = {"aws:principalaccount": call["account"], "aws:requestedregion": call["region"]}
    for action, arns in call["resources"]:
        ctx = {**context, "iam:passedtoservice": f"{call['service']}.amazonaws.com"}
        if not iam_enforcement.evaluate(policies, action, arns, ctx).allowed:
            return False
    return True


def test_without_any_one_exercised_action_a_recorded_call_is_denied(restricted):
    """The recorded calls of the passing run, judged again against the four policies minus each action: every
    action the run exercised is needed (its removal denies a call), and the untouched ones are the conditional
    actions the documentation names (change sets in --check, tags, shares, purges, a first deployment)."""
    mgmt = restricted["mgmt"]
    docs = {phase: policy(phase, mgmt) for phase in PHASES}
    calls = [c for c in _user_calls(restricted) if c["resources"]]
    everything = list(docs.items())
    assert all(_allowed(c, everything) for c in calls)
    exercised, untouched = set(), set()
    for phase, doc in docs.items():
        for action in actions(doc):
            reduced = [(p, without(d, action)) for p, d in docs.items()]
            if any(not _allowed(c, reduced) for c in calls):
                exercised.add(action)
            else:
                untouched.add(action)
        assert exercised & set(actions(doc)), f"the run exercised nothing of the {phase} policy"
    for action in exercised:
        assert any(a == action for c in calls for a, _arns in c["resources"]), action
    permissions = (REPO / "docs" / "permissions.md").read_text()
    undocumented = [a for a in sorted(untouched) if f"`{a}`" not in permissions]
    assert not undocumented, undocumented


# One real removal per phase: the phase fails, and says which action on which resource was denied.
REMOVALS = [
    ("roles", "cloudformation:DescribeStackSet", ["--tags", "roles"]),
    ("runbook", "ssm:DescribeDocument", ["--tags", "runbook"]),
    ("run", "ssm:StartAutomationExecution", ["--tags", "run", "-e", "check_os_idempotency_key=removal"]),
    ("report", "sts:AssumeRole", ["--tags", "report", "-e", "check_os_idempotency_key=removal-report"]),
]


@pytest.mark.parametrize(("phase", "action", "args"), REMOVALS, ids=[r[0] for r in REMOVALS])
def test_one_real_removal_per_phase_fails_clearly(restricted, phase, action, args):
    sb = restricted["sandbox"]
    iam = sb.client("iam")
    arn = restricted["arns"][phase]
    reduced = without(policy(phase, restricted["mgmt"]), action)
    version = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(reduced), SetAsDefault=True)
    try:
        seq = sb.last_seq()
        run = run_playbook(PLAYBOOK, env=restricted["env"], args=["-i", str(INVENTORY), *args], timeout=900)
        denied = [
            c
            for c in sb.requests(seq)
            if c["error_code"] in ("AccessDenied", "AccessDeniedException") and c["action"] == action.split(":")[1]
        ]
        assert denied, f"no call was denied {action}"
        assert failed(run.stdout) >= 1 or run.rc != 0, run.stdout[-3000:]
        if phase == "report":
            # the play fails on its pass/fail policy ("12 locations unreadable"); each location's reason, with the
            # denied action, is in the report
            m = re.search(r"Automation ([0-9a-f-]{36})", run.stdout)
            assert m, run.stdout[-3000:]
            report = Path(restricted["env"]["ORGOPS_REPORT_DIR"]) / m.group(1) / "automation-report.json"
            assert action in report.read_text(), f"the report does not name {action}"
        else:
            assert action in run.stdout, f"the failure does not name {action}:\n{run.stdout[-3000:]}"
    finally:
        iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=json.dumps(policy(phase, restricted["mgmt"])), SetAsDefault=True
        )
        iam.delete_policy_version(PolicyArn=arn, VersionId=version["PolicyVersion"]["VersionId"])
