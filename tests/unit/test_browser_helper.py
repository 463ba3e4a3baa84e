"""The shared browser rule of the tests: skipped without a browser, failed under CI=true, found when installed."""

from __future__ import annotations

import os
import stat

import pytest
from support import browser as helper


@pytest.fixture
def empty_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CHROMIUM", raising=False)
    return tmp_path


def test_without_browser_the_test_is_skipped_with_the_install_hint(empty_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        helper.require_browser()
    assert "SKIPPED" in helper.header_line()


@pytest.mark.parametrize("value", ["true", "TRUE", "1"])
def test_without_browser_under_ci_the_test_fails(empty_path, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        helper.require_browser()
    assert "will fail" in helper.header_line()


def test_an_installed_browser_is_found(empty_path, monkeypatch):
    fake = empty_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CI", "true")
    assert helper.require_browser() == os.fspath(fake)
