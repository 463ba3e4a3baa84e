"""Credentials and session tokens never appear in module results, in `-vvv` output, or in the reports.

The whole check_os playbook (roles, runbook, run, gather with full output, every report format) runs at `-vvv`
against a private sandbox, plus modules given credentials as options. Every secret the run could leak is known:

- the management account's secret key (the world file's);
- every secret key and session token STS issued during the run: the play talks to the sandbox through a small
  recording proxy (below) that keeps each AssumeRole answer's credentials. The sandbox has no admin endpoint
  that hands credentials out, and should not have one.

The test greps the play's output, the reports and the JSON Lines for each of them (and for a 16-character prefix
of each, so that a truncated secret counts too), and for any ``ASIA`` access key id.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
import yaml
from support.ansible_run import run_playbook

REPO = Path(__file__).resolve().parents[2]
TOKYO = "ap-northeast-1"
MGMT, A, B = "100000000011", "200000000022", "300000000033"
OU = "ou-nsec-workload"
MGMT_SECRET = "no-secrets/management/secret/key/0001"  # noqa: S105 - the sandbox world's own key
CREDENTIAL_RE = re.compile(
    r"<(AccessKeyId|SecretAccessKey|SessionToken)>([^<]+)</\1>|\"(AccessKeyId|SecretAccessKey|SessionToken)\"\s*:\s*\"([^\"]+)\""
)
ASIA_RE = re.compile(r"\bASIA[A-Z0-9]{12,}\b")

WORLD = {
    "name": "no-secrets",
    "version": 1,
    "seed": 11,
    "time_scale": 0.02,
    "regions": [TOKYO],
    "organization": {"id": "o-nosecrets01", "root_id": "r-nsec", "feature_set": "ALL"},
    "management_account": {
        "id": MGMT,
        "name": "management",
        "email": "mgmt@example.com",
        "credentials": {"access_key_id": "AKIANOSECRETS0000001", "secret_access_key": MGMT_SECRET, "user": "admin"},
        "instances": [{"name": "mgmt-box", "tags": {"ssm-automation": "true"}}],
    },
    "organizational_units": [{"id": OU, "name": "Workloads"}],
    "accounts": [
        {
            "id": A,
            "name": "app-a",
            "email": "a@example.com",
            "parent": OU,
            "instances": [{"name": "a-1", "tags": {"ssm-automation": "true"}}],
        },
        {
            "id": B,
            "name": "app-b",
            "email": "b@example.com",
            "parent": OU,
            "instances": [{"name": "b-win", "platform": "Windows", "tags": {"ssm-automation": "true"}}],
        },
    ],
    # the seed's state: the roles phase deploys the rest (management stacks, the results-reader role)
    "automation_roles": {
        "admin": True,
        "execution_stackset_targets": ["r-nsec"],
        "regions": [TOKYO],
        "reader_role": False,
    },
    "stacksets": {"operation_seconds": 1},
}


class RecordingProxy:
    """A loopback HTTP proxy in front of the sandbox that keeps every credential an answer carries."""

    def __init__(self, upstream: str):
        self.upstream = urlparse(upstream)
        self.secrets: set[str] = set()
        self.access_keys: set[str] = set()
        self.calls = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "proxy-connection")}
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=300)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    proxy.record(data)
                    self.send_response(resp.status, resp.reason)
                    for key, value in resp.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, data: bytes):
        self.calls += 1
        text = data.decode("utf-8", errors="replace")
        for m in CREDENTIAL_RE.finditer(text):
            kind, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            (self.access_keys if kind == "AccessKeyId" else self.secrets).add(value)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def leaks(text: str, secrets: set[str], access_keys: set[str], shown: frozenset = frozenset()) -> list[str]:
    """What of the secrets (or their 16-character prefixes) and access key ids ``text`` holds; ``shown``: access
    key ids that may appear (an access key id is not a secret: the one a user gives as an option is echoed)."""
    found = []
    for secret in secrets:
        for needle in (secret, secret[:16]):
            if needle and needle in text:
                found.append(f"secret {secret[:6]}... ({'prefix' if needle != secret else 'whole'})")
                break
    found += [f"access key id {k}" for k in access_keys - shown if k in text]
    found += [f"ASIA key {m}" for m in set(ASIA_RE.findall(text)) - shown]
    return found


@pytest.fixture
def run(sandbox_factory, tmp_path):
    box = sandbox_factory(WORLD, name="no-secrets")
    with RecordingProxy(box.endpoint) as proxy:
        env = dict(box.env, AWS_ENDPOINT_URL=proxy.endpoint, AWS_URL=proxy.endpoint)
        # credentials of our own, assumed through the proxy, handed to modules as options (no_log must hide them)
        sts = boto3.client(
            "sts",
            endpoint_url=proxy.endpoint,
            region_name=TOKYO,
            aws_access_key_id=box.access_key,
            aws_secret_access_key=box.secret_key,
        )
        member = sts.assume_role(
            RoleArn=f"arn:aws:iam::{A}:role/OrganizationAccountAccessRole", RoleSessionName="no-secrets-test"
        )["Credentials"]
        report_dir = tmp_path / "reports"
        play = [
            {
                "name": "check_os at -vvv",
                "hosts": "localhost",
                "gather_facts": False,
                "tasks": [
                    {
                        "name": "The whole check_os role",
                        "ansible.builtin.include_role": {"name": "orgops.ssm_automation.check_os"},
                        "vars": {
                            "check_os_target_ous": [OU],
                            "check_os_regions": [TOKYO],
                            "check_os_include_management_account": True,
                            "check_os_deploy_roles": True,
                            "execution_roles_poll_interval": 1,
                            "check_os_full_output": True,
                            "check_os_report_dir": str(report_dir),
                            "check_os_max_failed_percent": 100,
                            "check_os_wait_timeout": 120,
                            "check_os_poll_interval": 1,
                            # every call of every phase recorded (request parameters and answers): no secret either
                            "check_os_trace": str(tmp_path / "trace.jsonl"),
                        },
                    },
                    {
                        "name": "A module given the management account's keys as options",
                        "orgops.ssm_automation.organization_info": {
                            "access_key": box.access_key,
                            "secret_key": box.secret_key,
                        },
                        "register": "with_keys",
                    },
                    {
                        "name": "A module given a member account's assumed-role credentials as options",
                        "orgops.ssm_automation.ssm_document_info": {
                            "access_key": member["AccessKeyId"],
                            "secret_key": member["SecretAccessKey"],
                            "session_token": member["SessionToken"],
                            "region": TOKYO,
                        },
                        "register": "with_session",
                    },
                    {"name": "Show the registered results", "ansible.builtin.debug": {"var": "with_session"}},
                ],
            }
        ]
        playbook = tmp_path / "play.yml"
        playbook.write_text(yaml.safe_dump(play, sort_keys=False))
        result = run_playbook(playbook, env=env, args=["-vvv"], timeout=900)
        yield {
            "box": box,
            "proxy": proxy,
            "result": result,
            "reports": report_dir,
            "trace": tmp_path / "trace.jsonl",
            "given_key": member["AccessKeyId"],
        }


def test_no_credential_in_vvv_output_results_or_reports(run):
    result, proxy = run["result"], run["proxy"]
    output = result.stdout + result.stderr
    assert result.rc == 0, output[-6000:]
    assert "Policy passed" in result.stdout, result.stdout[-4000:]
    # the run really used assumed-role credentials (the gather's reader role, ours), or this proves little
    assert len(proxy.secrets) >= 4, proxy.secrets
    assert any("ASIA" in k for k in proxy.access_keys)
    # -vvv did print the module invocations and results (with the options, masked)
    assert "secret_key" in output and "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output
    secrets = proxy.secrets | {MGMT_SECRET}
    access_keys = set(proxy.access_keys)
    planted = next(iter(proxy.secrets))
    assert leaks("msg: %s" % planted[:20], secrets, access_keys), "the grep would not find a leaked token"
    shown = frozenset([run["given_key"]])
    problems = [f"ansible-playbook -vvv output: {x}" for x in leaks(output, secrets, access_keys, shown)]
    files = [p for p in run["reports"].rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".json", ".jsonl", ".csv", ".md", ".html", ".xml"}, files
    for path in files:
        problems += [f"{path.name}: {x}" for x in leaks(path.read_text(errors="replace"), secrets, access_keys, shown)]
    # the trace of the whole run: every AssumeRole answer went through it (redacted), and every request made with
    # the assumed credentials; its records are whole JSON
    trace = run["trace"].read_text()
    records = [json.loads(line) for line in trace.splitlines()]
    assert sum(1 for r in records if r.get("operation") == "AssumeRole") >= 2, "the trace holds no AssumeRole"
    problems += [f"trace.jsonl: {x}" for x in leaks(trace, secrets, access_keys, shown)]
    assert not problems, "\n".join(problems)


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (Linux /proc/net/tcp{,6})."""
    found = set()
    for table, size in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if size == 8:
                    found.add(".".join(str(b) for b in raw[::-1]))
                else:  # four little-endian 32-bit words
                    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
                    found.add(":".join(b"".join(words)[i : i + 2].hex() for i in range(0, 16, 2)))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_the_sandbox_listens_on_loopback_only(sandbox):
    """The session sandbox's socket is bound to loopback. (A non-loopback --host is refused unless
    --allow-non-loopback: sandbox/tests/test_server_lifecycle.py.)"""
    addresses = listening_addresses(sandbox.port)
    assert addresses, f"nothing listens on port {sandbox.port}"
    loopback = {"127.0.0.1", "0000:0000:0000:0000:0000:0000:0000:0001"}
    assert addresses <= loopback, addresses
