"""The benchmark's machinery: world, sandbox, set-up run, contender subprocesses, request-log accounting, bound.

Everything here runs in the parent process (``benchmarks/gather.py``) and is *not* measured; each contender runs in
its own subprocess (``benchmarks/contenders.py``, or ansible-playbook) so that its wall time, CPU time and peak RSS
are its own. The small correctness test (``tests/integration/test_benchmark_small.py``) uses the same functions.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".build" / "collections"
BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
CONTENDERS = BENCH / "contenders.py"
CALLBACKS = BENCH / "callback_plugins"
INVENTORY = REPO / "inventories" / "prod" / "hosts.yml"  # the project's inventory: how users run the playbooks

for _path in (str(COLLECTIONS), str(REPO)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import yaml  # noqa: E402

import sandbox.testing as sandbox_testing  # noqa: E402
from sandbox.generate import generate_world  # noqa: E402

RUNBOOK_NAME = "bench-gather"
# A small runbook: two aws:runCommand steps per instance, as the issue allows (the seed's check-os has five).
RUNBOOK = """\
schemaVersion: '0.3'
description: Benchmark runbook, two runCommand steps per instance.
assumeRole: '{{ AutomationAssumeRole }}'
parameters:
  AutomationAssumeRole:
    type: String
    description: The administration role.
  InstanceId:
    type: String
    description: The instance.
mainSteps:
  - name: Uptime
    action: aws:runCommand
    timeoutSeconds: 60
    onFailure: Continue
    inputs:
      DocumentName: AWS-RunShellScript
      InstanceIds: ['{{ InstanceId }}']
      Parameters:
        commands: [uptime]
  - name: Kernel
    action: aws:runCommand
    timeoutSeconds: 60
    inputs:
      DocumentName: AWS-RunShellScript
      InstanceIds: ['{{ InstanceId }}']
      Parameters:
        commands: [uname -r]
"""
READER_ROLE = "AWS-SystemsManager-AutomationResultsReaderRole"
EXECUTION_ROLE = "AWS-SystemsManager-AutomationExecutionRole"
ADMIN_ROLE = "AWS-SystemsManager-AutomationAdministrationRole"
TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled", "CompletedWithSuccess", "CompletedWithFailure"}
THROTTLE_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
PAGE = 50

# The module's defaults (plugins/modules/automation_execution_info.py): "ours" runs with them unless told otherwise.
MODULE_DEFAULTS = {"concurrency": 64, "rate": 10.0, "retry_mode": "standard", "max_attempts": 10, "processes": 0}


@dataclass
class Params:
    accounts: int = 200
    regions: int = 2
    instances: int = 10
    latency_ms: float = 20.0
    tps: float = 20.0
    throttle_rate: float = 0.05
    concurrency: int = MODULE_DEFAULTS["concurrency"]
    rate: float = MODULE_DEFAULTS["rate"]
    retry_mode: str = MODULE_DEFAULTS["retry_mode"]
    processes: int = MODULE_DEFAULTS["processes"]
    stream: bool = False
    baseline: bool = True
    ansible: bool = True
    time_scale: float = 0.001
    seed: int = 1
    large: bool = False
    profile: bool = False
    probe: bool = True
    also_concurrency: list = field(default_factory=list)
    also_processes: list = field(default_factory=list)
    awsrun: bool = True
    details: bool = True  # the ours+details row (automation_execution_info's details option on)
    ansible_nodest: bool = True
    repeat: int = 1
    targets_file: str = ""  # the run's targets.json, as the role's start keeps it (set by gather.run after set-up)

    @property
    def locations(self) -> int:
        return self.accounts * self.regions

    @property
    def instance_executions(self) -> int:
        return self.locations * self.instances


# ---------------------------------------------------------------------------------------------------------------
# Machine
# ---------------------------------------------------------------------------------------------------------------


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def machine() -> dict:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("boto3", "botocore", "moto", "ansible"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - informational only
            versions[mod] = None
    try:
        from ansible.release import __version__ as core

        versions["ansible-core"] = core
    except ImportError:
        pass
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        rev = ""
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_mb": mem_kb // 1024,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "git": rev,
        "loadavg_start": loadavg(),
    }


# ---------------------------------------------------------------------------------------------------------------
# World and sandbox
# ---------------------------------------------------------------------------------------------------------------


def make_world(p: Params) -> dict:
    """N accounts x R regions x M tagged instances (sandbox/generate.py), no faults at build time."""
    world = generate_world(p.accounts, p.regions, p.instances, seed=p.seed, time_scale=p.time_scale)
    world["name"] = f"bench-{p.accounts}x{p.regions}x{p.instances}"
    return world


class ProfiledSandbox(sandbox_testing.SandboxHandle):
    """A sandbox started under ``py-spy record`` (raw collapsed stacks, GIL-holding samples), for ``--profile``.

    py-spy cannot attach to a running process on this machine (``--pid`` fails to read the interpreter), but it can
    start one: the server is started with py-spy as its command prefix; ``stop()`` stops the server first (its pid
    comes from the port file) and gives py-spy a minute to write its output.
    """

    def __init__(self, *args, profile_out: Path, rate: int = 100, **kwargs):
        super().__init__(*args, **kwargs)
        self.profile_out = Path(profile_out)
        self.rate = rate
        self.stop_grace = 60.0

    def command_prefix(self) -> list[str]:
        pyspy = Path(sys.executable).parent / "py-spy"
        return [str(pyspy), "record", "--rate", str(self.rate), "--format", "raw", "--gil", "--nonblocking",
                "--output", str(self.profile_out), "--"]  # fmt: skip


def start_sandbox(world: dict, workdir: Path, profile_out: Path | None = None, start_timeout: float = 3600):
    """Start a sandbox on ``world`` in ``workdir`` (fresh), returning the handle. Building a big world takes minutes."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in ("port.json", "port.json.tmp"):
        (workdir / stale).unlink(missing_ok=True)
    sandbox_testing.START_TIMEOUT = max(sandbox_testing.START_TIMEOUT, start_timeout)
    if profile_out is not None:
        handle = ProfiledSandbox(world, name="bench", workdir=workdir, profile_out=profile_out)
    else:
        handle = sandbox_testing.SandboxHandle(world, name="bench", workdir=workdir)
    return handle.start()


def server_pid(handle) -> int:
    """The sandbox server's own pid (not py-spy's when profiled), for its CPU and memory."""
    return handle.server_pid or handle.process.pid


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc; 0 when unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class TreeMemory:
    """Samples the memory of a process and all its descendants (``/proc/<pid>/task/*/children``) every
    ``interval`` seconds, from a thread of the parent: the high-water mark (VmHWM) of each process, and the largest
    sum of their resident sets.

    Why not ``wait4``'s ``ru_maxrss``: on Linux a child's maxrss starts with the RSS of the process it was forked
    from (the high-water mark of the pre-exec copy is kept), so every contender would report at least the parent's
    RSS. VmHWM is per address space and starts afresh at exec.
    """

    def __init__(self, root: int, interval: float = 0.1):
        import threading

        self.root = root
        self.interval = interval
        self.peaks: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self.max_sum_rss_mb = 0.0
        # Proportional set size: a page shared by n processes (a forked worker's copy-on-write pages) counts 1/n in
        # each, so the sum over the tree is the memory the tree occupies; the sum of RSS counts shared pages n times.
        self.max_sum_pss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        out, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as handle:
                        todo.extend(int(c) for c in handle.read().split())
            except OSError:
                continue
        return out

    @staticmethod
    def pss_mb(pid: int) -> float:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
        except (OSError, ValueError):
            pass
        return 0.0

    def sample(self) -> None:
        total = 0.0
        total_pss = 0.0
        for pid in self._tree():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            hwm = int((fields.get("VmHWM") or "0 kB").split()[0]) / 1024
            rss = int((fields.get("VmRSS") or "0 kB").split()[0]) / 1024
            total += rss
            total_pss += self.pss_mb(pid)
            if hwm > self.peaks.get(pid, 0.0):
                self.peaks[pid] = hwm
            if pid not in self.names:
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    self.names[pid] = " ".join(c.decode(errors="replace") for c in cmd[:3])[-120:]
                except OSError:
                    self.names[pid] = fields.get("Name", "").strip()
        self.max_sum_rss_mb = max(self.max_sum_rss_mb, total)
        self.max_sum_pss_mb = max(self.max_sum_pss_mb, total_pss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def largest(self) -> tuple[float, str]:
        if not self.peaks:
            return 0.0, ""
        pid = max(self.peaks, key=self.peaks.get)
        return self.peaks[pid], self.names.get(pid, "")

    def report(self) -> dict:
        return {
            "max_sum_rss_mb": round(self.max_sum_rss_mb, 1),
            "max_sum_pss_mb": round(self.max_sum_pss_mb, 1),
            "processes": sorted(
                (
                    {"pid": pid, "vm_hwm_mb": round(mb, 1), "cmd": self.names.get(pid, "")}
                    for pid, mb in self.peaks.items()
                ),
                key=lambda x: -x["vm_hwm_mb"],
            )[:10],
        }


def process_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# ---------------------------------------------------------------------------------------------------------------
# The set-up run (not measured)
# ---------------------------------------------------------------------------------------------------------------


def start_automation(handle, world: dict, max_wait: float | None = None, poll: float = 0.5) -> dict:
    """Create the runbook and run it across the whole organization (root OU, without the management account, which
    has no instance in a generated world), to completion. Returns the parent execution."""
    regions = world["regions"]
    mgmt = world["management_account"]["id"]
    ssm = handle.client("ssm", region=regions[0])
    ssm.create_document(Name=RUNBOOK_NAME, Content=RUNBOOK, DocumentType="Automation", DocumentFormat="YAML")
    started = ssm.start_automation_execution(
        DocumentName=RUNBOOK_NAME,
        Parameters={"AutomationAssumeRole": [f"arn:aws:iam::{mgmt}:role/{ADMIN_ROLE}"]},
        TargetParameterName="InstanceId",
        Targets=[{"Key": "tag:ssm-automation", "Values": ["true"]}],
        MaxConcurrency="100%",
        TargetLocations=[
            {
                "Accounts": [world["organization"]["root_id"]],
                "IncludeChildOrganizationUnits": True,
                "ExcludeAccounts": [mgmt],
                "Regions": regions,
                "ExecutionRoleName": EXECUTION_ROLE,
                "TargetLocationMaxConcurrency": "100%",
                "TargetsMaxConcurrency": "100%",
            }
        ],
    )
    pid = started["AutomationExecutionId"]
    n = sum(g.get("count", 1) for a in world["accounts"] for g in a.get("instances") or [])
    deadline = time.monotonic() + (max_wait or 120 + 0.05 * n)
    while True:
        execution = ssm.get_automation_execution(AutomationExecutionId=pid)["AutomationExecution"]
        if execution["AutomationExecutionStatus"] in TERMINAL:
            return execution
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the set-up automation {pid} did not finish in time: {execution.get('ProgressCounters')}"
            )
        time.sleep(poll)  # bounded poll on the parent's status


def write_targets(handle, parent: dict, path: Path) -> Path:
    """The run's expected target set, kept as the ``run_automation`` role's start keeps it (``targets.json``, from
    ``automation_execution``'s ``targets``: the collection's own ``expected.for_target_locations`` on the request's
    TargetLocations, the organization read by the management account)."""
    from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import expected

    kept = expected.for_target_locations(
        parent["TargetLocations"], lambda: handle.client("organizations"), source="start"
    )
    expected.write_file(str(path), kept)
    return Path(path)


def fault_rules(latency_ms: float, tps: float, throttle_rate: float = 0.0) -> list[dict]:
    """Per-call latency on every call; a token bucket of ``tps`` per account-region on SSM; optional random throttling
    of SSM calls on top."""
    rules = []
    if latency_ms:
        rules.append({"name": "latency", "latency_ms": latency_ms})
    if tps:
        rules.append({"name": "ssm-tps", "service": "ssm", "tps": tps})
    if throttle_rate:
        rules.append({"name": "ssm-random-throttle", "service": "ssm", "throttle_rate": throttle_rate})
    return rules


# ---------------------------------------------------------------------------------------------------------------
# Contenders
# ---------------------------------------------------------------------------------------------------------------


def contender_env(handle, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(handle.env)
    env.pop("AWS_SESSION_TOKEN", None)
    env["PYTHONPATH"] = os.pathsep.join([str(COLLECTIONS), str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))
    env.setdefault("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", "false")
    env.setdefault("ANSIBLE_LOCAL_TEMP", str(REPO / ".build" / "ansible-tmp"))
    env.setdefault("ANSIBLE_HOME", str(REPO / ".build" / "ansible-home"))
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_RETRY_FILES_ENABLED"] = "0"
    env["ANSIBLE_PYTHON_INTERPRETER"] = sys.executable
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def ansible_playbook(
    workdir: Path,
    parent_id: str,
    region: str,
    p: Params,
    records: Path,
    dest: bool = True,
    name: str = "ansible",
    role_args: bool = True,
) -> tuple[list, dict]:
    """The command and extra env running automation_execution_info as one Ansible task, as users run it.

    ``dest=True`` (the ``ansible`` row): the task as the ``run_automation`` role runs it
    (roles/run_automation/tasks/report.yml): the reader role, ``full_output``, ``details``, ``concurrency``,
    ``targets_file`` (the run's targets.json, kept by the role's start) and ``dest`` (the run's results.jsonl,
    streamed as locations arrive), with the role's defaults; the module result is the summary. Its direct
    counterpart is the ``ours+role`` row (the same arguments, called directly).
    ``dest=False`` (the ``ansible-nodest`` row): the records come back as the module result, registered, and a
    separate ``Dump`` task writes them for the identity check (timed separately)."""
    task: dict = {"automation_execution_id": parent_id, "region": region}
    if dest and not role_args:
        # The ``ansible-plain`` row: dest, without the role's details and targets file (the plain harvest, as ours).
        task.update({"reader_role_name": READER_ROLE, "full_output": False, "concurrency": p.concurrency})
    elif dest:
        # The role's arguments, with its defaults (roles/run_automation/tasks/report.yml, defaults/main.yml): details
        # on, and the run's targets.json, which the role's start wrote (roles/run_automation/tasks/start.yml).
        task.update(
            {"reader_role_name": READER_ROLE, "full_output": False, "details": True, "concurrency": p.concurrency}
        )
        if p.targets_file:
            task["targets_file"] = p.targets_file
    elif p.concurrency != MODULE_DEFAULTS["concurrency"]:
        task["concurrency"] = p.concurrency
    if p.rate != MODULE_DEFAULTS["rate"]:
        task["rate"] = p.rate
    if p.retry_mode != MODULE_DEFAULTS["retry_mode"]:
        task["retry_mode"] = p.retry_mode
    if p.processes != MODULE_DEFAULTS["processes"]:
        task["processes"] = p.processes
    tasks = []
    if dest:
        task["dest"] = str(records)
        tasks.append(
            {"name": "Harvest", "orgops.ssm_automation.automation_execution_info": task, "register": "harvest"}
        )
    else:
        tasks.append(
            {"name": "Harvest", "orgops.ssm_automation.automation_execution_info": task, "register": "harvest"}
        )
        # The records, for the identity check (a separate task, timed separately).
        tasks.append(
            {
                "name": "Dump",
                "ansible.builtin.copy": {
                    "content": "{% for loc in harvest.locations %}{{ loc | to_json }}\n{% endfor %}",
                    "dest": str(records),
                    "mode": "0600",
                },
            }
        )
    tasks.append(
        {
            "name": "Counts",
            "ansible.builtin.copy": {
                "content": "{{ {'summary': harvest.summary, 'progress': harvest.progress} | to_json }}",
                "dest": str(records) + ".summary.json",
                "mode": "0600",
            },
        }
    )
    play = [{"name": "Gather benchmark", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    playbook = workdir / f"{name}.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False, width=200))
    timing = workdir / f"{name}-timing.json"
    env = {
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_timing",
        "BENCH_TIMING_FILE": str(timing),
    }
    # The project's own inventory (inventories/prod/hosts.yml), as users run the playbooks: localhost, the local
    # connection, the controller's Python, pipelining on.
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(INVENTORY), str(playbook)]
    return cmd, env


@dataclass
class Run:
    name: str
    wall_s: float = 0.0
    process_wall_s: float = 0.0
    rc: int = 0
    peak_rss_mb: float = 0.0
    client_cpu_s: float = 0.0
    sandbox_cpu_s: float = 0.0
    calls: int = 0
    calls_by_action: dict = field(default_factory=dict)
    throttles: int = 0
    server_errors: int = 0
    other_errors: int = 0
    retries_client: int | None = None
    records_path: str = ""
    records: int = 0
    instances: int = 0
    locations: int = 0
    identical: bool | None = None
    lost: int | None = None
    extra: int | None = None
    span_s: float = 0.0
    detail: dict = field(default_factory=dict)
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def run_contender(
    name: str,
    handle,
    workdir: Path,
    parent_id: str,
    region: str,
    p: Params,
    kind: str | None = None,
    faults: list[dict] | None = None,
    profile: bool = False,
    spec_extra: dict | None = None,
) -> Run:
    """Run one contender in its own process, against the sandbox with ``faults`` freshly set (full token buckets,
    seeded randomness from the start), and account for it from the request log and the kernel's rusage."""
    kind = kind or name
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    records = workdir / f"{name}.jsonl"
    records.unlink(missing_ok=True)
    out = workdir / f"{name}.out"
    err = workdir / f"{name}.err"
    spec = {
        "parent_id": parent_id,
        "region": region,
        "records": str(records),
        "reader_role": READER_ROLE,
        "concurrency": p.concurrency,
        "rate": p.rate,
        "stream": p.stream,
        "retry_mode": p.retry_mode,
        "max_attempts": MODULE_DEFAULTS["max_attempts"],
        "processes": p.processes,
    }
    spec.update(spec_extra or {})
    extra_env = {}
    if kind in ("ansible", "ansible-nodest", "ansible-plain"):
        cmd, extra_env = ansible_playbook(
            workdir,
            parent_id,
            region,
            p,
            records,
            dest=kind != "ansible-nodest",
            name=name,
            role_args=kind == "ansible",
        )
    else:
        spec_path = workdir / f"{name}.spec.json"
        spec_path.write_text(json.dumps(spec))
        cmd = [sys.executable, str(CONTENDERS), kind, str(spec_path)]
        if profile:
            pyspy = Path(sys.executable).parent / "py-spy"
            cmd = [str(pyspy), "record", "--rate", "100", "--format", "raw", "--gil", "--nonblocking", "--subprocesses",
                   "--output", str(workdir / f"{name}.pyspy.txt"), "--", *cmd]  # fmt: skip
    handle.set_faults(faults or [])
    spid = server_pid(handle)
    seq0 = handle.last_seq()
    cpu0 = process_cpu_seconds(spid)
    t0 = time.monotonic()
    with open(out, "w") as fout, open(err, "w") as ferr:
        proc = subprocess.Popen(cmd, cwd=REPO, env=contender_env(handle, extra_env), stdout=fout, stderr=ferr)
        with TreeMemory(proc.pid) as memory:
            _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    process_wall = time.monotonic() - t0
    cpu1 = process_cpu_seconds(spid)
    seq1 = handle.last_seq()
    handle.clear_faults()
    run = Run(name=name, rc=proc.returncode, process_wall_s=process_wall, records_path=str(records))
    # CPU: the process and all its descendants (wait4). Memory: see TreeMemory (ru_maxrss is skewed by the fork).
    run.client_cpu_s = usage.ru_utime + usage.ru_stime
    run.peak_rss_mb, run.detail["peak_rss_process"] = memory.largest()
    run.detail["memory"] = memory.report()
    run.detail["ru_maxrss_mb_including_fork_parent"] = usage.ru_maxrss / 1024
    run.sandbox_cpu_s = cpu1 - cpu0
    if proc.returncode != 0:
        run.error = (Path(err).read_text()[-3000:] + Path(out).read_text()[-3000:]).strip()
    if kind in ("ansible", "ansible-nodest", "ansible-plain"):
        timing_file = workdir / f"{name}-timing.json"
        timing = json.loads(timing_file.read_text()) if timing_file.exists() else {}
        harvest = timing.get("Harvest") or {}
        run.wall_s = harvest.get("duration", 0.0)
        run.detail["tasks"] = timing
        summary_file = Path(str(records) + ".summary.json")
        if summary_file.exists():
            data = json.loads(summary_file.read_text())
            run.retries_client = data["summary"].get("retries")
            run.detail["module_api_calls"] = data["summary"].get("api_calls")
            run.detail["processes"] = data["summary"].get("processes")
    else:
        lines = [line for line in Path(out).read_text().splitlines() if line.startswith("{")]
        result = json.loads(lines[-1]) if lines else {}
        run.wall_s = result.get("wall_s", 0.0)
        run.retries_client = result.get("retries")
        run.detail.update({k: v for k, v in result.items() if k not in ("wall_s", "retries")})
        # The contender's own high-water mark, read by itself at the end of the harvest: exact for one process.
        if result.get("vm_hwm_mb", 0) > run.peak_rss_mb:
            run.peak_rss_mb = result["vm_hwm_mb"]
    log = [r for r in handle.requests(seq0) if r["seq"] <= seq1]
    account_log(run, log)
    return run


def account_log(run: Run, log: list[dict]) -> None:
    run.calls = len(log)
    run.calls_by_action = dict(Counter(r["action"] for r in log).most_common())
    run.throttles = sum(1 for r in log if r.get("error_code") in THROTTLE_CODES)
    run.server_errors = sum(1 for r in log if (r.get("status") or 0) >= 500)
    run.other_errors = sum(1 for r in log if r.get("error_code") and r.get("error_code") not in THROTTLE_CODES) - (
        run.server_errors
    )
    if log:
        run.span_s = max(r["ts"] for r in log) - min(r["ts"] for r in log)
    per_location: dict = defaultdict(int)
    for r in log:
        if r["service"] == "ssm":
            per_location[(r["account"], r["region"])] += 1
    run.detail["ssm_calls_max_per_location"] = max(per_location.values(), default=0)
    run.detail["ssm_locations_called"] = len(per_location)
    run.detail["writes"] = sum(1 for r in log if r.get("write"))


# ---------------------------------------------------------------------------------------------------------------
# Records: the same set of instance x step records?
# ---------------------------------------------------------------------------------------------------------------


def _canonical_location(loc: dict) -> list[str]:
    out = [
        json.dumps(
            ["location", loc.get("account"), loc.get("region"), loc.get("member_execution_id"), loc.get("status")],
            sort_keys=True,
        )
    ]
    for inst in loc.get("instances") or []:
        head = [
            loc.get("account"),
            loc.get("region"),
            inst.get("instance_id"),
            inst.get("execution_id"),
            inst.get("status"),
        ]
        steps = inst.get("steps") or []
        if not steps:
            out.append(json.dumps(["instance", *head, None, None, None, None], sort_keys=True))
        for step in steps:
            out.append(
                json.dumps(
                    [
                        "step",
                        *head,
                        step.get("step_name"),
                        step.get("status"),
                        step.get("outputs") or {},
                        step.get("failure_message"),
                    ],
                    sort_keys=True,
                )
            )
    return out


def read_records(path: Path | str) -> tuple[set, dict]:
    """The canonical records of a contender's JSON Lines (location lines; other line types are skipped)."""
    records: set = set()
    counts = {"locations": 0, "instances": 0, "steps": 0, "duplicates": 0}
    path = Path(path)
    if not path.exists():
        return records, counts
    with path.open() as handle:
        for raw in handle:
            if not raw.strip():
                continue
            item = json.loads(raw)
            if item.get("type", "location") != "location":
                continue
            counts["locations"] += 1
            for inst in item.get("instances") or []:
                counts["instances"] += 1
                counts["steps"] += len(inst.get("steps") or [])
            for rec in _canonical_location(item):
                if rec in records:
                    counts["duplicates"] += 1
                records.add(rec)
    return records, counts


def compare(run: Run, reference: set | None, records: set, counts: dict) -> None:
    run.records = len(records)
    run.instances = counts["instances"]
    run.locations = counts["locations"]
    run.detail["steps"] = counts["steps"]
    run.detail["duplicate_records"] = counts["duplicates"]
    if reference is not None:
        run.lost = len(reference - records)
        run.extra = len(records - reference)
        run.identical = run.lost == 0 and run.extra == 0


# ---------------------------------------------------------------------------------------------------------------
# The bound
# ---------------------------------------------------------------------------------------------------------------


def bound(p: Params, instances_per_location: dict, parent_pages: int) -> dict:
    """The physical bound of the harvest, from the SSM rate limit and the call latency.

    ``max over locations of (necessary SSM calls in that location / T) + L x D``:

    - necessary calls in a member location: ceil(M/50) DescribeAutomationExecutions pages + M
      GetAutomationExecution (one per instance execution); in the management account's region: the parent's
      GetAutomationExecution + its step pages;
    - D, the chain of calls that must follow one another: parent GetAutomationExecution -> its step pages (each
      needs the previous NextToken) -> AssumeRole into the member account -> ceil(M/50) DescribeAutomationExecutions
      pages -> GetAutomationExecution (all instance executions of a location at once).
    Client and server CPU are taken as free: the bound is what an infinitely fast client could reach.
    """
    tps = p.tps or math.inf
    member = {loc: math.ceil(m / PAGE) + m for loc, m in instances_per_location.items()}
    max_member = max(member.values(), default=0)
    parent_calls = 1 + parent_pages
    max_pages = max((math.ceil(m / PAGE) for m in instances_per_location.values()), default=0)
    depth = 1 + parent_pages + 1 + max_pages + 1
    rate_term = max(max_member, parent_calls) / tps
    latency_term = depth * p.latency_ms / 1000.0
    return {
        "seconds": rate_term + latency_term,
        "rate_term_s": rate_term,
        "latency_term_s": latency_term,
        "max_calls_in_a_location": max(max_member, parent_calls),
        "sequential_depth": depth,
        "necessary_calls": sum(member.values()) + parent_calls + len({a for a, _r in instances_per_location}),
        "formula": "max_loc(calls_loc / T) + L * D",
    }


def instances_per_location(path: Path | str) -> dict:
    out: dict = {}
    with Path(path).open() as handle:
        for line in handle:
            if not line.strip():
                continue
            item = json.loads(line)
            if item.get("type", "location") != "location":
                continue
            out[(item["account"], item["region"])] = sum(
                1 for i in item.get("instances") or [] if i.get("execution_id")
            )
    return out


# ---------------------------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------------------------


def fmt_table(rows: list[list], header: list[str]) -> str:
    cells = [[str(c) for c in header]] + [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "| " + " | ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)) + " |"
        )
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def write_results(data: dict, directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = directory / f"{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{stamp}-{n}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    return path
