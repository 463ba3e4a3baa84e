#!/usr/bin/env python3
"""Run ansible-test (sanity by default) on a copy of the collection laid out as ansible-test wants it.

The copy holds what `ansible-galaxy collection build` ships plus tests/unit and tests/sanity, in a temporary
folder outside the checkout (ansible_collections/orgops/ssm_automation), with amazon.aws as a sibling collection.
When the pip bootstrap script ansible-test downloads cannot be fetched (an offline machine), a stand-in
that uses ensurepip and then pip from the configured package index is put in ansible-test's cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / ".build"
# Outside the git checkout: inside it, ansible-test would list files through git, and .build/ is ignored.
# tests/corpus/ holds third-party runbooks kept byte for byte (AWS's own line endings and quotes): test data, not
# collection code, and never shipped.
EXCLUDED = (
    "sandbox/",
    "benchmarks/",
    "tests/integration/",
    "tests/corpus/",
    "extensions/",
    "scripts/",
    ".ci/",
    "docs/",
    "reports/",
)

STAND_IN = '''"""Stand-in for get-pip.py (written by orgops scripts/ansible_test.py): ensurepip, then pip install."""
import os
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
env = dict(os.environ)
env.pop("PIP_CONFIG_FILE", None)  # ensurepip points it at /dev/null; the machine's pip.conf names the index
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args, env=env)
'''


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [f for f in out if not f.startswith(EXCLUDED) and (REPO / f).is_file()]


def lay_out(root: Path) -> Path:
    target = root / "orgops" / "ssm_automation"
    for rel in tracked_files():
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dst)
    aws_src = BUILD / "collections" / "ansible_collections" / "amazon" / "aws"
    aws_dst = root / "amazon" / "aws"
    aws_dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(aws_src, aws_dst)
    return target


def _ansible_test_source(ansible_test: Path, rel: str) -> str:
    found = list((ansible_test.parent.parent / "lib").glob(f"python*/site-packages/ansible_test/{rel}"))
    return found[0].read_text()


def ensure_pip_bootstrap(ansible_test: Path) -> None:
    """Only where ansible-test's own download is unreachable, cache a stand-in bootstrap script."""
    setup = _ansible_test_source(ansible_test, "_util/target/setup/requirements.py")
    url_template = re.search(r"url = '([^']+)' % pip_version", setup).group(1)
    reqs = _ansible_test_source(ansible_test, "_internal/python_requirements.py")
    version = re.search(r"pip='([0-9.]+)'", reqs).group(1)
    cache = Path.home() / ".ansible" / "test" / "cache" / ("get_pip_%s.py" % version.replace(".", "_"))
    if cache.exists():
        return
    try:
        with urllib.request.urlopen(url_template % version, timeout=10) as resp:  # noqa: S310 (ansible-test's own https URL)
            resp.read(1)
        return  # reachable: ansible-test downloads the real script itself
    except Exception as exc:  # noqa: BLE001
        print(
            f"pip bootstrap download unreachable ({exc.__class__.__name__}); caching an ensurepip stand-in at {cache}"
        )
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(STAND_IN)


def main() -> int:
    command = sys.argv[1:] or ["sanity"]
    ansible_test = Path(sys.executable).with_name("ansible-test")
    # A fresh folder per run, outside the git checkout (inside it, ansible-test would list files through git,
    # and .build/ is ignored), so that concurrent runs never share a tree.
    with tempfile.TemporaryDirectory(prefix="orgops-ansible-test-") as tmp:
        target = lay_out(Path(tmp) / "ansible_collections")
        ensure_pip_bootstrap(ansible_test)
        cmd = [str(ansible_test), *command, "--venv", "--python", "3.11", "--color", "no"]
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        print("+", " ".join(cmd), f"(in {target})", flush=True)
        return subprocess.run(cmd, cwd=target, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
