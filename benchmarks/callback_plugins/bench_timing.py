# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper (not shipped): writes each task's start, end and duration to $BENCH_TIMING_FILE as JSON, with the
CPU the controller's main process spent during the task (the module runs in other processes)."""

import json
import os
import resource
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timing
type: aggregate
short_description: Task durations for the gather benchmark
description:
  - Writes each task's start, end and duration, as JSON, to the file named by the environment variable
    C(BENCH_TIMING_FILE), with the CPU seconds the controller's main process spent during the task.
requirements:
  - enabled in ANSIBLE_CALLBACKS_ENABLED
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tasks = {}
        self.current = None

    @staticmethod
    def _cpu():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.current = task.get_name()
        self.tasks[self.current] = {"start": time.time(), "controller_cpu_start": self._cpu()}

    def _end(self, result, status):
        name = result.task_name or self.current
        entry = self.tasks.setdefault(name, {"start": time.time()})
        entry["end"] = time.time()
        entry["duration"] = entry["end"] - entry["start"]
        if "controller_cpu_start" in entry:
            entry["controller_cpu_s"] = self._cpu() - entry.pop("controller_cpu_start")
        entry["status"] = status

    def v2_runner_on_ok(self, result):
        self._end(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end(result, "failed")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_TIMING_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump(self.tasks, handle, indent=2, sort_keys=True)
