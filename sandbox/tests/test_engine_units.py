"""Unit tests of the engine's pure parts: the shell interpreters, OS profiles, runbook parameters/substitution/
selectors/branch choices, request and response shape checks, and the scaled scheduler. No server needed."""

from __future__ import annotations

import json
import threading
import time

import pytest

from sandbox import fidelity, paging
from sandbox.engine import runbook as rb
from sandbox.engine.clock import Scheduler, VirtualClock
from sandbox.engine.errors import AwsError, StepFailure
from sandbox.engine.profiles import BUILTIN, Facts, build_profiles, garble, run_spec
from sandbox.engine.shell import run_bash, run_powershell
from sandbox.engine.testkit import CHECK_OS

PROGRAMS = {
    "hostname": ("ip-10-0-1-5.ec2.internal\n", "", 0, 0.5),
    "yum check-update": ("kernel.x86_64  6.1\n", "", 100, 2.0),
    "cat /etc/os-release": ('NAME="Amazon Linux"\nVERSION="2023"\n', "", 0, 0.1),
}


def programs(text, _stdin):
    return PROGRAMS.get(text)


# -- bash ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("script", "stdout", "code"),
    [
        (
            'if [[ "check" == "check" ]]; then hostname; else echo "Skipping hostname check"; fi',
            "ip-10-0-1-5.ec2.internal\n",
            0,
        ),
        (
            'if [[ "skip" == "check" ]]; then hostname; else echo "Skipping hostname check"; fi',
            "Skipping hostname check\n",
            0,
        ),
        (
            'if [[ "check" == "check" ]]; then yum check-update; else echo "Skipping update check"; fi',
            "kernel.x86_64  6.1\n",
            100,
        ),
        ("yum check-update || echo rc=$?; exit 0", "kernel.x86_64  6.1\nrc=100\n", 0),
        ("echo a && false || echo b", "a\nb\n", 0),
        ('X=hi; echo "$X ${X}" \'$X\' "\\$X"', "hi hi $X $X\n", 0),
        ("echo $(hostname) | cut -d. -f1", "ip-10-0-1-5\n", 0),
        ("cat /etc/os-release | grep -i version | wc -l", "1\n", 0),
        ("for i in 1 2 3; do echo n$i; done | tail -n 2", "n2\nn3\n", 0),
        ('[ -z "" ] && [ 3 -gt 2 ] && echo ok', "ok\n", 0),
        ('[[ "abc" == a* ]] && echo glob', "glob\n", 0),
        ("echo one\necho two\nexit 7\necho never", "one\ntwo\n", 7),
        ("printf '%s-%s\\n' a b", "a-b\n", 0),
        ("false\n", "", 1),
    ],
)
def test_bash_control_flow(script, stdout, code):
    out = run_bash(script, programs, "/x/_script.sh")
    assert (out.stdout, out.exit_code) == (stdout, code)


def test_bash_unknown_command_127_and_errexit():
    out = run_bash("nosuch --flag\necho after", programs, "/x/_script.sh")
    assert out.stdout == "after\n" and out.exit_code == 0
    assert out.stderr == "/x/_script.sh: line 1: nosuch: command not found\n"
    out = run_bash("set -e\nnosuch\necho never", programs, "/x/_script.sh")
    assert (out.stdout, out.exit_code) == ("", 127)


def test_bash_delay_adds_up_and_syntax_errors_are_reported():
    assert run_bash("hostname; sleep 3; yum check-update", programs).delay == pytest.approx(5.5)
    out = run_bash('if [[ "a" == "b" ]]; then echo x', programs, "/x/_script.sh")
    assert out.exit_code == 2 and "syntax error" in out.stderr
    out = run_bash("while true; do echo; done", programs, "/x/_script.sh")
    assert out.exit_code == 2 and "not supported by the sandbox" in out.stderr


# -- PowerShell ------------------------------------------------------------------------------------------------------
def test_powershell_if_else_and_not_found():
    def win(text, _stdin):
        return {"hostname": ("EC2AMAZ-1\r\n", "", 0, 0.5)}.get(text)

    out = run_powershell('if ("check" -eq "CHECK") { hostname } else { Write-Output "Skipping" }', win)
    assert (out.stdout, out.exit_code) == ("EC2AMAZ-1\r\n", 0)
    out = run_powershell('if ("skip" -eq "check") { hostname }\nelseif ($true) { Write-Output "second" }', win)
    assert out.stdout == "second\n"
    out = run_powershell("nosuchprogram\nWrite-Output after", win, "C:\\x\\_script.ps1")
    assert out.exit_code == 0 and out.stdout == "after\n"  # not found, and PowerShell carries on (outside try)
    assert "The term 'nosuchprogram' is not recognized" in out.stderr and "CommandNotFoundException" in out.stderr
    out = run_powershell("Get-Nothing\nexit 0", win, "C:\\x\\_script.ps1")  # a cmdlet form: exists on Windows
    assert out.exit_code == 1 and "not supported by the sandbox: Get-Nothing" in out.stderr
    assert run_powershell("exit 4", win).exit_code == 4


# -- profiles -------------------------------------------------------------------------------------------------------
def facts(platform="Linux", region="ap-northeast-1"):
    return Facts("i-0123456789abcdef0", "111122223333", region, "web", platform, 1_700_000_000.0)


def test_builtin_profiles_answer_realistically():
    al, upd, ubuntu = BUILTIN["amazon-linux-2023"], BUILTIN["amazon-linux-2023-updates"], BUILTIN["ubuntu-22.04"]
    f = facts()
    assert run_spec(al.find("yum check-update"), f, al)[2] == 0
    out, _, code, _ = run_spec(upd.find("yum check-update"), f, upd)
    assert code == 100 and "kernel.x86_64" in out
    assert run_spec(upd.find("hostname"), f, upd)[0] == f"{f.hostname}\n"  # inherited from the base profile
    assert f.hostname.startswith("ip-10-") and f.hostname.endswith(".ap-northeast-1.compute.internal")
    assert ubuntu.find("yum check-update") is None  # no yum on Ubuntu: command not found
    assert "Time zone: n/a (UTC, +0000)" in run_spec(al.find("timedatectl status"), f, al)[0]
    assert "169.254.169.123" in run_spec(al.find("chronyc sources"), f, al)[0]


def test_windows_output_is_garbled_until_chcp_65001():
    win = BUILTIN["windows-server-2022"]
    f = facts("Windows")
    garbled = run_spec(win.find("Get-WinSystemLocale"), f, win)[0]
    assert "日本語" not in garbled and "\ufffd" in garbled
    run_spec(win.find("chcp 65001"), f, win)
    assert "日本語 (日本)" in run_spec(win.find("Get-WinSystemLocale"), f, win)[0]
    assert garble("hostname", "cp932") == "hostname"


def test_world_profiles_extend_and_override():
    profiles = build_profiles(
        {
            "patched": {
                "extends": "amazon-linux-2023-updates",
                "commands": [{"match": "yum check-update", "stdout": "", "exit_code": 0}],
            },
            "custom": {
                "platform": "Linux",
                "commands": [{"match": "app --version", "stdout": "app ${instance_id}\n", "delay": 2}],
            },
        }
    )
    f = facts()
    assert run_spec(profiles["patched"].find("yum check-update"), f, profiles["patched"])[2] == 0
    assert profiles["patched"].find("hostname") is not None
    assert run_spec(profiles["custom"].find("app --version"), f, profiles["custom"]) == (
        "app i-0123456789abcdef0\n",
        "",
        0,
        2.0,
    )


# -- runbooks -------------------------------------------------------------------------------------------------------
def test_seed_runbook_parameters():
    book = rb.parse(CHECK_OS.read_text())
    assert [s.name for s in book.steps] == ["CheckHostname", "CheckTimezone", "CheckLocale", "CheckUpdate", "CheckNTP"]
    typed, api = rb.resolve_parameters(
        book, {"AutomationAssumeRole": ["arn:aws:iam::111122223333:role/R"]}, exempt={"InstanceId"}
    )
    assert typed["CheckHostname"] == "check" and api["CheckNTP"] == ["check"]
    for params, fragment in [
        ({"AutomationAssumeRole": ["r"], "Nope": ["x"]}, "Nope"),
        ({}, "AutomationAssumeRole"),
        ({"AutomationAssumeRole": ["r"], "CheckUpdate": ["maybe"]}, '"maybe" not in {check, skip}'),
    ]:
        with pytest.raises(AwsError) as err:
            rb.resolve_parameters(book, params, exempt={"InstanceId"})
        assert err.value.code == "InvalidAutomationExecutionParametersException"
        assert fragment in err.value.message


def test_parameter_types_and_patterns():
    book = rb.parse(
        {
            "schemaVersion": "0.3",
            "parameters": {
                "N": {"type": "Integer"},
                "B": {"type": "Boolean", "default": False},
                "L": {"type": "StringList", "default": ["a"]},
                "M": {"type": "MapList", "default": [{"k": 1}]},
                "S": {"type": "StringMap", "default": {"x": "y"}},
                "P": {"type": "String", "allowedPattern": "^[a-z]+$", "default": "abc"},
            },
            "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}],
        }
    )
    typed, api = rb.resolve_parameters(book, {"N": ["5"], "B": ["true"], "M": ['{"k": 2}']})
    assert typed == {"N": 5, "B": True, "L": ["a"], "M": [{"k": 2}], "S": {"x": "y"}, "P": "abc"}
    assert api["S"] == ['{"x": "y"}'] and api["B"] == ["true"]
    for bad in ({"N": ["five"]}, {"N": ["1"], "B": ["yes"]}, {"N": ["1"], "P": ["ABC"]}, {"N": ["1"], "M": ["[1]"]}):
        with pytest.raises(AwsError):
            rb.resolve_parameters(book, bad)


def test_substitution_variables_and_selectors():
    ctx = rb.Context({"Id": "i-1", "Cmds": ["a", "b"]}, "exec-1", "111122223333", "eu-west-1", lambda: 0.0)
    ctx.step_outputs["Get.Platform"] = "Linux"
    assert ctx.substitute("{{ Id }}") == "i-1"
    assert ctx.substitute(["{{ Cmds }}", "c"]) == ["a", "b", "c"]  # a whole-string list reference splices
    assert (
        ctx.substitute("{{automation:EXECUTION_ID}}/{{ global:ACCOUNT_ID }}/{{global:REGION}}")
        == "exec-1/111122223333/eu-west-1"
    )
    assert ctx.substitute("{{ global:DATE }}") == "1970-01-01"
    assert ctx.substitute("{{ Get.Platform }} {{ Unknown }}") == "Linux {{ Unknown }}"
    doc = {"A": [{"B": {"C": 1}}, {"B": {"C": 2}}], "Status": "Success"}
    assert rb.select(doc, "$.A[1].B.C") == (True, 2)
    assert rb.select(doc, "$.A[*].B.C") == (True, [1, 2])
    assert rb.select(doc, "$.Status") == (True, "Success")
    assert rb.select(doc, "$.Missing") == (False, None)
    assert rb.convert_output([1, 2], "StringList", "x") == ["1", "2"]
    with pytest.raises(StepFailure):
        rb.convert_output("abc", "Integer", "x")


def test_branch_operators():
    ctx = rb.Context({"P": "Windows", "N": 5, "T": True}, "e", "1", "r", lambda: 0.0)
    assert rb.evaluate_choice({"Variable": "{{ P }}", "StringEquals": "Windows"}, ctx)
    assert rb.evaluate_choice({"Variable": "{{ P }}", "EqualsIgnoreCase": "windows"}, ctx)
    assert rb.evaluate_choice({"Variable": "{{ P }}", "StartsWith": "Win"}, ctx)
    assert rb.evaluate_choice({"Variable": "{{ N }}", "NumericGreaterOrEquals": 5}, ctx)
    assert rb.evaluate_choice({"Variable": "{{ T }}", "BooleanEquals": True}, ctx)
    assert rb.evaluate_choice(
        {"And": [{"Variable": "{{ N }}", "NumericLesser": 9}, {"Not": {"Variable": "{{ P }}", "Contains": "Lin"}}]}, ctx
    )
    assert not rb.evaluate_choice(
        {"Or": [{"Variable": "{{ P }}", "EndsWith": "x"}, {"Variable": "{{ N }}", "NumericEquals": 4}]}, ctx
    )
    assert rb.iso_duration("PT1H2M3S") == 3723 and rb.iso_duration("P1D") == 86400
    with pytest.raises(StepFailure):
        rb.iso_duration("10 minutes")


# -- request and response shapes (sandbox.fidelity, as the engine uses it) --------------------------------------------
def test_request_validation_uses_the_coral_format():
    problems = fidelity.validate_input(
        "ssm",
        "StartAutomationExecution",
        {"DocumentName": "doc", "MaxConcurrency": "0", "TargetLocations": [{"Accounts": ["1"] * 51}]},
    )
    message = fidelity.validation_message(problems)
    assert message.startswith("2 validation errors detected: ")
    assert (
        "Value '0' at 'maxConcurrency' failed to satisfy constraint: Member must satisfy regular expression pattern"
        in message
    )
    assert (
        "at 'targetLocations.1.member.accounts' failed to satisfy constraint: Member must have length less than or equal to 50"
        in message
    )
    assert fidelity.validate_input("ssm", "GetAutomationExecution", {}) == [
        "Value null at 'automationExecutionId' failed to satisfy constraint: Member must not be null"
    ]
    assert fidelity.validation_message(["x"]) == "1 validation error detected: x"
    assert (
        fidelity.validate_input(
            "ssm",
            "StartAutomationExecution",
            {"DocumentName": "check-os", "Targets": [{"Key": "tag:ssm-automation", "Values": ["true"]}]},
        )
        == []
    )
    problems = fidelity.validate_input(
        "ssm",
        "StartAutomationExecution",
        {"DocumentName": "check-os", "Mode": "Fast", "Targets": [None], "Parameters": {"P": None}, "MaxConcurrency": 5},
    )
    assert (
        "Value 'Fast' at 'mode' failed to satisfy constraint: Member must satisfy enum value set: [Auto, Interactive]"
        in problems
    )
    assert "Value null at 'targets.1.member' failed to satisfy constraint: Member must not be null" in problems
    assert "Value '5' at 'maxConcurrency' failed to satisfy constraint: Member must be a string" in problems
    assert len(problems) == 3  # a null map value is let through


def test_output_shape_check_finds_real_problems():
    ok = {
        "AutomationExecution": {
            "AutomationExecutionId": "x" * 36,
            "ExecutionStartTime": 1.5,
            "AutomationExecutionStatus": "Success",
            "StepExecutions": [],
        }
    }
    assert fidelity.validate_output("ssm", "GetAutomationExecution", json.dumps(ok)) == []
    bad = {"AutomationExecution": {"ExecutionStartTime": "2024-01-01", "AutomationExecutionStatus": "Done", "Extra": 1}}
    problems = fidelity.validate_output("ssm", "GetAutomationExecution", json.dumps(bad))
    assert any("Extra: not a member" in p for p in problems)
    assert any("epoch seconds" in p for p in problems)
    assert any("'Done' is not one of" in p for p in problems)


# -- clock ------------------------------------------------------------------------------------------------------------
def test_scheduler_runs_events_in_virtual_order_at_their_virtual_time():
    clock = VirtualClock(time_scale=0.001, start=1000.0)
    sched = Scheduler(clock, blocking_workers=1, name="test-sched")
    seen = []
    done = threading.Event()
    try:
        base = sched.now()
        sched.call_at(base + 10, lambda: (seen.append(("timeout", sched.now())), done.set()))
        sched.call_at(base + 1, lambda: seen.append(("complete", sched.now())))
        cancelled = sched.call_at(base + 5, lambda: seen.append(("cancelled", sched.now())))
        cancelled.cancel()
        sched.call_soon(lambda: sched.call_later(2, lambda: seen.append(("later", sched.now()))))
        assert done.wait(5)
    finally:
        sched.stop()
    assert [name for name, _ in seen] == ["complete", "later", "timeout"]
    assert seen[0][1] == base + 1 and seen[2][1] == base + 10  # events see their own due time
    assert seen[1][1] == pytest.approx(base + 2, abs=0.5)


def test_virtual_clock_runs_faster_by_the_scale():
    clock = VirtualClock(time_scale=0.01)
    t0, w0 = clock.now(), time.monotonic()
    deadline = w0 + 0.05
    while time.monotonic() < deadline:
        pass  # busy-wait 50 ms of wall time: no sleep needed for a measurement this short
    assert clock.now() - t0 >= 4.9  # 50 ms of wall time is >= 5 virtual seconds
    with pytest.raises(ValueError):
        VirtualClock(time_scale=0)


# -- paging (every Describe*/List* handler) ---------------------------------------------------------------------------
def test_pages_follow_their_token_and_filters():
    pool = list(range(10))
    odd = [lambda n: n % 2 == 1]
    first, token = paging.page(pool, odd, {"MaxResults": 2}, "dae")
    assert first == [1, 3] and token
    second, token = paging.page(pool, odd, {"MaxResults": 2, "NextToken": token}, "dae")
    assert second == [5, 7] and token
    last, token = paging.page(pool, odd, {"MaxResults": 2, "NextToken": token}, "dae")
    assert last == [9] and token is None
    assert paging.page(pool, [], {}, None) == (pool, None)  # 50 by default
    assert paging.listing("Commands", [1], None) == {"Commands": [1]}
    assert paging.listing("Commands", [1], "t") == {"Commands": [1], "NextToken": "t"}


def test_a_token_of_another_listing_or_garbage_is_invalid():
    _, dae = paging.page(list(range(3)), [], {"MaxResults": 1}, "dae")
    for params, kind in (({"NextToken": dae}, "dase"), ({"NextToken": "garbage"}, "dae"), ({"NextToken": "x"}, None)):
        with pytest.raises(AwsError) as err:
            paging.page([1, 2], [], params, kind)
        assert err.value.code == "InvalidNextToken"
    _, untyped = paging.page(list(range(3)), [], {"MaxResults": 1})
    assert paging.page(list(range(3)), [], {"NextToken": untyped}) == ([1, 2], None)


def test_start_time_filters_are_exclusive_and_skip_what_has_not_started():
    before = paging.start_time_filter("StartTimeBefore", ["1970-01-01T00:01:40Z", "200"], lambda n: n)
    after = paging.start_time_filter("StartTimeAfter", ["100", "1970-01-01T00:00:50"], lambda n: n)
    assert [n for n in (None, 99.5, 100, 101) if before(n)] == [99.5]
    assert [n for n in (None, 99.5, 100, 101) if after(n)] == [101]
    with pytest.raises(AwsError) as err:
        paging.start_time_filter("StartTimeAfter", ["yesterday"], lambda n: n)
    assert err.value.code == "InvalidFilterValue" and "yesterday" in err.value.message
    assert paging.parse_time("1970-01-01T00:00:10+01:00") == -3590.0
