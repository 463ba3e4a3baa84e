"""runbook_lint with paths, run for real through ansible-playbook: a whole directory of runbooks in one task."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.ansible_run import run_module

REPO = Path(__file__).resolve().parents[2]
MODULE = "orgops.ssm_automation.runbook_lint"
BAD = """schemaVersion: '0.3'
parameters:
  Message: {type: String}
mainSteps:
  - name: Echo
    action: aws:runCommand
    timeoutSeconds: 60
    inputs:
      DocumentName: AWS-RunShellScript
      InstanceIds: [i-0123456789abcdef0]
      Parameters: {commands: ['echo {{ Message }}']}
"""


def _repo_of_runbooks(tmp_path):
    root = tmp_path / "runbooks"
    shutil.copytree(REPO / "tests/corpus/samples", root / "samples")
    shutil.copy(REPO / "roles/check_os/files/check-os.yml", root / "check-os.yml")
    (root / "team").mkdir()
    (root / "team/echo.yml").write_text(BAD)
    return root


def test_paths_lints_every_file_and_fails_on_the_summed_counts(tmp_path):
    root = _repo_of_runbooks(tmp_path)
    failed = run_module(tmp_path, MODULE, {"paths": [str(root)]})
    assert failed.get("failed")
    paths = [f["path"] for f in failed["files"]]
    assert paths == sorted(paths) and len(paths) == 5
    assert str(root / "team/echo.yml") in failed["msg"] and "safety.command-injection" in failed["msg"]
    assert failed["counts"] == {s: sum(f["counts"][s] for f in failed["files"]) for s in ("error", "warning", "info")}
    by_path = {Path(f["path"]).name: f for f in failed["files"]}
    assert [x["rule"] for x in by_path["aws-samples-install-sql-developer.json"]["findings"]] == ["file.not-automation"]

    waived = run_module(
        tmp_path, MODULE, {"paths": [str(root / "**/*.yml"), str(root / "samples")], "waivers": ["Message"]}
    )
    assert not waived.get("failed") and waived["counts"]["error"] == 0 and waived["changed"] is False
    assert len(waived["files"]) == 5


def test_paths_excludes_content_and_names_a_missing_entry(tmp_path):
    both = run_module(tmp_path, MODULE, {"paths": ["x"], "content_path": "y"})
    assert both.get("failed") and "mutually exclusive" in both["msg"]
    missing = run_module(tmp_path, MODULE, {"paths": [str(tmp_path / "nowhere")]})
    assert missing.get("failed") and missing["field"] == "paths[0]" and "does not exist" in missing["msg"]
