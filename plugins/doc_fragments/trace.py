# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # The trace option of every module that calls AWS (plugins/module_utils/trace.py).
    DOCUMENTATION = r"""
options:
  trace:
    description:
      - Append a record of every AWS API call this module makes to this file, as JSON Lines - format version C(v),
        C(run), C(module), sequence number C(seq), C(time), C(pid), C(service), C(operation), C(account),
        C(region), request C(params), and C(response) or C(error). One record per call, after botocore's retries.
      - Credentials, session tokens, passwords and signatures are replaced by C(REDACTED); C(NextToken) is kept, so
        that the trace can be replayed. Records of worker processes reach the same file whole.
      - Several modules may append to the same file (the C(run_automation) role passes one file to every phase).
        See the collection's C(docs/usage.md), "Recording a trace of a real run", for how to send one back.
      - Missing parent directories are created. The trace is written in check mode too (it only records reads).
      - Each module run is marked by a C(run) id and its C(module) name (format version 2), so that the runs of
        several modules in one file can be told apart.
      - Mutually exclusive with I(replay).
    type: path
  replay:
    description:
      - Answer every AWS API call from this trace file (written with I(trace)) instead of AWS; nothing is sent, no
        credential is used and the endpoint need not be reachable. A call the trace holds no answer for fails
        as an error of that call.
      - The last run of this module in the file is replayed (for C(orgops.ssm_automation.automation_execution_info),
        the last one that read I(automation_execution_id), in one process whatever I(processes) says), so a trace of
        a whole playbook can be given.
      - For support and tests - a run with I(replay) says so in a warning. Only this option turns it on, never an
        environment variable. See the collection's C(docs/usage.md), "Replaying a trace".
      - Mutually exclusive with I(trace).
    type: path
"""
