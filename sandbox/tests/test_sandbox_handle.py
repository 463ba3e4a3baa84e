"""sandbox.testing.SandboxHandle: a failed start leaves no process behind; a command prefix wraps the server."""

from __future__ import annotations

import os
import sys

import pytest

from sandbox.testing import SandboxError, SandboxHandle
from sandbox.world import DEMO_WORLD


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as gone: its parent (this test) has not reaped it yet only when stop() did not wait
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class UnhealthyHandle(SandboxHandle):
    """The server comes up, but its health check raises (as a refused connection or a bad answer would)."""

    def admin(self, method, path, body=None, timeout=120):
        if path == "health":
            raise ConnectionRefusedError("health check refused (test)")
        return super().admin(method, path, body, timeout)


class NotOkHandle(SandboxHandle):
    def admin(self, method, path, body=None, timeout=120):
        if path == "health":
            return {"status": "starting"}
        return super().admin(method, path, body, timeout)


@pytest.mark.parametrize(("cls", "error"), [(UnhealthyHandle, ConnectionRefusedError), (NotOkHandle, SandboxError)])
def test_a_failed_health_check_stops_the_server(tmp_path, cls, error):
    handle = cls(DEMO_WORLD, name="unhealthy", workdir=tmp_path)
    with pytest.raises(error):
        handle.start()
    assert handle.process is not None
    assert handle.process.poll() is not None, "the server process was left running"
    assert not _alive(handle.process.pid)


class PrefixedHandle(SandboxHandle):
    """The server started through a wrapper process (as py-spy starts it for --profile)."""

    def __init__(self, *args, marker, **kwargs):
        super().__init__(*args, **kwargs)
        self.marker = marker
        self.stop_grace = 30.0

    def command_prefix(self):
        # a Python wrapper that runs the real command as its child and writes a marker once the child has exited
        code = "import subprocess, sys; rc = subprocess.call(sys.argv[2:]); open(sys.argv[1], 'w').write(str(rc))"
        return [sys.executable, "-c", code, str(self.marker)]


def test_a_command_prefix_wraps_the_server_and_stop_ends_both(tmp_path):
    marker = tmp_path / "wrapper-done"
    handle = PrefixedHandle(DEMO_WORLD, name="prefixed", workdir=tmp_path / "sb", marker=marker)
    with handle:
        server = handle.server_pid
        assert server and server != handle.process.pid  # the port file names the server, not the wrapper
        assert handle.admin("GET", "health")["status"] == "ok"
    assert not _alive(server)
    assert handle.process.poll() is not None
    assert marker.exists(), "the wrapper was killed instead of seeing its child stop"
