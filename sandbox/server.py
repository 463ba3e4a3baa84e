"""The sandbox server: moto's WSGI app wrapped by our layer.

Request path, for every call (moto-served or served by a registered handler alike)::

    admin endpoints (/_sandbox/...)  ->  identity (SigV4 access key -> account, principal; expiry)
    -> request log entry  ->  faults (latency, AccessDenied, TPS bucket, throttling, 5xx)
    -> registered handler (ours or the engine's)  or  moto (with x-moto-account-id set to the caller's account)
    -> after-hooks (e.g. StackSet auto-deployment after organizations:MoveAccount)

Contract (others code against it; see sandbox/README.md): :class:`AwsError`, :class:`Call`, :class:`Sandbox`
(``world``, ``register``, ``on_reset``, ``can_assume``, ``moto_backend``).
"""

from __future__ import annotations

import collections
import io
import json
import logging
import re
import secrets
import signal
import string
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox import fidelity, protocols, trust
from sandbox.faults import Faults, FaultSpecError
from sandbox.world import World, WorldError, load_world

log = logging.getLogger("sandbox")

# Actions that do not change state, by prefix (the request log's ``write`` flag is False for them). Simulate*: IAM's
# SimulatePrincipalPolicy/SimulateCustomPolicy only evaluate policies ("The simulation does not perform the API
# operations", botocore's iam model; access level Read in the Service Authorization Reference).
READ_PREFIXES = (
    "Describe",
    "Get",
    "List",
    "BatchGet",
    "Search",
    "Lookup",
    "Validate",
    "Estimate",
    "Preview",
    "Simulate",
)
# STS credential actions only hand out credentials; they change nothing in the organization.
READ_ACTIONS = frozenset(
    {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken", "DecodeAuthorizationMessage"}
)

# A request that fails the model's constraints, answered with the Coral message (fidelity.validation_message). JSON
# services answer ValidationException and query services ValidationError (the services' "Common Errors" pages:
# ValidationError, HTTP 400); EC2 answers InvalidParameterValue.
VALIDATION_CODE = {"json": "ValidationException", "query": "ValidationError", "ec2": "InvalidParameterValue"}


def is_write(action: str, method: str = "POST") -> bool:
    """True when ``action`` changes state. Reads: Describe*/Get*/List*/BatchGet*/Search*/Lookup*/Validate*/
    Estimate*/Preview*/Simulate* and the STS credential actions; REST calls without a known action: non-GET/HEAD methods."""
    if not action:
        return method not in ("GET", "HEAD")
    return not (action.startswith(READ_PREFIXES) or action in READ_ACTIONS)


class AwsError(Exception):
    """An AWS error, rendered in the protocol's error shape of the service that was called."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class PassThrough(Exception):  # noqa: N818 - control flow, not an error
    """Raised by a registered handler to let moto serve the call after all."""


@dataclass
class Call:
    service: str  # signing name from the SigV4 credential scope: "ssm", "sts", "organizations", ...
    action: str  # "StartAutomationExecution" (X-Amz-Target for JSON protocols, Action= for query protocols)
    account_id: str  # the caller's account, from the access key
    region: str  # from the credential scope
    principal_arn: str  # arn:aws:iam::<acct>:user/<name> / :root, or arn:aws:sts::<acct>:assumed-role/<role>/<session>
    access_key: str
    params: dict  # JSON body (JSON protocols) or the nested query params (query protocols; flat ones in raw_params)
    request_id: str
    protocol: str = "json"
    raw_params: dict = field(default_factory=dict)
    seq: int = 0
    internal: bool = False
    _forward: Callable[[], tuple[int, dict, bytes]] | None = field(default=None, repr=False)

    def forward(self) -> tuple[int, dict, bytes]:
        """Have moto serve this same request; returns (status, headers, body). For handlers that post-process."""
        if self._forward is None:
            raise RuntimeError("this call cannot be forwarded")
        return self._forward()

    def forward_json(self) -> dict:
        status, _headers, body = self.forward()
        data = json.loads(body or b"{}")
        if status >= 400:
            raise AwsError(
                data.get("__type", "InternalFailure").split("#")[-1],
                data.get("message", data.get("Message", "")),
                status,
            )
        return data


@dataclass
class Identity:
    account_id: str
    principal_arn: str
    user_id: str
    secret_key: str
    session_token: str | None = None
    expires_at: float | None = None  # epoch seconds
    role_arn: str | None = None
    # ("role", account, role name) / ("user", account, user name): whose identity policies judge the calls
    # (sandbox/iam_enforcement.py); None: not judged (the world's static administrator credentials)
    policy_source: tuple | None = None


LOG_FIELDS = (
    "seq",
    "ts",
    "account",
    "region",
    "service",
    "action",
    "status",
    "error_code",
    "write",
    "principal",
    "duration_ms",
    "resources",
)


class RequestLog:
    """Every served call: seq, time, account, region, service, action, status, error code, write flag, principal,
    duration, and the (IAM action, resource ARNs) pairs IAM authorizes the call on (``resources``, see
    sandbox/iam_enforcement.py; None when the request did not parse). Kept in memory as compact tuples with interned strings (the last ``capacity`` calls, default 200,000,
    world option ``options.request_log_capacity``); ``since(seq)`` returns the entries after ``seq`` as dicts.
    """

    def __init__(self, capacity: int = 200_000):
        self.entries: collections.deque = collections.deque(maxlen=capacity)
        self.seq = 0
        self.lock = threading.Lock()

    def start(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def add(self, *values) -> None:
        self.entries.append(values)

    def since(self, seq: int = 0) -> list[dict]:
        items = list(self.entries)
        # Entries are appended when a call ends, so they are nearly but not strictly in seq order.
        return [
            dict(zip(LOG_FIELDS, e, strict=True)) for e in sorted((e for e in items if e[0] > seq), key=lambda e: e[0])
        ]

    def clear(self) -> None:
        self.entries.clear()


def _random_key(prefix: str, n: int = 16) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


class Sandbox:
    """One local AWS Organization. The engine (sandbox/engine) plugs in through ``register`` and ``on_reset``."""

    def __init__(self, world: World, world_source: Path | str | dict | None = None):
        self.world = world
        self.world_source = world_source if world_source is not None else world.source
        self.handlers: dict[tuple[str, str], Callable[[Call], dict]] = {}
        self.after_hooks: dict[tuple[str, str], list[Callable[[Call], None]]] = collections.defaultdict(list)
        self.reset_hooks: list[Callable[[], None]] = []
        self.identities: dict[str, Identity] = {}
        self.faults = Faults(world.seed)
        self.log = RequestLog(int((world.options or {}).get("request_log_capacity", 200_000)))
        self.lock = threading.RLock()
        self.ready = threading.Event()
        self.started = time.time()
        self.build_seconds = 0.0
        self.engine_loaded = False
        self.app = SandboxApp(self)
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._clients_lock = threading.Lock()
        from sandbox import documents, iam_enforcement, organizations, stacks, stacksets, sts

        sts.install(self)
        stacks.install(self)
        iam_enforcement.install(self)
        organizations.install(self)
        documents.install(self)
        self.stacksets = stacksets.install(self)

    # -- contract -------------------------------------------------------------------------------------------------
    def register(self, service: str, action: str, handler: Callable[[Call], dict]) -> None:
        """Serve ``service``/``action`` with ``handler`` (returns the response body as a dict; raise AwsError)."""
        self.handlers[(service, action)] = handler

    def on_reset(self, fn: Callable[[], None]) -> None:
        """``fn()`` runs on every reset, after moto's state is cleared and before the world is rebuilt."""
        self.reset_hooks.append(fn)

    def after(self, service: str, action: str, fn: Callable[[Call], None]) -> None:
        """``fn(call)`` runs after a successful ``service``/``action`` call (moto-served or handled)."""
        self.after_hooks[(service, action)].append(fn)

    def moto_backend(self, service: str, account_id: str, region: str = "us-east-1"):
        """moto's backend object, for reading state. IAM is global ("global"), Organizations per partition
        ("aws"); both are mapped from any region given. Do not write through it."""
        from moto.backends import get_backend

        if service == "iam":
            region = "global"
        elif service == "organizations":
            region = "aws"
        return get_backend(service)[account_id][region]

    def org_backend(self):
        """The Organizations backend that holds the organization (the management account's)."""
        return self.moto_backend("organizations", self.world.management_account_id)

    def organization_id_of(self, account_id: str) -> str | None:
        org = self.org_backend()
        if org.org is None:
            return None
        if any(a.id == account_id and a.status == "ACTIVE" for a in org.accounts):
            return org.org.id
        return None

    def can_assume(
        self,
        role_arn: str,
        principal_arn: str | None = None,
        *,
        service: str | None = None,
        source_arn: str | None = None,
        source_account: str | None = None,
        context: dict | None = None,
    ) -> tuple[bool, str]:
        """Judge the role's real trust policy (moto's IAM backend of the role's account) for a principal ARN or a
        service principal, with aws:PrincipalOrgID from the organization. Returns (allowed, reason)."""
        m = trust.ROLE_ARN_RE.match(role_arn or "")
        if not m:
            return False, f"not a role ARN: {role_arn}"
        account, name = m.group(1), m.group(2)
        role = self.find_role(account, name)
        if role is None:
            return False, f"role {name} does not exist in account {account}"
        caller_account = None
        if principal_arn:
            pm = re.match(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):", principal_arn)
            caller_account = pm.group(1) if pm else None
        req = trust.Request(
            principal_arn=principal_arn,
            account=caller_account,
            org_id=self.organization_id_of(caller_account) if caller_account else None,
            service=service,
            context={"aws:SourceArn": source_arn, "aws:SourceAccount": source_account, **(context or {})},
        )
        return trust.evaluate(role.assume_role_policy_document, req)

    def find_role(self, account_id: str, name: str):
        iam = self.moto_backend("iam", account_id)
        for role in iam.roles.values():
            if role.name == name:
                return role
        return None

    # -- credentials ----------------------------------------------------------------------------------------------
    def user_identity(self, access_key: str) -> Identity | None:
        """The identity of an active access key of an IAM user created in the sandbox (iam:CreateAccessKey), judged
        by that user's policies; looked up at every call, so a deleted or deactivated key stops working at once."""
        from sandbox import iam_enforcement

        found = iam_enforcement.user_identity(self, access_key)
        if found is None:
            return None
        account, name, secret, user_id = found
        return Identity(
            account_id=account,
            principal_arn=f"arn:aws:iam::{account}:user/{name}",
            user_id=user_id,
            secret_key=secret,
            policy_source=("user", account, name),
        )

    def add_identity(self, access_key: str, identity: Identity) -> None:
        self.identities[access_key] = identity

    def issue_credentials(
        self, account_id: str, role_arn: str, session: str, role_id: str, duration: float
    ) -> tuple[str, Identity]:
        access_key = _random_key("ASIA")
        ident = Identity(
            account_id=account_id,
            principal_arn=f"arn:aws:sts::{account_id}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{session}",
            user_id=f"{role_id}:{session}",
            secret_key=secrets.token_urlsafe(30),
            session_token=secrets.token_urlsafe(96),
            expires_at=time.time() + duration,
            role_arn=role_arn,
            policy_source=("role", account_id, role_arn.rsplit("/", 1)[-1]),
        )
        self.identities[access_key] = ident
        return access_key, ident

    # -- in-process API access (world build, handlers acting in other accounts) ----------------------------------
    def client(self, service: str, account_id: str | None = None, region: str | None = None):
        """A botocore client that calls this sandbox in-process as ``account_id``'s root (default: management).

        Calls go through the whole layer and moto exactly as HTTP calls do, but are not logged and get no faults.
        One botocore client is made per service and region; the account travels with each call.
        """
        account_id = account_id or self.world.management_account_id
        region = region or self.world.regions[0]
        key = (service, region)
        base = self._clients.get(key)
        if base is None:
            with self._clients_lock:
                base = self._clients.get(key)
                if base is None:
                    base = _internal_client(self, service, region)
                    self._clients[key] = base
        return _AccountClient(base, account_id)

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def build(self) -> None:
        from sandbox import build

        t0 = time.monotonic()
        self.identities = {
            self.world.management_access_key: Identity(
                account_id=self.world.management_account_id,
                principal_arn=f"arn:aws:iam::{self.world.management_account_id}:user/{self.world.management_user}",
                user_id="AIDA" + self.world.management_account_id + "SANDBOX",
                secret_key=self.world.management_secret_key,
            )
        }
        self.faults = Faults(self.world.seed)
        build.build_world(self)
        self.faults.set(self.world.faults)
        self.build_seconds = time.monotonic() - t0
        self.ready.set()

    def reset(self, world: World | None = None) -> None:
        """Clear every backend (moto's, ours, the engine's) and rebuild the world from scratch."""
        with self.lock:
            self.ready.clear()
            from moto.moto_api._internal.models import moto_api_backend

            moto_api_backend.reset()
            self.stacksets.reset()
            for fn in self.reset_hooks:
                fn()
            self.log.clear()
            if world is None:
                world = load_world(self.world_source) if not isinstance(self.world_source, World) else self.world_source
            self.world = world
            self.build()

    def install_engine(self) -> None:
        try:
            from sandbox import engine
        except ImportError as exc:
            log.warning("sandbox: no automation engine (%s); SSM automation actions are served by moto alone", exc)
            return
        install = getattr(engine, "install", None)
        if install is None:
            log.warning("sandbox: sandbox.engine has no install(); running without the automation engine")
            return
        install(self)
        self.engine_loaded = True


# -------------------------------------------------------------------------------------------------------------------
# The WSGI layer
# -------------------------------------------------------------------------------------------------------------------
_SCOPE_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


class SandboxApp:
    def __init__(self, sandbox: Sandbox):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.sandbox = sandbox
        self.moto = DomainDispatcherApplication(create_backend_app)
        self._query_models: dict[tuple[str, str], Any] = {}

    # -- helpers --------------------------------------------------------------------------------------------------
    @staticmethod
    def _respond(start_response, status: int, body: bytes, headers: list) -> list[bytes]:
        headers = [*headers, ("Content-Length", str(len(body)))]
        start_response(f"{status} {_REASONS.get(status, 'Unknown')}", headers)
        return [body]

    def _error(self, start_response, protocol, code, message, status, request_id):
        body, headers = protocols.render_error(protocol, code, message, status, request_id)
        return self._respond(start_response, status, body, headers)

    def _call_moto(self, environ: dict) -> tuple[int, list, bytes]:
        captured: dict = {}

        def start(status, headers, exc_info=None):
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers
            return lambda data: None

        chunks = self.moto(environ, start)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return captured["status"], captured["headers"], body

    # -- the request path -----------------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/") or path == "/_sandbox":
            return admin(self.sandbox, environ, start_response)
        sb = self.sandbox
        request_id = str(uuid.uuid4())
        internal_account = environ.get("sandbox.internal")
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = _SCOPE_RE.search(auth)
        service = m.group(3) if m else ""
        region = m.group(2) if m else ""
        protocol = protocols.protocol_of(environ, service)
        if not m:
            if path.startswith("/moto-api"):
                return self._error(
                    start_response,
                    "json",
                    "AccessDeniedException",
                    "The moto admin API is not exposed by the sandbox",
                    403,
                    request_id,
                )
            return self._error(
                start_response,
                protocol,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
                403,
                request_id,
            )
        access_key = m.group(1)

        # Identity
        if internal_account:
            ident = Identity(internal_account, f"arn:aws:iam::{internal_account}:root", internal_account, "")
        else:
            if not sb.ready.is_set():
                sb.ready.wait(60)
            ident = sb.identities.get(access_key) or sb.user_identity(access_key)
            if ident is None:
                code, status, msg = protocols.INVALID_KEY[_proto3(protocol)]
                return self._error(start_response, protocol, code, msg, status, request_id)
            if ident.session_token is not None:
                token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
                if token != ident.session_token:
                    code, status, msg = protocols.INVALID_KEY[_proto3(protocol)]
                    return self._error(start_response, protocol, code, msg, status, request_id)
                if ident.expires_at is not None and time.time() >= ident.expires_at:
                    code, status, msg = protocols.EXPIRED[_proto3(protocol)]
                    return self._error(start_response, protocol, code, msg, status, request_id)

        # Body and action
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        raw_params: dict = {}
        if protocol == "json":
            action = environ["HTTP_X_AMZ_TARGET"].rsplit(".", 1)[-1]
        elif protocol in ("query", "ec2"):
            raw_params = protocols.parse_query(body, environ.get("QUERY_STRING", ""))
            action = raw_params.get("Action", "")
        elif protocol == "cbor":
            action = path.rsplit("/operation/", 1)[-1] if "/operation/" in path else ""
        else:
            action = ""
        method = environ.get("REQUEST_METHOD", "POST")

        seq = 0 if internal_account else sb.log.start()
        t0 = time.monotonic()
        status = 200
        error_code = None
        try:
            status, error_code, result = self._dispatch(
                environ,
                start_response,
                body,
                protocol,
                service,
                action,
                region,
                ident,
                access_key,
                raw_params,
                request_id,
                seq,
                bool(internal_account),
            )
            return result
        finally:
            if not internal_account:
                intern = sys.intern
                sb.log.add(
                    seq,
                    time.time(),
                    intern(ident.account_id),
                    intern(region),
                    intern(service),
                    intern(action or f"{method} {path}"),
                    status,
                    error_code,
                    is_write(action, method),
                    intern(ident.principal_arn),
                    round((time.monotonic() - t0) * 1000, 3),
                    environ.get("sandbox.resources"),
                )

    def _dispatch(
        self,
        environ,
        start_response,
        body,
        protocol,
        service,
        action,
        region,
        ident,
        access_key,
        raw_params,
        request_id,
        seq,
        internal,
    ):
        sb = self.sandbox
        p3 = _proto3(protocol)
        # Faults
        if not internal:
            decision = sb.faults.decide(service, action, ident.account_id, region)
            if decision is not None:
                if decision.latency_ms:
                    time.sleep(decision.latency_ms / 1000.0)
                if decision.error:
                    kind, message, status = decision.error
                    if kind == "throttle":
                        code, status = protocols.THROTTLE[p3]
                    elif kind == "barrier":  # a test's fault, not an AWS answer: a code no SDK retries
                        code = "SandboxBarrierTimeout"
                    elif kind == "denied":
                        code, status = protocols.ACCESS_DENIED[p3]
                        message = (
                            f"User: {ident.principal_arn} is not authorized to perform: {service}:{action} "
                            f"because no identity-based policy allows the {service}:{action} action"
                        )
                    else:
                        code = protocols.SERVER_ERRORS[status][p3]
                    return status, code, self._error(start_response, protocol, code, message, status, request_id)

        params = self._request_params(service, action, body, raw_params, protocol) if not internal and action else None
        # The caller's identity policies: the action and the resource ARNs (sandbox/iam_enforcement.py)
        if params is not None:
            from sandbox import iam_enforcement

            # the request log's ``resources``: what IAM authorizes the request on, [[action, [arns...]], ...]
            environ["sandbox.resources"] = iam_enforcement.with_role_paths(
                sb, iam_enforcement.requested(service, action, params, ident.account_id, region), ident.account_id
            )
            decision = iam_enforcement.check(sb, ident, service, action, params, region)
            if decision is not None and not decision.allowed:
                code, status = protocols.ACCESS_DENIED[p3]
                message = decision.message(ident.principal_arn)
                return status, code, self._error(start_response, protocol, code, message, status, request_id)
        # The front end's model checks, for every request of the json/query/ec2 protocols (moto-served or ours)
        if params is not None:
            problems = self._model_problems(service, action, params)
            if problems:
                code = VALIDATION_CODE[p3]
                message = fidelity.validation_message(problems)
                return 400, code, self._error(start_response, protocol, code, message, 400, request_id)

        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = ident.account_id

        def forward():
            environ["wsgi.input"] = io.BytesIO(body)
            st, hdrs, data = self._call_moto(environ)
            return st, dict(hdrs), data

        handler = sb.handlers.get((service, action)) if protocol != "cbor" else None  # handlers speak JSON/query
        if handler is not None:
            if protocol == "json":
                try:
                    params = json.loads(body) if body else {}
                except ValueError:
                    return (
                        400,
                        "SerializationException",
                        self._error(
                            start_response,
                            protocol,
                            "SerializationException",
                            "Malformed request body",
                            400,
                            request_id,
                        ),
                    )
            elif protocol in ("query", "ec2"):
                params = self._nested_params(service, action, raw_params)
            else:
                params = {}
            call = Call(
                service=service,
                action=action,
                account_id=ident.account_id,
                region=region,
                principal_arn=ident.principal_arn,
                access_key=access_key,
                params=params,
                request_id=request_id,
                protocol=protocol,
                raw_params=raw_params,
                seq=seq,
                internal=internal,
                _forward=forward,
            )
            try:
                result = handler(call)
            except PassThrough:
                handler = None
            except AwsError as err:
                return (
                    err.status,
                    err.code,
                    self._error(start_response, protocol, err.code, err.message, err.status, request_id),
                )
            except Exception as exc:  # a bug in a handler: answer as AWS does on an internal failure, and log it
                log.exception("sandbox: handler %s:%s failed", service, action)
                code = protocols.SERVER_ERRORS[500][p3]
                return (
                    500,
                    code,
                    self._error(start_response, protocol, code, f"sandbox handler error: {exc}", 500, request_id),
                )
            if handler is not None:
                if protocol == "json":
                    out = protocols.render_json(result or {})
                    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)]
                else:
                    out = protocols.render_query(service, action, result or {}, request_id)
                    headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
                self._run_after(call, result)
                return 200, None, self._respond(start_response, 200, out, headers)

        # moto
        environ["wsgi.input"] = io.BytesIO(body)
        status, headers, data = self._call_moto(environ)
        error_code = None
        if status >= 400:
            error_code = _error_code(data)
        elif (service, action) in sb.after_hooks:
            call = Call(
                service,
                action,
                ident.account_id,
                region,
                ident.principal_arn,
                access_key,
                {},
                request_id,
                protocol,
                raw_params,
                seq,
                internal,
            )
            if protocol == "json":
                try:
                    call.params = json.loads(body) if body else {}
                except ValueError:
                    call.params = {}
            self._run_after(call, response=data)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        return status, error_code, self._respond(start_response, status, data, headers)

    def _run_after(self, call: Call, response: Any = None) -> None:
        for fn in self.sandbox.after_hooks.get((call.service, call.action), ()):
            try:
                fn(call, response)
            except Exception:
                log.exception("sandbox: after-hook for %s:%s failed", call.service, call.action)

    def _request_params(self, service: str, action: str, body: bytes, raw_params: dict, protocol: str) -> dict | None:
        """The request's parameters as the nested dict of the operation's input shape (json/query/ec2 protocols);
        None when the body does not parse or the protocol is not one of those (then moto or the handler answers)."""
        if protocol == "json":
            try:
                params = json.loads(body) if body else {}
            except ValueError:
                return None
            return params if isinstance(params, dict) else None
        if protocol in ("query", "ec2"):
            try:
                if protocol == "ec2":
                    shape = protocols.service_model(service).operation_model(action).input_shape
                    return _ec2_unflatten(raw_params, "", shape) if shape is not None else {}
                return self._nested_params(service, action, raw_params)
            except Exception:  # noqa: BLE001 - an unknown operation, or a value that does not convert: moto answers
                return None
        return None

    @staticmethod
    def _model_problems(service: str, action: str, params: dict) -> list[str]:
        """What AWS's front end rejects in this request, from the pinned botocore model (``fidelity.validate_input``:
        required members, types, enums, patterns, min/max of strings, numbers and lists). An operation the model
        does not know is left to the handler or moto."""
        try:
            return fidelity.validate_input(service, action, params)
        except Exception:  # noqa: BLE001 - an operation the model lacks (botocore.exceptions.OperationNotFoundError)
            return []

    def _nested_params(self, service: str, action: str, raw: dict) -> dict:
        key = (service, action)
        shape = self._query_models.get(key)
        if shape is None:
            try:
                shape = protocols.service_model(service).operation_model(action).input_shape
            except Exception:
                shape = False
            self._query_models[key] = shape
        if not shape:
            return dict(raw)
        return protocols.unflatten_query(raw, shape)


def _ec2_unflatten(params: dict, prefix: str, shape) -> dict:
    """EC2 query parameters as the nested dict of ``shape``: names are ``queryName`` or the capitalised
    ``locationName`` (botocore's EC2Serializer), and lists are always flattened (``Filter.1.Value.1``)."""
    out = {}
    for name, member in shape.members.items():
        ser = member.serialization
        wire = ser.get("queryName") or (ser["name"][:1].upper() + ser["name"][1:] if "name" in ser else name)
        value = _ec2_value(params, prefix + wire, member)
        if value is not None:
            out[name] = value
    return out


def _ec2_value(params: dict, key: str, shape):
    kind = shape.type_name
    if kind == "structure":
        return _ec2_unflatten(params, key + ".", shape) or None
    if kind == "list":
        items, i = [], 1
        while True:
            item = _ec2_value(params, f"{key}.{i}", shape.member)
            if item is None:
                break
            items.append(item)
            i += 1
        return items or None
    if key not in params:
        return None
    return protocols._scalar(params[key], shape)  # noqa: SLF001 - the same conversion as the query protocol


def _proto3(protocol: str) -> str:
    return "json" if protocol in ("rest", "cbor") else protocol


_CODE_RES = (
    re.compile(rb"<Code>([^<]+)</Code>"),
    re.compile(rb'"__type"\s*:\s*"(?:[^"#]*#)?([^"]+)"'),
    re.compile(rb'"[Cc]ode"\s*:\s*"([^"]+)"'),
)


def _error_code(body: bytes) -> str | None:
    for rx in _CODE_RES:
        m = rx.search(body[:4096])
        if m:
            return m.group(1).decode(errors="replace")
    return None


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


# -------------------------------------------------------------------------------------------------------------------
# Admin endpoints
# -------------------------------------------------------------------------------------------------------------------
def admin(sb: Sandbox, environ: dict, start_response):
    path = environ.get("PATH_INFO", "").rstrip("/")
    method = environ.get("REQUEST_METHOD", "GET")
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}

    def reply(status: int, data) -> list[bytes]:
        body = json.dumps(data, default=str).encode()
        start_response(
            f"{status} {_REASONS.get(status, 'Unknown')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def read_json():
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        return json.loads(raw) if raw.strip() else None

    try:
        if path == "/_sandbox/health" and method == "GET":
            return reply(
                200 if sb.ready.is_set() else 503,
                {
                    "status": "ok" if sb.ready.is_set() else "building",
                    "world": sb.world.name,
                    "accounts": len(sb.world.accounts),
                    "instances": len(sb.world.instances),
                    "engine": sb.engine_loaded,
                    "build_seconds": round(sb.build_seconds, 3),
                    "uptime_seconds": round(time.time() - sb.started, 3),
                },
            )
        if path == "/_sandbox/world" and method == "GET":
            return reply(200, sb.world.to_dict())
        if path == "/_sandbox/reset" and method == "POST":
            data = read_json()
            world = None
            if data:
                world = load_world(data)
            sb.reset(world)
            return reply(200, {"status": "ok", "build_seconds": round(sb.build_seconds, 3), "last_seq": sb.log.seq})
        if path == "/_sandbox/faults":
            if method == "GET":
                return reply(200, {"faults": sb.faults.specs, "stats": dict(sb.faults.stats)})
            if method == "POST":
                data = read_json()
                specs = data.get("faults", data) if isinstance(data, dict) else data
                if isinstance(specs, dict):
                    specs = [specs]
                sb.faults.set(list(specs or []))
                return reply(200, {"faults": sb.faults.specs})
            if method == "DELETE":
                sb.faults.clear()
                return reply(200, {"faults": []})
        if path == "/_sandbox/requests" and method == "GET":
            since = int(query.get("since", 0) or 0)
            return reply(200, {"last_seq": sb.log.seq, "requests": sb.log.since(since)})
        return reply(404, {"error": f"no such sandbox endpoint: {method} {path}"})
    except (FaultSpecError, WorldError, ValueError) as exc:
        return reply(400, {"error": str(exc)})


# -------------------------------------------------------------------------------------------------------------------
# In-process transport for botocore clients
# -------------------------------------------------------------------------------------------------------------------
class _RawBody:
    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **_kw):
        yield self._data

    def read(self, *_a, **_kw):
        data, self._data = self._data, b""
        return data


_INTERNAL = threading.local()


class _AccountClient:
    """A botocore client bound to one account: every API method call runs as that account."""

    def __init__(self, client, account_id: str):
        self._client = client
        self._account = account_id

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name in ("meta", "exceptions") or not callable(attr) or name.startswith("_"):
            return attr

        def call(*args, **kwargs):
            previous = getattr(_INTERNAL, "account", None)
            _INTERNAL.account = self._account
            try:
                return attr(*args, **kwargs)
            finally:
                _INTERNAL.account = previous

        return call


def _internal_client(sb: Sandbox, service: str, region: str):
    import botocore.awsrequest
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config
    from werkzeug.test import EnvironBuilder

    session = _botocore_session()
    client = session.create_client(
        service,
        region_name=region,
        endpoint_url="http://sandbox.internal",
        aws_access_key_id="AKIASANDBOXINTERNAL0",
        aws_secret_access_key="internal",  # noqa: S106 - never checked: internal calls carry the account in the environ
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=True),
    )

    def send(request, **_kw):
        account_id = getattr(_INTERNAL, "account", None)
        if account_id is None:
            raise RuntimeError("sandbox internal client used outside an account binding")
        url = urlsplit(request.url)
        body = request.body
        if body is None:
            body = b""
        elif hasattr(body, "read"):
            body = body.read()
        elif isinstance(body, str):
            body = body.encode()
        headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        builder = EnvironBuilder(
            method=request.method,
            path=unquote(url.path) or "/",
            query_string=url.query,
            headers=headers,
            data=body,
            base_url="http://sandbox.internal",
        )
        environ = builder.get_environ()
        environ["sandbox.internal"] = account_id
        captured: dict = {}

        def start(status, hdrs, exc_info=None):
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = hdrs
            return lambda data: None

        data = b"".join(sb.app(environ, start))
        return AWSResponse(
            request.url, captured["status"], botocore.awsrequest.HeadersDict(captured["headers"]), _RawBody(data)
        )

    client.meta.events.register_first("before-send.*", send)
    return client


_BOTOCORE_SESSION = None


def _botocore_session():
    global _BOTOCORE_SESSION
    if _BOTOCORE_SESSION is None:
        import botocore.session

        _BOTOCORE_SESSION = botocore.session.get_session()
    return _BOTOCORE_SESSION


# -------------------------------------------------------------------------------------------------------------------
# serve
# -------------------------------------------------------------------------------------------------------------------
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    world_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    port_file: str | None = None,
    allow_non_loopback: bool = False,
    quiet: bool = True,
) -> None:
    """Build the world and serve until SIGTERM/SIGINT. Writes the bound port to ``port_file`` once ready."""
    import os

    from sandbox.world import AMIS_PATH

    # moto setting: load only the sandbox's own AMIs (not ~1,300 per region and account, which costs seconds).
    os.environ.setdefault("MOTO_AMIS_PATH", str(AMIS_PATH))
    # moto would take the account from MOTO_ACCOUNT_ID before any header: the layer decides the account.
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    if not is_loopback(host) and not allow_non_loopback:
        raise SystemExit(
            f"sandbox: refusing to listen on non-loopback address {host!r} (use --allow-non-loopback to force)"
        )
    t0 = time.monotonic()
    try:
        world = load_world(world_path)
    except WorldError as exc:
        raise SystemExit(str(exc)) from exc
    sb = Sandbox(world, world_path)
    sb.install_engine()

    class Handler(MotoRequestHandler):
        """Keep-alive, as AWS endpoints allow (HTTP/1.1 persistent connections, RFC 9112 section 9.3): botocore
        reuses its pooled connections instead of a TCP set-up (and here a server thread) per call.

        werkzeug's handler answers every request with ``Connection: close``, because after the response it drains
        whatever is left to read on the socket, which on a kept connection could be the next request. Here a
        request's body is read whole (by its ``Content-Length``) before the application runs, and the drain reads
        from that spent buffer, so the next request stays on the socket; ``Connection: close`` is then only sent
        when the client asked for it or werkzeug decided to close. A request with a chunked body or
        ``Expect: 100-continue`` keeps werkzeug's own handling (closed after the response)."""

        protocol_version = "HTTP/1.1"
        # werkzeug writes a response's head and body in separate sends: on a kept connection, Nagle's algorithm would
        # hold the body back until the client's (delayed, ~40 ms) acknowledgement of the head. TCP_NODELAY, as web
        # servers set it.
        disable_nagle_algorithm = True
        _kept = False

        def run_wsgi(self):
            headers = self.headers
            if (
                "chunked" in headers.get("Transfer-Encoding", "").lower()
                or headers.get("Expect", "").strip().lower() == "100-continue"
                or not (headers.get("Content-Length") or "0").isdigit()
            ):
                return super().run_wsgi()
            length = int(headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            connection, self.rfile = self.rfile, io.BytesIO(body)
            self._kept = True
            try:
                return super().run_wsgi()
            finally:
                self.rfile = connection
                self._kept = False

        def send_header(self, keyword, value):
            if self._kept and not self.close_connection and keyword.lower() == "connection" and value == "close":
                return
            super().send_header(keyword, value)

        def log_request(self, *args, **kwargs):
            if not quiet:
                super().log_request(*args, **kwargs)

    server = make_server(host, port, sb.app, threaded=True, request_handler=Handler)
    server.daemon_threads = True
    bound = server.server_address[1]
    sb.build()
    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    url = f"http://{host if ':' not in host else '[' + host + ']'}:{bound}"
    if port_file:
        tmp = Path(str(port_file) + ".tmp")
        tmp.write_text(json.dumps({"port": bound, "endpoint": url, "pid": _pid()}))
        tmp.replace(port_file)
    print(
        f"sandbox: world {world.name!r} ({len(world.accounts)} accounts, {len(world.instances)} instances) "
        f"ready in {time.monotonic() - t0:.2f}s at {url}",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        print("sandbox: stopped", flush=True)
    sys.exit(0)


def _pid() -> int:
    import os

    return os.getpid()
