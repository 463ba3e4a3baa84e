"""Scaled time for the engine: a virtual clock and a bounded background scheduler.

The world's ``time_scale`` says how much wall time one virtual second takes (0.01: a 10-second step timeout passes
in 0.1 s of wall time).  Every timestamp the engine reports comes from the virtual clock, so durations in responses
(ExecutionEndTime - ExecutionStartTime, ExecutionElapsedTime, ...) are the durations the runbook asked for, whatever
the scale.

Executions never hold a thread while they wait: a step that waits (a command running on an instance, aws:sleep, a
timeout) is a timer in one heap, served by one dispatcher thread.  Work that really blocks (the opt-in ``local-shell``
profile runs commands on this machine) goes to a small bounded pool and posts its result back through the heap.

Timers are ordered by their *virtual* due time, and while a timer runs, :meth:`Scheduler.now` is that due time
(discrete-event style), not the wall clock's reading.  So however busy the dispatcher is, a command that finishes
at T+1 is seen to finish at T+1 and before a step timeout at T+10: at small time scales (0.001: one millisecond of
dispatcher lag is a virtual second) a timeline never depends on how fast this machine is.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class VirtualClock:
    """Virtual epoch seconds that advance ``1 / time_scale`` times faster than the wall clock."""

    def __init__(self, time_scale: float = 1.0, start: float | None = None):
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        self.time_scale = float(time_scale)
        self._wall0 = time.monotonic()
        self._virt0 = time.time() if start is None else float(start)

    def now(self) -> float:
        return self._virt0 + (time.monotonic() - self._wall0) / self.time_scale

    def wall_at(self, virtual_time: float) -> float:
        """The monotonic wall time at which the virtual clock reads ``virtual_time``."""
        return self._wall0 + (virtual_time - self._virt0) * self.time_scale


class Timer:
    __slots__ = ("cancelled", "due", "fn", "owner")

    def __init__(self, due: float, fn: Callable[[], None], owner: Scheduler | None = None):
        self.due = due  # virtual time
        self.fn = fn
        self.cancelled = False
        self.owner = owner

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.fn = _noop  # drop what the callback holds on to
            if self.owner is not None:
                self.owner._cancelled_one()


def _noop() -> None:
    return None


class Scheduler:
    """One dispatcher thread running due callbacks in order, plus a bounded pool for blocking work."""

    def __init__(self, clock: VirtualClock, blocking_workers: int = 4, name: str = "sandbox-engine"):
        self.clock = clock
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._busy = 0
        self._cancelled = 0
        self._logical = 0.0
        self._pool = ThreadPoolExecutor(max_workers=blocking_workers, thread_name_prefix=f"{name}-blocking")
        self._thread = threading.Thread(target=self._run, name=f"{name}-dispatcher", daemon=True)
        self._thread.start()

    def now(self) -> float:
        """Virtual now: the due time of the timer being run on the dispatcher, the clock's reading elsewhere."""
        if threading.current_thread() is self._thread:
            return self._logical
        return self.clock.now()

    # -- scheduling -------------------------------------------------------------------------------------------
    def call_at(self, virtual_time: float, fn: Callable[[], None]) -> Timer:
        timer = Timer(virtual_time, fn, self)
        with self._cond:
            heapq.heappush(self._heap, (virtual_time, next(self._seq), timer))
            self._cond.notify()
        return timer

    def call_later(self, virtual_delay: float, fn: Callable[[], None]) -> Timer:
        return self.call_at(self.now() + max(0.0, virtual_delay), fn)

    def call_soon(self, fn: Callable[[], None]) -> Timer:
        return self.call_at(self.now(), fn)

    def _cancelled_one(self) -> None:
        """Cancelled timers stay in the heap until due (a delivery timeout is an hour away); purge them in bulk."""
        with self._cond:
            self._cancelled += 1
            if self._cancelled > 10000 and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def run_blocking(self, work: Callable[[], object], done: Callable[[object, BaseException | None], None]) -> None:
        """Run ``work`` in the bounded pool; ``done(result, error)`` then runs on the dispatcher thread."""

        def task() -> None:
            try:
                result, error = work(), None
            except BaseException as exc:  # handed to done() on the dispatcher, never lost
                result, error = None, exc
            self.call_soon(lambda: done(result, error))

        self._pool.submit(task)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def idle(self) -> bool:
        """True when nothing is due now and no callback is running (timers in the future don't count)."""
        with self._cond:
            now = self.clock.now()
            return self._busy == 0 and not any(due <= now and not t.cancelled for due, _, t in self._heap)

    def pending(self) -> int:
        with self._cond:
            return sum(1 for _, _, t in self._heap if not t.cancelled)

    def clear(self) -> None:
        with self._cond:
            for _, _, timer in self._heap:
                timer.cancelled = True
                timer.fn = _noop
            self._heap.clear()
            self._cancelled = 0

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._heap:
                        wait = self.clock.wall_at(self._heap[0][0]) - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(timeout=wait)
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
                due, _, timer = heapq.heappop(self._heap)
                if timer.cancelled:
                    self._cancelled = max(0, self._cancelled - 1)
                    continue
                self._busy += 1
                self._logical = max(self._logical, due)
            try:
                timer.fn()
            except Exception:  # one broken callback must not stop every other execution
                log.exception("engine callback failed")
            finally:
                with self._cond:
                    self._busy -= 1
