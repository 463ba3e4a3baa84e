"""Shared pytest set-up: make the collection importable and runnable exactly as `make` lays it out."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".build" / "collections"

if not (COLLECTIONS / "ansible_collections" / "amazon" / "aws").exists():
    raise RuntimeError("run `make collections` first: .build/collections/ansible_collections/amazon/aws is missing")

os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))
os.environ.setdefault("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", "false")
os.environ.setdefault("ANSIBLE_LOCAL_TEMP", str(REPO / ".build" / "ansible-tmp"))
os.environ.setdefault("ANSIBLE_HOME", str(REPO / ".build" / "ansible-home"))
for path in (str(COLLECTIONS), str(REPO)):
    if path not in sys.path:
        sys.path.insert(0, path)


def pytest_report_header(config):
    from support.browser import header_line

    return header_line()


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium's path; the test is skipped without one (failed under CI=true). Session-scoped, so the
    check runs before any expensive fixture the test also asks for."""
    from support.browser import require_browser

    return require_browser()
