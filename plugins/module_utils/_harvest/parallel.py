# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading locations in parallel: a bounded thread pool, and optionally forked worker processes.

Worker processes are ``multiprocessing`` processes of the ``fork`` context: each inherits its copy of the client
factory (credentials included, never sent) and reads its accounts' locations with its share of the threads; its
records come back through a pipe of its own as they complete, so streaming and totals are unchanged. A location
whose worker died before sending it is reported as unreadable (``WorkerFailed``), never dropped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import multiprocessing
import os
import sys
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from multiprocessing.connection import wait as wait_connections

AUTO_LOCATIONS_PER_PROCESS = 100  # ``processes=0`` (automatic) starts one worker process per this many locations
AUTO_MAX_PROCESSES = 8
WORKER_GC_THRESHOLD = (50000, 50, 100)  # in the worker processes only (see _worker_main)


def read_in_threads(factory, locations, work, workers):
    """Yield ``work(location)`` for every location, in completion order, from a pool of ``workers`` threads."""
    if hasattr(factory, "pool_size"):
        factory.pool_size = max(factory.pool_size, workers)  # one kept connection per thread in a shared client
    pending = deque(locations)
    in_flight = set()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gather") as pool:
        while pending or in_flight:
            while pending and len(in_flight) < workers * 2:
                in_flight.add(pool.submit(work, pending.popleft()))
            done, in_flight = wait_futures(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


def can_fork():
    """Worker processes are forked: Linux only (fork is unsafe on macOS), and only from a single-threaded process
    (a fork copies no thread, but copies the locks other threads may hold)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


def available_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def processes_for(processes, locations, concurrency):
    """How many worker processes read ``locations``: ``processes`` (1: none, the calling process's threads), or
    with 0 (automatic) one per AUTO_LOCATIONS_PER_PROCESS locations, at most the CPUs available and
    AUTO_MAX_PROCESSES; never more than the locations or the concurrency, and 1 where worker processes cannot be
    forked (see :func:`can_fork`)."""
    if processes is None:
        processes = 1
    if processes == 0:
        processes = min(available_cpus(), AUTO_MAX_PROCESSES, -(-locations // AUTO_LOCATIONS_PER_PROCESS))
    processes = min(int(processes), locations, concurrency)
    if processes <= 1 or not can_fork():
        return 1
    return processes


def split_by_account(locations, n):
    """``n`` groups of locations, every account's locations in one group (one AssumeRole per account), balanced
    by number of locations (largest accounts first)."""
    by_account = {}
    for location in locations:
        by_account.setdefault(location["account"], []).append(location)
    groups = [[] for _n in range(n)]
    for account in sorted(by_account, key=lambda a: (-len(by_account[a]), a)):
        min(groups, key=len).extend(by_account[account])
    return [g for g in groups if g]


def _worker_main(factory, group, work, workers, conn):
    """In a worker process: read ``group`` with ``workers`` threads, send each record, then the number of
    AssumeRole calls made. A failure ends the process with exit code 1 (the parent reports what was not sent)."""
    try:
        # A worker allocates a few objects per call, nearly all freed by reference counting: collections every
        # WORKER_GC_THRESHOLD allocations instead of Python's default 700 (gc.set_threshold). Measured at make
        # bench's default size (gc.callbacks): 0.11-0.23 s of each worker's CPU in the collector before, none after.
        gc.set_threshold(*WORKER_GC_THRESHOLD)
        if hasattr(factory, "after_fork"):
            factory.after_fork()
        for record in read_in_threads(factory, group, work, workers):
            conn.send(record)
        conn.send(getattr(factory, "assume_calls", 0))
    except Exception:  # pylint: disable=broad-except
        raise SystemExit(1) from None
    finally:
        conn.close()


def read_in_processes(factory, locations, work, workers, processes):
    """Start ``processes`` forked workers, each reading its accounts' locations with its share of ``workers``
    threads and its own copy of ``factory``. Yields each record as it arrives, then each worker's AssumeRole count
    (an int). A location whose worker died before sending it is yielded as unreadable (``WorkerFailed``)."""
    context = multiprocessing.get_context("fork")
    if hasattr(factory, "prepare_member_clients"):  # the workers inherit the loaded model instead of each loading it
        factory.prepare_member_clients("ssm", {location["region"] for location in locations})
    groups = split_by_account(locations, processes)
    per_worker = max(1, -(-workers // len(groups)))
    alive = {}
    # What the workers inherit (botocore's loaded models, the modules, the factory) is frozen for them: their
    # garbage collections then never walk it (Python's documentation of gc.freeze: freeze right before fork). The
    # calling process unfreezes once they are started, so its own collections are unchanged.
    gc.freeze()
    try:
        for group in groups:
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker_main, args=(factory, group, work, per_worker, writer), name="gather-worker", daemon=True
            )
            process.start()
            writer.close()  # the worker holds the only writer: its end (exit or death) is the reader's EOF
            alive[reader] = {"process": process, "group": group, "sent": {}}
    finally:
        gc.unfreeze()
    try:
        while alive:
            for conn in wait_connections(list(alive)):
                worker = alive[conn]
                try:
                    item = conn.recv()
                except EOFError:
                    del alive[conn]
                    conn.close()
                    worker["process"].join()
                    code = worker["process"].exitcode
                    # (account, region, step) -> records received: two steps may name one account and region
                    sent = worker["sent"]
                    for location in worker["group"]:
                        key = (location["account"], location["region"], location.get("step_name"))
                        if sent.get(key):
                            sent[key] -= 1
                        else:
                            yield dict(
                                location,
                                read_status="failed",
                                read_error={
                                    "code": "WorkerFailed",
                                    "message": "the worker process reading this location ended (exit code %s) "
                                    "before reading it" % code,
                                },
                                instances=[],
                            )
                    continue
                if not isinstance(item, int):
                    key = (item["account"], item["region"], item.get("step_name"))
                    worker["sent"][key] = worker["sent"].get(key, 0) + 1
                yield item
    finally:
        for conn, worker in alive.items():  # only when the caller stopped early: end the workers
            worker["process"].terminate()
            worker["process"].join()
            conn.close()
