# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming totals of a harvest: locations, instances and steps by status, per-step failure counts, failures.

Self-contained (reporting reads harvest records; it does not call AWS).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils._automation.status import (
    SUCCESS_STATUSES,
    is_terminal,
)

# The harvest's own location statuses, for a targeted location that AWS's answer does not explain, and what each
# weighs in the verdict (plugins/module_utils/_harvest/expected.py holds the table that assigns them).
UNEXPLAINED = {"NoTargets": "passes", "NeverStarted": "fails", "NotReported": "fails"}


class Summary:
    """Streaming totals: locations, instances and steps by status, per-step failure counts, failures."""

    def __init__(self, max_failures=1000):
        self.max_failures = max_failures
        self.locations = 0
        self.locations_by_status = {}
        self.unreadable = 0
        # locations with no instance to count (could not run, never started, could not be read): each is a failure
        # the instance counts cannot show; counted here because ``failures`` is capped at max_failures
        self.lost_locations = 0
        self.unexplained = {}  # NoTargets / NeverStarted / NotReported: locations AWS's answer does not explain
        self.instances = 0
        self.instances_by_status = {}
        self.steps_by_status = {}
        self.step_failures = {}
        self.failures = []
        self.failures_total = 0
        self.api_calls = 0
        self.retries = 0
        self.renewals = 0
        self.read_errors = 0

    @staticmethod
    def _bump(counter, key, n=1):
        counter[key] = counter.get(key, 0) + n

    def _failure(self, item):
        self.failures_total += 1
        if len(self.failures) < self.max_failures:
            self.failures.append(item)

    def add(self, record):
        self.locations += 1
        self._bump(self.locations_by_status, record.get("status") or "Unknown")
        where = {"account": record["account"], "region": record["region"]}
        if record.get("read_status") == "failed":
            self.unreadable += 1
        status = record.get("status")
        if status in UNEXPLAINED:
            # A targeted location that AWS's answer does not explain: counted by its status (locations_by_status),
            # which the verdict weighs (NoTargets passes; NeverStarted and NotReported fail), never in
            # lost_locations as well.
            self._bump(self.unexplained, status)
            if UNEXPLAINED[status] == "fails":
                self._failure(
                    dict(
                        where,
                        instance_id=None,
                        step_name=record.get("step_name"),
                        status=status,
                        message=record.get("reason") or "",
                    )
                )
        elif (
            status not in SUCCESS_STATUSES
            and is_terminal(status)
            and not record.get("instances")
            and record.get("read_status") != "failed"
        ):
            self.lost_locations += 1
            # A location that failed with no instance to explain it (role not assumable...): its targets were not
            # run, which counts.
            self._failure(
                dict(
                    where, instance_id=None, step_name=None, status=status, message=record.get("failure_message") or ""
                )
            )
        if record.get("read_error") and record.get("read_status") == "failed":
            self.lost_locations += 1
            err = record["read_error"]
            self._failure(
                dict(
                    where,
                    instance_id=None,
                    step_name=None,
                    status="ReadFailed",
                    message="%s: %s" % (err["code"], err["message"]),
                )
            )
        for instance in record.get("instances") or []:
            self.instances += 1
            status = instance.get("status") or "Unknown"
            self._bump(self.instances_by_status, status)
            failed_step = None
            for step in instance.get("steps") or []:
                step_status = step.get("status") or "Unknown"
                self._bump(self.steps_by_status, step_status)
                if is_terminal(step_status) and step_status not in SUCCESS_STATUSES:
                    self._bump(self.step_failures.setdefault(step.get("step_name") or "?", {}), step_status)
                    if failed_step is None:
                        failed_step = step
                        self._failure(
                            dict(
                                where,
                                instance_id=instance.get("instance_id"),
                                execution_id=instance.get("execution_id"),
                                step_name=step.get("step_name"),
                                status=step_status,
                                message=step.get("failure_message") or instance.get("failure_message") or "",
                            )
                        )
            if failed_step is None and is_terminal(status) and status not in SUCCESS_STATUSES:
                self._failure(
                    dict(
                        where,
                        instance_id=instance.get("instance_id"),
                        execution_id=instance.get("execution_id"),
                        step_name=None,
                        status=status,
                        message=instance.get("failure_message") or "",
                    )
                )
            if instance.get("read_error"):
                self.read_errors += 1
                err = instance["read_error"]
                self._failure(
                    dict(
                        where,
                        instance_id=instance.get("instance_id"),
                        execution_id=instance.get("execution_id"),
                        step_name=None,
                        status="ReadFailed",
                        message="%s: %s" % (err["code"], err["message"]),
                    )
                )

    def progress(self):
        done = sum(n for s, n in self.instances_by_status.items() if is_terminal(s))
        return {
            "done": done,
            "total": self.instances,
            "by_status": dict(self.instances_by_status),
            "unreadable_locations": self.unreadable,
        }

    def as_dict(self):
        return {
            "locations": self.locations,
            "locations_by_status": dict(self.locations_by_status),
            "unreadable_locations": self.unreadable,
            "lost_locations": self.lost_locations,
            "unexplained_locations": dict(self.unexplained),
            "instances": self.instances,
            "instances_by_status": dict(self.instances_by_status),
            "steps_by_status": dict(self.steps_by_status),
            "step_failures": {k: dict(v) for k, v in self.step_failures.items()},
            "failures": list(self.failures),
            "failures_total": self.failures_total,
            "failures_truncated": self.failures_total > len(self.failures),
            "read_errors": self.read_errors,
            "api_calls": self.api_calls,
            "retries": self.retries,
            "credential_renewals": self.renewals,
        }
