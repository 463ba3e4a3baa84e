# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A trace of every AWS call a module makes, and its replay.

Trace: one JSON Lines record per API call (after botocore's retries), through botocore's public event hooks
(``provide-client-params``, ``after-call``, ``after-call-error``) on each client; no botocore internals are patched::

    {"v": 2, "run": "5f0c...", "module": "automation_execution_info", "seq": 12, "time": "2026-...Z", "pid": 4242,
     "service": "ssm", "operation": "GetAutomationExecution", "account": "222222222222", "region": "eu-west-1",
     "params": {...}, "response": {...}}   # or "error": {...}

Credentials, session tokens, passwords and signatures are replaced by ``"REDACTED"`` (:data:`SECRET_KEYS`), in the
request and in the response; ``NextToken`` is kept (replay needs it); ``ResponseMetadata`` is dropped. Records of
forked worker processes reach the same file whole: every record is one ``write`` to a file opened ``O_APPEND``,
under a lock and a sequence counter in shared memory created before the fork.

Several module runs may append to one file (a playbook's phases: roles, runbook, start, wait polls, harvest). Each
module run is one *run*: ``seq`` starts at 1 in each, and ``run`` (a random id, the same in the run's worker
processes) and ``module`` (the module's name) tell the runs apart.

Format versions (``v``): a writer writes :data:`FORMAT_VERSION`; a reader accepts every version in
:data:`READABLE_VERSIONS` and refuses any other, naming it. A version only adds fields to the one before it.
- 1: ``seq``, ``time``, ``pid``, ``service``, ``operation``, ``account``, ``region``, ``params``, ``response`` or
  ``error``. Runs are not marked: a reader starts a new run where ``seq`` does not grow (each run's records are
  written in ``seq`` order, under the lock).
- 2: + ``run`` and ``module``.

Replay (:class:`Replay`): a ``before-call`` hook answers each call with the recorded response (or raises the
recorded error as botocore would), matched by service, operation, account, region and parameters, in recorded
order, from one run of the file (:meth:`Replay.select`); nothing is sent. The modules replay with their ``replay``
option (:func:`install`); tests use it to run the modules and the harvest against a trace and compare the report
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
import uuid

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
# documented by the orgops.ssm_automation.trace doc fragment
ARGUMENT_SPEC = {"trace": {"type": "path"}, "replay": {"type": "path"}}
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

    def __init__(self, path, module_name=None):
        self.path = path
        self.run = uuid.uuid4().hex  # one id for this module run, its worker processes included
        self.module_name = module_name
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._seq = multiprocessing.get_context("fork").Value("q", 0)  # its lock is shared by forked processes

    def record(self, service, operation, account, region, params, response=None, error=None):
        item = {
            "v": FORMAT_VERSION,
            "run": self.run,
            "module": self.module_name,
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


def _made(item, reads):
    operation, params = reads
    return item["operation"] == operation and all(item["params"].get(k) == v for k, v in params.items())


def _read_runs(path):
    """The runs of the trace at ``path``, in file order: ``[{"id", "module", "records"}]``."""
    runs = []
    by_id = {}
    last_seq = None
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            item = json.loads(line)
            if item.get("v") not in READABLE_VERSIONS:
                raise ValueError(
                    "%s line %d: trace format version %r, this collection reads %s"
                    % (path, number, item.get("v"), ", ".join(str(v) for v in READABLE_VERSIONS))
                )
            if item.get("run"):
                run = by_id.get(item["run"])
                if run is None:
                    run = by_id[item["run"]] = {"id": item["run"], "module": item.get("module"), "records": []}
                    runs.append(run)
            else:  # format 1: a run starts where seq does not grow
                if not runs or runs[-1]["id"] is not None or last_seq is None or item["seq"] <= last_seq:
                    runs.append({"id": None, "module": None, "records": []})
                run = runs[-1]
                last_seq = item["seq"]
            run["records"].append(item)
    for number, run in enumerate(runs, 1):
        if run["id"] is None:
            run["id"] = "v1-run-%d" % number
    return runs


class _RecordedHTTP:
    def __init__(self, status_code):
        self.status_code = status_code
        self.headers = {}
        self.content = b""
        self.raw = None


class Replay:
    """Answers calls from one run of a trace instead of AWS. Each recorded answer is used once, in recorded order per
    (service, operation, account, region, parameters); a call the run does not hold raises ``LookupError``.

    ``module``: only runs of that module (a run that does not name its module, format 1, may be any); ``reads``:
    only runs that made this call, ``(operation, {param: value})``. Of the runs left, the last one in the file is
    replayed; ``ValueError`` when none is left (the message lists the file's runs)."""

    def __init__(self, path, module=None, reads=None):
        self.path = path
        self.runs = _read_runs(path)
        self.run = self.select(module, reads)
        self.answers = {}
        for item in self.run["records"]:
            key = _key(item["service"], item["operation"], item.get("account"), item.get("region"), item["params"])
            self.answers.setdefault(key, []).append(item)
        for queue in self.answers.values():
            queue.sort(key=lambda i: i["seq"])
        self._lock = threading.Lock()
        self.unanswered = []
        self.answered = 0

    def select(self, module=None, reads=None):
        candidates = []
        for run in self.runs:
            if module and run["module"] not in (None, module):
                continue
            if reads and not any(_made(item, reads) for item in run["records"]):
                continue
            candidates.append(run)
        if not candidates:
            listed = "; ".join(
                "run %d (%s, %d calls)" % (n + 1, run["module"] or "module not recorded", len(run["records"]))
                for n, run in enumerate(self.runs)
            )
            wanted = "of %s " % module if module else ""
            if reads:
                wanted += "that called %s with %s " % (reads[0], json.dumps(reads[1], sort_keys=True))
            raise ValueError("%s holds no run %s(%s)" % (self.path, wanted, listed or "no record"))
        return candidates[-1]

    def summary(self):
        """What the module result says about the replay."""
        return {
            "trace": self.path,
            "run": self.run["id"],
            "module": self.run["module"],
            "answered": self.answered,
            "unanswered": ["%s %s as %s in %s with %s" % key for key in self.unanswered[:20]],
            "unanswered_count": len(self.unanswered),
        }

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


def install(module, path=None, reads=None):
    """One call in each module's main, before any client is made. With ``trace`` (or ``path``): trace every client
    ``module`` (an AnsibleAWSModule) creates from now on, and return the :class:`Tracer`. With ``replay``: answer
    every call of those clients from the trace (the last run of this module in it; ``reads``, see :class:`Replay`),
    and return the :class:`Replay`, whose :meth:`Replay.summary` the module returns as ``replay``. Neither: None.
    The returned object's ``hook(client, account_of)`` serves clients made elsewhere (the harvest's factory)."""
    params = module.params or {}
    path = path or params.get("trace")
    replay = params.get("replay")
    name = (getattr(module, "_name", None) or "").split(".")[-1] or None
    if replay and path:
        module.fail_json(msg="replay: a run answered from a trace cannot also write one (trace); give one of them")
    if replay:
        try:
            observer = Replay(replay, module=name, reads=reads)
        except (OSError, ValueError) as e:
            module.fail_json(msg="replay: %s" % e)
        module.warn("replay: no AWS call is sent; every answer comes from %s (run %s)" % (replay, observer.run["id"]))
    elif path:
        observer = Tracer(path, module_name=name)
    else:
        return None
    create = module.client

    def client(*args, **kwargs):
        made = create(*args, **kwargs)
        observer.hook(getattr(made, "client", made))  # amazon.aws's retrying wrapper holds the client in .client
        return made

    module.client = client
    module.orgops_tracer = observer
    return observer
