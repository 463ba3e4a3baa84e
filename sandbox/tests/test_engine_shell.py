"""The emulated instance shell (sandbox/engine/shell.py): redirections and the ``command`` builtin.

Where it can, a case runs the same script under the real bash of this machine (with stub programs on a private
PATH) and under the emulator, and wants the same stdout, stderr and exit code: the emulator is meant to be bash."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from sandbox.engine.shell import run_bash

# stub programs: command line -> (stdout, stderr, exit code); each writes its stdout first, then its stderr
STUBS = {
    "prog": ("out\n", "err\n", 3),
    "quiet": ("", "", 0),
    "yum check-update": ("pkg.x86_64  1.2  repo\n", "", 100),
}
PATHS = {"prog": "/usr/bin/prog", "quiet": "/usr/bin/quiet", "yum": "/usr/bin/yum"}


def runner(text, _stdin):
    hit = STUBS.get(text)
    return None if hit is None else (*hit, 0.0)


def which(name):
    return PATHS.get(name) or (name if name in PATHS.values() else None)


def emulate(script, path="/x/_script.sh", which_fn=which):
    return run_bash(script, runner, path, which=which_fn)


BASH = shutil.which("bash")


@pytest.fixture
def real_bash(tmp_path):
    """Runs a script file under the real bash with only the stubs (and the interpreter's own utilities) on PATH.

    Paths in its output are reported as the emulator's: the stub directory as /usr/bin, the script as the agent's."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in {key.split()[0] for key in STUBS}:
        lines = ["#!/bin/sh", 'case "$*" in']
        for key, (out, err, code) in STUBS.items():
            if key.split()[0] == name:
                args = " ".join(key.split()[1:])
                lines.append(f"  \"{args}\") printf '{out}'; printf '{err}' >&2; exit {code};;".replace("\n", "\\n"))
        lines += ["esac", "exit 99"]
        (bindir / name).write_text("\n".join(lines) + "\n")
        (bindir / name).chmod(0o755)
    for util in ("cat", "grep", "head", "tail", "wc", "sort", "uniq", "cut", "sleep"):
        (bindir / util).symlink_to(shutil.which(util))

    def run(script):
        path = tmp_path / "_script.sh"
        path.write_text(script + "\n")
        proc = subprocess.run(
            [BASH, str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            cwd=tmp_path,
            env={"PATH": str(bindir), "LC_ALL": "C"},
        )

        def local(text):
            return text.replace(str(path), "/x/_script.sh").replace(str(bindir), "/usr/bin")

        return local(proc.stdout), local(proc.stderr), proc.returncode

    return run


SAME_AS_BASH = [
    # bash's left-to-right order: >/dev/null 2>&1 silences both; 2>&1 >/dev/null sends stderr to the old stdout
    "prog >/dev/null 2>&1; echo rc=$?",
    "prog 2>&1 >/dev/null; echo rc=$?",
    "prog 2>&1 >/dev/null | cat",
    "prog 2>&1 | cat",
    "prog 2>/dev/null | cat",
    "prog 1>/dev/null",
    "prog >/dev/null",
    "prog &>/dev/null; echo rc=$?",
    "prog >&/dev/null; echo rc=$?",
    "echo to-stderr >&2",
    "echo to-stderr 1>&2 | cat",
    "echo x 2>&1 1>&2",
    "prog 2>&1 1>&2 | cat",
    # builtins and compound commands take redirections too
    "{ echo a; echo b >&2; } 2>&1 >/dev/null",
    "{ echo a; prog; } >/dev/null 2>&1; echo rc=$?",
    "if true; then echo inside; prog; fi 2>/dev/null",
    "for i in 1 2; do echo n$i; done >/dev/null; echo after",
    "( echo sub; echo sub-err >&2 ) 2>&1 | grep -c sub",
    # files: written, appended, read back within the script
    "echo one > f.txt; echo two >> f.txt; cat f.txt; wc -l < f.txt",
    "prog > both.txt 2>&1; cat both.txt",
    "prog &> both.txt; prog &>> both.txt; cat both.txt",
    "echo a >/dev/stderr",
    "prog 2>/dev/stdout | cat",
    "cat < /dev/null; echo rc=$?",
    "echo x > f.txt; [ -e f.txt ] && [ -s f.txt ] && echo exists",
    ">empty.txt; [ -e empty.txt ] && ! [ -s empty.txt ] && echo empty",
    # errors: the command does not run, status 1
    "cat < missing.txt; echo rc=$?",
    "X=; echo hi > $X; echo rc=$?",
    "echo hi 2>&5; echo rc=$?",
    # the redirection word may stand anywhere among the words; an IO number needs no gap
    ">/dev/null echo hidden; echo shown",
    "echo a2>/dev/null",
    "echo 2>/dev/null b",
    # [[ ]] keeps < and > as comparisons
    "[[ b > a ]] && echo gt; [[ a < b ]] && echo lt",
    # the command builtin
    "command -v prog; echo rc=$?",
    "command -v nosuch; echo rc=$?",
    "command -v nosuch prog; echo rc=$?",
    "command -v echo; command -v if; command -v cat; command -v [",
    "command -V prog echo if nosuch; echo rc=$?",
    "command prog; echo rc=$?",
    "command echo via-command",
    "command nosuch; echo rc=$?",
    "command; echo rc=$?",
    "command -x prog; echo rc=$?",
    "if command -v yum >/dev/null 2>&1; then yum check-update; elif command -v apt >/dev/null 2>&1; then "
    "apt list --upgradable; else echo none; false; fi; echo rc=$?",
    "if command -v apt >/dev/null 2>&1; then echo apt; else echo 'no apt' >&2; false; fi; echo rc=$?",
]


@pytest.mark.skipif(BASH is None, reason="needs bash")
@pytest.mark.parametrize("script", SAME_AS_BASH)
def test_redirections_and_command_match_real_bash(script, real_bash):
    want = real_bash(script)
    got = emulate(script)
    assert (got.stdout, got.stderr, got.exit_code) == want, script


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_real_bash_stubs_are_the_emulators_programs(real_bash):
    # the stubs must behave as the emulator's programs, or the comparison above proves nothing
    assert real_bash("prog; echo rc=$?") == ("out\nrc=3\n", "err\n", 0)
    assert real_bash("yum check-update; echo rc=$?") == ("pkg.x86_64  1.2  repo\nrc=100\n", "", 0)
    assert real_bash("command -v prog") == ("/usr/bin/prog\n", "", 0)


@pytest.mark.parametrize(
    ("script", "stdout", "stderr", "code"),
    [
        ("prog >/dev/null 2>&1", "", "", 3),
        ("prog 2>&1 >/dev/null", "err\n", "", 3),
        ("prog 2>&1", "out\nerr\n", "", 3),  # merged: the program's stdout first, then its stderr
        ("prog >/dev/null", "", "err\n", 3),
        ("prog 2>/dev/null", "out\n", "", 3),
        ("echo hi >&2", "", "hi\n", 0),
        ("command -v prog", "/usr/bin/prog\n", "", 0),
        ("command -v apt", "", "", 1),
        ("command -v /usr/bin/prog", "/usr/bin/prog\n", "", 0),
        ("command -v /opt/prog", "", "", 1),
        ("command -v echo if cat", "echo\nif\n/usr/bin/cat\n", "", 0),
        ("command yum check-update", "pkg.x86_64  1.2  repo\n", "", 100),
    ],
)
def test_redirections_and_command(script, stdout, stderr, code):
    out = emulate(script)
    assert (out.stdout, out.stderr, out.exit_code) == (stdout, stderr, code)


def test_command_v_knows_only_what_the_profile_has():
    # no which: only keywords, builtins and the interpreter's own utilities are found
    out = run_bash("command -v yum || echo none; command -v grep", runner, "/x/_script.sh")
    assert out.stdout == "none\n/usr/bin/grep\n"
    # a program the runner happens to answer is not "found" unless the profile lists it
    out = run_bash("command -v prog; echo rc=$?", runner, "/x/_script.sh", which=lambda name: None)
    assert out.stdout == "rc=1\n"


def test_files_live_for_one_script_only():
    first = emulate("echo kept > /srv/app/state; cat /srv/app/state")
    assert first.stdout == "kept\n"
    second = emulate("cat < /srv/app/state; echo rc=$?")
    assert second.stdout == "rc=1\n" and "/srv/app/state: No such file or directory" in second.stderr


def test_command_substitution_sees_the_files_and_keeps_its_stderr_apart():
    out = emulate('echo v > f; X=$(cat f; prog) 2>/dev/null; echo "[$X]"')
    # the assignment's redirection does not apply to the substitution's stderr, as in bash
    assert out.stdout == "[v\nout]\n" and out.stderr == "err\n"


def test_errexit_applies_to_redirected_commands():
    out = emulate("set -e\nprog >/dev/null 2>&1\necho never")
    assert (out.stdout, out.exit_code) == ("", 3)


def test_exit_inside_a_redirected_group_keeps_its_output_routed():
    out = emulate("{ echo before; exit 4; } >&2\necho never")
    assert (out.stdout, out.stderr, out.exit_code) == ("", "before\n", 4)


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("echo x 3>f", "not supported by the sandbox: redirecting file descriptor 3"),
        ("cat <<EOF\nx\nEOF", "not supported by the sandbox: `<<' (here-document)"),
        ("cat <<< word", "not supported by the sandbox: `<<<' (here-string)"),
        ("echo x <> f", "not supported by the sandbox: `<>' (read-write open)"),
        ("echo x >&-", "not supported by the sandbox: closing a file descriptor (>&-)"),
        ("echo x >", "syntax error near unexpected token `newline'"),
        ("echo x > ; echo y", "syntax error near unexpected token `;'"),
        ("echo x 2>&0", "not supported by the sandbox: `2>&0'"),
    ],
)
def test_unsupported_redirections_are_syntax_errors_never_skipped(script, says):
    out = emulate(script)
    assert out.exit_code == 2 and says in out.stderr and out.stdout == ""


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("echo `hostname`", "`...` command substitution"),
        ("echo $((1 + 2))", "$((...)) arithmetic expansion"),
        ('echo "${X:-default}"', "${...} parameter expansion"),
        ("echo $1", "positional and special parameters"),
        ("ls /var/log/*.log", "pathname expansion (globbing): /var/log/*.log"),
        ("echo {a,b}", "brace expansion"),
        ("cat ~/.bashrc", "tilde expansion"),
        ("read line", "the bash builtin read"),
        ("local x=1", "the bash builtin local"),
        ("source /etc/profile", "the bash builtin source"),
        ("yum list installed", "yum list installed (the OS profile has yum but no answer for this command line)"),
        ("while true; do echo; done", "`while'"),
    ],
)
def test_constructs_the_emulator_does_not_run_fail_the_command(script, says):
    """Never a false Success: what the emulator cannot run faithfully fails the script, even without set -e and
    with commands after it."""
    out = emulate(script + "\necho carried-on\nexit 0")
    assert out.exit_code != 0 and f"not supported by the sandbox: {says}" in out.stderr, out
    assert "carried-on" not in out.stdout


def test_patterns_inside_double_brackets_and_absolute_program_paths_still_run():
    assert emulate('[[ "abc" == a* ]] && echo yes').stdout == "yes\n"
    assert emulate("/usr/bin/prog").stdout == "out\n"  # the profile's program by its path
