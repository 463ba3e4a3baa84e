# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clients and assumed-role credentials for any account and region of the organization.

The caller's own account is read with the caller's credentials; any other account through ``sts:AssumeRole``
into the reader role, its credentials cached per account and renewed before they expire. Credentials never leave
:class:`ClientFactory` (worker processes inherit them by the fork; they are never sent).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import threading
import time

try:
    import boto3
    import botocore.config
    import botocore.credentials
    import botocore.exceptions
    import botocore.session
    import botocore.utils
except ImportError:  # pragma: no cover - the modules report missing boto3 through AnsibleAWSModule
    boto3 = None
    botocore = None

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.common import (
    DEFAULT_READER_ROLE,
    SESSION_NAME,
)
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

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


_LOCAL_ZONES = {}


def local_timestamp(value):
    """botocore's timestamp parser for the member clients: the same datetime's instant, local time and UTC offset,
    for a few microseconds instead of about forty.

    AWS's JSON protocols send timestamps as epoch seconds, and a GetAutomationExecution answer has two per step
    plus the execution's own. botocore's default parser (``botocore.utils.parse_timestamp``) builds a ``dateutil``
    ``tzlocal()`` for each and converts through it in Python. ``tzlocal`` gives the standard offset
    (``time.timezone``) or, where the platform says the instant is in daylight saving time, the DST offset
    (``time.altzone``); this takes the same offsets, as a fixed-offset ``datetime.timezone``, so every
    ``isoformat()``, ``timestamp()`` and comparison of instants is unchanged. Anything but a number (an ISO 8601 or
    RFC 822 string) goes to botocore's parser. Installed through the session's public ``response_parser_factory``
    component (``set_parser_defaults(timestamp_parser=...)``), as the AWS CLI does for its own timestamp formats.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            dst = time.daylight and time.localtime(value).tm_isdst > 0
            offset = -(time.altzone if dst else time.timezone)
            zone = _LOCAL_ZONES.get(offset)
            if zone is None:
                zone = _LOCAL_ZONES[offset] = datetime.timezone(datetime.timedelta(seconds=offset))
            return datetime.datetime.fromtimestamp(value, zone)
        except (OSError, OverflowError, ValueError):
            pass  # out of the platform's range: botocore knows the fallbacks
    return botocore.utils.parse_timestamp(value)


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
        endpoints=None,
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
        self.endpoints = check_endpoints(endpoints)
        self.verify = verify
        self.duration_seconds = duration_seconds
        self.refresh_margin = refresh_margin
        self.session_name = session_name
        self.clock = clock
        # total_max_attempts: the first call included (botocore.config.Config docs; retries["max_attempts"] would not count it)
        base = botocore.config.Config(retries={"mode": retry_mode, "total_max_attempts": max_attempts})
        self.config = base.merge(config) if config is not None else base
        # Member clients only send what the harvest built from AWS's own answers (execution ids, the
        # ParentExecutionId filter): botocore's client-side validation of each request is skipped for them
        # (Config(parameter_validation=False), public configuration); AWS still validates every request.
        self.member_config = botocore.config.Config(parameter_validation=False).merge(self.config)
        self.pool_size = 10  # connections kept per member client; gather() raises it to its concurrency
        # module_utils/trace.py: a Tracer records every call of every client made from now on; a Replay answers them
        self.observers = []
        self._credentials = {}
        self._caller = None
        self._member_session = None
        self.thread_credentials = _ThreadCredentials(self._frozen)
        self._new_process_state()

    def _new_process_state(self):
        """Locks, clients and counters: what a process must not share with another (caches are kept)."""
        self._lock = threading.Lock()
        self._caller_lock = threading.Lock()
        self._account_locks = {}
        self._sts = None
        self._base_clients = {}
        self._member_clients = {}
        self._local = threading.local()
        self.assume_calls = 0
        self.clients_created = 0

    def after_fork(self):
        """In a child process: new locks, no client (their connections belong to the parent); caches kept, and the
        member session, whose loaded service models the child's clients then reuse instead of loading them again."""
        self.thread_credentials.use(None)  # the forking thread's choice of account is not the child's
        self._new_process_state()

    def prepare_member_clients(self, service, regions):
        """Load ``service``'s model into the member session before worker processes are forked, so that each
        worker creates its clients from the loaded model (a first client costs 70-110 ms of CPU, the next ones
        about 5 ms). Creates no connection."""
        if regions:
            with self._lock:
                self._member_boto3_session().client(service, **self._member_client_kwargs(sorted(regions)[0], service))

    def endpoint(self, service, region):
        """The endpoint for ``service`` in ``region``: ``endpoints[service][region]``, else ``endpoints[service]``
        when it is one URL for every region, else ``endpoint_url`` (every service: a single-endpoint emulator such as
        the sandbox), else None, and botocore resolves it as it does for any client: ``AWS_ENDPOINT_URL_<SERVICE>``,
        ``AWS_ENDPOINT_URL``, the profile's ``services`` section, then AWS's own endpoint for the region."""
        per_service = self.endpoints.get(service)
        if isinstance(per_service, dict):
            url = per_service.get(region) or per_service.get("default")
            if url:
                return url
        elif per_service:
            return per_service
        return self.endpoint_url or None

    def _observe(self, client, account_of):
        for observer in self.observers:
            observer.hook(client, account_of)

    def _client_kwargs(self, region, service=None):
        kwargs = {"config": self.config}
        if region:
            kwargs["region_name"] = region
        url = self.endpoint(service, region)
        if url:
            kwargs["endpoint_url"] = url
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
                    client = self.session.client(service, **self._client_kwargs(region, service))
                    self._observe(client, lambda: (self._caller or {}).get("account"))
                    self._base_clients[key] = client
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
        """A session whose credentials are :attr:`thread_credentials`, with the caller's profile configuration,
        and the faster equivalent timestamp parser (:func:`local_timestamp`). Created once, kept across forks."""
        if self._member_session is None:
            core = botocore.session.Session()
            # The caller's session has loaded the service models already (its own clients): its loader, whose
            # cache holds them, serves this session too, so a model is read and parsed once per process, not
            # once per session (about 50 ms of CPU for SSM's). Same search paths: the same profile is used.
            core.register_component("data_loader", self.session._session.get_component("data_loader"))
            profile = self.session.profile_name
            if profile in self.session.available_profiles:
                core.set_config_variable("profile", profile)
            core.register_component(
                "credential_provider",
                botocore.credentials.CredentialResolver([_ThreadCredentialProvider(self.thread_credentials)]),
            )
            core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=local_timestamp)
            self._member_session = boto3.session.Session(botocore_session=core)
        return self._member_session

    def _member_client_kwargs(self, region, service=None):
        kwargs = self._client_kwargs(region, service)
        kwargs["config"] = botocore.config.Config(max_pool_connections=max(10, self.pool_size)).merge(
            self.member_config
        )
        return kwargs

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
                    client = self._member_boto3_session().client(service, **self._member_client_kwargs(region, service))
                    self._observe(client, lambda: getattr(self.thread_credentials._local, "account", None))
                    clients[key] = client
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


def check_endpoints(endpoints):
    """``endpoints`` as :class:`ClientFactory` takes it: ``{service: URL}`` or ``{service: {region: URL, "default":
    URL}}`` (service as botocore names it: ``ssm``, ``sts``, ``organizations``). Raises InvalidInput naming the
    entry (``endpoints.ssm.eu-west-1``) and the accepted form."""
    endpoints = endpoints or {}
    if not isinstance(endpoints, dict):
        raise InvalidInput("endpoints", "must be a dict of service name to URL, or to a dict of region to URL")
    for service, value in endpoints.items():
        urls = value.items() if isinstance(value, dict) else [(None, value)]
        for region, url in urls:
            where = "endpoints.%s%s" % (service, "." + region if region else "")
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise InvalidInput(
                    where, "%r is not an http(s) URL such as https://ssm.eu-west-1.amazonaws.com" % (url,)
                )
    return endpoints


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
