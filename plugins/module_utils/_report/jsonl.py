# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JSON Lines writer of a harvest (``automation_execution_info`` with ``dest``), apart from the report model so
that the module's payload does not carry the report renderers, fleet and compliance code it never runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import json
import os
import tempfile

from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.files import check_writable_dir


class JsonLinesWriter:
    """Streams a harvest to JSON Lines: ``execution`` first, a ``location`` line as each completes, ``summary`` last.

    The lines go to a temporary file beside ``path``, renamed onto it by :meth:`close`: two jobs writing the same
    run's results at once each leave a whole file (the last rename wins), and a harvest that fails half-way leaves
    the previous file as it was (the temporary file is removed when the process exits).
    """

    def __init__(self, path):
        self.path = path
        self.handle = None
        self.tmp = None
        self.lines = 0

    def open(self):
        directory = os.path.dirname(os.path.abspath(self.path))
        check_writable_dir(directory, "dest")
        if not os.path.isdir(directory):
            os.makedirs(directory)
        fd, self.tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(self.path), suffix=".tmp", dir=directory)
        self.handle = os.fdopen(fd, "w", encoding="utf-8")
        atexit.register(self._discard)
        return self

    def _write(self, kind, data):
        item = {"type": kind}
        item.update(data)
        self.handle.write(json.dumps(item, sort_keys=True, default=str) + "\n")
        self.handle.flush()
        self.lines += 1

    def header(self, execution):
        self._write("execution", execution)

    def location(self, record):
        self._write("location", record)

    def summary(self, summary):
        self._write("summary", summary)

    def close(self):
        if self.handle:
            self.handle.close()
            self.handle = None
            os.chmod(self.tmp, 0o644)
            os.replace(self.tmp, self.path)
            self.tmp = None

    def _discard(self):
        """At exit, a harvest that did not finish: its temporary file goes, the previous results stay."""
        if self.handle:
            self.handle.close()
            self.handle = None
        if self.tmp and os.path.exists(self.tmp):
            os.unlink(self.tmp)
        self.tmp = None
