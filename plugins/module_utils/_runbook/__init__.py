# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private package behind :mod:`..runbook`: the runbook area split by concern (issue 17).

Import the public names from ``plugins/module_utils/runbook.py``; the layout here may change."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
