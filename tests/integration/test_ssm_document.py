"""ssm_document, ssm_document_info and runbook_lint, run for real through ansible-playbook against the sandbox.

Write calls are counted in the sandbox's request log: a run that finds nothing to change must make none. Every test
uses its own document name, so tests stay independent on the session's sandbox.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import yaml
from support.ansible_run import run_module, run_playbook

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "roles/check_os/files/check-os.yml"
IMPROVED = REPO / "roles/check_os/files/check-os-improved.yml"
MODULE = "orgops.ssm_automation.ssm_document"


def doc_name(prefix="check-os"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def write(tmp_path, text, suffix=".yml"):
    path = tmp_path / ("runbook-%s%s" % (uuid.uuid4().hex[:6], suffix))
    path.write_text(text)
    return str(path)


def ssm_writes(sandbox, since):
    return [r for r in sandbox.write_calls(since) if r["service"] == "ssm"]


def test_same_runbook_twice_is_one_version_and_no_write(sandbox, tmp_path):
    name = doc_name()
    first = run_module(tmp_path, MODULE, {"name": name, "content_path": str(SEED)}, env=sandbox.env)
    assert first["changed"] and not first.get("failed"), first
    assert first["document"]["document_version"] == "1" and first["document"]["default_version"] == "1"
    assert first["actions"] == ["create_document"]
    seq = sandbox.last_seq()
    second = run_module(tmp_path, MODULE, {"name": name, "content_path": str(SEED)}, env=sandbox.env)
    assert second["changed"] is False and second["actions"] == []
    assert ssm_writes(sandbox, seq) == []
    reads = [r["action"] for r in sandbox.requests(seq) if r["service"] == "ssm"]
    assert reads == ["DescribeDocument", "GetDocument"]
    assert second["document"]["latest_version"] == "1"
    stored = sandbox.client("ssm").get_document(Name=name, DocumentFormat="YAML")
    assert stored["Content"] == SEED.read_text(), "a YAML file is uploaded verbatim"


def test_changed_command_makes_version_2_default_and_diff_shows_the_line(sandbox, tmp_path):
    name = doc_name()
    run_module(tmp_path, MODULE, {"name": name, "content_path": str(SEED)}, env=sandbox.env)
    changed = write(tmp_path, SEED.read_text().replace("chronyc sources", "chronyc tracking"))
    seq = sandbox.last_seq()
    result = run_module(tmp_path, MODULE, {"name": name, "content_path": changed}, env=sandbox.env, diff=True)
    assert result["changed"] and result["actions"] == ["update_document", "update_default_version"]
    assert (result["document"]["document_version"], result["document"]["default_version"]) == ("2", "2")
    assert [r["action"] for r in ssm_writes(sandbox, seq)] == ["UpdateDocument", "UpdateDocumentDefaultVersion"]
    desc = sandbox.client("ssm").describe_document(Name=name)["Document"]
    assert (desc["DefaultVersion"], desc["LatestVersion"]) == ("2", "2")
    # the unified diff Ansible prints in diff mode: one line out, one line in
    out = result["_stdout"]
    minus = [line for line in out.splitlines() if re.match(r"^-\s+- if .*chronyc", line)]
    plus = [line for line in out.splitlines() if re.match(r"^\+\s+- if .*chronyc", line)]
    assert len(minus) == 1 and "chronyc sources" in minus[0], out
    assert len(plus) == 1 and "chronyc tracking" in plus[0], out


def test_json_and_key_order_are_no_change(sandbox, tmp_path):
    name = doc_name()
    run_module(tmp_path, MODULE, {"name": name, "content_path": str(SEED)}, env=sandbox.env)
    doc = yaml.safe_load(SEED.read_text())
    reordered = json.dumps(dict(reversed(list(doc.items()))), indent=1)
    seq = sandbox.last_seq()
    for params in (
        {"name": name, "content_path": write(tmp_path, reordered, ".json")},
        {"name": name, "content_path": write(tmp_path, reordered, ".json"), "document_format": "JSON"},
    ):
        result = run_module(tmp_path, MODULE, params, env=sandbox.env)
        assert result["changed"] is False, result
    assert ssm_writes(sandbox, seq) == []


def test_check_mode_writes_nothing_but_says_what_it_would_do(sandbox, tmp_path):
    name = doc_name()
    seq = sandbox.last_seq()
    result = run_module(
        tmp_path, MODULE, {"name": name, "content_path": str(SEED)}, env=sandbox.env, check=True, diff=True
    )
    assert result["changed"] and result["actions"] == ["create_document"]
    assert result["document"]["document_version"] == "1"
    assert "+    action: aws:runCommand" in result["_stdout"]
    assert ssm_writes(sandbox, seq) == []
    info = run_module(tmp_path, "orgops.ssm_automation.ssm_document_info", {"name": name}, env=sandbox.env)
    assert info["exists"] is False and info["documents"] == []


def test_set_default_version_false_then_promote(sandbox, tmp_path):
    name = doc_name()
    run_module(tmp_path, MODULE, {"name": name, "content_path": str(SEED)}, env=sandbox.env)
    improved = {"name": name, "content_path": str(IMPROVED)}
    staged = run_module(tmp_path, MODULE, dict(improved, set_default_version=False), env=sandbox.env)
    assert staged["actions"] == ["update_document"]
    assert (staged["document"]["default_version"], staged["document"]["latest_version"]) == ("1", "2")
    seq = sandbox.last_seq()
    promoted = run_module(tmp_path, MODULE, improved, env=sandbox.env)
    assert promoted["actions"] == ["update_default_version"]
    assert [r["action"] for r in ssm_writes(sandbox, seq)] == ["UpdateDocumentDefaultVersion"]
    info = run_module(tmp_path, "orgops.ssm_automation.ssm_document_info", {"name": name}, env=sandbox.env)
    assert info["document"]["document_version"] == "2"
    assert info["document"]["content"]["mainSteps"][0]["name"] == "GetPlatform"
    assert info["document"]["content_hash"] == promoted["document"]["content_hash"]
    assert [f for f in info["document"]["lint"] if f["severity"] == "error"] == []


def test_tags_sharing_and_delete(sandbox, tmp_path):
    name = doc_name()
    params = {
        "name": name,
        "content_path": str(SEED),
        "tags": {"owner": "platform"},
        "shared_with_accounts": ["222233334444"],
    }
    created = run_module(tmp_path, MODULE, params, env=sandbox.env)
    assert created["document"]["tags"] == {"owner": "platform"}
    assert created["document"]["shared_with_accounts"] == ["222233334444"]
    seq = sandbox.last_seq()
    assert run_module(tmp_path, MODULE, params, env=sandbox.env)["changed"] is False
    assert ssm_writes(sandbox, seq) == []
    gone = run_module(tmp_path, MODULE, {"name": name, "state": "absent"}, env=sandbox.env)
    assert gone["changed"] and gone["actions"] == ["unshare_document", "delete_document"]
    again = run_module(tmp_path, MODULE, {"name": name, "state": "absent"}, env=sandbox.env)
    assert again["changed"] is False


BAD_INPUT = [
    ({"name": "AWS-CheckOS"}, "name: 'AWS-CheckOS' starts with 'AWS', a prefix AWS reserves"),
    ({"name": "amzn-check"}, "a prefix AWS reserves"),
    ({"name": "check os"}, "accepted: 3-128 characters from [a-zA-Z0-9_.-]"),
    ({"shared_with_accounts": ["12345"]}, "shared_with_accounts[0]: '12345' is not a 12-digit AWS account id"),
    ({"content_path": "/nonexistent/runbook.yml"}, "content_path: cannot read /nonexistent/runbook.yml"),
    ({"version_name": "v 1"}, "version_name: 'v 1'; accepted: 1-128 characters"),
    ({"document_format": "TEXT"}, "value of document_format must be one of: YAML, JSON"),
]


def run_many(tmp_path, module, params_list, env):
    """Run the module once per params in one playbook (one ansible-playbook start) and return every result."""
    out = tmp_path / "results.json"
    tasks = [
        {"name": "case %d" % i, module: params, "register": "r%d" % i, "ignore_errors": True}
        for i, params in enumerate(params_list)
    ]
    dump = "{{ [%s] | to_json }}" % ", ".join("r%d" % i for i in range(len(params_list)))
    tasks.append({"name": "dump", "ansible.builtin.copy": {"content": dump, "dest": str(out), "mode": "0600"}})
    pb = tmp_path / "many.yml"
    pb.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], sort_keys=False))
    run = run_playbook(pb, env=env)
    assert out.exists(), run.stdout + run.stderr
    return json.loads(out.read_text())


def test_bad_input_fails_before_any_call(sandbox, tmp_path):
    cases = []
    for params, _says in BAD_INPUT:
        base = {"name": doc_name(), "content_path": str(SEED)}
        base.update(params)
        cases.append(base)
    seq = sandbox.last_seq()
    results = run_many(tmp_path, MODULE, cases, sandbox.env)
    for (_params, says), result in zip(BAD_INPUT, results, strict=True):
        assert result.get("failed") and says in result["msg"], result["msg"]
    assert sandbox.requests(seq) == [], "no AWS call at all"


def test_lint_errors_and_invalid_yaml_fail_before_any_call(sandbox, tmp_path):
    injection = write(
        tmp_path,
        yaml.safe_dump(
            {
                "schemaVersion": "0.3",
                "parameters": {"Message": {"type": "String"}, "InstanceId": {"type": "String"}},
                "mainSteps": [
                    {
                        "name": "Echo",
                        "action": "aws:runCommand",
                        "timeoutSeconds": 30,
                        "inputs": {
                            "DocumentName": "AWS-RunShellScript",
                            "InstanceIds": ["{{ InstanceId }}"],
                            "Parameters": {"commands": ["echo {{ Message }}"]},
                        },
                    }
                ],
            }
        ),
    )
    seq = sandbox.last_seq()
    result = run_module(tmp_path, MODULE, {"name": doc_name(), "content_path": injection}, env=sandbox.env)
    assert (
        result.get("failed")
        and "safety.command-injection at mainSteps[0].inputs.Parameters.commands[0] (step Echo)" in result["msg"]
    )
    assert [f["rule"] for f in result["lint"] if f["severity"] == "error"] == ["safety.command-injection"]
    broken = write(tmp_path, "schemaVersion: '0.3'\nmainSteps: [\n")
    result = run_module(tmp_path, MODULE, {"name": doc_name(), "content_path": broken}, env=sandbox.env)
    assert result.get("failed") and "content_path:" in result["msg"] and "not valid YAML" in result["msg"]
    too_big = write(tmp_path, SEED.read_text() + "# " + "x" * 70000 + "\n")
    result = run_module(tmp_path, MODULE, {"name": doc_name(), "content_path": too_big}, env=sandbox.env)
    assert result.get("failed") and "64 KB" in result["msg"]
    assert sandbox.requests(seq) == []
    waived = run_module(
        tmp_path, MODULE, {"name": doc_name(), "content_path": injection, "lint_waivers": ["Message"]}, env=sandbox.env
    )
    assert waived["changed"] and [f["severity"] for f in waived["lint"] if f["rule"] == "safety.command-injection"] == [
        "info"
    ]


def test_runbook_lint_module_needs_no_aws(tmp_path):
    ok = run_module(tmp_path, "orgops.ssm_automation.runbook_lint", {"content_path": str(SEED)})
    assert not ok.get("failed") and ok["counts"] == {"error": 0, "warning": 0, "info": 1}
    rendered = run_module(
        tmp_path,
        "orgops.ssm_automation.runbook_lint",
        {
            "name": "x",
            "checks": [
                {"name": "Update", "linux": "yum check-update", "windows": "Get-HotFix", "ok_exit_codes": [0, 100]}
            ],
        },
    )
    assert rendered["counts"]["error"] == 0 and rendered["content"]["mainSteps"][0]["name"] == "GetPlatform"
    assert "ChoosePlatform" in rendered["content_yaml"]
    warn = write(tmp_path, SEED.read_text().replace("    timeoutSeconds: 10\n", "", 1))
    failed = run_module(tmp_path, "orgops.ssm_automation.runbook_lint", {"content_path": warn, "fail_on": "warning"})
    assert failed.get("failed") and "operability.no-timeout" in failed["msg"]
