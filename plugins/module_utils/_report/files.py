# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report files: writable-destination checks, done before any work."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

FORMATS = ("json", "csv", "markdown", "html", "junit")
EXTENSIONS = {"json": ".json", "csv": ".csv", "markdown": ".md", "html": ".html", "junit": ".xml"}
# files written with a format: the CSV's fleet counts go to their own file, so the instance CSV keeps its columns
COMPANIONS = {"csv": ("csv_fleet",)}
EXTENSIONS["csv_fleet"] = "-fleet.csv"


def check_writable_dir(directory, field="dest"):
    """Fail clearly, before any work, when ``directory`` cannot be created or written."""
    probe = directory
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InvalidInput(field, "%s exists and is not a directory" % directory)
    problem = None
    if not os.path.isdir(probe):
        problem = "%s is not a directory" % probe
    else:
        # os.access() says yes to root even on /proc or a read-only mount: create (and remove) a probe file instead.
        try:
            fd, tmp = tempfile.mkstemp(prefix=".orgops-write-test-", dir=probe)
            os.close(fd)
            os.unlink(tmp)
        except (IOError, OSError) as e:
            problem = "%s: %s" % (probe, e.strerror or e)
    if problem:
        raise InvalidInput(
            field, "%s is not writable (%s); give a directory this user can write" % (directory, problem)
        )
    return directory


def check_writable_file(path, field="dest"):
    directory = os.path.dirname(os.path.abspath(path))
    check_writable_dir(directory, field)
    if os.path.exists(path) and (os.path.isdir(path) or not os.access(path, os.W_OK)):
        raise InvalidInput(field, "%s is not a writable file" % path)
    return path


def plan_files(dest, basename, formats):
    if not basename or "/" in basename or basename in (".", ".."):
        raise InvalidInput("basename", "%r is not a file name (no slashes)" % basename)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InvalidInput("formats", "%s not supported; choose from %s" % (", ".join(unknown), ", ".join(FORMATS)))
    check_writable_dir(dest)
    files = {}
    for fmt in formats:
        for name in (fmt,) + COMPANIONS.get(fmt, ()):
            path = os.path.join(dest, basename + EXTENSIONS[name])
            check_writable_file(path)
            files[name] = path
    return files
