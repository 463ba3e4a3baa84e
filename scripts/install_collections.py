#!/usr/bin/env python3
"""Lay out the ansible_collections tree the tools need, with amazon.aws beside orgops.ssm_automation.

orgops/ssm_automation is a symlink to this repository. amazon.aws comes from Ansible Galaxy when it answers,
and otherwise (the offline path) from the ``ansible`` package on PyPI, whose wheel bundles amazon.aws 10.x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ANSIBLE_WHEEL_VERSION = "12.3.0"  # bundles amazon.aws 10.x
PREFIX = "ansible_collections/amazon/aws/"


def link_self(coll_root: Path) -> None:
    ns = coll_root / "orgops"
    ns.mkdir(parents=True, exist_ok=True)
    link = ns / "ssm_automation"
    if link.is_symlink() and link.resolve() == REPO:
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(REPO, target_is_directory=True)


def from_galaxy(dest: Path, timeout: int) -> bool:
    galaxy = Path(sys.executable).with_name("ansible-galaxy")
    cmd = [str(galaxy), "collection", "install", "-r", str(REPO / "requirements.yml"), "-p", str(dest)]
    cmd += ["--timeout", str(timeout)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 3, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"Ansible Galaxy unreachable ({exc}); using the offline path")
        return False
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        print(f"Ansible Galaxy unreachable ({last[0]}); using the offline path")
        return False
    return True


def from_wheel(dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp]
        cmd.append(f"ansible=={ANSIBLE_WHEEL_VERSION}")
        subprocess.run(cmd, check=True)
        (wheel,) = Path(tmp).glob("ansible-*.whl")
        target = dest / "ansible_collections" / "amazon" / "aws"
        if target.exists():
            shutil.rmtree(target)
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if name.startswith(PREFIX) and not name.endswith("/"):
                    out = target / name[len(PREFIX) :]
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(zf.read(name))
    print(f"amazon.aws extracted from ansible=={ANSIBLE_WHEEL_VERSION} into {target}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dest", required=True, type=Path, help="folder that receives ansible_collections/")
    parser.add_argument("--link-only", action="store_true", help="only (re)create the orgops symlink")
    parser.add_argument(
        "--source",
        choices=["auto", "galaxy", "wheel"],
        default=os.environ.get("ORGOPS_AMAZON_AWS_SOURCE", "auto"),
        help="where amazon.aws comes from (auto: Galaxy, then the PyPI wheel)",
    )
    parser.add_argument("--galaxy-timeout", type=int, default=15)
    args = parser.parse_args()
    coll_root = args.dest / "ansible_collections"
    link_self(coll_root)
    if args.link_only:
        return 0
    manifest = coll_root / "amazon" / "aws" / "MANIFEST.json"
    if not manifest.exists():
        done = args.source in ("auto", "galaxy") and from_galaxy(args.dest, args.galaxy_timeout)
        if not done:
            if args.source == "galaxy":
                print("amazon.aws could not be installed from Galaxy", file=sys.stderr)
                return 1
            from_wheel(args.dest)
    manifest.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
