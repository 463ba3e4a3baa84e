# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lint many runbook files in one run (``runbook_lint`` ``paths``): files, directories and globs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.document import parse_content
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.lint import lint, summarize
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import SCHEMA_VERSION
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

RUNBOOK_SUFFIXES = (".json", ".yml", ".yaml")
_GLOB_CHARS = frozenset("*?[")
_ORDER = {"error": 0, "warning": 1, "info": 2}


def _under(directory):
    """Runbook files under ``directory`` (recursive), each as ``directory`` joined with its relative path."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in files:
            if name.endswith(RUNBOOK_SUFFIXES):
                found.append(os.path.join(root, name))
    return found


def expand_paths(paths, field="paths"):
    """The files that ``paths`` names, each once, sorted. Entries are files, directories (searched recursively for
    ``*.json``, ``*.yml``, ``*.yaml``) or globs (``**`` allowed); a path is reported as given or as found under a
    given directory. An entry that names nothing raises :class:`InvalidInput` naming ``paths[i]``."""
    if not isinstance(paths, list) or not paths:
        raise InvalidInput(field, "must be a non-empty list of files, directories or globs")
    found = set()
    for i, entry in enumerate(paths):
        item = "%s[%d]" % (field, i)
        if not isinstance(entry, str) or not entry.strip():
            raise InvalidInput(item, "%r; accepted: a file, a directory or a glob such as runbooks/**/*.yml" % (entry,))
        path = os.path.expanduser(entry)
        if _GLOB_CHARS & set(path):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                raise InvalidInput(item, "the glob %r matches nothing; accepted: a glob that matches files" % entry)
            for match in matches:
                if os.path.isdir(match):
                    found.update(_under(match))
                else:
                    found.add(match)
        elif os.path.isdir(path):
            found.update(_under(path))
        elif os.path.isfile(path):
            found.add(path)
        else:
            raise InvalidInput(item, "%r does not exist; accepted: a file, a directory or a glob" % entry)
    return sorted(found)


def _file_finding(rule, message):
    # An info: a file that is not a runbook never fails the task by itself.
    return {"severity": "info", "rule": rule, "step": None, "path": "", "message": message}


def lint_file(path, waivers=None):
    """``{path, findings, counts}`` for one file. A file that cannot be read or parsed, or that is not an Automation
    runbook (schemaVersion 0.3), gets one finding (``file.unreadable``, ``file.not-automation``) and no lint."""
    try:
        with open(path, "rb") as f:
            doc = parse_content(f.read())
    except (OSError, InvalidInput) as e:
        findings = [_file_finding("file.unreadable", "%s is not a runbook this linter can read: %s" % (path, e))]
    else:
        if str(doc.get("schemaVersion")) != SCHEMA_VERSION:
            findings = [
                _file_finding(
                    "file.not-automation",
                    "%s has schemaVersion %r, not an Automation runbook (0.3); not linted"
                    % (path, doc.get("schemaVersion")),
                )
            ]
        else:
            findings = sorted(lint(doc, waivers), key=lambda x: _ORDER[x["severity"]])
    return {"path": path, "findings": findings, "counts": summarize(findings)}


def lint_paths(paths, waivers=None, field="paths"):
    """(files, counts): one entry per file (sorted by path) and the counts summed over them."""
    files = [lint_file(path, waivers) for path in expand_paths(paths, field)]
    counts = {"error": 0, "warning": 0, "info": 0}
    for entry in files:
        for severity, n in entry["counts"].items():
            counts[severity] = counts.get(severity, 0) + n
    return files, counts
