# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reports of a harvested execution tree: JSON Lines (streaming), JSON, CSV, Markdown, HTML and JUnit XML.

Input is either ``automation_execution_info``'s result (``{"execution", "locations", "summary"}``) or the
JSON Lines file it streams with ``dest`` (one ``execution`` line, one ``location`` line per account-region,
one ``summary`` line). Every writer streams over the locations, so that a huge organization is never held
in memory, and is deterministic (same input, same bytes) so that writing a report twice changes nothing.

The formats live in the private package ``_report`` (one file each, the shared model in
``_report/model.py``); this module is their public facade.

Escaping: HTML through ``html.escape`` everywhere; CSV cells that a spreadsheet would run as a formula
(starting with ``= + - @``, tab or carriage return) are prefixed with ``'``; XML through ElementTree, with
the characters XML 1.0 forbids removed first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import io
import os
import tempfile

from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.csv_report import (
    CSV_COLUMNS,
    FLEET_COLUMNS,
    FORMULA_PREFIXES,
    csv_cell,
    fleet_rows,
    render_csv,
    render_csv_fleet,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.files import (
    EXTENSIONS,
    FORMATS,
    check_writable_dir,
    check_writable_file,
    plan_files,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.html_report import render_html
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.json_report import render_json
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.jsonl import JsonLinesWriter
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.junit_report import render_junit, xml_text
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.markdown_report import render_markdown
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.model import (
    FAILED_STATUSES,
    STATUS_COLOURS,
    XML_INVALID_RE,
    Source,
    outputs_text,
    rows,
)

__all__ = [
    "CSV_COLUMNS",
    "EXTENSIONS",
    "FAILED_STATUSES",
    "FLEET_COLUMNS",
    "FORMATS",
    "FORMULA_PREFIXES",
    "RENDERERS",
    "STATUS_COLOURS",
    "XML_INVALID_RE",
    "JsonLinesWriter",
    "Source",
    "check_writable_dir",
    "check_writable_file",
    "csv_cell",
    "fleet_rows",
    "outputs_text",
    "plan_files",
    "render",
    "render_csv",
    "render_csv_fleet",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "rows",
    "write_reports",
    "xml_text",
]

RENDERERS = {
    "json": lambda src, out, title: render_json(src, out),
    "csv": lambda src, out, title: render_csv(src, out),
    "csv_fleet": lambda src, out, title: render_csv_fleet(src, out),
    "markdown": render_markdown,
    "html": render_html,
    "junit": render_junit,
}


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(65536), b""):
            h.update(chunk)
    return h.hexdigest()


def render(source, fmt, title=None):
    """One format as a string (for tests and small results)."""
    out = io.StringIO()
    RENDERERS[fmt](source, out, title)
    return out.getvalue()


def write_reports(source, dest, formats=FORMATS, basename="automation-report", title=None, check_mode=False):
    """Write each format to ``dest/basename.<ext>`` (with CSV, also the fleet counts to ``dest/basename-fleet.csv``,
    under ``csv_fleet``); a file whose content would not change is left alone.

    Returns ``{"files": {fmt: path}, "changed": [fmt...], "unchanged": [fmt...], "before": {path: sha256 or None},
    "after": {path: sha256}}``.
    """
    files = plan_files(dest, basename, list(formats))
    if not check_mode and not os.path.isdir(dest):
        os.makedirs(dest)
    changed = []
    unchanged = []
    before = {}
    after = {}
    for fmt, path in files.items():
        directory = dest if os.path.isdir(dest) else None
        fd, tmp = tempfile.mkstemp(prefix=".%s." % basename, suffix=EXTENSIONS[fmt], dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                RENDERERS[fmt](source, out, title)
            before[path] = _digest(path) if os.path.exists(path) else None
            after[path] = _digest(tmp)
            if before[path] == after[path]:
                unchanged.append(fmt)
                continue
            changed.append(fmt)
            if not check_mode:
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return {"files": files, "changed": changed, "unchanged": unchanged, "before": before, "after": after}
