"""`make demo`'s script, end to end: it starts its own sandbox, runs the playbook twice, prints the table and the
report paths, and stops the sandbox."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs_the_playbook_and_shows_the_reports(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--report-dir", str(tmp_path / "reports")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:] + proc.stderr[-3000:]
    # progress was printed while waiting
    assert re.search(r"\(item=\w+ - \d+/\d+ instances done", out)
    # the table names every targeted instance, including the Windows, stopped and unmanaged ones
    for name in ("web-win-1", "dev-win", "stg-web", "sec-scanner", "pay-api-1", "mgmt-bastion"):
        assert re.search(rf"^\d{{12}}\s+\S+\s+i-[0-9a-f]+\s+{name} ", out, re.M), name
    assert "stg-db" not in out  # untagged: not targeted
    # only the stopped and the unmanaged instances fail (at AssertOnline); the Ubuntu ones pass their apt update check
    assert re.search(r"^15 instance\(s\): 13 Success, 2 Failed(;|$)", out, re.M), out[-3000:]
    for name in ("web-1", "mgmt-tools"):
        # the name column may carry a note in parentheses, e.g. "web-1 (ubuntu-22.04)"
        assert re.search(rf"^\d{{12}}\s+\S+\s+i-[0-9a-f]+\s+{name}(?: \([^)]*\))?\s+Success\b", out, re.M), name
    # the second run of the roles and runbook phases changed nothing, and the sandbox's request log shows no write
    # while it ran, other than the first run's own start of the automation (it runs alongside the run phase)
    assert re.search(
        r"^second run: ok=\d+ changed=0 failed=0, AWS write calls while it ran: none"
        r"( \(besides the first run's ssm:StartAutomationExecution\))? \(idempotent\)$",
        out,
        re.M,
    ), out[-3000:]
    assert "started when the first run reached its run phase" in out
    # the compliance summary names the instances that deviate from the inventory's OS standard, and how
    summary = out[out.index("compliance with the OS standard") :]
    assert "9 compliant, 4 noncompliant, 2 unknown" in summary, summary[:3000]
    for name, how in (
        ("dev-box", "America/New_York"),
        ("data-etl-1", "de_DE.UTF-8"),
        ("sec-collector", "not synchronised"),
        ("pay-api-1", "13 pending updates"),
    ):
        assert re.search(rf"^  noncompliant +{name} \(.*{re.escape(how)}", summary, re.M), (name, summary[:3000])
    for name in ("stg-web", "sec-scanner"):
        assert re.search(rf"^  unknown +{name} \(", summary, re.M), (name, summary[:3000])
    # the report paths exist
    paths = re.findall(r"^  (?:HTML|CSV|JSON|Markdown|JUnit)\s+(\S+)$", out, re.M)
    assert len(paths) == 5
    for path in paths:
        assert (REPO / path if not Path(path).is_absolute() else Path(path)).is_file(), path
    # and the sandbox it started is gone
    assert "sandbox stopped" in out
    port = re.search(r"sandbox ready at http://127\.0\.0\.1:(\d+)", out).group(1)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", int(port))) != 0, "the demo's sandbox still listens"
