#!/usr/bin/env python3
"""Build the collection tarball and check it: no dev content inside, and galaxy-importer reports no errors.

galaxy-importer runs from its own virtualenv (.build/importer-venv) with its ansible-test step disabled, as
Galaxy's own import would run it without containers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / ".build"
IMPORTER_VENV = BUILD / "importer-venv"
IMPORTER_VERSION = "0.4.44"
FORBIDDEN = ("sandbox/", "benchmarks/", "tests/", "scripts/", ".ci/", ".venv/", ".build/")
CONFIG = """[galaxy-importer]
RUN_ANSIBLE_TEST = False
RUN_ANSIBLE_LINT = True
RUN_FLAKE8 = False
REQUIRE_V1_OR_GREATER = False
LOG_LEVEL_MAIN = INFO
"""


def build(out: Path) -> Path:
    galaxy = Path(sys.executable).with_name("ansible-galaxy")
    subprocess.run([str(galaxy), "collection", "build", "--force", "--output-path", str(out), str(REPO)], check=True)
    (tarball,) = out.glob("orgops-ssm_automation-*.tar.gz")
    return tarball


def check_contents(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as tf:
        names = tf.getnames()
    bad = [n for n in names if n.startswith(FORBIDDEN)]
    print(f"{tarball.name}: {len(names)} entries")
    return [f"tarball contains dev content: {n}" for n in bad]


def importer(tarball: Path) -> list[str]:
    python = IMPORTER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(IMPORTER_VENV)], check=True)
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"galaxy-importer=={IMPORTER_VERSION}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if pip.returncode != 0:
            print(pip.stdout + pip.stderr)
            raise SystemExit("could not install galaxy-importer")
    # galaxy-importer runs ansible-doc with only the imported collection on ANSIBLE_COLLECTIONS_PATH; the
    # amazon.aws doc fragments our modules extend are found on sys.path, where an installed amazon.aws lives.
    (site,) = IMPORTER_VENV.glob("lib/python*/site-packages")
    aws = site / "ansible_collections" / "amazon" / "aws"
    if not aws.exists():
        shutil.copytree(BUILD / "collections" / "ansible_collections" / "amazon" / "aws", aws)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "galaxy-importer.cfg"
        cfg.write_text(CONFIG)
        env = dict(os.environ, GALAXY_IMPORTER_CONFIG=str(cfg), PATH=f"{python.parent}:{os.environ['PATH']}")
        env.pop("ANSIBLE_COLLECTIONS_PATH", None)
        env.pop("PYTHONPATH", None)
        env.pop("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", None)
        proc = subprocess.run(
            [str(python), "-m", "galaxy_importer.main", str(tarball)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
            check=False,
        )
    output = proc.stdout + proc.stderr
    print(output[-4000:])
    errors = [line for line in output.splitlines() if line.startswith("ERROR") or " ERROR " in line]
    if proc.returncode != 0:
        errors.append(f"galaxy-importer exited {proc.returncode}")
    return errors


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tarball = build(Path(tmp))
        problems = check_contents(tarball) + importer(tarball)
    for p in problems:
        print("FAIL:", p)
    if problems:
        return 1
    print("galaxy build check: tarball clean, galaxy-importer reported no errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
