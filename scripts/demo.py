"""`make demo`: run the check_os playbook against a local AWS Organization and show what it found.

1. Start the sandbox (`python -m sandbox serve --world sandbox/worlds/demo.yml`) on a free loopback port and wait
   for its health endpoint (bounded).
2. Run `ansible-playbook playbooks/check_os.yml -i inventories/sandbox` with the sandbox's endpoint and the demo
   world's management-account credentials in the environment (nothing else of the user's AWS set-up leaks in).
3. Run the playbook a second time in the same sandbox, limited to the `roles` and `runbook` phases, to show they
   are idempotent: every task ok, changed=0, and no AWS write call. Each `make demo` starts a fresh sandbox (the
   sandbox keeps its state in memory only), so "the second run" is this second pass, not the next `make demo`.
   It starts as soon as the first run has finished its own roles and runbook phases, alongside the first run's run
   and report phases (which touch neither), and its output is shown after the first run's. Its write calls are read
   from the sandbox's request log: every write served while it ran counts against it, except the one write the run
   phase makes (ssm:StartAutomationExecution), which the roles and runbook phases never call.
4. Print a compact summary table, the compliance summary (the OS standard of inventories/sandbox: which instances
   deviate, and how) and the paths of the HTML, CSV, JSON, Markdown and JUnit reports.
5. Stop the sandbox, also on failure or Ctrl-C.

Until every piece exists, it runs what does and says what it skipped. Exit status: the first playbook run's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORLD = REPO / "sandbox" / "worlds" / "demo.yml"
PLAYBOOK = REPO / "playbooks" / "check_os.yml"
INVENTORY = REPO / "inventories" / "sandbox"
REPORT_DIR = REPO / "reports" / "sandbox"
START_TIMEOUT = 60  # seconds for the sandbox to build its world and answer /_sandbox/health
PHASE_ROLES = {"roles": "execution_roles", "runbook": "runbook", "run": "run_automation", "report": "run_automation"}
# check_os's task that starts the run phase: the roles and runbook phases of the run printing it are done
RUN_PHASE_TASK = "TASK [Run the checks across the organization, wait, gather and report]"
# the run phase's own writes (check_os's run phase writes nothing else); the roles and runbook phases never make them
RUN_PHASE_WRITES = frozenset({"ssm:StartAutomationExecution"})
RECAP_RE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)")


def say(msg: str = "") -> None:
    print(msg, flush=True)


def banner(msg: str) -> None:
    say()
    say(f"==> {msg}")


class Sandbox:
    """The sandbox server as a child process in its own process group."""

    def __init__(self, world: Path, log_path: Path):
        self.world = world
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.endpoint = ""

    def start(self) -> str:
        port_file = Path(tempfile.mkdtemp(prefix="orgops-demo-")) / "port.json"
        log = self.log_path.open("w")
        cmd = [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--world",
            str(self.world),
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ]
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the sandbox exited with status {self.proc.returncode}; see {self.log_path}")
            if port_file.exists() and port_file.stat().st_size:
                try:
                    self.endpoint = json.loads(port_file.read_text())["endpoint"]
                except (ValueError, KeyError):
                    self.endpoint = ""
                if self.endpoint and self._healthy():
                    return self.endpoint
            time.sleep(0.2)
        raise RuntimeError(f"the sandbox did not become healthy within {START_TIMEOUT}s; see {self.log_path}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_sandbox/health", timeout=2) as resp:  # noqa: S310 (loopback)
                return resp.status == 200
        except OSError:
            return False

    def world_names(self) -> dict:
        """Instance id -> "name (what is special about it)", from the sandbox's own view of its world."""
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_sandbox/world", timeout=10) as resp:  # noqa: S310 (loopback)
                world = json.loads(resp.read())
        except (OSError, ValueError):
            return {}
        names = {}
        for inst in world.get("instances", []):
            notes = [
                n
                for n, on in (
                    ("Windows", inst.get("platform") == "Windows"),
                    ("stopped", inst.get("state") == "stopped"),
                    ("unmanaged", not inst.get("managed", True)),
                    (inst.get("os_profile", ""), True),
                )
                if on and n
            ]
            names[inst["instance_id"]] = f"{inst.get('name', '?')} ({', '.join(notes)})"
        return names

    def _admin(self, path: str):
        with urllib.request.urlopen(f"{self.endpoint}/_sandbox/{path}", timeout=30) as resp:  # noqa: S310 (loopback)
            return json.loads(resp.read())

    def last_seq(self) -> int:
        return self._admin("requests?since=999999999999")["last_seq"]

    def calls_between(self, first: int, last: int) -> tuple[int, list[str]]:
        """(calls, write calls as service:action) the sandbox served after seq ``first`` up to seq ``last`` (its
        request log numbers every call and flags it read or write)."""
        served = [r for r in self._admin(f"requests?since={first}")["requests"] if r["seq"] <= last]
        return len(served), [f"{r['service']}:{r['action']}" for r in served if r.get("write")]

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass


def sandbox_env(endpoint: str, world: dict, report_dir: Path) -> dict:
    """The environment the playbook runs in: the sandbox endpoint and the management account's credentials only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    creds = world["management_account"]["credentials"]
    region = "ap-northeast-1" if "ap-northeast-1" in world["regions"] else world["regions"][0]
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_URL": endpoint,
            "AWS_ACCESS_KEY_ID": creds["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"],
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "ORGOPS_REPORT_DIR": str(report_dir),
            "ANSIBLE_COLLECTIONS_PATH": os.environ.get(
                "ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections")
            ),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_HOME": os.environ.get("ANSIBLE_HOME", str(REPO / ".build" / "ansible-home")),
            "ANSIBLE_LOCAL_TEMP": os.environ.get("ANSIBLE_LOCAL_TEMP", str(REPO / ".build" / "ansible-tmp")),
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def missing_phases() -> list[str]:
    """Tags whose role is not in the checkout yet (the demo runs what exists)."""
    return sorted(
        tag for tag, role in PHASE_ROLES.items() if not (REPO / "roles" / role / "tasks" / "main.yml").exists()
    )


def playbook_command(args: list[str]) -> tuple[list[str], str]:
    """The ansible-playbook command line, and how to show it."""
    shown = ["ansible-playbook", str(PLAYBOOK.relative_to(REPO)), "-i", str(INVENTORY.relative_to(REPO)), *args]
    return [str(BIN / "ansible-playbook"), str(PLAYBOOK), "-i", str(INVENTORY), *args], "$ " + " ".join(shown)


def run_playbook(env: dict, args: list[str], log_path: Path, on_line=None) -> tuple[int, str]:
    """Run ansible-playbook, echoing its output live (the progress lines are the point), and return (rc, output).
    ``on_line(line)`` sees each line as it comes."""
    cmd, shown = playbook_command(args)
    say(shown)
    lines = []
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            lines.append(line)
            sys.stdout.write(line)
            sys.stdout.flush()
            if on_line:
                on_line(line)
        rc = proc.wait()
    return rc, "".join(lines)


class Background:
    """ansible-playbook run in the background, its output kept (and logged) to be shown later."""

    def __init__(self, env: dict, args: list[str], log_path: Path):
        cmd, self.shown = playbook_command(args)
        self.log = log_path.open("w")
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        self.log_path = log_path

    def wait(self) -> tuple[int, str]:
        rc = self.proc.wait()
        self.log.close()
        return rc, self.log_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def recap(output: str) -> dict:
    for line in output.splitlines():
        m = RECAP_RE.match(line.strip())
        if m:
            keys = ("ok", "changed", "unreachable", "failed", "skipped")
            return dict(zip(keys, map(int, m.groups()[1:]), strict=True))
    return {}


def read_results(run_dir: Path) -> list[dict]:
    """Location records from the JSON Lines the gather step streamed."""
    path = run_dir / "results.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if item.get("type") == "location":
            records.append(item)
    return records


def summary_table(records: list[dict], names: dict | None = None) -> str:
    names = names or {}
    rows = []
    for loc in sorted(records, key=lambda r: (r["account"], r["region"])):
        instances = loc.get("instances") or []
        if not instances:
            reason = (loc.get("read_error") or {}).get("message") or loc.get("failure_message") or ""
            rows.append((loc["account"], loc["region"], "-", "", loc.get("status") or "?", "", reason[:60]))
        for inst in instances:
            bad = [s for s in inst.get("steps") or [] if s.get("status") not in ("Success", "Pending", None)]
            step = f"{bad[0]['step_name']} {bad[0]['status']}" if bad else ""
            reason = (bad[0].get("failure_message") if bad else "") or inst.get("failure_message") or ""
            iid = inst.get("instance_id") or "?"
            rows.append(
                (loc["account"], loc["region"], iid, names.get(iid, ""), inst.get("status") or "?", step, reason[:50])
            )
    head = ("account", "region", "instance", "name", "status", "first failed step", "reason")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*map(str, r)) for r in rows]
    counts = Counter(r[4] for r in rows if r[2] != "-")
    empty = sum(1 for r in rows if r[2] == "-")
    out.append("")
    line = f"{sum(counts.values())} instance(s): " + ", ".join(f"{n} {s}" for s, n in counts.most_common())
    if empty:
        line += f"; {empty} account-region(s) without targeted instances (rows with '-')"
    out.append(line)
    return "\n".join(out)


def compliance_summary(report_json: Path, names: dict | None = None) -> str:
    """The OS standard's verdict from the JSON report: counts per expectation, then every noncompliant instance by
    name with its deviations, and the unknown ones with the reason."""
    if not report_json.exists():
        return "no JSON report, no compliance summary"
    data = json.loads(report_json.read_text())
    comp = (data.get("summary") or {}).get("compliance")
    if not comp:
        return "no OS standard declared (check_os_expect): the reports show the facts without a verdict"
    names = names or {}
    counts = comp["instances"]
    out = [
        f"{counts['compliant']} compliant, {counts['noncompliant']} noncompliant, {counts['unknown']} unknown",
        "per expectation: "
        + "; ".join(
            f"{key} {c['noncompliant']} noncompliant, {c['unknown']} unknown" for key, c in comp["by_check"].items()
        ),
    ]
    for loc in data.get("locations") or []:
        for inst in loc.get("instances") or []:
            result = inst.get("compliance") or {}
            name = names.get(inst.get("instance_id")) or (inst.get("details") or {}).get("name") or ""
            label = f"{name} ({inst.get('instance_id')}, {loc.get('account_name') or loc['account']} {loc['region']})"
            if result.get("status") == "noncompliant":
                bad = [c for c in result["checks"] if c["status"] == "noncompliant"]
                out.append(f"  noncompliant {label}: " + "; ".join(c["reason"] for c in bad))
            elif result.get("status") == "unknown":
                first = next(c for c in result["checks"] if c["status"] == "unknown")
                out.append(f"  unknown      {label}: {first['reason'][:90]}")
    changes = data.get("changes")
    if changes and changes.get("since"):
        out.append(
            f"changed since {changes.get('since_execution')}: {changes['added_total']} added, {changes['gone_total']} gone,"
            f" {changes['facts_changed_total']} fact changes, {changes['compliance_changed_total']} compliance changes"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=WORLD)
    parser.add_argument("--report-dir", type=Path, default=REPORT_DIR)
    parser.add_argument(
        "--no-second-pass", action="store_true", help="skip the idempotence pass over roles and runbook"
    )
    parser.add_argument("extra", nargs="*", help="extra ansible-playbook arguments (after --)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    world = yaml.safe_load(args.world.read_text())
    args.report_dir.mkdir(parents=True, exist_ok=True)
    logs = args.report_dir
    if not PLAYBOOK.exists():
        say(f"{PLAYBOOK.relative_to(REPO)} is not there yet: nothing to run.")
        return 1
    skip = missing_phases()
    skip_args = ["--skip-tags", ",".join(skip)] if skip else []
    for tag in skip:
        say(f"NOTE: roles/{PHASE_ROLES[tag]} is not in this checkout yet: the '{tag}' phase is skipped.")

    sandbox = Sandbox(args.world, logs / "sandbox.log")
    rc = 1
    background: list[tuple[int, Background]] = []  # the second run, once started: (request log seq at its start, run)
    try:
        banner(
            f"starting the sandbox with {args.world.relative_to(REPO) if args.world.is_relative_to(REPO) else args.world}"
        )
        endpoint = sandbox.start()
        say(f"sandbox ready at {endpoint} ({time.monotonic() - started:.1f}s)")
        env = sandbox_env(endpoint, world, args.report_dir)

        idempotent_tags = [t for t in ("roles", "runbook") if t not in skip]
        want_second = not args.no_second_pass and bool(idempotent_tags)
        second_args = ["--tags", ",".join(idempotent_tags), *args.extra]

        def start_second(line: str) -> None:
            # the first run's roles and runbook phases are done: the second pass runs alongside its run phase
            if want_second and not background and line.startswith(RUN_PHASE_TASK):
                seq = sandbox.last_seq()
                background.append((seq, Background(env, second_args, logs / "demo-run-2.log")))

        banner("first run: every phase (roles, runbook, run, report)")
        rc, output = run_playbook(env, [*skip_args, *args.extra], logs / "demo-run-1.log", on_line=start_second)
        first = recap(output)

        second = {}
        window_calls, second_writes, excused = 0, [], []
        if want_second:
            title = f"second run, same sandbox: the {' and '.join(idempotent_tags)} phases again (expect changed=0)"
            if background:
                seq, bg = background[0]
                banner(title + "; started when the first run reached its run phase")
            else:  # the first run never got that far: run it now
                seq = sandbox.last_seq()
                banner(title)
                bg = Background(env, second_args, logs / "demo-run-2.log")
                background.append((seq, bg))
            say(bg.shown)
            rc2, output2 = bg.wait()
            say(output2.rstrip("\n"))
            second = recap(output2)
            window_calls, writes = sandbox.calls_between(seq, sandbox.last_seq())
            second_writes = [w for w in writes if w not in RUN_PHASE_WRITES]
            excused = [w for w in writes if w in RUN_PHASE_WRITES]
            if rc2 != 0:
                say(f"the second run failed (exit {rc2}); see {logs / 'demo-run-2.log'}")

        banner("summary")
        latest = args.report_dir / "latest.json"
        execution_id = json.loads(latest.read_text())["automation_execution_id"] if latest.exists() else ""
        run_dir = args.report_dir / execution_id if execution_id else None
        records = read_results(run_dir) if run_dir else []
        if records:
            say(f"automation execution {execution_id}")
            say(summary_table(records, sandbox.world_names()))
            say()
            say("compliance with the OS standard (inventories/sandbox check_os_expect):")
            say(compliance_summary(run_dir / "automation-report.json", sandbox.world_names()))
        else:
            say("no results were gathered (see the playbook output above).")
        say()
        if first:
            say(f"first run:  ok={first['ok']} changed={first['changed']} failed={first['failed']} (exit {rc})")
        if second:
            if not window_calls:
                # the request log shows no call at all while it ran: nothing can be claimed about its writes
                writes, verdict = "unknown (the sandbox's request log has no call from that time)", "unverified"
            else:
                writes = ", ".join(second_writes) if second_writes else "none"
                idempotent = second["changed"] == 0 and second["failed"] == 0 and not second_writes
                verdict = "idempotent" if idempotent else "NOT idempotent"
            also = f" (besides the first run's {', '.join(sorted(set(excused)))})" if excused else ""
            say(
                f"second run: ok={second['ok']} changed={second['changed']} failed={second['failed']},"
                f" AWS write calls while it ran: {writes}{also} ({verdict})"
            )
        if run_dir and run_dir.exists():
            say()
            say("reports:")
            for label, suffix in (
                ("HTML", ".html"),
                ("CSV", ".csv"),
                ("JSON", ".json"),
                ("Markdown", ".md"),
                ("JUnit", ".xml"),
            ):
                for path in sorted(run_dir.glob(f"automation-report{suffix}")):
                    say(f"  {label:9} {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
        say()
        say(
            f"demo finished in {time.monotonic() - started:.1f}s; logs in {logs.relative_to(REPO) if logs.is_relative_to(REPO) else logs}"
        )
    except KeyboardInterrupt:
        say("\ninterrupted")
        rc = 130
    except RuntimeError as e:
        say(f"demo failed: {e}")
        rc = 1
    finally:
        for _seq, bg in background:
            bg.stop()  # a no-op once it has ended
        sandbox.stop()
        say("sandbox stopped")
    return rc


if __name__ == "__main__":
    sys.exit(main())
