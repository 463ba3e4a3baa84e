"""Where the tests find a headless browser, and what they do when there is none.

One rule for every test that opens a report in a browser: without a browser the test is skipped with a notice
(`make browser` installs one), except under CI=true, where a missing browser fails the test, so that CI never
passes without having run it. `make test` installs no system package.
"""

from __future__ import annotations

import os
import shutil

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "run `make browser` (Debian: apt-get install -y chromium)"


def find_browser() -> str | None:
    """The path of a headless-capable Chromium, or None. CHROMIUM=/path overrides the search."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return shutil.which(explicit)
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_browser() -> str:
    """The browser's path; otherwise skip the calling test (fail it under CI=true)."""
    browser = find_browser()
    if browser is None:
        message = "no headless browser (Chromium) is installed: " + INSTALL_HINT
        if in_ci():
            pytest.fail("CI=true and " + message, pytrace=False)
        pytest.skip(message)
    return browser


def header_line() -> str:
    """One line for pytest's header, so a run without a browser says so before any test starts."""
    browser = find_browser()
    if browser:
        return "headless browser: " + browser
    if in_ci():
        return "headless browser: NONE, and CI=true: the browser tests will fail; " + INSTALL_HINT
    return "headless browser: none, the browser tests will be SKIPPED; " + INSTALL_HINT
