"""pytest plugin: a sandbox per test session (and on demand), started as a subprocess.

Use it from a top-level conftest.py (``pytest_plugins = ["sandbox.testing"]``), with ``-p sandbox.testing``, or, in a
conftest below the rootdir (where pytest refuses ``pytest_plugins``), as sandbox/tests/conftest.py does::

    def pytest_configure(config):
        if not config.pluginmanager.has_plugin("sandbox.testing"):
            config.pluginmanager.import_plugin("sandbox.testing")

Fixtures:

- ``sandbox`` (session scope): the demo world (``sandbox/worlds/demo.yml``), one process per pytest-xdist worker.
  Tests that change shared state (faults, moved accounts, new StackSets, ...) either call ``sandbox.reset()``
  (rebuilds the world from scratch, about a second) or use ``sandbox_factory`` for a private sandbox.
- ``sandbox_factory`` (function scope): ``sandbox_factory(world)`` starts another sandbox (its own process and
  port) for a world file path or a world dict, with optional ``name=``; all are stopped at the end of the test.

The handle (:class:`SandboxHandle`) offers ``.endpoint``, ``.env`` (for ``run_module(..., env=sandbox.env)`` and
subprocesses: AWS_ENDPOINT_URL, AWS_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, AWS_REGION,
and AWS_SESSION_TOKEN set to "" so that an inherited token cannot leak in), ``.world`` (the built world, with the
instance ids), ``.client(service, region=None, account=None)`` (management credentials, or assumed into
``account`` through OrganizationAccountAccessRole), ``.session(account=None)``, ``.requests(since=None)``,
``.last_seq()``, ``.write_calls(since)``, ``.reset()``, ``.set_faults(spec)``, ``.clear_faults()``.

``write_calls`` uses the request log's ``write`` flag: an action is a read when its name starts with Describe, Get,
List, BatchGet, Search, Lookup, Validate, Estimate or Preview, or is an STS credential action (AssumeRole...);
everything else is a write.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from sandbox.world import DEMO_WORLD, World

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = float(os.environ.get("SANDBOX_START_TIMEOUT", "90"))


class SandboxError(RuntimeError):
    pass


class SandboxHandle:
    """A running sandbox process."""

    def __init__(self, world: Path | str | dict = DEMO_WORLD, name: str = "sandbox", workdir: Path | None = None):
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{name}-") if workdir is None else None
        self.workdir = Path(workdir or self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if isinstance(world, dict):
            path = self.workdir / "world.yml"
            path.write_text(yaml.safe_dump(world, sort_keys=False))
            world = path
        self.world_path = Path(world)
        self.log_path = self.workdir / "sandbox.log"
        self.port_file = self.workdir / "port.json"
        self.process: subprocess.Popen | None = None
        self.server_pid = 0  # the server's own pid (the process started, unless a command prefix started it)
        self.stop_grace = 0.0  # seconds to wait for the process to exit by itself before SIGTERM
        self.endpoint = ""
        self.port = 0
        self._world: World | None = None
        self._creds: dict[str, dict] = {}
        self._clients: dict = {}
        src = yaml.safe_load(self.world_path.read_text()) or {}
        creds = (src.get("management_account") or {}).get("credentials") or {}
        from sandbox.world import DEFAULT_MANAGEMENT_KEY, DEFAULT_MANAGEMENT_SECRET

        self.access_key = creds.get("access_key_id", DEFAULT_MANAGEMENT_KEY)
        self.secret_key = creds.get("secret_access_key", DEFAULT_MANAGEMENT_SECRET)
        self.region = (src.get("regions") or ["us-east-1"])[0]

    # -- process ------------------------------------------------------------------------------------------------------
    def command_prefix(self) -> list[str]:
        """Words put before ``python -m sandbox serve ...`` (e.g. a profiler that starts the server); none here."""
        return []

    def start(self) -> SandboxHandle:
        """Start the server and wait until it answers its health check. On any failure (the process exits, the port
        file never comes, the health check fails or raises, an interrupt), the process is stopped before raising:
        a failed start leaves nothing running."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        cmd = [
            *self.command_prefix(),
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--world",
            str(self.world_path),
            "--port",
            "0",
            "--port-file",
            str(self.port_file),
        ]
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SandboxError(f"sandbox exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            if self.port_file.exists():
                info = json.loads(self.port_file.read_text())
                self.port = info["port"]
                self.endpoint = info["endpoint"]
                self.server_pid = info.get("pid") or self.process.pid
                break
            time.sleep(0.05)  # polling the port file, a bounded wait for the process to come up
        else:
            raise SandboxError(f"sandbox did not start within {START_TIMEOUT}s:\n{self.log_path.read_text()}")
        health = self.admin("GET", "health")
        if not isinstance(health, dict) or health.get("status") != "ok":
            raise SandboxError(f"sandbox not healthy: {health}")

    def stop(self) -> None:
        """Stop the server (idempotent). When a command prefix started it (a profiler), the server itself is asked
        to stop first, so that the prefix can finish its work (write its profile) and exit."""
        wrapped = self.process is not None and self.server_pid and self.server_pid != self.process.pid
        if wrapped and self.process.poll() is None:
            try:
                os.kill(self.server_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.server_pid = 0
        if self.process is not None and self.process.poll() is None and self.stop_grace:
            try:
                self.process.wait(timeout=self.stop_grace)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- admin endpoints ------------------------------------------------------------------------------------------
    def admin(self, method: str, path: str, body=None, timeout: float = 120):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - loopback URL we built
            f"{self.endpoint}/_sandbox/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback URL we built
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise SandboxError(f"{method} /_sandbox/{path}: {exc.code} {exc.read().decode(errors='replace')}") from exc

    @property
    def world(self) -> World:
        if self._world is None:
            self._world = World.from_dict(self.admin("GET", "world"))
        return self._world

    def reset(self, world: dict | None = None) -> None:
        """Rebuild the world from scratch (moto's state, StackSets, engine, faults, credentials, request log)."""
        self.admin("POST", "reset", world)
        self._world = None
        self._creds.clear()
        self._clients.clear()

    def set_faults(self, spec) -> list:
        """Replace the fault rules: a rule dict or a list of them (see sandbox/faults.py)."""
        return self.admin("POST", "faults", spec if isinstance(spec, list) else [spec])["faults"]

    def clear_faults(self) -> None:
        self.admin("DELETE", "faults")

    def faults(self) -> dict:
        return self.admin("GET", "faults")

    def requests(self, since: int | None = None) -> list[dict]:
        return self.admin("GET", f"requests?since={since or 0}")["requests"]

    def last_seq(self) -> int:
        return self.admin("GET", "requests?since=999999999999")["last_seq"]

    def write_calls(self, since: int | None = None) -> list[dict]:
        return [r for r in self.requests(since) if r["write"]]

    # -- AWS access -------------------------------------------------------------------------------------------------
    @property
    def env(self) -> dict:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_SESSION_TOKEN": "",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def credentials(self, account: str | None = None, role: str = "OrganizationAccountAccessRole") -> dict:
        """boto3 keyword credentials for the management account, or assumed into ``account`` via ``role``."""
        mgmt = {"aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key}
        if account is None or account == self.world.management_account_id:
            return mgmt
        key = f"{account}/{role}"
        cached = self._creds.get(key)
        if cached and cached["expires"] > time.time() + 60:
            return cached["kw"]
        import boto3

        sts = boto3.client("sts", endpoint_url=self.endpoint, region_name=self.region, **mgmt)
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="sandbox-tests")[
            "Credentials"
        ]
        kw = {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
        }
        self._creds[key] = {"kw": kw, "expires": c["Expiration"].timestamp()}
        return kw

    def session(self, account: str | None = None, region: str | None = None):
        import boto3

        return boto3.Session(region_name=region or self.region, **self.credentials(account))

    def client(self, service: str, region: str | None = None, account: str | None = None, **config):
        """A boto3 client against the sandbox: management credentials, or assumed into ``account``."""
        import boto3
        from botocore.config import Config

        cfg = Config(retries={"max_attempts": 2, "mode": "standard"}, **config)
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region or self.region,
            config=cfg,
            **self.credentials(account),
        )


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """The demo world, served for the whole test session (one process per xdist worker)."""
    handle = SandboxHandle(DEMO_WORLD, name="sandbox", workdir=tmp_path_factory.mktemp("sandbox"))
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def sandbox_factory(tmp_path):
    """``sandbox_factory(world_path_or_dict, name="...")`` -> a started SandboxHandle, stopped after the test."""
    started: list[SandboxHandle] = []

    def make(world: Path | str | dict = DEMO_WORLD, name: str | None = None, **_kw) -> SandboxHandle:
        label = name or f"sandbox{len(started) + 1}"
        handle = SandboxHandle(world, name=label, workdir=tmp_path / label)
        started.append(handle)
        return handle.start()

    yield make
    for handle in started:
        handle.stop()
