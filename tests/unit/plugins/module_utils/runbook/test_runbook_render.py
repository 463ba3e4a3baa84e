"""render_checks: runbooks rendered from a list of checks, run for real under dash and bash, and kept in sync with
roles/check_os/files/check-os-improved.yml."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.orgops.ssm_automation.plugins.module_utils import runbook
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

REPO = Path(__file__).resolve().parents[5]
FILES = REPO / "roles/check_os/files"
SHELLS = [s for s in ("dash", "bash") if shutil.which(s)]


def _spec():
    return yaml.safe_load((FILES / "check-os-improved.checks.yml").read_text())


def _render(checks, cross_platform=True, require_online=True):
    return runbook.render_checks("test", checks, cross_platform=cross_platform, require_online=require_online)


def _step(doc, name):
    return next(s for s in doc["mainSteps"] if s["name"] == name)


def _script(step, param, value):
    return "\n".join(step["inputs"]["Parameters"]["commands"]).replace("{{ %s }}" % param, value)


def test_shipped_improved_runbook_is_the_rendering_of_its_check_list():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import render_runbooks
    finally:
        sys.path.remove(str(REPO / "scripts"))
    assert render_runbooks.main(["--check"]) == 0, "run: .venv/bin/python scripts/render_runbooks.py"
    spec = _spec()
    shipped = runbook.parse_content((FILES / "check-os-improved.yml").read_text())
    rendered = runbook.render_checks(spec["name"], spec["checks"], spec["cross_platform"], spec["description"])
    assert runbook.content_hash(shipped) == runbook.content_hash(rendered)


def test_seed_runbook_is_untouched():
    # sha256 of the seed's check-os.yml (../shared/seed/check-os.yml), shipped verbatim
    data = (FILES / "check-os.yml").read_bytes()
    assert hashlib.sha256(data).hexdigest() == "b89b1810d39c143e59e3c04ee95523136289c44bccc81d34c42973f8305716a4"


def test_improved_runbook_keeps_the_seed_parameters_and_outputs():
    seed = runbook.parse_content((FILES / "check-os.yml").read_text())
    improved = runbook.parse_content((FILES / "check-os-improved.yml").read_text())
    assert set(seed["parameters"]) == set(improved["parameters"])
    for name, spec in seed["parameters"].items():
        if name.startswith("Check"):
            assert improved["parameters"][name]["allowedValues"] == spec["allowedValues"] == ["check", "skip"]
            assert improved["parameters"][name]["default"] == "check"
    seed_outputs = {(s["name"], o["Name"]) for s in seed["mainSteps"] for o in s["outputs"]}
    improved_outputs = {(s["name"], o["Name"]) for s in improved["mainSteps"] for o in s.get("outputs", [])}
    assert seed_outputs <= improved_outputs, "Linux steps keep the seed's step and output names"
    assert runbook.errors(runbook.lint(improved)) == []
    assert [f for f in runbook.lint(improved) if f["severity"] == "warning"] == []


def test_cross_platform_structure():
    doc = _render(
        [
            {"name": "Hostname", "linux": "hostname", "windows": "hostname", "timeout": 10},
            {"name": "Update", "linux": "yum check-update", "ok_exit_codes": [0, 100]},
            {"name": "NTP", "linux": "chronyc sources", "windows": "w32tm /query /status", "on_failure": "Continue"},
        ]
    )
    names = [s["name"] for s in doc["mainSteps"]]
    assert names == [
        "GetPlatform",
        "AssertOnline",
        "ChoosePlatform",
        "CheckHostname",
        "CheckUpdate",
        "CheckNTP",
        "CheckHostnameWindows",
        "CheckNTPWindows",
    ]
    get = _step(doc, "GetPlatform")
    assert (get["action"], get["inputs"]["Service"], get["inputs"]["Api"]) == (
        "aws:executeAwsApi",
        "ssm",
        "DescribeInstanceInformation",
    )
    assert get["outputs"][0]["Selector"] == "$.InstanceInformationList[0].PlatformType"
    assert get["nextStep"] == "AssertOnline"
    online = _step(doc, "AssertOnline")
    assert (online["action"], online["inputs"]["Api"], online["onFailure"], online["nextStep"]) == (
        "aws:assertAwsResourceProperty",
        "DescribeInstanceInformation",
        "Abort",
        "ChoosePlatform",
    )
    assert online["inputs"]["PropertySelector"] == "$.InstanceInformationList[0].PingStatus"
    assert online["inputs"]["DesiredValues"] == ["Online"]
    assert online["inputs"]["Filters"] == [{"Key": "InstanceIds", "Values": ["{{ InstanceId }}"]}]
    branch = _step(doc, "ChoosePlatform")["inputs"]
    assert branch["Choices"] == [
        {"NextStep": "CheckHostnameWindows", "Variable": "{{ GetPlatform.PlatformType }}", "StringEquals": "Windows"}
    ]
    assert branch["Default"] == "CheckHostname"
    # chains: Linux then Windows, each ends with isEnd
    assert _step(doc, "CheckHostname")["nextStep"] == "CheckUpdate"
    assert _step(doc, "CheckNTP")["isEnd"] is True and "nextStep" not in _step(doc, "CheckNTP")
    assert _step(doc, "CheckHostnameWindows")["nextStep"] == "CheckNTPWindows"
    assert _step(doc, "CheckNTPWindows")["isEnd"] is True
    for step in doc["mainSteps"][3:]:
        assert len(step["outputs"]) == 1 and step["outputs"][0]["Selector"] == "$.Output"
        if step["name"].endswith("Windows"):
            assert step["inputs"]["DocumentName"] == "AWS-RunPowerShellScript"
            assert step["inputs"]["Parameters"]["commands"][0] == "chcp 65001"
        else:
            assert step["inputs"]["DocumentName"] == "AWS-RunShellScript"
    assert _step(doc, "CheckHostname")["timeoutSeconds"] == 10
    assert _step(doc, "CheckUpdate")["timeoutSeconds"] == runbook.DEFAULT_TIMEOUT
    assert _step(doc, "CheckNTP")["onFailure"] == "Continue" and _step(doc, "CheckUpdate")["onFailure"] == "Abort"
    assert set(doc["parameters"]) == {"AutomationAssumeRole", "InstanceId", "CheckHostname", "CheckUpdate", "CheckNTP"}
    assert runbook.errors(runbook.lint(doc)) == []


def test_linux_only_rendering_has_no_branch():
    doc = _render([{"name": "Hostname", "linux": "hostname", "windows": "hostname"}], cross_platform=False)
    assert [s["name"] for s in doc["mainSteps"]] == ["AssertOnline", "CheckHostname"]
    assert _step(doc, "AssertOnline")["nextStep"] == "CheckHostname"
    assert [f for f in runbook.lint(doc) if f["severity"] != "info"] == []


def test_require_online_false_renders_no_gate():
    checks = [{"name": "Hostname", "linux": "hostname", "windows": "hostname"}]
    doc = _render(checks, cross_platform=False, require_online=False)
    assert [s["name"] for s in doc["mainSteps"]] == ["CheckHostname"]
    doc = _render(checks, require_online=False)
    assert [s["name"] for s in doc["mainSteps"]] == [
        "GetPlatform",
        "ChoosePlatform",
        "CheckHostname",
        "CheckHostnameWindows",
    ]
    assert _step(doc, "GetPlatform")["nextStep"] == "ChoosePlatform"
    assert runbook.errors(runbook.lint(doc)) == []


def test_only_check_skip_parameters_reach_the_commands():
    doc = runbook.parse_content((FILES / "check-os-improved.yml").read_text())
    for step in doc["mainSteps"]:
        for line in step.get("inputs", {}).get("Parameters", {}).get("commands", []):
            for ref in runbook.REF_RE.findall(line):
                assert doc["parameters"][ref]["allowedValues"] == ["check", "skip"]


@pytest.mark.skipif(not SHELLS, reason="needs dash or bash")
@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("codes", "command", "value", "rc", "says"),
    [
        ([0, 100], "echo pkg-1.2; exit 100", "check", 0, "[exit code 100 accepted: ok_exit_codes 0 100]"),
        ([0, 100], "echo none; exit 0", "check", 0, "none"),
        ([0, 100], "echo broken >&2; exit 1", "check", 1, ""),
        ([0, 100], "exit 100", "skip", 0, "Skipping Update check"),
        ([0], "exit 100", "check", 100, ""),
        ([0], "echo ran", "skip", 0, "Skipping Update check"),
        ([1], "exit 0", "check", 1, "[exit code 0 is not in ok_exit_codes 1]"),
        ([1], "exit 1", "check", 0, "[exit code 1 accepted: ok_exit_codes 1]"),
    ],
)
def test_linux_commands_run_for_real(shell, codes, command, value, rc, says, tmp_path):
    # the user's command runs in a child shell so that its own `exit` behaves like a program's exit code
    stub = tmp_path / "check.sh"
    stub.write_text(command + "\n")
    doc = _render([{"name": "Update", "linux": "sh %s" % stub, "ok_exit_codes": codes}], cross_platform=False)
    script = _script(_step(doc, "CheckUpdate"), "CheckUpdate", value)
    proc = subprocess.run([shell, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == rc, (script, proc.stdout, proc.stderr)
    assert says in proc.stdout
    if value == "skip":
        assert "pkg" not in proc.stdout and "ran" not in proc.stdout


def test_windows_commands_handle_extra_ok_codes():
    doc = _render(
        [{"name": "Update", "linux": "yum check-update", "windows": "Install-Check", "ok_exit_codes": [0, 100]}]
    )
    lines = _step(doc, "CheckUpdateWindows")["inputs"]["Parameters"]["commands"]
    assert lines[0] == "chcp 65001"
    assert lines[1] == "if ('{{ CheckUpdate }}' -eq 'check') {"
    assert "Install-Check" in lines
    assert any("$LASTEXITCODE -eq 100" in line and "exit 0" in line for line in lines)
    assert lines[-3:] == ["} else {", "Write-Output 'Skipping Update check'", "}"]


@pytest.mark.parametrize(
    ("checks", "field", "says"),
    [
        ([], "runbook_checks", "non-empty list"),
        ([{"name": "host name", "linux": "hostname"}], "runbook_checks[0].name", "not a check name"),
        ([{"name": "A", "linux": "x"}, {"name": "A", "linux": "y"}], "runbook_checks[1].name", "unique"),
        ([{"name": "A"}], "runbook_checks[0].linux", "is missing"),
        ([{"name": "A", "linux": "x", "timeout": 0}], "runbook_checks[0].timeout", "from 1 to 172800"),
        ([{"name": "A", "linux": "x", "on_failure": "step:X"}], "runbook_checks[0].on_failure", "Abort or Continue"),
        ([{"name": "A", "linux": "x", "ok_exit_codes": [0, 300]}], "runbook_checks[0].ok_exit_codes", "integers 0-255"),
        (
            [{"name": "A", "linux": "x", "ok_exit_codes": ["0; reboot"]}],
            "runbook_checks[0].ok_exit_codes",
            "integers 0-255",
        ),
        ([{"name": "A", "linux": "x", "label": "a'; reboot"}], "runbook_checks[0].label", "letters, digits"),
        ([{"name": "A", "linux": "x", "shell": "bash"}], "runbook_checks[0].shell", "not a check field"),
        ([{"name": "A", "linux": "x"}], "runbook_checks", "no check has a windows command"),
    ],
)
def test_bad_check_lists(checks, field, says):
    with pytest.raises(InvalidInput) as e:
        _render(checks)
    assert e.value.field == field
    assert says in e.value.message


# Stub package managers for the shipped Update check: each prints what it is and exits as the real one does.
APT_LISTING = (
    "Listing...\nopenssl/jammy-updates,jammy-security 3.0.2-0ubuntu1.18 amd64 [upgradable from: 3.0.2-0ubuntu1.17]\n"
)
APT_WARNING = "WARNING: apt does not have a stable CLI interface. Use with caution in scripts."
PACKAGE_MANAGERS = {
    # yum/dnf check-update: 100 and the list when updates are pending
    "yum": 'echo "yum $*"; echo "kernel.x86_64  6.1.119  amazonlinux"; exit 100',
    "dnf": 'echo "dnf $*"; exit 100',
    # apt: the script warning on stderr unless switched off, exit 0 with or without upgrades
    "apt": (
        'case "$*" in *Disable-Script-Warning=true*) ;; *) printf "\\n%s\\n\\n" "' + APT_WARNING + '" >&2;; esac\n'
        "printf '%s' '" + APT_LISTING + "'"
    ),
    # apt failing: its error status is 100, the same number as yum's "updates pending"
    "apt-broken": 'echo "E: The package cache file is corrupted" >&2; exit 100',
}


@pytest.mark.skipif(not SHELLS, reason="needs dash or bash")
@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("installed", "rc", "says", "not_says", "err_says"),
    [
        (["yum"], 0, ["yum check-update", "[exit code 100 accepted: ok_exit_codes 0 100]"], [], ""),
        (["yum", "dnf", "apt"], 0, ["yum check-update"], ["dnf ", "Listing"], ""),  # yum first
        (["dnf"], 0, ["dnf check-update", "[exit code 100 accepted"], ["yum"], ""),  # dnf-only host
        (["apt"], 0, ["Listing...", "[upgradable from: 3.0.2-0ubuntu1.17]"], ["accepted"], ""),
        (["apt-broken"], 1, [], ["accepted"], "apt failed with exit code 100"),  # not mistaken for a result
        ([], 1, [], ["accepted"], "no yum, dnf or apt on this host: pending updates not checked"),
    ],
)
def test_shipped_update_check_picks_the_package_manager(shell, installed, rc, says, not_says, err_says, tmp_path):
    # PATH holds only the stubs: command, [, echo, printf and false are builtins of both dash and bash
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in installed:
        stub = bindir / name.split("-")[0]
        stub.write_text("#!%s\n%s\n" % (shutil.which(shell), PACKAGE_MANAGERS[name]))
        stub.chmod(0o755)
    doc = runbook.parse_content((FILES / "check-os-improved.yml").read_text())
    script = _script(_step(doc, "CheckUpdate"), "CheckUpdate", "check")
    proc = subprocess.run(
        [shutil.which(shell), "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": str(bindir)},
    )
    assert proc.returncode == rc, (proc.stdout, proc.stderr)
    for text in says:
        assert text in proc.stdout, (text, proc.stdout)
    for text in not_says:
        assert text not in proc.stdout, (text, proc.stdout)
    assert err_says in proc.stderr
    assert APT_WARNING not in proc.stderr + proc.stdout
    assert "not found" not in proc.stderr  # command -v looked quietly
