#!/usr/bin/env python
"""How long ``runbook_lint`` with ``paths`` takes on the corpus of AWS-owned runbooks (issue 16: < 60 s for 500).

The corpus (tests/corpus/aws_owned, 141 runbooks) is replicated into a temporary directory until it holds
``--files`` runbooks (500 by default): the replicas are byte-for-byte copies under other names, which the table says.
Contenders, in one run on the same files:

  parse only        json/yaml parsing of every file in this process (what any linter pays at least)
  lint_paths        plugins/module_utils lint_paths() in this process: what the module does, without Ansible
  ansible no-op     ansible-playbook running one ansible.builtin.debug task (Ansible's own start-up cost)
  runbook_lint      ansible-playbook running one orgops.ssm_automation.runbook_lint task with paths: [<dir>]

Run: make bench-lint  (ARGS="--files 1000" to change the size), or .venv/bin/python benchmarks/lint_corpus.py --help
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / ".build" / "collections"))

from ansible_collections.orgops.ssm_automation.plugins.module_utils import runbook  # noqa: E402

CORPUS = REPO / "tests/corpus/aws_owned"
TARGET_FILES = 500
TARGET_SECONDS = 60.0


def build_tree(dest: Path, count: int) -> int:
    """Copy the corpus into dest until it holds ``count`` files; returns how many are replicas."""
    sources = sorted(CORPUS.glob("*.json"))
    for k in range(count):
        src = sources[k % len(sources)]
        copy = k // len(sources)
        name = src.name if copy == 0 else "%s.copy%d.json" % (src.stem, copy)
        sub = dest / ("batch%02d" % (k // 100))
        sub.mkdir(exist_ok=True)
        shutil.copyfile(src, sub / name)
    return max(0, count - len(sources))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run_playbook(tmp: Path, task: dict) -> tuple[float, dict]:
    out = tmp / "result.json"
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                dict(task, name="measured", register="r"),
                {
                    "name": "dump",
                    "ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": str(out), "mode": "0600"},
                },
            ],
        }
    ]
    pb = tmp / "play.yml"
    pb.write_text(json.dumps(play))
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections"))
    env["ANSIBLE_PYTHON_INTERPRETER"] = sys.executable
    bindir = Path(sys.executable).parent
    cmd = [str(bindir / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(pb)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit("ansible-playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return wall, json.loads(out.read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=TARGET_FILES, help="runbooks to lint (default %(default)s)")
    ap.add_argument("--no-ansible", action="store_true", help="skip the two ansible-playbook contenders")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="lint-bench-"))
    try:
        tree = tmp / "runbooks"
        tree.mkdir()
        replicas = build_tree(tree, args.files)
        files = sorted(str(p) for p in tree.rglob("*.json"))
        print("corpus: %d AWS-owned runbooks in tests/corpus/aws_owned" % len(list(CORPUS.glob("*.json"))))
        print("linted: %d files (%d of them replicas: byte-for-byte copies under other names)" % (len(files), replicas))
        print("python %s, %d CPUs\n" % (sys.version.split()[0], os.cpu_count() or 0))

        rows = []
        wall, _ = timed(lambda: [runbook.parse_content(Path(f).read_bytes()) for f in files])
        rows.append(("parse only", wall, len(files), ""))
        wall, (entries, counts) = timed(lambda: runbook.lint_paths([str(tree)]))
        rows.append(("lint_paths (in process)", wall, len(entries), "counts %s" % json.dumps(counts, sort_keys=True)))
        if not args.no_ansible:
            wall, _ = run_playbook(tmp, {"ansible.builtin.debug": {"msg": "no-op"}})
            rows.append(("ansible no-op task", wall, 0, "ansible-playbook start-up, same machine, same run"))
            wall, result = run_playbook(
                tmp, {"orgops.ssm_automation.runbook_lint": {"paths": [str(tree)], "fail_on": "never"}}
            )
            rows.append(
                (
                    "runbook_lint paths task",
                    wall,
                    len(result["files"]),
                    "counts %s" % json.dumps(result["counts"], sort_keys=True),
                )
            )

        print("%-26s %9s %7s %11s %16s  %s" % ("contender", "wall s", "files", "ms/file", "est. 500 files s", "notes"))
        for name, wall, n, note in rows:
            per = wall / n * 1000 if n else float("nan")
            est = per * TARGET_FILES / 1000 if n else float("nan")
            print("%-26s %9.2f %7d %11.2f %16.2f  %s" % (name, wall, n, per, est, note))
        final = rows[-1]
        verdict = "meets" if final[1] * TARGET_FILES / max(final[2], 1) < TARGET_SECONDS else "MISSES"
        print(
            "\n%s %s the target of %.0f s for %d runbooks (%s runbooks linted here; the estimate scales its wall "
            "time linearly, Ansible's start-up included)." % (final[0], verdict, TARGET_SECONDS, TARGET_FILES, final[2])
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
