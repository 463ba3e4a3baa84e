# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private package behind :mod:`..automation`: the automation area split by concern (issue 17).

``common`` (constants, AWS's limits, small helpers), ``request`` (validation and the request, no AWS call),
``preflight`` (read-only checks before starting), ``execution`` (start, find, stop, wait, summarize, progress).
Import the public names from ``plugins/module_utils/automation.py``; the layout here may change."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
