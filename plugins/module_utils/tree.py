# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Harvest a multi-account SSM Automation execution tree: every location, every instance, every step.

The tree, as AWS builds it (Systems Manager user guide, "Running automations in multiple AWS Regions and
accounts"):

* management account: one parent execution (AutomationType ``CrossAccount``) with one step execution per
  targeted account x region; each step carries its ``TargetLocation`` and, in its outputs, the id of the
  execution it started in that account and region;
* each member account-region: that execution fans out into one execution per target (instance), whose
  ``ParentAutomationExecutionId`` is the member execution. Only that account's credentials see them.

:func:`gather` reads it all: locations in parallel (a bounded thread pool), calls within a location paced
(a token bucket per location) and retried with jittered backoff (botocore's ``standard``/``adaptive`` retry
modes), every list paginated, and no redundant call: per location one DescribeAutomationExecutions page per
50 children (filter ``ParentExecutionId``) and one GetAutomationExecution per instance execution. Member
accounts are read by assuming ``role_name``; credentials are cached per account and renewed before they
expire, or at once when AWS says they have. A location that cannot be read is recorded with the reason;
nothing is dropped. Records are handed to ``callback`` as they complete, so that a caller can stream them
(JSON Lines) instead of holding a 40,000-instance tree in memory.

Usable without Ansible: ``gather(ClientFactory(boto3.Session(...), endpoint_url=...), parent_id, region)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import random
import re
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from multiprocessing.connection import Pipe
from multiprocessing.connection import wait as wait_connections

try:
    import boto3
    import botocore.config
    import botocore.credentials
    import botocore.exceptions
    import botocore.session
except ImportError:  # pragma: no cover - the modules report missing boto3 through AnsibleAWSModule
    boto3 = None
    botocore = None

from ansible_collections.orgops.ssm_automation.plugins.module_utils.automation import SUCCESS_STATUSES, is_terminal

DEFAULT_READER_ROLE = "AWS-SystemsManager-AutomationResultsReaderRole"
SESSION_NAME = "orgops-ssm-automation-gather"
EXPIRED_CODES = frozenset(["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"])
THROTTLE_CODES = frozenset(["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"])
UUID_RE = re.compile(r"^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$")
# Output keys, in order of preference, under which a parent's location step names its member execution.
MEMBER_ID_KEYS = ("ExecutionId", "AutomationExecutionId", "ChildAutomationExecutionId", "ExecutionIds")
PAGE_SIZE = 50
RENEWALS = 3  # credential renewals per call, when AWS answers that they expired
# More rounds of a call that botocore's retries gave up on because of throttling (its attempts were spent, or its
# retry quota, which a client shared by many locations spends faster), each after slowing the location's pacer.
THROTTLE_ROUNDS = 4
THROTTLE_BACKOFF = 0.5  # seconds, doubled each round, jittered, at most THROTTLE_BACKOFF_MAX
THROTTLE_BACKOFF_MAX = 8.0
MIN_RATE = 0.5  # calls per second: a throttled location is never paced slower than this
COMMAND_STDOUT_MAX = 24000
COMMAND_STDERR_MAX = 8000


def iso(value):
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def error_info(exc):
    """``{"code", "message"}`` for any exception, with AWS's error code when there is one. No secrets."""
    response = getattr(exc, "response", None) or {}
    err = response.get("Error") or {}
    code = err.get("Code") or type(exc).__name__
    message = err.get("Message") or str(exc)
    return {"code": code, "message": message}


def _retry_attempts(obj):
    meta = (obj or {}).get("ResponseMetadata") or {}
    return meta.get("RetryAttempts", 0) or 0


class Pacer:
    """A token bucket: at most ``rate`` calls per second on average, bursts up to ``burst``. One per location."""

    def __init__(self, rate, burst=None, clock=time.monotonic, sleep=time.sleep):
        self.rate = float(rate or 0)
        self.capacity = float(burst if burst is not None else max(1.0, self.rate))
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.last = clock()
        self.target = None  # the rate to come back to after slow_down()

    def slow_down(self, fallback=5.0):
        """Halve the rate (an unpaced location starts at ``fallback``) after a throttle; never below MIN_RATE."""
        if self.target is None:
            self.target = self.rate
        self.rate = max(MIN_RATE, (self.rate / 2.0) if self.rate > 0 else fallback)
        self.capacity = max(1.0, min(self.capacity, self.rate))
        self.tokens = min(self.tokens, 0.0)

    def recover(self):
        """After a call that went through: 10% faster, back up to the rate it started with (0: unpaced again)."""
        target = self.target
        if target is None:
            return
        if target > 0 and self.rate * 1.1 < target:
            self.rate *= 1.1
            return
        self.rate = target
        self.capacity = float(max(1.0, target))
        self.target = None

    def take(self):
        if self.rate <= 0:
            return
        while True:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1 - 1e-9:  # float rounding must not leave a call waiting forever
                self.tokens = max(0.0, self.tokens - 1)
                return
            self.sleep(max((1 - self.tokens) / self.rate, 1e-6))


if boto3 is not None:

    class _ThreadCredentials(botocore.credentials.Credentials):
        """botocore credentials that are, in each thread, those of the account that thread is calling for.

        Clients for member accounts are created once per thread and region with this object as their credentials,
        and :class:`AccountClient` sets the thread's account before each call; botocore asks for the frozen
        credentials when it signs each attempt (retries included) in the calling thread, so every request is
        signed with the right account's keys. This replaces one client per account and region: creating a client
        costs several milliseconds of CPU, and a fresh client parses its first responses with cold model caches.
        """

        method = "assume-role"

        def __init__(self, resolve):  # pylint: disable=super-init-not-called
            self._resolve = resolve  # account -> botocore.credentials.ReadOnlyCredentials
            self._local = threading.local()
            self.account_id = None

        def use(self, account):
            self._local.account = account

        def get_frozen_credentials(self):
            account = getattr(self._local, "account", None)
            if account is None:
                raise botocore.exceptions.NoCredentialsError()
            return self._resolve(account)

        # Read by some botocore code paths (e.g. client.meta), never cached by it.
        @property
        def access_key(self):
            return self.get_frozen_credentials().access_key

        @property
        def secret_key(self):
            return self.get_frozen_credentials().secret_key

        @property
        def token(self):
            return self.get_frozen_credentials().token

    class _ThreadCredentialProvider(botocore.credentials.CredentialProvider):
        METHOD = "assume-role"

        def __init__(self, credentials):  # pylint: disable=super-init-not-called
            self._credentials = credentials

        def load(self):
            return self._credentials


class AccountClient:
    """A member account's client: a thread's shared client for the region, signing as ``account``.

    Offers the client's API operations (``client.get_automation_execution(...)``) and ``meta``. Each call selects
    ``account``'s assumed-role credentials (cached and renewed by the factory) for the calling thread, then calls.
    Paginators and waiters are not offered: they call later, possibly after the thread switched accounts.
    """

    def __init__(self, factory, client, account):
        self._factory = factory
        self._client = client
        self._account = account
        self.meta = client.meta

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._client.meta.method_to_api_mapping:
            raise AttributeError(
                "%s: not an API operation of %s" % (name, self._client.meta.service_model.service_name)
            )
        method = getattr(self._client, name)
        factory, account = self._factory, self._account

        def call(*args, **kwargs):
            factory.thread_credentials.use(account)
            return method(*args, **kwargs)

        call.__name__ = name
        return call


class ClientFactory:
    """boto3 clients for any account and region of the organization.

    The caller's own account is read with the caller's credentials (one client per service and region, shared by
    all threads); any other account through ``sts:AssumeRole`` into ``role_name`` (one STS client for all). Assumed
    credentials are cached per account and renewed ``refresh_margin`` seconds before they expire, or when
    :meth:`invalidate` is called after AWS reported them expired. Member accounts' calls go through one client per
    thread, service and region whose credentials follow the account the thread calls for (:class:`AccountClient`),
    instead of one client per account and region. Thread-safe. Credentials never leave this object.
    """

    def __init__(
        self,
        session=None,
        role_name=DEFAULT_READER_ROLE,
        endpoint_url=None,
        retry_mode="standard",
        max_attempts=10,
        verify=None,
        duration_seconds=3600,
        refresh_margin=300,
        session_name=SESSION_NAME,
        config=None,
        clock=time.time,
    ):
        if boto3 is None:
            raise RuntimeError("boto3 and botocore are required")
        self.session = session or boto3.session.Session()
        self.role_name = role_name
        self.endpoint_url = endpoint_url
        self.verify = verify
        self.duration_seconds = duration_seconds
        self.refresh_margin = refresh_margin
        self.session_name = session_name
        self.clock = clock
        base = botocore.config.Config(retries={"mode": retry_mode, "max_attempts": max_attempts})
        self.config = base.merge(config) if config is not None else base
        self.pool_size = 10  # connections kept per member client; gather() raises it to its concurrency
        self._credentials = {}
        self._caller = None
        self._new_process_state()

    def _new_process_state(self):
        """Locks, clients and counters: what a process must not share with another (caches are kept)."""
        self._lock = threading.Lock()
        self._caller_lock = threading.Lock()
        self._account_locks = {}
        self._sts = None
        self._base_clients = {}
        self._member_session = None
        self._member_clients = {}
        self._local = threading.local()
        self.thread_credentials = _ThreadCredentials(self._frozen)
        self.assume_calls = 0
        self.clients_created = 0

    def after_fork(self):
        """In a child process: new locks, no client (their connections belong to the parent); caches kept."""
        self._new_process_state()

    def _client_kwargs(self, region):
        kwargs = {"config": self.config}
        if region:
            kwargs["region_name"] = region
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.verify is not None:
            kwargs["verify"] = self.verify
        return kwargs

    # -- identity ----------------------------------------------------------------------------------------
    def _base_client(self, service, region=None):
        """The caller's own client for ``service`` in ``region``, created once (boto3 clients are thread-safe)."""
        key = (service, region)
        client = self._base_clients.get(key)
        if client is None:
            with self._lock:  # a boto3 session is not thread-safe: clients are created one at a time
                client = self._base_clients.get(key)
                if client is None:
                    client = self._base_clients[key] = self.session.client(service, **self._client_kwargs(region))
                    self.clients_created += 1
        return client

    def _sts_client(self):
        """One STS client for every AssumeRole (botocore clients are thread-safe; creating one costs ~5 ms CPU)."""
        if self._sts is None:
            self._sts = self._base_client("sts", self.session.region_name or "us-east-1")
        return self._sts

    def caller_identity(self):
        """sts:GetCallerIdentity, once per factory whatever the number of threads asking."""
        if self._caller is not None:
            return self._caller
        with self._caller_lock:
            if self._caller is None:
                ident = self._sts_client().get_caller_identity()
                self._caller = {"account": ident["Account"], "arn": ident["Arn"]}
            return self._caller

    @property
    def caller_account(self):
        return self.caller_identity()["account"]

    @property
    def partition(self):
        parts = self.caller_identity()["arn"].split(":")
        return parts[1] if len(parts) > 1 else "aws"

    # -- credentials -------------------------------------------------------------------------------------
    def _account_lock(self, account):
        with self._lock:
            lock = self._account_locks.get(account)
            if lock is None:
                lock = self._account_locks[account] = threading.Lock()
            return lock

    def _cached(self, account):
        """``account``'s cached credentials while they are more than ``refresh_margin`` from expiring, else None."""
        cached = self._credentials.get(account)
        if cached and cached["expires"] - self.refresh_margin > self.clock():
            return cached
        return None

    def credentials(self, account):
        """Assumed-role credentials for ``account`` (None for the caller's own account): ``{"expires": epoch seconds,
        "frozen": botocore ReadOnlyCredentials}``. Raises on failure."""
        if account == self.caller_account:
            return None
        cached = self._cached(account)  # no lock on the common path; checked again under the account's lock
        if cached:
            return cached
        with self._account_lock(account):
            cached = self._cached(account)
            if cached:
                return cached
            sts = self._sts_client()
            arn = "arn:%s:iam::%s:role/%s" % (self.partition, account, self.role_name)
            self.assume_calls += 1
            response = sts.assume_role(
                RoleArn=arn, RoleSessionName=self.session_name, DurationSeconds=self.duration_seconds
            )
            creds = response["Credentials"]
            expiration = creds.get("Expiration")
            expires = (
                expiration.timestamp() if hasattr(expiration, "timestamp") else self.clock() + self.duration_seconds
            )
            cached = {
                "expires": expires,
                "frozen": botocore.credentials.ReadOnlyCredentials(
                    creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
                ),
            }
            self._credentials[account] = cached
            return cached

    def _frozen(self, account):
        return self.credentials(account)["frozen"]

    def invalidate(self, account):
        with self._account_lock(account):
            self._credentials.pop(account, None)

    # -- clients -----------------------------------------------------------------------------------------
    def _member_boto3_session(self):
        """A session whose credentials are :attr:`thread_credentials`, with the caller's profile configuration."""
        if self._member_session is None:
            core = botocore.session.Session()
            profile = self.session.profile_name
            if profile in self.session.available_profiles:
                core.set_config_variable("profile", profile)
            core.register_component(
                "credential_provider",
                botocore.credentials.CredentialResolver([_ThreadCredentialProvider(self.thread_credentials)]),
            )
            self._member_session = boto3.session.Session(botocore_session=core)
        return self._member_session

    def _member_client(self, service, region):
        """The client member accounts' calls go through: one per service and region, shared by every thread (boto3
        clients are thread-safe; its connection pool is sized by :attr:`pool_size`). With botocore's ``adaptive``
        retry mode, one per thread instead: that mode's client-side rate limiter must not slow every account of a
        region after one account was throttled."""
        key = (service, region)
        if self.config.retries.get("mode") == "adaptive":
            clients = getattr(self._local, "clients", None)
            if clients is None:
                clients = self._local.clients = {}
        else:
            clients = self._member_clients
        client = clients.get(key)
        if client is None:
            with self._lock:
                client = clients.get(key)
                if client is None:
                    kwargs = self._client_kwargs(region)
                    kwargs["config"] = botocore.config.Config(max_pool_connections=max(10, self.pool_size)).merge(
                        self.config
                    )
                    client = clients[key] = self._member_boto3_session().client(service, **kwargs)
                    self.clients_created += 1
        return client

    def client(self, service, region, account=None):
        """A client for ``service`` in ``region`` as ``account`` (the caller when None or the caller's account).

        For a member account, the role is assumed now (so that a refusal surfaces here) and an
        :class:`AccountClient` is returned."""
        if account is None or account == self.caller_account:
            return self._base_client(service, region)
        self.credentials(account)
        return AccountClient(self, self._member_client(service, region), account)


# ---------------------------------------------------------------------------------------------------------
# Parent execution: one location per account x region step
# ---------------------------------------------------------------------------------------------------------


def member_execution_id(step):
    """The member account's execution id a parent location step started, from its outputs."""
    outputs = step.get("Outputs") or {}
    for key in MEMBER_ID_KEYS:
        for value in outputs.get(key) or []:
            if isinstance(value, str) and UUID_RE.match(value):
                return value
    for key in sorted(outputs):
        if key.endswith("ExecutionId") or key.endswith("ExecutionIds"):
            for value in outputs.get(key) or []:
                if isinstance(value, str) and UUID_RE.match(value):
                    return value
    return None


def parent_steps(ssm, parent_id, execution=None):
    """The parent execution and its step executions, paginated when GetAutomationExecution truncated them."""
    if execution is None:
        execution = ssm.get_automation_execution(AutomationExecutionId=parent_id)["AutomationExecution"]
    steps = execution.get("StepExecutions") or []
    if execution.get("StepExecutionsTruncated"):
        steps = []
        token = None
        while True:
            kwargs = {"AutomationExecutionId": parent_id, "MaxResults": PAGE_SIZE}
            if token:
                kwargs["NextToken"] = token
            page = ssm.describe_automation_step_executions(**kwargs)
            steps.extend(page.get("StepExecutions") or [])
            token = page.get("NextToken")
            if not token:
                break
    return execution, steps


def locations_from_steps(steps, default_region):
    """One location dict per account x region step of the parent."""
    out = []
    for step in steps:
        target = step.get("TargetLocation") or {}
        accounts = target.get("Accounts") or []
        regions = target.get("Regions") or [default_region]
        if not accounts:
            continue
        single = len(accounts) == 1 and len(regions) == 1
        for account in accounts:
            for region in regions:
                out.append(
                    {
                        "account": account,
                        "region": region,
                        "step_name": step.get("StepName"),
                        "status": step.get("StepStatus"),
                        "failure_message": step.get("FailureMessage"),
                        "start_time": iso(step.get("ExecutionStartTime")),
                        "end_time": iso(step.get("ExecutionEndTime")),
                        "execution_role_name": target.get("ExecutionRoleName"),
                        "member_execution_id": member_execution_id(step) if single else None,
                    }
                )
    return out


def execution_header(execution):
    counters = execution.get("ProgressCounters") or {}
    return {
        "automation_execution_id": execution.get("AutomationExecutionId"),
        "document_name": execution.get("DocumentName"),
        "document_version": execution.get("DocumentVersion"),
        "status": execution.get("AutomationExecutionStatus"),
        "start_time": iso(execution.get("ExecutionStartTime")),
        "end_time": iso(execution.get("ExecutionEndTime")),
        "failure_message": execution.get("FailureMessage"),
        "target_parameter_name": execution.get("TargetParameterName"),
        "location_progress": {
            "total": counters.get("TotalSteps", 0),
            "success": counters.get("SuccessSteps", 0),
            "failed": counters.get("FailedSteps", 0),
            "cancelled": counters.get("CancelledSteps", 0),
            "timed_out": counters.get("TimedOutSteps", 0),
        },
    }


# ---------------------------------------------------------------------------------------------------------
# One location
# ---------------------------------------------------------------------------------------------------------


class LocationReader:
    """Reads one account-region: the member execution's children, then each child's steps."""

    def __init__(
        self,
        factory,
        location,
        target_parameter_name=None,
        full_output=False,
        summary_only=False,
        rate=0,
        pacer=None,
        parent_status=None,
    ):
        self.factory = factory
        self.location = location
        self.parent_status = parent_status
        self.account = location["account"]
        self.region = location["region"]
        self.target_parameter_name = target_parameter_name
        self.full_output = full_output
        self.summary_only = summary_only
        self.pacer = pacer or Pacer(rate)
        self.calls = 0
        self.retries = 0
        self.renewals = 0
        self.errors = 0
        self._clients = {}

    def _client(self, service):
        client = self._clients.get(service)
        if client is None:
            client = self._clients[service] = self.factory.client(service, self.region, self.account)
        return client

    def call(self, service, operation, **kwargs):
        """One paced API call. When AWS says the credentials expired (possibly while botocore was retrying a
        throttled call), they are renewed and the call made again, up to ``RENEWALS`` times. When botocore's retries
        gave up on throttling, the location slows down (its pacer halves its rate, coming back 10% per call that
        goes through) and the call is made again after a jittered backoff, up to ``THROTTLE_ROUNDS`` times."""
        attempt = 0
        throttled = 0
        while True:
            self.pacer.take()
            self.calls += 1
            try:
                response = getattr(self._client(service), operation)(**kwargs)
            except Exception as e:  # pylint: disable=broad-except
                self.retries += _retry_attempts(getattr(e, "response", None))
                code = error_info(e)["code"]
                if attempt < RENEWALS and code in EXPIRED_CODES:
                    attempt += 1
                    self.renewals += 1
                    self.factory.invalidate(self.account)
                    self._clients.clear()
                    continue
                if throttled < THROTTLE_ROUNDS and code in THROTTLE_CODES:
                    throttled += 1
                    self.retries += 1
                    self.pacer.slow_down()
                    backoff = min(THROTTLE_BACKOFF_MAX, THROTTLE_BACKOFF * 2 ** (throttled - 1))
                    self.pacer.sleep(backoff * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not security
                    continue
                raise
            self.retries += _retry_attempts(response)
            self.pacer.recover()
            return response

    def children(self, member_id):
        token = None
        while True:
            kwargs = {"Filters": [{"Key": "ParentExecutionId", "Values": [member_id]}], "MaxResults": PAGE_SIZE}
            if token:
                kwargs["NextToken"] = token
            page = self.call("ssm", "describe_automation_executions", **kwargs)
            yield from page.get("AutomationExecutionMetadataList") or []
            token = page.get("NextToken")
            if not token:
                return

    def read(self):
        record = dict(self.location)
        record.update({"read_status": "ok", "read_error": None, "instances": []})
        member_id = record.get("member_execution_id")
        if not member_id:
            record["read_status"] = "skipped"
            if (not is_terminal(record.get("status")) or record.get("status") in ("Pending", None)) and is_terminal(
                self.parent_status
            ):
                # The parent is over and this location never started: AWS stopped queueing locations
                # (TargetLocationMaxErrors reached) or the run was cancelled. Its targets were never run.
                record["read_error"] = {
                    "code": "NeverStarted",
                    "message": "the automation ended (%s) before this location was started: TargetLocationMaxErrors "
                    "was reached or the run was cancelled; its targets were not run" % self.parent_status,
                }
            elif not is_terminal(record.get("status")) or record.get("status") in ("Pending", None):
                record["read_error"] = {
                    "code": "NotStarted",
                    "message": "the location has not started a member execution yet",
                }
            else:
                record["read_error"] = {
                    "code": "NoMemberExecution",
                    "message": record.get("failure_message") or "the location started no member execution",
                }
            return record
        try:
            metas = list(self.children(member_id))
        except Exception as e:  # pylint: disable=broad-except
            self.errors += 1
            record["read_status"] = "failed"
            record["read_error"] = error_info(e)
            return record
        member = None
        if not metas or record.get("status") not in SUCCESS_STATUSES:
            # The member execution itself, once: it ran the steps itself (no fan-out), or it may have targets that
            # never started (MaxErrors reached, cancelled, still running), which its per-target steps list. A
            # location that succeeded started and finished every target, so this call would be redundant there.
            try:
                member = self.call("ssm", "get_automation_execution", AutomationExecutionId=member_id)[
                    "AutomationExecution"
                ]
            except Exception as e:  # pylint: disable=broad-except
                self.errors += 1
                record["read_status"] = "failed"
                record["read_error"] = error_info(e)
                return record
            record["member_status"] = member.get("AutomationExecutionStatus")
            if member.get("FailureMessage"):
                record["member_failure_message"] = member.get("FailureMessage")
            if not metas and not member.get("Targets") and not member.get("TargetMaps"):
                # No fan-out: the member execution ran the runbook's steps itself.
                if member.get("StepExecutions"):
                    record["instances"].append(self._instance_from_execution(member, member))
                return record
        metas.sort(key=lambda m: (self._target_of(m) or "", m.get("AutomationExecutionId") or ""))
        for meta in metas:
            record["instances"].append(self._instance(meta))
        if member is not None:
            record["instances"].extend(self._not_started(member, record["instances"]))
            if member.get("StepExecutionsTruncated") and ((member.get("ResolvedTargets") or {}).get("Truncated")):
                record["targets_truncated"] = True
        if any(i.get("read_error") for i in record["instances"]):
            record["read_status"] = "partial"
        return record

    @staticmethod
    def _not_started(member, instances):
        """Targets the member execution resolved but never started an execution for (MaxErrors, cancel)."""
        seen = {i.get("instance_id") for i in instances}
        steps = {}
        if not member.get("StepExecutionsTruncated"):
            for st in member.get("StepExecutions") or []:
                steps[st.get("StepName")] = st
        values = list(steps)
        resolved = member.get("ResolvedTargets") or {}
        if not values and not resolved.get("Truncated"):
            values = list(resolved.get("ParameterValues") or [])
        out = []
        for value in values:
            if not value or value in seen or value.startswith("TargetMap-"):
                continue
            st = steps.get(value) or {}
            status = st.get("StepStatus") or "Pending"
            out.append(
                {
                    "instance_id": value,
                    "execution_id": None,
                    "status": status,
                    "start_time": iso(st.get("ExecutionStartTime")),
                    "end_time": iso(st.get("ExecutionEndTime")),
                    "failure_message": st.get("FailureMessage")
                    or "not started by %s (status %s)"
                    % (member.get("AutomationExecutionId"), member.get("AutomationExecutionStatus")),
                    "read_error": None,
                    "not_started": True,
                    "steps": [],
                }
            )
        return out

    def _target_of(self, meta, execution=None):
        target = meta.get("Target")
        if target:
            return target
        resolved = (meta.get("ResolvedTargets") or {}).get("ParameterValues") or []
        if len(resolved) == 1:
            return resolved[0]
        name = (execution or meta).get("TargetParameterName") or self.target_parameter_name
        params = (execution or {}).get("Parameters") or {}
        values = params.get(name) or []
        return values[0] if values else None

    def _instance(self, meta):
        base = {
            "instance_id": self._target_of(meta),
            "execution_id": meta.get("AutomationExecutionId"),
            "status": meta.get("AutomationExecutionStatus"),
            "start_time": iso(meta.get("ExecutionStartTime")),
            "end_time": iso(meta.get("ExecutionEndTime")),
            "failure_message": meta.get("FailureMessage"),
            "read_error": None,
            "steps": [],
        }
        if self.summary_only:
            return base
        try:
            execution = self.call(
                "ssm", "get_automation_execution", AutomationExecutionId=meta["AutomationExecutionId"]
            )["AutomationExecution"]
            if execution.get("StepExecutionsTruncated"):
                execution = dict(execution)
                execution["StepExecutions"] = self._all_steps(meta["AutomationExecutionId"])
        except Exception as e:  # pylint: disable=broad-except
            self.errors += 1
            base["read_error"] = error_info(e)
            return base
        return self._instance_from_execution(execution, meta, base)

    def _all_steps(self, execution_id):
        steps = []
        token = None
        while True:
            kwargs = {"AutomationExecutionId": execution_id, "MaxResults": PAGE_SIZE}
            if token:
                kwargs["NextToken"] = token
            page = self.call("ssm", "describe_automation_step_executions", **kwargs)
            steps.extend(page.get("StepExecutions") or [])
            token = page.get("NextToken")
            if not token:
                return steps

    def _instance_from_execution(self, execution, meta, base=None):
        instance = base or {
            "instance_id": None,
            "execution_id": execution.get("AutomationExecutionId"),
            "read_error": None,
        }
        instance["instance_id"] = instance.get("instance_id") or self._target_of(meta, execution)
        instance["status"] = execution.get("AutomationExecutionStatus") or instance.get("status")
        instance["start_time"] = iso(execution.get("ExecutionStartTime")) or instance.get("start_time")
        instance["end_time"] = iso(execution.get("ExecutionEndTime")) or instance.get("end_time")
        instance["failure_message"] = execution.get("FailureMessage") or instance.get("failure_message")
        instance["steps"] = [
            self._step(step, instance["instance_id"]) for step in execution.get("StepExecutions") or []
        ]
        return instance

    def _step(self, step, instance_id):
        details = step.get("FailureDetails") or {}
        out = {
            "step_name": step.get("StepName"),
            "action": step.get("Action"),
            "status": step.get("StepStatus"),
            "start_time": iso(step.get("ExecutionStartTime")),
            "end_time": iso(step.get("ExecutionEndTime")),
            "response_code": step.get("ResponseCode"),
            "outputs": dict(step.get("Outputs") or {}),
            "failure_message": step.get("FailureMessage"),
            "failure_type": details.get("FailureType"),
        }
        if self.full_output and step.get("Action") == "aws:runCommand":
            command_id = _first(out["outputs"].get("CommandId"))
            if command_id and instance_id:
                try:
                    invocation = self.call(
                        "ssm", "get_command_invocation", CommandId=command_id, InstanceId=instance_id
                    )
                    out["stdout"] = (invocation.get("StandardOutputContent") or "")[:COMMAND_STDOUT_MAX]
                    out["stderr"] = (invocation.get("StandardErrorContent") or "")[:COMMAND_STDERR_MAX]
                    out["command_status"] = invocation.get("Status")
                    out["command_response_code"] = invocation.get("ResponseCode")
                except Exception as e:  # pylint: disable=broad-except
                    self.errors += 1
                    out["output_error"] = error_info(e)
        return out


def _first(values):
    if isinstance(values, list):
        return values[0] if values else None
    return values


# ---------------------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------------------


class Summary:
    """Streaming totals: locations, instances and steps by status, per-step failure counts, failures."""

    def __init__(self, max_failures=1000):
        self.max_failures = max_failures
        self.locations = 0
        self.locations_by_status = {}
        self.unreadable = 0
        # locations with no instance to count (could not run, never started, could not be read): each is a failure
        # the instance counts cannot show; counted here because ``failures`` is capped at max_failures
        self.lost_locations = 0
        self.instances = 0
        self.instances_by_status = {}
        self.steps_by_status = {}
        self.step_failures = {}
        self.failures = []
        self.failures_total = 0
        self.api_calls = 0
        self.retries = 0
        self.renewals = 0
        self.read_errors = 0

    @staticmethod
    def _bump(counter, key, n=1):
        counter[key] = counter.get(key, 0) + n

    def _failure(self, item):
        self.failures_total += 1
        if len(self.failures) < self.max_failures:
            self.failures.append(item)

    def add(self, record):
        self.locations += 1
        self._bump(self.locations_by_status, record.get("status") or "Unknown")
        where = {"account": record["account"], "region": record["region"]}
        if record.get("read_status") == "failed":
            self.unreadable += 1
        never_started = (record.get("read_error") or {}).get("code") == "NeverStarted"
        failed_location = never_started or (
            record.get("status") not in SUCCESS_STATUSES and is_terminal(record.get("status"))
        )
        if failed_location and not record.get("instances") and record.get("read_status") != "failed":
            self.lost_locations += 1
            # A location that failed with no instance to explain it (role not assumable, no target...), or that the
            # finished automation never started: its targets were not run, which counts.
            item = dict(
                where,
                instance_id=None,
                step_name=None,
                status=record.get("status") or "Pending",
                message=record.get("failure_message") or (record["read_error"]["message"] if never_started else ""),
            )
            self._failure(item)
        if record.get("read_error") and record.get("read_status") == "failed":
            self.lost_locations += 1
            err = record["read_error"]
            self._failure(
                dict(
                    where,
                    instance_id=None,
                    step_name=None,
                    status="ReadFailed",
                    message="%s: %s" % (err["code"], err["message"]),
                )
            )
        for instance in record.get("instances") or []:
            self.instances += 1
            status = instance.get("status") or "Unknown"
            self._bump(self.instances_by_status, status)
            failed_step = None
            for step in instance.get("steps") or []:
                step_status = step.get("status") or "Unknown"
                self._bump(self.steps_by_status, step_status)
                if is_terminal(step_status) and step_status not in SUCCESS_STATUSES:
                    self._bump(self.step_failures.setdefault(step.get("step_name") or "?", {}), step_status)
                    if failed_step is None:
                        failed_step = step
                        self._failure(
                            dict(
                                where,
                                instance_id=instance.get("instance_id"),
                                execution_id=instance.get("execution_id"),
                                step_name=step.get("step_name"),
                                status=step_status,
                                message=step.get("failure_message") or instance.get("failure_message") or "",
                            )
                        )
            if failed_step is None and is_terminal(status) and status not in SUCCESS_STATUSES:
                self._failure(
                    dict(
                        where,
                        instance_id=instance.get("instance_id"),
                        execution_id=instance.get("execution_id"),
                        step_name=None,
                        status=status,
                        message=instance.get("failure_message") or "",
                    )
                )
            if instance.get("read_error"):
                self.read_errors += 1
                err = instance["read_error"]
                self._failure(
                    dict(
                        where,
                        instance_id=instance.get("instance_id"),
                        execution_id=instance.get("execution_id"),
                        step_name=None,
                        status="ReadFailed",
                        message="%s: %s" % (err["code"], err["message"]),
                    )
                )

    def progress(self):
        done = sum(n for s, n in self.instances_by_status.items() if is_terminal(s))
        return {
            "done": done,
            "total": self.instances,
            "by_status": dict(self.instances_by_status),
            "unreadable_locations": self.unreadable,
        }

    def as_dict(self):
        return {
            "locations": self.locations,
            "locations_by_status": dict(self.locations_by_status),
            "unreadable_locations": self.unreadable,
            "lost_locations": self.lost_locations,
            "instances": self.instances,
            "instances_by_status": dict(self.instances_by_status),
            "steps_by_status": dict(self.steps_by_status),
            "step_failures": {k: dict(v) for k, v in self.step_failures.items()},
            "failures": list(self.failures),
            "failures_total": self.failures_total,
            "failures_truncated": self.failures_total > len(self.failures),
            "read_errors": self.read_errors,
            "api_calls": self.api_calls,
            "retries": self.retries,
            "credential_renewals": self.renewals,
        }


# ---------------------------------------------------------------------------------------------------------
# The harvest
# ---------------------------------------------------------------------------------------------------------


def gather(
    factory,
    parent_id,
    region,
    concurrency=16,
    rate=10.0,
    full_output=False,
    summary_only=False,
    callback=None,
    keep=True,
    max_failures=1000,
    on_header=None,
    processes=1,
):
    """Read the whole tree of ``parent_id`` (in the caller's account and ``region``).

    ``factory`` is a :class:`ClientFactory` (or anything with ``client(service, region, account)``,
    ``invalidate(account)`` and ``caller_account``). ``rate`` paces calls per location (calls per second,
    0 = unpaced); ``concurrency`` bounds the locations read at once. Each finished location record is passed
    to ``callback(record)`` in the calling thread, in completion order; with ``keep=False`` records are not
    kept (streaming). ``on_header(header)`` receives the parent's summary before any location.

    Returns ``{"execution": header, "locations": [...] or None, "summary": {...}, "progress": {...}}``,
    locations sorted by account and region.
    """
    ssm = factory.client("ssm", region)
    getattr(factory, "caller_account", None)  # resolved once here, before the worker threads need it
    execution, steps = parent_steps(ssm, parent_id)
    parent_calls = 1 + ((len(steps) + PAGE_SIZE - 1) // PAGE_SIZE if execution.get("StepExecutionsTruncated") else 0)
    header = execution_header(execution)
    if on_header:
        on_header(header)
    locations = locations_from_steps(steps, region)
    if not locations and not execution.get("TargetLocations"):
        # A Local execution (no target locations): the execution itself is the one location, in the caller's account.
        locations = [
            {
                "account": factory.caller_account,
                "region": region,
                "step_name": None,
                "status": execution.get("AutomationExecutionStatus"),
                "failure_message": execution.get("FailureMessage"),
                "start_time": iso(execution.get("ExecutionStartTime")),
                "end_time": iso(execution.get("ExecutionEndTime")),
                "execution_role_name": None,
                "member_execution_id": parent_id,
            }
        ]
    del steps
    summary = Summary(max_failures=max_failures)
    summary.api_calls += parent_calls
    kept = [] if keep else None
    target_parameter_name = execution.get("TargetParameterName")

    def work(location):
        reader = LocationReader(
            factory,
            location,
            target_parameter_name,
            full_output=full_output,
            summary_only=summary_only,
            rate=rate,
            parent_status=header["status"],
        )
        try:
            record = reader.read()
        except Exception as e:  # pylint: disable=broad-except
            # Anything unexpected (assume-role refused, endpoint down past retries) stays on this location.
            record = dict(location, read_status="failed", read_error=error_info(e), instances=[])
        record["api_calls"] = reader.calls
        record["retries"] = reader.retries
        record["credential_renewals"] = reader.renewals
        return record

    def finish(record):
        summary.add(record)
        summary.api_calls += record.get("api_calls", 0)
        summary.retries += record.get("retries", 0)
        summary.renewals += record.get("credential_renewals", 0)
        if callback:
            callback(record)
        if kept is not None:
            kept.append(record)

    workers = max(1, int(concurrency or 1))
    used = processes_for(processes, len(locations), workers)
    if used > 1:
        assume_calls = 0
        for item in _read_in_processes(factory, locations, work, workers, used):
            if isinstance(item, int):
                assume_calls += item
            else:
                finish(item)
        summary.api_calls += assume_calls
    else:
        for record in _read_in_threads(factory, locations, work, workers):
            finish(record)
        if hasattr(factory, "assume_calls"):
            summary.api_calls += factory.assume_calls
    if kept is not None:
        kept.sort(key=lambda r: (r["account"], r["region"]))
    out = summary.as_dict()
    out["processes"] = used
    return {"execution": header, "locations": kept, "summary": out, "progress": summary.progress()}


def _read_in_threads(factory, locations, work, workers):
    """Yield ``work(location)`` for every location, in completion order, from a pool of ``workers`` threads."""
    if hasattr(factory, "pool_size"):
        factory.pool_size = max(factory.pool_size, workers)  # one kept connection per thread in a shared client
    pending = deque(locations)
    in_flight = set()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gather") as pool:
        while pending or in_flight:
            while pending and len(in_flight) < workers * 2:
                in_flight.add(pool.submit(work, pending.popleft()))
            done, in_flight = wait_futures(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


# ---------------------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------------------

AUTO_LOCATIONS_PER_PROCESS = 100  # ``processes=0`` (automatic) starts one worker process per this many locations
AUTO_MAX_PROCESSES = 8


def can_fork():
    """Worker processes are forked: Linux only (fork is unsafe on macOS), and only from a single-threaded process
    (a fork copies no thread, but copies the locks other threads may hold)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


def available_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def processes_for(processes, locations, concurrency):
    """How many worker processes read ``locations``: ``processes`` (1: none, the calling process's threads), or
    with 0 (automatic) one per AUTO_LOCATIONS_PER_PROCESS locations, at most the CPUs available and
    AUTO_MAX_PROCESSES; never more than the locations or the concurrency, and 1 where worker processes cannot be
    forked (see :func:`can_fork`)."""
    if processes is None:
        processes = 1
    if processes == 0:
        processes = min(available_cpus(), AUTO_MAX_PROCESSES, -(-locations // AUTO_LOCATIONS_PER_PROCESS))
    processes = min(int(processes), locations, concurrency)
    if processes <= 1 or not can_fork():
        return 1
    return processes


def split_by_account(locations, n):
    """``n`` groups of locations, every account's locations in one group (one AssumeRole per account), balanced
    by number of locations (largest accounts first)."""
    by_account = {}
    for location in locations:
        by_account.setdefault(location["account"], []).append(location)
    groups = [[] for _n in range(n)]
    for account in sorted(by_account, key=lambda a: (-len(by_account[a]), a)):
        min(groups, key=len).extend(by_account[account])
    return [g for g in groups if g]


def _worker_main(factory, group, work, workers, conn):
    """In a forked worker process: read ``group`` with ``workers`` threads, send each record, then the number of
    AssumeRole calls made. Exits without running the parent's exit handlers."""
    code = 0
    try:
        if hasattr(factory, "after_fork"):
            factory.after_fork()
        for record in _read_in_threads(factory, group, work, workers):
            conn.send(record)
        conn.send(getattr(factory, "assume_calls", 0))
    except BaseException:  # pylint: disable=broad-except
        code = 1  # the parent records every location this worker did not send
    finally:
        try:
            conn.close()
        finally:
            os._exit(code)  # pylint: disable=protected-access


def _read_in_processes(factory, locations, work, workers, processes):
    """Fork ``processes`` workers, each reading its accounts' locations with its share of ``workers`` threads and
    its own copy of ``factory`` (credentials are inherited by the fork, never sent). Yields each record as it
    arrives, then each worker's AssumeRole count (an int). A location whose worker died before sending it is
    yielded as unreadable (``WorkerFailed``), never dropped."""
    groups = split_by_account(locations, processes)
    per_worker = max(1, -(-workers // len(groups)))
    workers_alive = {}
    for group in groups:
        reader, writer = Pipe(duplex=False)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            reader.close()
            for other in workers_alive:
                other.close()
            _worker_main(factory, group, work, per_worker, writer)
        writer.close()
        workers_alive[reader] = {"pid": pid, "group": group, "sent": set()}
    try:
        while workers_alive:
            for conn in wait_connections(list(workers_alive)):
                worker = workers_alive[conn]
                try:
                    item = conn.recv()
                except EOFError:
                    del workers_alive[conn]
                    conn.close()
                    _pid, status = os.waitpid(worker["pid"], 0)
                    for location in worker["group"]:
                        if (location["account"], location["region"]) not in worker["sent"]:
                            yield dict(
                                location,
                                read_status="failed",
                                read_error={
                                    "code": "WorkerFailed",
                                    "message": "the worker process reading this location ended (wait status %d) "
                                    "before reading it" % status,
                                },
                                instances=[],
                            )
                    continue
                if not isinstance(item, int):
                    worker["sent"].add((item["account"], item["region"]))
                yield item
    finally:
        for conn, worker in workers_alive.items():  # only when the caller stopped early: end the workers
            try:
                os.kill(worker["pid"], signal.SIGTERM)
                os.waitpid(worker["pid"], 0)
            except OSError:
                pass
            conn.close()


def progress(factory, parent_id, region, concurrency=16, rate=10.0):
    """Instance counts by status, cheaply: only the DescribeAutomationExecutions pages, no per-instance call."""
    result = gather(factory, parent_id, region, concurrency=concurrency, rate=rate, summary_only=True, keep=False)
    return {"execution": result["execution"], "progress": result["progress"], "summary": result["summary"]}


def factory_from_connection(region, endpoint_url, connect_params, role_name=DEFAULT_READER_ROLE, **kwargs):
    """A :class:`ClientFactory` from amazon.aws's ``get_aws_connection_info`` triple (region, endpoint, params).

    ``connect_params`` holds the caller's credentials or profile, ``verify`` and ``aws_config``; they stay
    inside the boto3 session.
    """
    params = dict(connect_params or {})
    config = params.pop("aws_config", None) or params.pop("config", None)
    verify = params.pop("verify", None)
    session = boto3.session.Session(
        aws_access_key_id=params.get("aws_access_key_id"),
        aws_secret_access_key=params.get("aws_secret_access_key"),
        aws_session_token=params.get("aws_session_token"),
        profile_name=params.get("profile_name"),
        region_name=region,
    )
    if isinstance(config, dict):
        config = botocore.config.Config(**config)
    return ClientFactory(
        session=session, role_name=role_name, endpoint_url=endpoint_url, verify=verify, config=config, **kwargs
    )
