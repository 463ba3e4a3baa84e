"""OS profiles (sandbox/engine/profiles.py): which programs an instance has, Ubuntu's apt output, and the shipped
improved runbook's update check run through the emulated shell against every built-in Linux profile."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from sandbox.engine.profiles import BUILTIN, Facts, build_profiles, run_spec
from sandbox.engine.shell import run_bash, run_powershell
from sandbox.world import DEMO_WORLD, WorldError, load_world

REPO = Path(__file__).resolve().parents[2]
LINUX = ["amazon-linux-2023", "amazon-linux-2023-updates", "rhel-9", "ubuntu-22.04"]

# Command lines the built-in profiles answer: every pattern of every built-in profile must match one of these
# (test_every_pattern_has_a_sample), so that the program checks below cover all of them.
SAMPLES = [
    "hostname",
    "hostname -s",
    "hostname -I",
    "uptime",
    "date",
    "whoami",
    "id",
    "df -h",
    "chronyc sources",
    "chronyc tracking",
    "systemctl is-active chronyd",
    "localectl status",
    "sudo localectl",
    "timedatectl status",
    "cat /etc/os-release",
    "cat /etc/system-release",
    "cat /etc/redhat-release",
    "uname -r",
    "uname -a",
    "lsb_release -a",
    "yum check-update",
    "dnf check-update",
    "sudo yum -q check-update",
    "yum updateinfo list",
    "apt list --upgradable",
    "apt -o APT::Cmd::Disable-Script-Warning=true list --upgradable",
    "apt-get update",
    "apt update",
    "uname",
    "uname -m",
    "uname -n",
    "date -u",
    "date +%s",
    "date -u +%Y-%m-%dT%H:%M:%SZ",
    "nproc",
    "free -m",
    "ls /",
    "systemctl is-active amazon-ssm-agent",
    # Windows
    "chcp 65001",
    "chcp",
    "$env:COMPUTERNAME",
    "Get-TimeZone",
    "tzutil /g",
    "Get-WinSystemLocale",
    "Get-Culture",
    "w32tm /query /status",
    "w32tm /query /source",
    "Get-HotFix",
    "(Get-CimInstance Win32_OperatingSystem).Caption",
    "(New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher().Search('IsInstalled=0').Updates | % Title",
    "whoami",
    "$PSVersionTable.PSVersion.ToString()",
    "[Environment]::OSVersion.Version.ToString()",
    "Test-Path C:\\Windows",
    "Get-Date",
]
SHELL_UTILITIES = {"cat"}  # the emulated shell's own utilities (cat FILE goes to the profile for the file)


def facts(platform="Linux"):
    return Facts("i-0123456789abcdef0", "111122223333", "ap-northeast-1", "web-1", platform, 1_700_000_000.0)


def program_of(command: str) -> str:
    words = command.split()
    return words[1] if words[0] == "sudo" and len(words) > 1 else words[0]


def _chain(profile):
    while profile is not None:
        yield profile
        profile = profile.parent


def test_programs_are_explicit_and_inherited():
    al, upd, rhel, ubuntu = (BUILTIN[n] for n in LINUX)
    assert al.which("yum") == "/usr/bin/yum" and al.which("dnf") == "/usr/bin/dnf"
    assert upd.which("yum") == "/usr/bin/yum"  # from amazon-linux-2023
    assert rhel.which("dnf") == "/usr/bin/dnf"
    assert ubuntu.which("apt") == "/usr/bin/apt" and ubuntu.which("apt-get") == "/usr/bin/apt-get"
    assert ubuntu.which("yum") is None and ubuntu.which("dnf") is None
    assert al.which("apt") is None and rhel.which("apt-get") is None
    for name in LINUX:
        assert BUILTIN[name].which("hostname") == "/usr/bin/hostname"  # from linux-base
        assert BUILTIN[name].which("/usr/bin/timedatectl") == "/usr/bin/timedatectl"  # by path too
        assert BUILTIN[name].which("/usr/sbin/timedatectl") is None
    assert BUILTIN["windows-server-2022"].which("w32tm.exe") == "C:\\Windows\\system32\\w32tm.exe"
    assert BUILTIN["local-shell"].all_programs() == ()  # the real shell's PATH decides there


def test_every_pattern_has_a_sample():
    for profile in BUILTIN.values():
        for spec in profile.commands:
            assert any(spec.match.fullmatch(s) for s in SAMPLES), (profile.name, spec.match.pattern)


@pytest.mark.parametrize("name", LINUX)
def test_every_answered_linux_command_is_a_program_the_profile_has(name):
    profile = BUILTIN[name]
    answered = [s for s in SAMPLES if profile.find(s) is not None]
    for command in answered:
        program = program_of(command)
        assert program in SHELL_UTILITIES or profile.which(program), (name, command)
        if command.startswith("sudo "):
            assert profile.which("sudo"), (name, command)
    # and a program it lists without an answer for a command line fails the script, never "command not found"
    # (it exists on a real host): "not supported by the sandbox"
    for path in profile.all_programs():
        base = path.rsplit("/", 1)[-1]
        out = _run_linux(profile, f"{base} --sandbox-has-no-answer\necho carried-on")
        assert out.exit_code != 0 and "not supported by the sandbox" in out.stderr, (name, path, out)
        assert "carried-on" not in out.stdout


def _run_linux(profile, script):
    f = facts()

    def runner(text, _stdin):
        spec = profile.find(text)
        return None if spec is None else run_spec(spec, f, profile)

    return run_bash(script, runner, which=profile.which)


def test_every_windows_program_answers_or_is_refused():
    win = BUILTIN["windows-server-2022"]
    f = facts("Windows")

    def runner(text, _stdin):
        spec = win.find(text)
        return None if spec is None else run_spec(spec, f, win)

    for path in win.all_programs():
        base = path.rsplit("\\", 1)[-1].split(".")[0]
        out = run_powershell(f"{base} /sandbox-has-no-answer\nWrite-Output carried-on", runner, which=win.which)
        assert out.exit_code == 1 and "not supported by the sandbox" in out.stderr, (path, out)
        assert "carried-on" not in out.stdout


def test_common_programs_of_aws_owned_runbooks_are_on_every_linux_profile():
    for name in LINUX:
        for program in ("sed", "awk", "curl", "grep", "cat", "ls", "date", "uname", "mkdir", "tr", "timeout"):
            assert BUILTIN[name].which(program) or program in ("grep", "cat"), (name, program)


UPGRADABLE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z-]+(,[a-z-]+)* \S+ (amd64|arm64|all) \[upgradable from: \S+\]$")


def test_ubuntu_apt_list_upgradable_is_what_apt_prints_to_a_pipe():
    ubuntu = BUILTIN["ubuntu-22.04"]
    out, err, code, _ = run_spec(ubuntu.find("apt list --upgradable"), facts(), ubuntu)
    assert code == 0  # apt exits 0 with or without pending upgrades
    lines = out.splitlines()
    # stdout is not a terminal: quiet=1, so the progress line is "Listing..." without "... Done"
    assert lines[0] == "Listing..."
    assert len(lines) > 1, "the demo's Ubuntu hosts have pending updates"
    assert all(UPGRADABLE.match(line) for line in lines[1:]), lines
    assert [line.split("/")[0] for line in lines[1:]] == sorted(line.split("/")[0] for line in lines[1:])
    assert any(line.startswith("openssl/") for line in lines)
    # the script warning goes to stderr, not into the listing
    assert err == "\nWARNING: apt does not have a stable CLI interface. Use with caution in scripts.\n\n"
    quiet = ubuntu.find("apt -o APT::Cmd::Disable-Script-Warning=true list --upgradable")
    assert run_spec(quiet, facts(), ubuntu)[:3] == (out, "", 0)
    assert ubuntu.find("apt -o APT::Cmd::Disable-Script-Warning=false list --upgradable") is None


def test_world_profiles_add_programs_to_their_base():
    profiles = build_profiles(
        {
            "suse-ish": {"extends": "rhel-9", "programs": ["/usr/bin/zypper"]},
            "bare": {"platform": "Linux", "commands": [{"match": "app --version", "stdout": "1\n"}]},
            "orphan": {"extends": "no-such-profile", "programs": ["/opt/bin/tool"]},
        }
    )
    assert profiles["suse-ish"].which("zypper") == "/usr/bin/zypper"
    assert profiles["suse-ish"].which("yum") == "/usr/bin/yum"  # inherited from rhel-9
    assert profiles["bare"].all_programs() == ()  # nothing is guessed from its command patterns
    assert profiles["orphan"].which("tool") == "/opt/bin/tool"


def test_world_schema_accepts_programs_and_refuses_relative_paths():
    doc = yaml.safe_load(DEMO_WORLD.read_text())
    good = copy.deepcopy(doc)
    good["profiles"] = {**doc.get("profiles", {}), "suse-ish": {"extends": "rhel-9", "programs": ["/usr/bin/zypper"]}}
    assert load_world(good).profiles["suse-ish"]["programs"] == ["/usr/bin/zypper"]
    bad = copy.deepcopy(doc)
    bad["profiles"] = {**doc.get("profiles", {}), "suse-ish": {"extends": "rhel-9", "programs": ["zypper"]}}
    with pytest.raises(WorldError) as e:
        load_world(bad)
    assert "programs" in str(e.value)


# -- the improved runbook's Update check, through the emulated shell ------------------------------------------------
def update_check_script(value="check") -> str:
    doc = yaml.safe_load((REPO / "roles/check_os/files/check-os-improved.yml").read_text())
    step = next(s for s in doc["mainSteps"] if s["name"] == "CheckUpdate")
    return "\n".join(step["inputs"]["Parameters"]["commands"]).replace("{{ CheckUpdate }}", value)


def run_on(profile, script):
    f = facts(profile.platform)

    def runner(text, _stdin):
        spec = profile.find(text)
        return None if spec is None else run_spec(spec, f, profile)

    return run_bash(script, runner, "/var/lib/amazon/ssm/i-0123456789abcdef0/_script.sh", which=profile.which)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("amazon-linux-2023", ["Last metadata expiration check"]),
        ("amazon-linux-2023-updates", ["kernel.x86_64", "[exit code 100 accepted: ok_exit_codes 0 100]"]),
        ("rhel-9", ["Updating Subscription Management repositories."]),
        ("ubuntu-22.04", ["Listing...\n", "[upgradable from: "]),
    ],
)
def test_improved_update_check_succeeds_on_every_builtin_linux_profile(name, says):
    out = run_on(BUILTIN[name], update_check_script())
    assert out.exit_code == 0, (out.stdout, out.stderr)
    for text in says:
        assert text in out.stdout
    assert out.stderr == ""  # command -v looked quietly, and apt's script warning is off


def test_improved_update_check_fails_with_a_reason_on_a_host_without_a_package_manager():
    bare = build_profiles({"bare": {"platform": "Linux", "commands": [{"match": "hostname", "stdout": "h\n"}]}})
    out = run_on(bare["bare"], update_check_script())
    assert out.exit_code == 1
    assert out.stderr == "no yum, dnf or apt on this host: pending updates not checked\n"


def test_improved_update_check_on_a_dnf_only_host():
    dnf_only = build_profiles(
        {
            "dnf-only": {
                "platform": "Linux",
                "programs": ["/usr/bin/dnf"],
                "commands": [{"match": "dnf check-update", "stdout": "pkg.noarch 1 repo\n", "exit_code": 100}],
            }
        }
    )["dnf-only"]
    out = run_on(dnf_only, update_check_script())
    assert out.exit_code == 0 and "pkg.noarch" in out.stdout and "accepted" in out.stdout


def test_improved_update_check_reports_an_apt_failure_as_a_failure():
    # apt's error status is 100, yum's "updates pending" number: it must not be accepted as a result
    broken = build_profiles(
        {
            "broken-apt": {
                "extends": "ubuntu-22.04",
                "commands": [
                    {
                        "match": "apt -o APT::Cmd::Disable-Script-Warning=true list --upgradable",
                        "stderr": "E: The package cache file is corrupted\n",
                        "exit_code": 100,
                    }
                ],
            }
        }
    )["broken-apt"]
    out = run_on(broken, update_check_script())
    assert out.exit_code == 1 and "accepted" not in out.stdout
    assert out.stderr == "E: The package cache file is corrupted\napt failed with exit code 100\n"


def test_improved_update_check_skipped():
    out = run_on(BUILTIN["ubuntu-22.04"], update_check_script("skip"))
    assert (out.stdout, out.exit_code) == ("Skipping update check\n", 0)
