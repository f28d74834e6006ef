"""Redis connections and the RQ queue, with failures turned into one-line errors.

Each connection is first probed without retries, because redis-py counts a refused password
as a connection error and would otherwise retry it for half a minute. The connection handed
back does retry with backoff, so a worker rides out a Redis restart of a few seconds.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis
import redis.exceptions
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.driver_info import DriverInfo
from redis.retry import Retry
from rq import Queue
from rq.serializers import JSONSerializer

from glue.errors import GlueError

# Workers wait out about 30 s of Redis being away; commands run by hand give up sooner.
PATIENT_RETRIES = 20
CLI_RETRIES = 3
CONNECT_TIMEOUT = 5


class RedisUnavailable(GlueError):
    """Redis could not be reached or refused us."""


def masked(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _client(url: str, retries: int) -> redis.Redis:
    backoff = ExponentialWithJitterBackoff(base=0.1, cap=2.0) if retries else NoBackoff()
    try:
        return redis.Redis.from_url(
            url,
            retry=Retry(backoff, retries),
            socket_connect_timeout=CONNECT_TIMEOUT,
            health_check_interval=30,
            # Given, redis-py skips reading its version from package metadata on every new
            # connection: 3-4 ms each, and every forked work horse opens new connections.
            driver_info=DriverInfo(lib_version=redis.__version__),
        )
    except ValueError as exc:
        raise RedisUnavailable(f"bad Redis URL {masked(url)!r}: {exc}") from None


def connect(url: str, patient: bool = False) -> redis.Redis:
    """A checked connection; `patient` ones (workers) retry longer on connection errors."""
    where = masked(url)
    probe = _client(url, 0)
    try:
        probe.ping()
    except redis.exceptions.AuthenticationError as exc:
        if urlsplit(url).password is None:
            raise RedisUnavailable(
                f"Redis at {where} requires a password: put it in the URL "
                "(redis://:PASSWORD@HOST:PORT/DB) or GLUE_REDIS_URL"
            ) from None
        raise RedisUnavailable(f"Redis at {where} refused the password: {exc}") from None
    except redis.exceptions.ResponseError as exc:
        if "NOAUTH" in str(exc):
            raise RedisUnavailable(f"Redis at {where} requires a password") from None
        raise RedisUnavailable(f"Redis at {where} answered: {exc}") from None
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {where}: {exc}") from None
    finally:
        probe.close()
    return _client(url, PATIENT_RETRIES if patient else CLI_RETRIES)


def queue(connection: redis.Redis, name: str) -> Queue:
    """The RQ queue runs use; JSON, so nothing in Redis needs unpickling to be read."""
    return Queue(name, connection=connection, serializer=JSONSerializer)
