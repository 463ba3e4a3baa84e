# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON: the execution, every location record and the summary, streamed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json


def render_json(source, out):
    out.write('{"execution": ')
    out.write(json.dumps(source.execution, sort_keys=True, indent=None, default=str))
    out.write(', "locations": [')
    first = True
    for record in source.locations():
        out.write("\n  " if first else ",\n  ")
        out.write(json.dumps(record, sort_keys=True, default=str))
        first = False
    out.write('\n], "summary": ')
    out.write(json.dumps(source.summary(), sort_keys=True, default=str))
    if source.changes is not None:
        out.write(', "changes": ')
        out.write(json.dumps(source.changes, sort_keys=True, default=str))
    out.write("}\n")
