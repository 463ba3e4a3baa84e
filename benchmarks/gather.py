#!/usr/bin/env python3
"""Benchmark: harvesting an organization's automation results at scale, ours against the sequential baseline.

``make bench`` (= ``.venv/bin/python benchmarks/gather.py``); ``make bench ARGS=--large``; ``--help`` for options.

In one run, against one sandbox (sandbox/), it:

1. generates a world of N accounts x R regions x M instances (sandbox/generate.py) and starts a sandbox on it;
2. creates a two-step runbook and runs it across the whole organization to completion (set-up, not measured);
3. sets the sandbox's faults: latency L on every call, a token bucket of T calls/s per account-region on SSM
   (ThrottlingException when empty), and measures, each in its own process, side by side:
   - ``baseline``: a plain sequential boto3 loop, the obvious way (benchmarks/contenders.py);
   - ``ours``: automation_execution_info's code path (module_utils/_harvest/), called directly with the module's
     defaults;
   - ``ansible``: the same module as one real Ansible task through ansible-playbook, with the arguments the
     ``run_automation`` role gives it (``details``, ``dest``, the run's kept ``targets.json``);
   - ``ours+role``: the same work called directly (the module's code path with the role's arguments): the
     ``ansible`` row's counterpart, for the role's-path target;
   - ``ours+details``: ours with the module's ``details`` option on (who is who: account name and OU path from
     Organizations, the Name tag from ec2:DescribeInstances, platform and ping status from
     ssm:DescribeInstanceInformation, at most one call per 50 instances per location and service), against ``ours``
     with it off;
   - ``ours+throttle``: ours again with a random throttle rate (default 5%) on top, to prove no record is lost;
4. probes the sandbox: requests per second from 1/8/32 threads and its CPU per request;
5. prints the table and the targets, and writes everything, with the parameters, to benchmarks/results/<time>.json.

Wall time, API calls (total, per action, per instance execution), throttles and errors come from the sandbox's
request log (``GET /_sandbox/requests?since=``); peak RSS and client CPU from the kernel (``wait4`` rusage of each
contender's process tree); sandbox CPU from /proc. Identity: the canonical set of location and instance x step
records (account, region, instance, execution id, statuses, step outputs, failure messages) must be equal.
The targets are printed, never asserted: a missed target is reported as MISSED, with the numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import harness, profiling  # noqa: E402
from benchmarks.harness import Params  # noqa: E402

TARGETS = {
    "speedup_vs_baseline": 15.0,
    "ansible_over_direct": 1.15,
    "cpu_per_call_vs_baseline": 0.4,
    "ours_over_bound": 1.5,
    "calls_per_instance": 1.05,
    "calls_per_location": 2,
    "large_peak_rss_mb": 200.0,
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/gather.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--large", action="store_true", help="1,000 x 2 x 20, streaming to JSON Lines, no baseline")
    parser.add_argument("--accounts", type=int, help="member accounts N (default 200; --large 1000)")
    parser.add_argument("--regions", type=int, help="regions R (default 2)")
    parser.add_argument("--instances", type=int, help="instances per account and region M (default 10; --large 20)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency L added to every call (ms)")
    parser.add_argument("--tps", type=float, default=20.0, help="SSM token bucket T per account-region (calls/s)")
    parser.add_argument(
        "--throttle-rate", type=float, default=0.05, help="random SSM throttling of the extra ours pass (0: skip it)"
    )
    parser.add_argument("--concurrency", type=int, help="ours: locations at once (default: the module's, 16)")
    parser.add_argument("--rate", type=float, help="ours: calls/s per location (default: the module's, 10)")
    parser.add_argument(
        "--also-concurrency",
        type=int,
        nargs="*",
        default=[],
        metavar="N",
        help="extra ours runs with these concurrencies (rows ours@cN), to see what concurrency or CPU limits",
    )
    parser.add_argument(
        "--retry-mode", choices=["adaptive", "standard"], help="ours: botocore retry mode (default: the module's)"
    )
    parser.add_argument(
        "--processes", type=int, help="ours: worker processes (default: the module's, 0 = automatic; 1 = none)"
    )
    parser.add_argument(
        "--also-processes",
        type=int,
        nargs="*",
        default=[1],
        metavar="N",
        help="extra ours runs with these worker processes (rows ours@pN; default: 1, ours in one process)",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="ours streams to JSON Lines (on for --large); the ansible row always does (dest)",
    )
    parser.add_argument("--baseline", dest="baseline", action="store_true", default=None, help="run the baseline")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the baseline")
    parser.add_argument("--no-ansible", action="store_true", help="skip the runs as an Ansible task")
    parser.add_argument("--no-details", action="store_true", help="skip the ours+details row (details option on)")
    parser.add_argument(
        "--no-ansible-nodest",
        dest="ansible_nodest",
        action="store_false",
        default=None,
        help="skip the Ansible task without dest (records as the module result; off for --large)",
    )
    parser.add_argument("--no-awsrun", action="store_true", help="skip the awsrun contender")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run baseline, ours and ansible N times (N passes, rows name#2..#N) and judge the CPU-per-call and\n"
        "Ansible targets on the median of the passes (the CPU target wants 3: make bench ARGS='--repeat 3')",
    )
    parser.add_argument("--no-probe", action="store_true", help="skip the sandbox throughput probe")
    parser.add_argument("--profile", action="store_true", help="py-spy the sandbox and ours (slower; for analysis)")
    parser.add_argument("--time-scale", type=float, default=0.001, help="sandbox time scale for the set-up run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", help="keep the world, sandbox log and records here (default: a temp dir)")
    parser.add_argument("--results", default=str(harness.RESULTS), help="directory for the JSON results")
    return parser.parse_args(argv)


def params_from(args: argparse.Namespace) -> Params:
    large = args.large
    p = Params(
        accounts=args.accounts or (1000 if large else 200),
        regions=args.regions or 2,
        instances=args.instances if args.instances is not None else (20 if large else 10),
        latency_ms=args.latency_ms,
        tps=args.tps,
        throttle_rate=args.throttle_rate,
        stream=args.stream or large,
        baseline=(not large) if args.baseline is None else args.baseline,
        ansible=not args.no_ansible,
        details=not args.no_details,
        time_scale=args.time_scale,
        seed=args.seed,
        large=large,
        profile=args.profile,
        probe=not args.no_probe,
        awsrun=not args.no_awsrun,
        ansible_nodest=(not args.no_ansible and not large) if args.ansible_nodest is None else args.ansible_nodest,
        repeat=max(1, args.repeat),
    )
    if args.concurrency is not None:
        p.concurrency = args.concurrency
    if args.rate is not None:
        p.rate = args.rate
    if args.retry_mode:
        p.retry_mode = args.retry_mode
    if args.processes is not None:
        p.processes = args.processes
    p.also_concurrency = list(args.also_concurrency or [])
    p.also_processes = [n for n in (args.also_processes or []) if n != p.processes]
    return p


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def probe_targets(records_path: str, limit: int = 32) -> list[dict]:
    targets = []
    with open(records_path) as handle:
        for line in handle:
            item = json.loads(line)
            if item.get("type", "location") != "location":
                continue
            for inst in item.get("instances") or []:
                if inst.get("execution_id"):
                    targets.append(
                        {"account": item["account"], "region": item["region"], "execution_id": inst["execution_id"]}
                    )
                    break
            if len(targets) >= limit:
                break
    return targets


def run(p: Params, workdir: Path, results_dir: Path) -> dict:
    data: dict = {"parameters": asdict(p), "machine": harness.machine(), "module_defaults": harness.MODULE_DEFAULTS}
    data["parameters"]["locations"] = p.locations
    data["parameters"]["instance_executions"] = p.instance_executions
    world = harness.make_world(p)
    say(
        f"world {world['name']}: {p.locations} locations, {p.instance_executions} instance executions; starting the sandbox"
    )
    t0 = time.monotonic()
    profile_out = workdir / "sandbox.pyspy.txt" if p.profile else None
    handle = harness.start_sandbox(world, workdir / "sandbox", profile_out=profile_out)
    setup = {"sandbox_start_s": time.monotonic() - t0}
    runs: dict[str, harness.Run] = {}
    try:
        say(f"sandbox up in {setup['sandbox_start_s']:.1f}s at {handle.endpoint}; running the automation (set-up)")
        t0 = time.monotonic()
        parent = harness.start_automation(handle, world)
        setup["automation_s"] = time.monotonic() - t0
        setup["parent_execution_id"] = parent["AutomationExecutionId"]
        setup["parent_status"] = parent["AutomationExecutionStatus"]
        setup["parent_progress"] = parent.get("ProgressCounters")
        setup["sandbox_rss_mb_after_setup"] = harness.process_rss_mb(harness.server_pid(handle))
        say(
            f"automation {parent['AutomationExecutionStatus']} in {setup['automation_s']:.1f}s: {parent.get('ProgressCounters')}"
        )
        region = world["regions"][0]
        pid = parent["AutomationExecutionId"]
        faults = harness.fault_rules(p.latency_ms, p.tps)
        # The role's start keeps the run's expected target set as targets.json; its harvest reads it (no
        # Organizations walk for the expected set): the ansible and ours+role rows run that way.
        p = dataclasses.replace(p, targets_file=str(harness.write_targets(handle, parent, workdir / "targets.json")))
        plan = []
        if p.baseline:
            plan.append(("baseline", "baseline", faults))
        if p.awsrun:
            plan.append(("awsrun", "awsrun", faults))
        plan.append(("ours", "ours", faults))
        if p.details:
            plan.append(("ours+details", "ours", faults))
        if p.ansible:
            plan.append(("ours+role", "ours", faults))
            plan.append(("ansible", "ansible", faults))
        if p.ansible_nodest:
            plan.append(("ansible-nodest", "ansible-nodest", faults))
        if p.ansible:
            plan.append(("ours+dest", "ours", faults))
            plan.append(("ansible-plain", "ansible-plain", faults))
        if p.throttle_rate:
            plan.append(("ours+throttle", "ours", harness.fault_rules(p.latency_ms, p.tps, p.throttle_rate)))
        for n in p.also_concurrency:
            plan.append((f"ours@c{n}", "ours", faults))
        for n in p.also_processes:
            plan.append((f"ours@p{n}", "ours", faults))
        for i in range(2, p.repeat + 1):  # more passes of the rows the CPU and Ansible targets compare
            if p.baseline:
                plan.append((f"baseline#{i}", "baseline", faults))
            plan.append((f"ours#{i}", "ours", faults))
            if p.ansible:
                plan.append((f"ours+role#{i}", "ours", faults))
                plan.append((f"ansible#{i}", "ansible", faults))
                plan.append((f"ours+dest#{i}", "ours", faults))
                plan.append((f"ansible-plain#{i}", "ansible-plain", faults))
        for name, kind, rules in plan:
            say(f"{name}: running (faults {rules})")
            variant = p
            if name.startswith("ours@c"):
                variant = dataclasses.replace(p, concurrency=int(name[len("ours@c") :]))
            elif name.startswith("ours@p"):
                variant = dataclasses.replace(p, processes=int(name[len("ours@p") :]))
            result = harness.run_contender(
                name,
                handle,
                workdir,
                pid,
                region,
                variant,
                kind=kind,
                faults=rules,
                profile=p.profile and name == "ours",
                spec_extra={"management_account": world["management_account"]["id"], "workers": p.concurrency}
                if kind == "awsrun"
                else {"details": True}
                if name == "ours+details"
                else {"details": True, "targets_file": p.targets_file, "stream": True}
                if name.startswith("ours+role")
                else {"stream": True}
                if name.startswith("ours+dest")
                else None,
            )
            result.detail["loadavg_after"] = harness.loadavg()
            runs[name] = result
            say(
                f"{name}: rc={result.rc} wall={result.wall_s:.2f}s calls={result.calls} throttles={result.throttles} "
                f"rss={result.peak_rss_mb:.0f}MB"
            )
            if result.rc != 0:
                say(f"{name} failed:\n{result.error}")
        if p.probe and "ours" in runs and runs["ours"].rc == 0:
            say("probing the sandbox: requests/s from 1, 8 and 32 threads")
            spec = {
                "server_pid": harness.server_pid(handle),
                "targets": probe_targets(runs["ours"].records_path),
                "levels": [1, 8, 32],
                "calls": 600,
            }
            probe = harness.run_contender("probe", handle, workdir, pid, region, p, kind="probe", spec_extra=spec)
            data["sandbox_probe"] = probe.detail.get("levels")
            data["member_probe"] = probe.detail.get("member_levels")
        setup["sandbox_rss_mb_at_end"] = harness.process_rss_mb(harness.server_pid(handle))
    finally:
        handle.stop()
    data["setup"] = setup
    data["expected"] = {
        "locations": p.locations,
        "instances": p.instance_executions,
        "records": p.locations + p.instance_executions * 2,
    }

    # Identity: every run against the reference (the baseline when it ran, else ours).
    reference_name = "baseline" if "baseline" in runs else "ours"
    reference, ref_counts = harness.read_records(runs[reference_name].records_path)
    harness.compare(runs[reference_name], None, reference, ref_counts)
    for name, r in runs.items():
        if name != reference_name:
            records, counts = harness.read_records(r.records_path)
            harness.compare(r, reference, records, counts)
            del records
    parent_pages = runs[reference_name].calls_by_action.get("DescribeAutomationStepExecutions", 0)
    bound = harness.bound(p, harness.instances_per_location(runs[reference_name].records_path), parent_pages)
    del reference
    data["reference"] = reference_name
    data["bound"] = bound
    data["cpu_floor"] = cpu_floor(runs.get("ours"), data["machine"]["nproc"] or 1)
    data["runs"] = {name: r.as_dict() for name, r in runs.items()}
    data["passes"] = passes(runs)
    data["targets"] = evaluate(p, runs, bound, data["cpu_floor"], data["passes"], data.get("member_probe"))
    if p.profile:
        data["profiles"] = {}
        sandbox_profile = workdir / "sandbox.pyspy.txt"
        if sandbox_profile.exists():
            data["profiles"]["sandbox_requests"] = profiling.summarize(sandbox_profile, "process_request_thread", 30)
        ours_profile = workdir / "ours.pyspy.txt"
        if ours_profile.exists():
            data["profiles"]["ours"] = profiling.summarize(ours_profile, None, 30)
    data["machine"]["loadavg_end"] = harness.loadavg()
    data["table"] = table(p, runs, bound, data)
    data["results_file"] = str(harness.write_results(data, results_dir))
    return data


def cpu_floor(run, nproc: int) -> dict | None:
    """What the bound leaves out: the CPU the run needed, measured. The harvest cannot finish before the machine has
    done its work: the client's CPU during the harvest (imports and set-up excluded; its worker processes included)
    and the sandbox's, spread perfectly over the ``nproc`` CPUs; nor before the sandbox (one Python process, so one
    CPU at a time for its Python code) has done its own."""
    if not run or not run.calls:
        return None
    client = run.detail.get("harvest_cpu_s", run.client_cpu_s)
    spread = (client + run.sandbox_cpu_s) / nproc
    return {
        "seconds": max(spread, run.sandbox_cpu_s),
        "client_cpu_s": client,
        "sandbox_cpu_s": run.sandbox_cpu_s,
        "nproc": nproc,
        "spread_s": spread,
        "formula": "max((client CPU during the harvest + sandbox CPU) / CPUs, sandbox CPU)",
    }


def cpu_ms_per_call(run) -> float | None:
    """The contender's client CPU per call during the harvest (imports and interpreter start-up excluded; forked
    worker processes included), from getrusage inside the contender; None when it cannot say (an Ansible task)."""
    if not run or run.rc != 0 or not run.calls or "harvest_cpu_s" not in run.detail:
        return None
    return 1000 * run.detail["harvest_cpu_s"] / run.calls


def bare_call_note(probe: list | None, baseline_ms: list[float]) -> str:
    """What no botocore harvest can go below, measured in the same run: the harvest's own member client, warm,
    reading instance executions again and again (no AssumeRole, no Organizations walk, no records, no pacing) from 1
    thread and from as many threads as ours runs per worker process, against the baseline's CPU per call (median
    of the passes)."""
    by_threads = {lv.get("threads"): lv.get("client_cpu_ms_per_call") for lv in probe or []}
    base = median(baseline_ms)
    if not by_threads.get(1) or not base:
        return ""
    wanted = TARGETS["cpu_per_call_vs_baseline"] * base
    text = (
        f"the same run's probe, the harvest's member client with nothing else: {by_threads[1]:.2f} ms per call from "
        f"1 thread ({by_threads[1] / base:.2f}x the baseline's {base:.2f} ms)"
    )
    many = max(t for t in by_threads if by_threads[t])
    if many > 1:
        text += f", {by_threads[many]:.2f} ms from {many} threads ({by_threads[many] / base:.2f}x)"
    return text + f"; 0.4x is {wanted:.2f} ms"


def median(values: list[float]) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def passes(runs: dict) -> list[dict]:
    """Per pass (``--repeat``): the baseline's and ours' CPU per call and their ratio, and the Ansible task's wall
    time against ours' direct one, each pass's rows run one after another against the same sandbox."""
    out = []
    i = 1
    while True:
        suffix = "" if i == 1 else f"#{i}"
        ours = runs.get("ours" + suffix)
        if ours is None:
            break
        base = runs.get("baseline" + suffix)
        ansible = runs.get("ansible" + suffix)
        direct = runs.get("ours+role" + suffix)  # the same work as the ansible row, called directly
        entry = {"pass": i, "ours_cpu_ms_per_call": cpu_ms_per_call(ours)}
        if base is not None:
            entry["baseline_cpu_ms_per_call"] = cpu_ms_per_call(base)
            if entry["baseline_cpu_ms_per_call"] and entry["ours_cpu_ms_per_call"]:
                entry["cpu_ratio"] = entry["ours_cpu_ms_per_call"] / entry["baseline_cpu_ms_per_call"]
        if ansible is not None and ansible.rc == 0 and direct is not None and direct.rc == 0 and direct.wall_s:
            entry["ansible_s"] = ansible.wall_s
            entry["ours_s"] = direct.wall_s
            entry["ansible_over_ours"] = ansible.wall_s / direct.wall_s
        plain, plain_direct = runs.get("ansible-plain" + suffix), runs.get("ours+dest" + suffix)
        if plain is not None and plain.rc == 0 and plain_direct is not None and plain_direct.wall_s:
            # informational: the plain harvest with dest (no details) as a task, against the same work direct
            entry["plain_s"] = plain.wall_s
            entry["plain_direct_s"] = plain_direct.wall_s
            entry["plain_over_direct"] = plain.wall_s / plain_direct.wall_s
        out.append(entry)
        i += 1
    return out


def evaluate(
    p: Params,
    runs: dict,
    bound: dict,
    floor: dict | None = None,
    passes_: list | None = None,
    probe: list | None = None,
) -> list[dict]:
    out = []
    ours = runs.get("ours")
    base = runs.get("baseline")

    def add(name, target, reached, met, note=""):
        out.append({"target": name, "wanted": target, "reached": reached, "met": met, "note": note})

    if ours and base and ours.wall_s:
        speedup = base.wall_s / ours.wall_s
        add("ours >= 15x faster than the sequential baseline", ">= 15x", f"{speedup:.1f}x", speedup >= 15)
    if ours:
        ratio = ours.wall_s / bound["seconds"] if bound["seconds"] else float("inf")
        note = ""
        if floor:
            note = (
                f"the bound counts no CPU; measured CPU floor {floor['seconds']:.2f}s, ours "
                f"{ours.wall_s / floor['seconds']:.2f}x that"
                + (
                    f"; 1.5x the bound ({1.5 * bound['seconds']:.2f}s) is below the CPU floor: unreachable here"
                    if floor["seconds"] > 1.5 * bound["seconds"]
                    else ""
                )
            )
        add(
            "ours within 1.5x of the bound",
            "<= 1.5x",
            f"{ratio:.1f}x ({ours.wall_s:.2f}s / {bound['seconds']:.2f}s)",
            ratio <= 1.5,
            note,
        )
        instances = ours.instances or p.instance_executions
        locations = ours.locations or p.locations
        allowance = TARGETS["calls_per_instance"] * instances + TARGETS["calls_per_location"] * locations
        add(
            "<= 1.05 calls per instance execution + 2 per location",
            f"<= {allowance:.0f} calls",
            f"{ours.calls} calls ({ours.calls / max(instances, 1):.3f}/instance)",
            ours.calls <= allowance,
        )
        if ours.identical is not None:
            add(
                "results identical to the baseline's",
                "identical",
                f"lost {ours.lost}, extra {ours.extra}",
                ours.identical,
            )
        else:
            add(
                "results complete",
                f"{p.instance_executions} instances",
                f"{ours.instances} instances",
                ours.instances == p.instance_executions,
            )
    passes_ = passes_ or []
    ansible_ratios = [x["ansible_over_ours"] for x in passes_ if "ansible_over_ours" in x]
    if ansible_ratios:
        ratio = median(ansible_ratios)
        each = ", ".join(f"{x['ansible_s']:.2f}/{x['ours_s']:.2f}s" for x in passes_ if "ansible_over_ours" in x)
        add(
            "the role's path (ansible: the role's arguments) within 1.15x of the same work direct (ours+role)",
            f"<= {TARGETS['ansible_over_direct']}x",
            f"{ratio:.2f}x"
            + (f" (median of {len(ansible_ratios)} passes: {each})" if len(ansible_ratios) > 1 else f" ({each})"),
            ratio <= TARGETS["ansible_over_direct"],
        )
    cpu_ratios = [x["cpu_ratio"] for x in passes_ if "cpu_ratio" in x]
    if cpu_ratios:
        ratio = median(cpu_ratios)
        each = "; ".join(
            f"{x['ours_cpu_ms_per_call']:.2f}/{x['baseline_cpu_ms_per_call']:.2f} ms = {x['cpu_ratio']:.2f}x"
            for x in passes_
            if "cpu_ratio" in x
        )
        add(
            "ours' client CPU per call during the harvest <= 0.4x the baseline's (median of 3 passes)",
            f"<= {TARGETS['cpu_per_call_vs_baseline']}x",
            f"{ratio:.2f}x, median of {len(cpu_ratios)} pass(es): {each}",
            ratio <= TARGETS["cpu_per_call_vs_baseline"] and len(cpu_ratios) >= 3,
            "; ".join(
                note
                for note in (
                    "" if len(cpu_ratios) >= 3 else "fewer than 3 passes: not judged as met; run with --repeat 3",
                    bare_call_note(probe, [x["baseline_cpu_ms_per_call"] for x in passes_ if "cpu_ratio" in x]),
                )
                if note
            ),
        )
    contender = runs.get("awsrun")
    if contender and ours:
        add(
            "ours ahead of awsrun (64 workers) in the same run",
            "ours faster",
            f"ours {ours.wall_s:.2f}s, awsrun {contender.wall_s:.2f}s ({contender.wall_s / ours.wall_s:.1f}x ours)"
            + ("" if contender.rc == 0 else f" (awsrun rc {contender.rc})"),
            contender.rc == 0 and ours.wall_s < contender.wall_s and contender.identical is not False,
            ""
            if contender.identical is not False
            else f"awsrun's records differ: -{contender.lost}/+{contender.extra}",
        )
    throttled = runs.get("ours+throttle")
    if throttled:
        add(
            f"zero records lost with {p.throttle_rate:.0%} random throttling",
            "0 lost",
            f"lost {throttled.lost}, extra {throttled.extra} ({throttled.throttles} throttles met)",
            throttled.lost == 0 and throttled.extra == 0 and throttled.rc == 0,
        )
    if ours:
        memory = ours.detail.get("memory") or {}
        together = memory.get("max_sum_pss_mb", 0.0)
        peak = max(ours.peak_rss_mb, together)
        add(
            "peak RSS <= 200 MB (for --large)",
            "<= 200 MB",
            f"{peak:.0f} MB: largest process {ours.peak_rss_mb:.0f} MB, all {len(memory.get('processes') or [1])} "
            f"processes together {together:.0f} MB (proportional set size; their RSS sum "
            f"{memory.get('max_sum_rss_mb', 0.0):.0f} MB counts shared pages once per process)"
            + ("" if p.large else " (default size; the target is for --large)"),
            peak <= TARGETS["large_peak_rss_mb"],
            "" if p.large else "informational at this size",
        )
    return out


def table(p: Params, runs: dict, bound: dict, data: dict) -> str:
    base = runs.get("baseline")
    header = [
        "contender",
        "procs",
        "wall s",
        "vs base",
        "calls",
        "calls/inst",
        "throttles",
        "retries",
        "peak RSS MB",
        "all procs MB",
        "client CPU s",
        "CPU ms/call",
        "sandbox CPU s",
        "instances",
        "records",
        "identical",
    ]
    rows = []
    for name, r in runs.items():
        insts = r.instances or p.instance_executions
        speed = f"{base.wall_s / r.wall_s:.1f}x" if base and r.wall_s else ""
        identical = {None: "ref", True: "yes", False: f"NO (-{r.lost}/+{r.extra})"}[r.identical]
        rows.append(
            [
                name + ("" if r.rc == 0 else f" (rc {r.rc})"),
                r.detail.get("processes") or (1 if name == "baseline" else ""),
                f"{r.wall_s:.2f}",
                speed,
                r.calls,
                f"{r.calls / max(insts, 1):.3f}",
                r.throttles,
                r.retries_client,
                f"{r.peak_rss_mb:.0f}",
                f"{(r.detail.get('memory') or {}).get('max_sum_pss_mb', 0.0):.0f}",
                f"{r.client_cpu_s:.1f}",
                "" if cpu_ms_per_call(r) is None else f"{cpu_ms_per_call(r):.2f}",
                f"{r.sandbox_cpu_s:.1f}",
                r.instances,
                r.records,
                identical,
            ]
        )
    m = data["machine"]
    lines = [
        f"gather benchmark: {p.accounts} accounts x {p.regions} regions x {p.instances} instances = "
        f"{p.locations} locations, {p.instance_executions} instance executions; L={p.latency_ms:g} ms, T={p.tps:g}/s "
        f"per account-region; ours: concurrency {p.concurrency}, rate {p.rate:g}/s per location, "
        f"{p.retry_mode} retries, processes {p.processes or 'auto'}"
        + (", streaming to JSON Lines" if p.stream else ""),
        f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_mb']} MB, Python {m['python']}, "
        f"load average {m['loadavg_start']} -> {m.get('loadavg_end')}",
        "",
        harness.fmt_table(rows, header),
        "",
        f"bound = max_loc(calls_loc / T) + L x D = {bound['max_calls_in_a_location']}/{p.tps:g} + "
        f"{p.latency_ms:g} ms x {bound['sequential_depth']} = {bound['seconds']:.2f} s",
    ]
    ours = runs.get("ours")
    floor = data.get("cpu_floor")
    if floor:
        lines.append(
            f"CPU floor (measured, next to the bound, which counts no CPU) = max((ours' CPU in the harvest + sandbox "
            f"CPU) / CPUs, sandbox CPU) = max(({floor['client_cpu_s']:.1f} + {floor['sandbox_cpu_s']:.1f}) / {floor['nproc']}, "
            f"{floor['sandbox_cpu_s']:.1f}) = {floor['seconds']:.2f} s; ours {ours.wall_s:.2f} s = "
            f"{ours.wall_s / floor['seconds']:.2f}x the CPU floor, {ours.wall_s / bound['seconds']:.1f}x the bound"
        )
    if ours and ours.calls:
        procs = ours.detail.get("processes", 1)
        harvest_cpu = ours.detail.get("harvest_cpu_s", ours.client_cpu_s)
        lines.append(
            f"CPU: ours used {harvest_cpu:.1f} s of CPU in the harvest ({ours.client_cpu_s:.1f} s with imports and "
            f"set-up) in {procs} worker process(es) for {ours.calls} calls "
            f"({1000 * harvest_cpu / ours.calls:.2f} ms/call, botocore's per-call work); one Python process runs "
            f"Python on one core at a time (GIL); the sandbox used {ours.sandbox_cpu_s:.1f} s "
            f"({1000 * ours.sandbox_cpu_s / ours.calls:.2f} ms/call) on the same {m['nproc']} CPUs"
        )
    for label in ("ansible", "ansible-plain", "ansible-nodest"):
        ansible = runs.get(label)
        direct_name = {"ansible": "ours+role", "ansible-plain": "ours+dest"}.get(label, "ours")
        if ansible and direct_name in runs and runs[direct_name].wall_s:
            tasks = ansible.detail.get("tasks") or {}
            direct = runs[direct_name]
            lines.append(
                f"{label}: Harvest task {ansible.wall_s:.2f} s "
                + {
                    "ansible": "(the role's path: details, dest, kept targets.json) ",
                    "ansible-plain": "(the plain harvest with dest: no details, no targets file) ",
                }.get(label, "(no dest: the records as the module result) ")
                + f"({direct_name} direct {direct.wall_s:.2f} s, {ansible.wall_s / direct.wall_s:.2f}x, module "
                f"overhead {ansible.wall_s - direct.wall_s:+.2f} s); ansible-playbook process "
                f"{ansible.process_wall_s:.2f} s"
                + (
                    f"; controller main process CPU during the task {tasks['Harvest']['controller_cpu_s']:.2f} s"
                    if "controller_cpu_s" in (tasks.get("Harvest") or {})
                    else ""
                )
                + (f"; Dump task {tasks['Dump']['duration']:.2f} s" if "Dump" in tasks else "")
            )
    for entry in data.get("passes") or []:
        bits = []
        if entry.get("cpu_ratio") is not None:
            bits.append(
                f"CPU per call during the harvest: ours {entry['ours_cpu_ms_per_call']:.2f} ms, baseline "
                f"{entry['baseline_cpu_ms_per_call']:.2f} ms = {entry['cpu_ratio']:.2f}x"
            )
        if entry.get("ansible_over_ours") is not None:
            bits.append(
                f"ansible {entry['ansible_s']:.2f} s / ours+role {entry['ours_s']:.2f} s = {entry['ansible_over_ours']:.2f}x"
            )
        if entry.get("plain_over_direct") is not None:
            bits.append(
                f"ansible-plain {entry['plain_s']:.2f} s / ours+dest {entry['plain_direct_s']:.2f} s = "
                f"{entry['plain_over_direct']:.2f}x (+{entry['plain_s'] - entry['plain_direct_s']:.2f} s)"
            )
        if bits:
            lines.append(f"pass {entry['pass']}: " + "; ".join(bits))
    for run_ in runs.values():
        if run_.wall_s:
            lines.append(
                f"{run_.name}: {run_.calls / run_.wall_s:.0f} calls/s; CPU per call: client "
                f"{1000 * run_.client_cpu_s / max(run_.calls, 1):.2f} ms, sandbox {1000 * run_.sandbox_cpu_s / max(run_.calls, 1):.2f} ms; "
                f"calls {run_.calls_by_action}"
            )
    for key, title in (
        ("sandbox_probe", "sandbox probe (GetAutomationExecution, no faults, a boto3 client per thread)"),
        ("member_probe", "the same with the harvest's member client (shared by the threads)"),
    ):
        probe = data.get(key)
        if probe:
            lines.append(
                f"{title}: "
                + "; ".join(
                    f"{lv['threads']} threads {lv['rps']:.0f} req/s (sandbox {lv['sandbox_cpu_ms_per_call']:.2f} ms "
                    f"CPU/req, client {lv['client_cpu_ms_per_call']:.2f} ms)"
                    for lv in probe
                )
            )
    lines.append("")
    lines.append("targets (printed, not asserted):")
    for t in data["targets"]:
        lines.append(
            f"  [{'MET' if t['met'] else 'MISSED'}] {t['target']}: {t['reached']} (wanted {t['wanted']}){' - ' + t['note'] if t['note'] else ''}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    p = params_from(args)
    keep = bool(args.workdir)
    workdir = Path(args.workdir) if keep else Path(tempfile.mkdtemp(prefix="bench-gather-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        data = run(p, workdir, Path(args.results))
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(data["table"])
    if "profiles" in data:
        for name, summary in data["profiles"].items():
            print()
            print(profiling.render(summary, f"profile {name}"))
    print(f"\nresults: {data['results_file']}")
    failed = [name for name, r in data["runs"].items() if r["rc"] != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
