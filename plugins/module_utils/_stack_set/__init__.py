# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private package behind :mod:`..stack_set`: the StackSet area split by concern (issue 17).

``common`` (constants, the error), ``template``, ``reads``, ``spec`` (validation), ``plan`` (and diff), ``apply``.
Import the public names from ``plugins/module_utils/stack_set.py``; the layout here may change."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
