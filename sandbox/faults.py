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
)
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


def _any(globs: tuple[str, ...], value: str) -> bool:
    return any(g in ("*", value) or fnmatch.fnmatchcase(value, g) for g in globs)


@dataclass
class Decision:
    latency_ms: float = 0.0
    error: tuple[str, str, int] | None = None  # (kind, message, status) kind in throttle|5xx|denied


class Faults:
    """The active rule set. ``decide`` is called once per request, before dispatch."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.rules: list[Rule] = []
        self.specs: list[dict] = []
        self.stats = {"throttled": 0, "errors_5xx": 0, "denied": 0, "delayed": 0}
        self._lock = threading.Lock()

    def set(self, specs: list[dict]) -> None:
        rules = []
        for i, spec in enumerate(specs):
            if not isinstance(spec, dict):
                raise FaultSpecError(f"faults[{i}]: must be a mapping")
            unknown = set(spec) - set(EFFECTS) - set(MATCH_KEYS) - {"name", "burst"}
            if unknown:
                raise FaultSpecError(
                    f"faults[{i}]: unknown keys {sorted(unknown)}; known: {sorted(EFFECTS + MATCH_KEYS)}"
                )
            for key in ("throttle_rate", "error_5xx_rate"):
                if key in spec and not 0 <= float(spec[key]) <= 1:
                    raise FaultSpecError(f"faults[{i}].{key}: must be between 0 and 1")
            if "tps" in spec and float(spec["tps"]) <= 0:
                raise FaultSpecError(f"faults[{i}].tps: must be greater than 0")
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
        if decision is not None:
            with self._lock:
                if decision.latency_ms:
                    self.stats["delayed"] += 1
                if decision.error:
                    key = {"throttle": "throttled", "5xx": "errors_5xx", "denied": "denied"}[decision.error[0]]
                    self.stats[key] += 1
        return decision

    def value(self, effect: str, service: str, action: str, account: str, region: str):
        """The smallest value of a numeric effect among matching rules (None if no rule sets it)."""
        found = None
        for rule in self.rules:
            if effect in rule.spec and rule.matches(service, action, account, region):
                v = float(rule.spec[effect])
                found = v if found is None else min(found, v)
        return found
