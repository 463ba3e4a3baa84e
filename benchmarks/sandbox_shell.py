"""Measure the two ways the sandbox can run an instance's Linux script (issue 16), and print the figures.

(b) the emulator, ``sandbox.engine.shell.run_bash``, on the OS profile's canned program outputs;
(a) a real ``bash --noprofile --norc`` with an empty environment, in a throwaway tmpfs directory, in its own network
    and mount namespaces (``unshare -n -m``; /tmp, /var/tmp, /dev/shm replaced by private tmpfs, so nothing is
    written outside), as ``nobody`` (``setpriv``), with a PATH holding only stub programs generated from the OS
    profile, each printing its canned output for this instance.

Both run the same scripts: the check_os runbook's commands (the scripts the demo runs on every instance).  The
figure that decides is the cost per command invocation, against the sandbox's budget of about 2 ms of CPU per instance
execution (docs/sandbox-engine.md, Performance), and whether a cache can avoid most runs: the stubs print
instance-specific facts (hostname, IP, the virtual time), so a cache per profile and script only holds when the script's
outcome does not depend on them.

    python benchmarks/sandbox_shell.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from sandbox.engine.profiles import BUILTIN, Facts, run_spec
from sandbox.engine.shell import run_bash
from sandbox.engine.testkit import CHECK_OS

SETUP = (
    "mount --make-rprivate / && mount -t tmpfs -o size=1m,mode=0755 tmpfs /var/tmp && "
    "mkdir /var/tmp/stubs && cp -a {stubs}/. /var/tmp/stubs/ && chmod 755 /var/tmp/stubs && "
    "for d in /tmp /dev/shm; do mount -t tmpfs -o size=8m,mode=1777 tmpfs $d; done && "
    "mkdir /tmp/work && chown 65534:65534 /tmp/work && cd /tmp/work && "
    "exec setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs "
    "env -i PATH=/var/tmp/stubs /bin/bash --noprofile --norc -c {script}"
)


def scripts() -> list[str]:
    doc = yaml.safe_load(CHECK_OS.read_text())
    found = []
    for step in doc["mainSteps"]:
        commands = ((step.get("inputs") or {}).get("Parameters") or {}).get("commands")
        if commands:
            found.append("\n".join(commands) if isinstance(commands, list) else str(commands))
    return [s.replace("{{", "").replace("}}", "") for s in found]


def make_stubs(directory: Path, profile, facts: Facts) -> None:
    """One stub per program the profile has: a bash script that answers each command line the profile knows with
    its canned output (rendered for this instance), and 127 otherwise."""
    for path in profile.all_programs():
        name = path.rsplit("/", 1)[-1]
        cases = []
        for probe in (name, f"{name} -s", f"{name} -I", f"{name} -r", f"{name} -a", f"{name} check-update"):
            spec = profile.find(probe)
            if spec is None:
                continue
            out = run_spec(spec, facts, profile)[0]
            cases.append(f"{shlex.quote(probe)}) printf %s {shlex.quote(out)}; exit {spec.exit_code};;")
        body = '#!/bin/bash\ncase "$0${*:+ $*}" in\n' + "\n".join(cases) + "\n*) exit 127;;\nesac\n"
        stub = directory / name
        stub.write_text(body.replace('"$0', '"${0##*/}'))
        stub.chmod(0o755)


def real(script: str, stubs: Path) -> tuple[str, int]:
    cmd = ["unshare", "-n", "-m", "--", "/bin/sh", "-c", SETUP.format(stubs=stubs, script=shlex.quote(script))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env={}, check=False)  # noqa: S603
    return proc.stdout, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    profile = BUILTIN["amazon-linux-2023"]
    facts = Facts("i-0123456789abcdef0", "111122223333", "ap-northeast-1", "web-1", "Linux", time.time())
    texts = scripts()

    def runner(text, _stdin):
        spec = profile.find(text)
        if spec is None:
            return None
        return run_spec(spec, facts, profile)

    start = time.perf_counter()
    for _ in range(args.runs):
        for s in texts:
            run_bash(s, runner, which=profile.which)
    emulated = (time.perf_counter() - start) / (args.runs * len(texts))
    print(f"scripts: {len(texts)} (the check_os runbook's commands), runs: {args.runs}")
    print(f"(b) emulator:            {emulated * 1000:8.3f} ms per script (wall, in-process)")
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
        print("(a) real bash: not measurable here (needs root for unshare -n -m and setpriv)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        stubs = Path(tmp)
        make_stubs(stubs, profile, facts)
        probe, code = real(
            "hostname; exec 3<>/dev/tcp/1.1.1.1/53 || echo no-network; echo x > /etc/x || echo read-only; id -u", stubs
        )
        print(f"(a) isolation probe: exit {code}, stdout {probe!r}")
        cpu0 = os.times()
        start = time.perf_counter()
        for _ in range(args.runs):
            for s in texts:
                real(s, stubs)
        wall = (time.perf_counter() - start) / (args.runs * len(texts))
        cpu1 = os.times()
        cpu = (cpu1.children_user + cpu1.children_system - cpu0.children_user - cpu0.children_system) / (
            args.runs * len(texts)
        )
    print(f"(a) sandboxed real bash: {wall * 1000:8.3f} ms per script (wall), {cpu * 1000:.3f} ms CPU (children)")
    print(f"    ratio (a)/(b): {wall / emulated:.0f}x")


if __name__ == "__main__":
    main()
