# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Automation execution statuses and the progress line (private; import from ``automation``).

Apart from ``common`` so that automation_execution_info, which needs only these, does not import ``common``, whose
limits load botocore's SSM model at import (a second time in that module, tens of milliseconds per run).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# AutomationExecutionStatus values (API reference) after which nothing changes any more.
TERMINAL_STATUSES = frozenset(
    [
        "Success",
        "TimedOut",
        "Cancelled",
        "Failed",
        "Rejected",
        "CompletedWithSuccess",
        "CompletedWithFailure",
        "Exited",
        "ChangeCalendarOverrideRejected",
    ]
)
SUCCESS_STATUSES = frozenset(["Success", "CompletedWithSuccess"])


def is_terminal(status):
    return status in TERMINAL_STATUSES


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def progress_line(counts, noun="instances"):
    """``{"done": 37, "total": 120, "by_status": {...}}`` -> "37/120 instances done: 30 Success, 5 Failed, 2 TimedOut".

    Statuses still running are appended in parentheses: "(83 InProgress)".
    """
    by_status = counts.get("by_status") or {}
    done_parts = sorted(((n, s) for s, n in by_status.items() if n and is_terminal(s)), key=lambda p: (-p[0], p[1]))
    running_parts = sorted(
        ((n, s) for s, n in by_status.items() if n and not is_terminal(s)), key=lambda p: (-p[0], p[1])
    )
    done = counts.get("done")
    if done is None:
        done = sum(part[0] for part in done_parts)
    total = counts.get("total")
    if total is None:
        total = sum(by_status.values())
    line = "%d/%d %s done" % (done, total, noun)
    if done_parts:
        line += ": " + ", ".join("%d %s" % p for p in done_parts)
    if running_parts:
        line += " (" + ", ".join("%d %s" % p for p in running_parts) + ")"
    unreadable = counts.get("unreadable_locations")
    if unreadable:
        line += "; %s unreadable" % _plural(unreadable, "location")
    return line
