"""Linting many files in one run (runbook_lint paths): files, directories and globs, one entry per file sorted by
path, summed counts, and files that are not runbooks reported in their own entry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils import runbook

REPO = Path(__file__).resolve().parents[5]
SEED = REPO / "roles/check_os/files/check-os.yml"
INJECTION = """schemaVersion: '0.3'
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


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "a/deep").mkdir(parents=True)
    shutil.copy(SEED, tmp_path / "a/seed.yml")
    (tmp_path / "a/deep/bad.yaml").write_text(INJECTION)
    (tmp_path / "a/deep/command.json").write_text('{"schemaVersion": "2.2", "mainSteps": []}')
    (tmp_path / "a/deep/broken.yml").write_text("schemaVersion: '0.3'\nmainSteps: [\n")
    (tmp_path / "a/notes.txt").write_text("not a runbook")
    return tmp_path


def test_directory_is_searched_recursively_for_runbook_suffixes(tree):
    files, counts = runbook.lint_paths([str(tree / "a")])
    names = [Path(f["path"]).relative_to(tree).as_posix() for f in files]
    assert names == ["a/deep/bad.yaml", "a/deep/broken.yml", "a/deep/command.json", "a/seed.yml"]
    by_name = dict(zip(names, files, strict=True))
    assert [f["rule"] for f in by_name["a/deep/bad.yaml"]["findings"] if f["severity"] == "error"] == [
        "safety.command-injection"
    ]
    assert [f["rule"] for f in by_name["a/deep/command.json"]["findings"]] == ["file.not-automation"]
    assert [f["rule"] for f in by_name["a/deep/broken.yml"]["findings"]] == ["file.unreadable"]
    assert all(
        f["severity"] == "info" for n in ("a/deep/command.json", "a/deep/broken.yml") for f in by_name[n]["findings"]
    )
    assert counts == {sev: sum(f["counts"][sev] for f in files) for sev in ("error", "warning", "info")}
    assert counts["error"] == 1


def test_globs_and_files_are_reported_as_given_once_each(tree, monkeypatch):
    monkeypatch.chdir(tree)
    files, _counts = runbook.lint_paths(["a/**/*.yaml", "a/seed.yml", "a/*.yml", "a/deep/bad.yaml"])
    assert [f["path"] for f in files] == ["a/deep/bad.yaml", "a/seed.yml"]


def test_waivers_apply_to_every_file(tree):
    files, counts = runbook.lint_paths([str(tree / "a/deep/bad.yaml")], waivers=["Message"])
    assert counts["error"] == 0
    assert [f["rule"] for f in files[0]["findings"] if f["severity"] == "info"] == ["safety.command-injection"]


@pytest.mark.parametrize(
    ("paths", "field", "text"),
    [
        (["nowhere.yml"], "paths[0]", "does not exist"),
        (["a/seed.yml", "a/**/*.nothing"], "paths[1]", "matches nothing"),
        ([], "paths", "non-empty list"),
        (["a/seed.yml", ""], "paths[1]", "accepted"),
    ],
)
def test_entries_that_name_nothing_are_refused_by_field(tree, monkeypatch, paths, field, text):
    monkeypatch.chdir(tree)
    with pytest.raises(runbook.InvalidInput) as e:
        runbook.lint_paths(paths)
    assert e.value.field == field and text in e.value.message
