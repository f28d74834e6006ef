"""Redis connections and the RQ queue, with failures turned into one-line errors.

The queue is one Redis named by a URL, or a primary that Redis Sentinel names: the connection
pool then asks the sentinels for the primary whenever it opens a connection, so a client that
lost its primary finds the promoted replica on its next command (redis-py's Sentinel client;
RQ's own Sentinel helpers do not survive its worker pool).

Each connection is first probed without retries, because redis-py counts a refused password
as a connection error and would otherwise retry it for a long time. Commands run by hand get a
few retries and leave waiting to their caller (glue.jobs.outage); workers' connections retry
for as long as the queue is away, saying so in one log line, so a running job goes on and its
outcome is recorded once the queue is back.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.exceptions
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.connection import parse_url
from redis.driver_info import DriverInfo
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from rq import Queue
from rq.serializers import JSONSerializer

from glue.config import Settings
from glue.errors import GlueError

log = logging.getLogger("glue.queue")
T = TypeVar("T")

CLI_RETRIES = 3
FOREVER = -1
CONNECT_TIMEOUT = 5
# A primary that vanished without closing its connections (host lost) shows within ~11 s.
KEEPALIVE = {
    getattr(socket, name): value
    for name, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3))
    if hasattr(socket, name)
}
# Replies of a Redis that cannot take a command now but will soon: a primary short of
# replicas, a demoted primary, a sentinel-managed primary being failed over.
TRANSIENT_REPLIES = ("NOREPLICAS", "READONLY", "MASTERDOWN", "TRYAGAIN", "LOADING")
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class RedisUnavailable(GlueError):
    """Redis could not be used: refused our password, a bad URL, or unreachable."""


class QueueUnreachable(RedisUnavailable):
    """The queue did not answer (network, primary down, failover); exit status 4."""

    exit_code = 4


def masked(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Target:
    """Where the queue is: a URL, or the sentinels that know the primary named `master`."""

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = "simfleet"

    def describe(self) -> str:
        if not self.sentinels:
            return masked(self.url)
        where = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"primary {self.master!r} of sentinels {where}"


def target(settings: Settings) -> Target:
    """The queue's Target from settings (config validated the HOST:PORT entries)."""
    pairs = []
    for entry in settings.sentinels:
        host, _, port = entry.rpartition(":")
        pairs.append((host.strip("[]"), int(port)))
    return Target(settings.redis_url, tuple(pairs), settings.sentinel_master)


def is_unreachable(exc: BaseException) -> bool:
    """True for errors that pass once the queue is back or a failover is over."""
    if isinstance(exc, redis.exceptions.ResponseError):
        return str(exc).startswith(TRANSIENT_REPLIES)
    if isinstance(exc, redis.exceptions.AuthenticationError):
        return False  # a wrong password does not get right by waiting
    return isinstance(exc, UNREACHABLE)


class OutageRetry(Retry):
    """redis-py's Retry that also retries transient replies and logs an outage once.

    One warning when the queue first fails, one line when a command gets through again:
    a worker's log shows the outage without a line per attempt or a traceback.
    """

    def __init__(self, backoff, retries: int, announce: bool) -> None:
        super().__init__(backoff, retries, (*UNREACHABLE, redis.exceptions.ResponseError))
        self.announce = announce  # commands run by hand say it themselves (glue.jobs.outage)
        self._since: float | None = None

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        def retryable(exc: Exception) -> bool:
            return is_unreachable(exc) and (is_retryable is None or is_retryable(exc))

        def noted(exc: Exception, *count: int) -> None:
            if self._since is None and self.announce:
                self._since = time.monotonic()
                log.warning("queue unreachable: %s, retrying", one_line(exc))
            fail(exc, *count)

        result = super().call_with_retry(do, noted, retryable, with_failure_count)
        if self._since is not None:
            log.warning("queue reachable again after %.1f s", time.monotonic() - self._since)
            self._since = None
        return result


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _options(retries: int) -> dict[str, Any]:
    backoff = ExponentialWithJitterBackoff(base=0.1, cap=2.0) if retries else NoBackoff()
    return {
        "retry": OutageRetry(backoff, retries, announce=retries == FOREVER),
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_keepalive": True,
        "socket_keepalive_options": KEEPALIVE,
        "health_check_interval": 30,
        # Given, redis-py skips reading its version from package metadata on every new
        # connection: 3-4 ms each.
        "driver_info": DriverInfo(lib_version=redis.__version__),
    }


class FailoverConnection(SentinelManagedConnection):
    """A Sentinel connection that asks the sentinels for the primary on every reconnect.

    redis-py reconnects a dropped connection inside a command's retry loop through
    connect_check_health(), which dials the address it had: after a failover a worker would
    retry the dead primary for ever. Reconnecting through connect() asks the sentinels first.
    """

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if retry_socket_connect and not self._sock:
            self.connect()  # sentinel-aware; connect_to() dials without retrying
        else:
            super().connect_check_health(check_health, retry_socket_connect)


def _client(where: Target, retries: int) -> redis.Redis:
    try:
        if not where.sentinels:
            return redis.Redis.from_url(where.url, **_options(retries))
        auth = parse_url(where.url)
    except ValueError as exc:
        raise RedisUnavailable(f"bad Redis URL {masked(where.url)!r}: {exc}") from None
    secret = {k: auth[k] for k in ("username", "password") if auth.get(k)}
    sentinel = Sentinel(
        list(where.sentinels),
        sentinel_kwargs={
            **secret,
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": CONNECT_TIMEOUT,
            # One try per sentinel, then the next: redis-py's default (10 retries) spends
            # about a minute on the sentinel of a vanished host before asking another one.
            "retry": Retry(NoBackoff(), 0),
        },
        db=auth.get("db", 0),
        **secret,
        **_options(retries),
    )
    return sentinel.master_for(where.master, connection_class=FailoverConnection)


def _probe(where: Target) -> None:
    """One command, no retries: a clear error for a wrong password or an absent queue."""
    probe = _client(where, 0)
    text = where.describe()
    try:
        probe.ping()
    except redis.exceptions.AuthenticationError as exc:
        if urlsplit(where.url).password is None:
            raise RedisUnavailable(
                f"Redis at {text} requires a password: put it in the URL "
                "(redis://:PASSWORD@HOST:PORT/DB) or GLUE_REDIS_URL"
            ) from None
        raise RedisUnavailable(f"Redis at {text} refused the password: {exc}") from None
    except redis.exceptions.ResponseError as exc:
        if is_unreachable(exc):
            raise QueueUnreachable(f"cannot use Redis at {text}: {one_line(exc)}") from None
        if "NOAUTH" in str(exc):
            raise RedisUnavailable(f"Redis at {text} requires a password") from None
        raise RedisUnavailable(f"Redis at {text} answered: {exc}") from None
    except UNREACHABLE as exc:
        raise QueueUnreachable(f"cannot reach Redis at {text}: {one_line(exc)}") from None
    finally:
        probe.close()


def connect(where: str | Target, patient: bool = False) -> redis.Redis:
    """A checked connection to a URL or a Target.

    A `patient` one (workers) waits for an unreachable queue instead of failing, and its
    commands retry until the queue is back; others fail at once with QueueUnreachable.
    """
    where = Target(where) if isinstance(where, str) else where
    waited_since = None
    while True:
        try:
            _probe(where)
            break
        except QueueUnreachable as exc:
            if not patient:
                raise
            if waited_since is None:
                waited_since = time.monotonic()
                log.warning("queue unreachable: %s, retrying", exc)
            time.sleep(min(5.0, 0.5 + (time.monotonic() - waited_since) / 4))
    if waited_since is not None:
        log.warning("queue reachable again after %.1f s", time.monotonic() - waited_since)
    return _client(where, FOREVER if patient else CLI_RETRIES)


def for_settings(settings: Settings, patient: bool = False) -> redis.Redis:
    """connect() to the queue the settings name (through the sentinels if any)."""
    return connect(target(settings), patient)


def primary_address(conn: redis.Redis) -> str:
    """HOST:PORT of the Redis this connection's commands go to now."""
    pool = conn.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        host, port = pool.get_master_address()
    else:
        kwargs = pool.connection_kwargs
        host, port = kwargs.get("host", "?"), kwargs.get("port", "?")
    return f"{host}:{port}"


def queue(connection: redis.Redis, name: str) -> Queue:
    """The RQ queue runs use; JSON, so nothing in Redis needs unpickling to be read."""
    return Queue(name, connection=connection, serializer=JSONSerializer)
