# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The harvest of a multi-account SSM Automation execution tree, by concern (as amazon.aws's ``_elbv2``):

* :mod:`.common`: constants, error info, the error handler of the area, the one pager;
* :mod:`.clients`: clients and assumed-role credentials for any account and region;
* :mod:`.reading`: the parent execution's locations and one location's reader;
* :mod:`.parallel`: threads and worker processes;
* :mod:`.expected`: the expected set (what was targeted) and the table for locations AWS's answer does not explain;
* :mod:`.roads`: the roads to a location's member execution when its step names none;
* :mod:`.harvest`: :func:`~.harvest.gather`, which ties them together.

The totals (``Summary``) are reporting: :mod:`.._report.summary`.
"""
