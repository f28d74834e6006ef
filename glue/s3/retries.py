"""Which S3 failures are worth another try, and how long to wait before it.

Used for whole objects in `glue sync`: downloads bypass botocore's retries (glue.s3.download),
so this is their only retry budget; for other requests it comes on top of botocore's own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import botocore.exceptions
import urllib3.exceptions

ATTEMPTS = 8  # tries per object
RETRYABLE_CODES = {
    "SlowDown",
    "Throttling",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
}

T = TypeVar("T")


class TransientError(Exception):
    """A transfer that went wrong in a way worth trying again (a short or corrupt body, a
    dropped connection)."""


def is_transient(exc: BaseException) -> bool:
    """Failures another attempt may cure: throttling, 5xx, dropped or short transfers."""
    if isinstance(exc, botocore.exceptions.ClientError):
        meta = exc.response.get("ResponseMetadata", {})
        if meta.get("RetryAttempts"):
            return False  # botocore already spent this request's retries on it
        status = meta.get("HTTPStatusCode") or 0
        code = exc.response.get("Error", {}).get("Code")
        return status >= 500 or status == 429 or code in RETRYABLE_CODES
    return isinstance(
        exc,
        TransientError
        | botocore.exceptions.ConnectionError
        | botocore.exceptions.HTTPClientError
        | botocore.exceptions.IncompleteReadError
        | botocore.exceptions.ResponseStreamingError
        | urllib3.exceptions.HTTPError
        | ConnectionError,
    )


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (0-based): exponential with full
    jitter, capped at 2 s, so many workers failing at once do not retry in step."""
    return random.uniform(0, min(2.0, 0.05 * 2**attempt))


def with_retries(
    fn: Callable[[], T],
    attempts: int = ATTEMPTS,
    retry: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Run fn, retrying the failures `retry` accepts after backoff()."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts - 1 or not retry(exc):
                raise
            time.sleep(backoff(attempt))
    raise AssertionError("unreachable")
