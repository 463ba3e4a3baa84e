"""Fault injection: latency, token-bucket TPS limits, random throttling and 5xx, AccessDenied, credential expiry.

Rules come from the world file's ``faults:`` list or ``POST /_sandbox/faults``. Each rule matches requests by
``service`` / ``action`` / ``account`` / ``region`` (globs, or lists of globs; missing = ``*``) and applies every
effect it names:

- ``latency_ms``: added before the call is served;
- ``tps`` (+ ``burst``, default = tps): a token bucket per account and region, per rule; an empty bucket answers
  ``ThrottlingException`` "Rate exceeded" (HTTP 400), as SSM does (``Throttling`` for query protocols);
- ``throttle_rate``: the fraction of matching calls throttled at random;
- ``error_5xx_rate``: the fraction answered with InternalServerError (500) or ServiceUnavailable (503);
- ``access_denied: true``: AccessDeniedException / AccessDenied for the matching accounts;
- ``credential_expiry_seconds``: assumed-role credentials issued by AssumeRole for a matching *target* account
  (the account of the role) expire after this many real seconds (then: ExpiredTokenException);
- ``stackset_operation_seconds``: StackSet operations (matched on the management account) stay RUNNING this many
  simulated seconds, which makes overlapping operations meet OperationInProgressException.
- ``client_token_reuse_refused: 1``: a StartAutomationExecution whose ``ClientToken`` was already used is refused
  with ``IdempotentParameterMismatch`` even when its parameters are the same. By default the sandbox answers such a
  retry with the first call's execution id (the usual AWS idempotency contract); botocore's model of
  StartAutomationExecution says of ClientToken that it "can't be reused", so this is the other reading of AWS's
  behaviour (docs/aws-differences.md), under which the collection must be correct too.
- ``barrier: N`` (+ ``barrier_timeout_seconds``, default 60): each matching request is held until N matching
  requests are held together, then all N go on at once and the next N form a new round. It makes a race happen
  without sleeping: with ``service: ssm, action: StartAutomationExecution, barrier: 2``, two jobs' starts are both
  in flight before either is served, so both jobs' earlier look-ups found nothing. Once released, the N requests are
  served concurrently and in no set order (the engine serves one StartAutomationExecution at a time, under its lock,
  so one of them is first, as one of two simultaneous calls is on AWS); which one is first is not chosen by arrival.
  It combines with ``client_token_reuse_refused`` (the first served start succeeds, the other is refused) and with
  the default reading (both get the first served start's id). A request still held after
  ``barrier_timeout_seconds`` leaves the round and is answered ``SandboxBarrierTimeout`` (HTTP 400, which SDKs do
  not retry) naming how many of the N arrived, so a test whose other request never comes fails instead of hanging.
  A request refused by another effect (throttled, denied, 5xx) never reaches the service and is not held. The rule
  must name its ``action`` (a barrier on every call would hold the look-ups that precede the calls it is for).

Randomness is seeded (world ``seed`` + rule index), so the same request sequence gets the same faults.
"""

from __future__ import annotations

import fnmatch
import random
import threading
import time
from dataclasses import dataclass, field

EFFECTS = (
    "latency_ms",
    "tps",
    "throttle_rate",
    "error_5xx_rate",
    "access_denied",
    "credential_expiry_seconds",
    "stackset_operation_seconds",
    "client_token_reuse_refused",
    "barrier",
)
DEFAULT_BARRIER_TIMEOUT = 60.0
# the ``stats`` counter of each kind of error a rule answers with
ERROR_STATS = {"throttle": "throttled", "5xx": "errors_5xx", "denied": "denied", "barrier": "barrier_timeouts"}
MATCH_KEYS = ("service", "action", "account", "region")


class FaultSpecError(ValueError):
    pass


def _globs(value) -> tuple[str, ...]:
    if value is None:
        return ("*",)
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@dataclass
class Rule:
    index: int
    spec: dict
    service: tuple[str, ...]
    action: tuple[str, ...]
    account: tuple[str, ...]
    region: tuple[str, ...]
    rng: random.Random
    buckets: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # barrier: requests held in the current round, and the number of rounds released so far
    held: int = 0
    rounds: int = 0
    released: threading.Condition = field(default_factory=threading.Condition)

    def matches(self, service: str, action: str, account: str, region: str) -> bool:
        return (
            _any(self.service, service)
            and _any(self.action, action)
            and _any(self.account, account)
            and _any(self.region, region)
        )

    def take_token(self, key: tuple[str, str], now: float) -> bool:
        tps = float(self.spec["tps"])
        burst = float(self.spec.get("burst", max(tps, 1.0)))
        with self.lock:
            tokens, last = self.buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * tps)
            if tokens >= 1.0:
                self.buckets[key] = (tokens - 1.0, now)
                return True
            self.buckets[key] = (tokens, now)
            return False

    def roll(self, rate: float) -> bool:
        with self.lock:
            return self.rng.random() < rate

    def hold(self) -> str | None:
        """Wait at the rule's barrier: None when ``barrier`` requests were held together (the last one to arrive
        releases the round), else, after ``barrier_timeout_seconds``, the message of the error to answer."""
        n = int(self.spec["barrier"])
        timeout = float(self.spec.get("barrier_timeout_seconds", DEFAULT_BARRIER_TIMEOUT))
        with self.released:
            round_ = self.rounds
            self.held += 1
            if self.held >= n:
                self.held = 0
                self.rounds += 1
                self.released.notify_all()
                return None
            if self.released.wait_for(lambda: self.rounds != round_, timeout):
                return None
            arrived = self.held
            self.held -= 1
        return (
            f"sandbox fault barrier: {arrived} of the {n} requests it waits for arrived within {timeout:g} s "
            f"(rule {self.spec.get('name', self.index)}); this request was not served"
        )


def _check_barrier(i: int, spec: dict) -> None:
    if "barrier_timeout_seconds" in spec and "barrier" not in spec:
        raise FaultSpecError(f"faults[{i}].barrier_timeout_seconds: only with barrier")
    if "barrier" not in spec:
        return
    n = spec["barrier"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise FaultSpecError(f"faults[{i}].barrier: must be a whole number of requests, 2 or more (got {n!r})")
    if _globs(spec.get("action")) == ("*",):
        raise FaultSpecError(f"faults[{i}].barrier: the rule must name the action whose requests it holds")
    timeout = spec.get("barrier_timeout_seconds", DEFAULT_BARRIER_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise FaultSpecError(f"faults[{i}].barrier_timeout_seconds: must be a number of seconds greater than 0")


def _any(globs: tuple[str, ...], value: str) -> bool:
    return any(g in ("*", value) or fnmatch.fnmatchcase(value, g) for g in globs)


@dataclass
class Decision:
    latency_ms: float = 0.0
    error: tuple[str, str, int] | None = None  # (kind, message, status) kind in throttle|5xx|denied|barrier


class Faults:
    """The active rule set. ``decide`` is called once per request, before dispatch."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.rules: list[Rule] = []
        self.specs: list[dict] = []
        self.stats = {"throttled": 0, "errors_5xx": 0, "denied": 0, "delayed": 0, "held": 0, "barrier_timeouts": 0}
        self._lock = threading.Lock()

    def set(self, specs: list[dict]) -> None:
        rules = []
        for i, spec in enumerate(specs):
            if not isinstance(spec, dict):
                raise FaultSpecError(f"faults[{i}]: must be a mapping")
            unknown = set(spec) - set(EFFECTS) - set(MATCH_KEYS) - {"name", "burst", "barrier_timeout_seconds"}
            if unknown:
                raise FaultSpecError(
                    f"faults[{i}]: unknown keys {sorted(unknown)}; known: {sorted(EFFECTS + MATCH_KEYS)}"
                )
            for key in ("throttle_rate", "error_5xx_rate"):
                if key in spec and not 0 <= float(spec[key]) <= 1:
                    raise FaultSpecError(f"faults[{i}].{key}: must be between 0 and 1")
            if "tps" in spec and float(spec["tps"]) <= 0:
                raise FaultSpecError(f"faults[{i}].tps: must be greater than 0")
            _check_barrier(i, spec)
            rules.append(
                Rule(
                    index=i,
                    spec=dict(spec),
                    service=_globs(spec.get("service")),
                    action=_globs(spec.get("action")),
                    account=_globs(spec.get("account")),
                    region=_globs(spec.get("region")),
                    rng=random.Random(self.seed * 1000003 + i),
                )
            )
        with self._lock:
            self.rules = rules
            self.specs = [dict(s) for s in specs]

    def clear(self) -> None:
        self.set([])

    def decide(self, service: str, action: str, account: str, region: str) -> Decision | None:
        rules = self.rules
        if not rules:
            return None
        decision = None
        now = time.monotonic()
        for rule in rules:
            if not rule.matches(service, action, account, region):
                continue
            spec = rule.spec
            decision = decision or Decision()
            if spec.get("latency_ms"):
                decision.latency_ms += float(spec["latency_ms"])
            if decision.error:
                continue
            if spec.get("access_denied"):
                decision.error = ("denied", "", 0)
            elif (
                "tps" in spec
                and not rule.take_token((account, region), now)
                or spec.get("throttle_rate")
                and rule.roll(float(spec["throttle_rate"]))
            ):
                decision.error = ("throttle", "Rate exceeded", 0)
            elif spec.get("error_5xx_rate") and rule.roll(float(spec["error_5xx_rate"])):
                status = 500 if rule.roll(0.5) else 503
                decision.error = ("5xx", "We encountered an internal error. Please try again.", status)
        held = 0
        if decision is not None and not decision.error:
            # Only requests that reach the service wait at a barrier, after every other effect was decided.
            for rule in rules:
                if "barrier" in rule.spec and rule.matches(service, action, account, region):
                    timed_out = rule.hold()
                    if timed_out:
                        decision.error = ("barrier", timed_out, 400)
                        break
                    held = 1
        if decision is not None:
            with self._lock:
                self.stats["held"] += held
                if decision.latency_ms:
                    self.stats["delayed"] += 1
                if decision.error:
                    self.stats[ERROR_STATS[decision.error[0]]] += 1
        return decision

    def value(self, effect: str, service: str, action: str, account: str, region: str):
        """The smallest value of a numeric effect among matching rules (None if no rule sets it)."""
        found = None
        for rule in self.rules:
            if effect in rule.spec and rule.matches(service, action, account, region):
                v = float(rule.spec[effect])
                found = v if found is None else min(found, v)
        return found
