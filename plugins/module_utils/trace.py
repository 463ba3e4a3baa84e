# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A trace of every AWS call a module makes, and its replay.

Trace: one JSON Lines record per API call (after botocore's retries), through botocore's public event hooks
(``provide-client-params``, ``after-call``, ``after-call-error``) on each client; no botocore internals are patched::

    {"v": 1, "seq": 12, "time": "2026-...Z", "pid": 4242, "service": "ssm", "operation": "GetAutomationExecution",
     "account": "222222222222", "region": "eu-west-1", "params": {...}, "response": {...}}   # or "error": {...}

Credentials, session tokens, passwords and signatures are replaced by ``"REDACTED"`` (:data:`SECRET_KEYS`), in the
request and in the response; ``NextToken`` is kept (replay needs it); ``ResponseMetadata`` is dropped. Records of
forked worker processes reach the same file whole: every record is one ``write`` to a file opened ``O_APPEND``,
under a lock and a sequence counter in shared memory created before the fork.

Replay (:class:`Replay`): a ``before-call`` hook answers each call with the recorded response (or raises the
recorded error as botocore would), matched by service, operation, account, region and parameters, in recorded
order; nothing is sent. Tests use it to run the harvest against a trace and compare the report
(``tests/traces/``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import json
import multiprocessing
import os
import threading

FORMAT_VERSION = 1
ARGUMENT_SPEC = {"trace": {"type": "path"}}  # documented by the orgops.ssm_automation.trace doc fragment
REDACTED = "REDACTED"
SECRET_KEYS = frozenset(
    [
        "SecretAccessKey",
        "SessionToken",
        "AccessKeyId",
        "Password",
        "Signature",
        "Authorization",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_access_key_id",
    ]
)


def redact(value):
    """``value`` with every secret field replaced by REDACTED (NextToken kept)."""
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def _jsonable(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}
    if hasattr(value, "read"):  # a streaming body is never read by the collection
        return "<stream>"
    return str(value)


def _clean_response(parsed):
    return redact({k: v for k, v in (parsed or {}).items() if k != "ResponseMetadata"})


def _key(service, operation, account, region, params):
    return (service, operation, account or "", region or "", json.dumps(params, sort_keys=True, default=_jsonable))


class Tracer:
    """Appends one record per call to ``path``. Create it before forking worker processes: they share its lock and
    sequence counter (shared memory) and its file (``O_APPEND``)."""

    def __init__(self, path):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._seq = multiprocessing.get_context("fork").Value("q", 0)  # its lock is shared by forked processes

    def record(self, service, operation, account, region, params, response=None, error=None):
        item = {
            "v": FORMAT_VERSION,
            "seq": 0,
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "pid": os.getpid(),
            "service": service,
            "operation": operation,
            "account": account,
            "region": region,
            "params": redact(params or {}),
        }
        if error is not None:
            item["error"] = error
        else:
            item["response"] = _clean_response(response)
        with self._seq.get_lock():
            self._seq.value += 1
            item["seq"] = self._seq.value
            line = (json.dumps(item, sort_keys=True, default=_jsonable) + "\n").encode("utf-8")
            os.write(self._fd, line)

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def hook(self, client, account_of=None):
        """Record every call ``client`` makes. ``account_of()`` says, at call time in the calling thread, the account
        the call is made as (None: the caller's own)."""
        service = client.meta.service_model.service_name
        region = client.meta.region_name
        local = threading.local()

        def params_seen(params, model, **kwargs):
            local.params = dict(params)

        def after(http_response, parsed, model, **kwargs):
            account = account_of() if account_of else None
            params = getattr(local, "params", {})
            status = getattr(http_response, "status_code", 200)
            if status >= 300 and isinstance(parsed, dict) and parsed.get("Error"):
                err = parsed["Error"]
                error = {"code": err.get("Code"), "message": err.get("Message"), "http_status": status}
                self.record(service, model.name, account, region, params, error=error)
            else:
                self.record(service, model.name, account, region, params, response=parsed)

        def after_error(model, exception, **kwargs):
            account = account_of() if account_of else None
            error = {"code": type(exception).__name__, "message": str(exception), "http_status": None}
            self.record(service, model.name, account, region, getattr(local, "params", {}), error=error)

        events = client.meta.events
        events.register("provide-client-params", params_seen, unique_id="orgops-trace-params")
        events.register("after-call", after, unique_id="orgops-trace-after")
        events.register("after-call-error", after_error, unique_id="orgops-trace-error")
        return client


class _RecordedHTTP:
    def __init__(self, status_code):
        self.status_code = status_code
        self.headers = {}
        self.content = b""
        self.raw = None


class Replay:
    """Answers calls from a trace instead of AWS. Each recorded answer is used once, in recorded order per
    (service, operation, account, region, parameters); a call the trace does not hold raises ``LookupError``."""

    def __init__(self, path):
        self.answers = {}
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                item = json.loads(line)
                if item.get("v") != FORMAT_VERSION:
                    raise ValueError("%s: trace format version %r, expected %d" % (path, item.get("v"), FORMAT_VERSION))
                key = _key(item["service"], item["operation"], item.get("account"), item.get("region"), item["params"])
                self.answers.setdefault(key, []).append(item)
        for queue in self.answers.values():
            queue.sort(key=lambda i: i["seq"])
        self._lock = threading.Lock()
        self.unanswered = []
        self.answered = 0

    def answer(self, service, operation, account, region, params):
        key = _key(service, operation, account, region, redact(params))
        with self._lock:
            queue = self.answers.get(key)
            if not queue:
                self.unanswered.append(key)
                raise LookupError("the trace holds no answer for %s %s as %s in %s with %s" % key)
            item = queue.pop(0) if len(queue) > 1 else queue[0]  # the last answer repeats (polls)
            self.answered += 1
        if "error" in item:
            err = item["error"]
            return _RecordedHTTP(err.get("http_status") or 400), {
                "Error": {"Code": err.get("code"), "Message": err.get("message")},
                "ResponseMetadata": {"HTTPStatusCode": err.get("http_status") or 400},
            }
        return _RecordedHTTP(200), dict(item["response"], ResponseMetadata={"HTTPStatusCode": 200, "RetryAttempts": 0})

    def hook(self, client, account_of=None):
        service = client.meta.service_model.service_name
        region = client.meta.region_name
        local = threading.local()

        def params_seen(params, model, **kwargs):
            local.params = dict(params)

        def before(model, **kwargs):
            account = account_of() if account_of else None
            return self.answer(service, model.name, account, region, getattr(local, "params", {}))

        events = client.meta.events
        events.register("provide-client-params", params_seen, unique_id="orgops-replay-params")
        events.register("before-call", before, unique_id="orgops-replay-before")
        return client


def install(module, path=None):
    """Trace every client ``module`` (an AnsibleAWSModule) creates from now on, to ``module.params["trace"]`` (or
    ``path``). Returns the :class:`Tracer`, or None when no trace was asked for. One call in each module's main."""
    path = path or (module.params or {}).get("trace")
    if not path:
        return None
    tracer = Tracer(path)
    create = module.client

    def client(*args, **kwargs):
        made = create(*args, **kwargs)
        tracer.hook(getattr(made, "client", made))  # amazon.aws's retrying wrapper holds the client in .client
        return made

    module.client = client
    module.orgops_tracer = tracer
    return tracer
