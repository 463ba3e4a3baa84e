"""Run a module or a playbook for real, through ansible-playbook, and return what Ansible returned.

Integration tests call modules exactly as users do: a play on localhost, with the sandbox's endpoint and
credentials in the environment. Nothing of the collection is mocked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    results: list  # one dict per dumped task result, in order


def ansible_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections"))
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_RETRY_FILES_ENABLED"] = "0"
    env["ANSIBLE_PYTHON_INTERPRETER"] = sys.executable
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def run_playbook(playbook: Path, env: dict | None = None, args: list | None = None, timeout: int = 600) -> PlaybookRun:
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook), *(args or [])]
    proc = subprocess.run(cmd, env=ansible_env(env), capture_output=True, text=True, timeout=timeout, check=False)
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, [])


def run_module(
    tmp_path: Path,
    module: str,
    params: dict,
    env: dict | None = None,
    check: bool = False,
    diff: bool = False,
    verbosity: int = 0,
) -> dict:
    """Run one module task and return its registered result (``failed``, ``changed``, ``msg``, ...)."""
    out = tmp_path / f"result-{os.getpid()}-{len(list(tmp_path.glob('result-*')))}.json"
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {"name": "module under test", module: params, "register": "r", "ignore_errors": True},
                {
                    "name": "dump result",
                    "ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": str(out), "mode": "0600"},
                    # the dump must happen in --check runs too, or check-mode results are lost
                    "check_mode": False,
                    "diff": False,
                },
            ],
        }
    ]
    pb = tmp_path / "play.yml"
    pb.write_text(yaml.safe_dump(play, sort_keys=False))
    args = []
    if check:
        args.append("--check")
    if diff:
        args.append("--diff")
    if verbosity:
        args.append("-" + "v" * verbosity)
    run = run_playbook(pb, env=env, args=args)
    if not out.exists():
        raise AssertionError(f"ansible-playbook did not run the module (rc={run.rc}):\n{run.stdout}\n{run.stderr}")
    result = json.loads(out.read_text())
    result["_stdout"] = run.stdout
    result["_stderr"] = run.stderr
    return result
