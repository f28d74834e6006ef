"""Download many objects at once with libcurl's multi interface, from the calling thread.

Why not client.get_object in a thread pool: a sync of thousands of small files is bound by
the client's CPU. botocore's request pipeline costs about 1.2 ms per GET, and with a thread per
connection Python spent nearly as much again passing the GIL from thread to thread (some 80
futex calls per object). Here the shared botocore client still does what must be right
(endpoint, addressing style, credentials, SigV4) by presigning each GET, and libcurl runs up to
`concurrency` of them at once over keep-alive connections, in C, calling back into Python only
for headers and bytes. Proxy and TLS settings are the ones botocore would use.

Each object is retried on its own (glue.s3.retries), with a new signature per attempt; failures
are reported as the botocore exception client.get_object would have raised (ClientError with
the S3 error code) or as glue.s3.retries.TransientError for a transport problem.
"""

from __future__ import annotations

import heapq
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit

import botocore.exceptions
import botocore.utils
import pycurl

from glue import __version__
from glue.s3.client import S3Client
from glue.s3.retries import ATTEMPTS, TransientError, backoff, is_transient

PRESIGN_SECONDS = 900
ERROR_BODY_LIMIT = 64 * 1024
# Certificate problems do not go away by trying again.
TLS_ERRORS = {
    pycurl.E_PEER_FAILED_VERIFICATION,
    pycurl.E_SSL_CACERT_BADFILE,
    pycurl.E_SSL_CERTPROBLEM,
    pycurl.E_SSL_ISSUER_ERROR,
}

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
# What a download ends with: (name, the sink's result, None) or (name, None, the failure).
Outcome = tuple[str, R | None, BaseException | None]


class DownloadError(Exception):
    """A transfer that failed in a way another attempt would not cure: the endpoint's TLS
    certificate was refused."""


@dataclass(frozen=True)
class Response:
    """What the server said about the object it sent."""

    etag: str  # as sent, quotes included
    size: int  # Content-Length, -1 when not sent
    last_modified: float | None  # seconds since the epoch


class Sink(Protocol[R_co]):
    """Where one attempt at one object goes; made by the caller's open_sink(name)."""

    def write(self, data: bytes) -> None: ...

    def finish(self, response: Response) -> R_co:
        """The body is complete: check it, keep it, return the caller's result. Raising
        TransientError makes the object be tried again."""
        ...

    def discard(self) -> None:
        """The attempt failed: drop what was written. Called at most once, maybe after finish
        raised."""
        ...


def error_from(status: int, body: bytes) -> botocore.exceptions.ClientError:
    """The ClientError botocore would raise for this S3 error response."""
    code, message = str(status), ""
    try:
        root = ET.fromstring(body)
        code = root.findtext("Code") or code
        message = root.findtext("Message") or ""
    except ET.ParseError:
        pass
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 0},
    }
    return botocore.exceptions.ClientError(response, "GetObject")


class _Attempt(Generic[R]):
    """One GET in flight: collects the status line, two headers and the body."""

    __slots__ = ("error", "etag", "failure", "key", "name", "number", "sink", "size", "status")

    def __init__(self, name: str, key: str, number: int, sink: Sink[R]) -> None:
        self.name = name
        self.key = key
        self.number = number
        self.sink = sink
        self.status = 0
        self.etag = ""
        self.size = -1
        self.error = bytearray()  # the body of an error response
        self.failure: BaseException | None = None  # raised by the sink while writing

    # libcurl callbacks must not raise: a failure is kept for outcome() and the transfer is
    # aborted by answering that fewer bytes than given were taken.

    def header(self, line: bytes) -> int | None:
        try:
            if line.startswith(b"HTTP/"):
                self.status = int(line.split(None, 2)[1])  # each response starts afresh
                self.etag, self.size = "", -1
                return None
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"etag":
                self.etag = value.strip().decode("latin-1")
            elif name == b"content-length":
                self.size = int(value)
        except Exception as exc:
            self.failure = TransientError(f"bad response header {line[:100]!r}: {exc}")
            return 0
        except BaseException as exc:  # KeyboardInterrupt: outcome() raises it again
            self.failure = exc
            return 0
        return None

    def write(self, data: bytes) -> int | None:
        if self.status != 200:
            if len(self.error) < ERROR_BODY_LIMIT:
                self.error += data
            return None
        try:
            self.sink.write(data)
        except BaseException as exc:
            self.failure = exc
            return 0
        return None

    def outcome(self, handle: pycurl.Curl, errno: int, message: str) -> R:
        """The sink's result, or the exception that describes why this attempt failed."""
        if self.failure is not None:
            raise self.failure
        if errno in TLS_ERRORS:
            raise DownloadError(f"TLS: {message}")
        if errno:
            raise TransientError(f"{message} (curl error {errno})")
        if self.status != 200:
            raise error_from(self.status, bytes(self.error))
        filetime = handle.getinfo(pycurl.INFO_FILETIME)
        return self.sink.finish(
            Response(self.etag, self.size, float(filetime) if filetime >= 0 else None)
        )


class Downloader:
    """GETs objects of one bucket, `concurrency` at a time, each over a reused connection."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        verify: bool | str,
        concurrency: int,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.concurrency = concurrency
        endpoint = client.meta.endpoint_url
        proxy = botocore.utils.get_environ_proxies(endpoint).get(urlsplit(endpoint).scheme)
        self.options: list[tuple[int, object]] = [
            (pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1),
            (pycurl.USERAGENT, f"glue/{__version__} {pycurl.version.split()[0]}"),
            (pycurl.NOSIGNAL, 1),
            (pycurl.TCP_KEEPALIVE, 1),
            (pycurl.CONNECTTIMEOUT_MS, int(connect_timeout * 1000)),
            # A read timeout: give up when under 1 byte/s for read_timeout seconds.
            (pycurl.LOW_SPEED_LIMIT, 1),
            (pycurl.LOW_SPEED_TIME, max(1, int(read_timeout))),
            (pycurl.OPT_FILETIME, 1),
            # Exactly botocore's choice of proxy; libcurl must not read the environment itself.
            (pycurl.PROXY, proxy or ""),
            (pycurl.NOPROXY, ""),
        ]
        if verify is False:
            self.options += [(pycurl.SSL_VERIFYPEER, 0), (pycurl.SSL_VERIFYHOST, 0)]
        elif isinstance(verify, str):
            self.options.append((pycurl.CAINFO, verify))

    def handle(self) -> pycurl.Curl:
        """A libcurl handle with this downloader's settings; reused for many objects."""
        handle = pycurl.Curl()
        for option, value in self.options:
            handle.setopt(option, value)
        return handle

    def presign(self, key: str) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=PRESIGN_SECONDS
        )

    def run(
        self, objects: Iterable[tuple[str, str]], open_sink: Callable[[str], Sink[R]]
    ) -> Iterator[Outcome[R]]:
        """Download each (name, key); yield (name, result, None) or (name, None, exception) as
        each one ends, in the order they end. open_sink(name) may raise OSError (a local
        clash), which fails that object without a request. Closing the iterator early aborts
        the transfers in flight and discards what they wrote."""
        transfers = _Transfers(self, objects, open_sink)
        try:
            while transfers.pending():
                yield from transfers.start()
                yield from transfers.collect()
                transfers.wait()
        finally:
            transfers.close()


class _Transfers(Generic[R]):
    """One Downloader.run: objects not started yet, retries waiting for their time, and
    transfers in flight, each on one of `concurrency` reusable libcurl handles."""

    def __init__(
        self,
        downloader: Downloader,
        objects: Iterable[tuple[str, str]],
        open_sink: Callable[[str], Sink[R]],
    ) -> None:
        self.downloader = downloader
        self.open_sink = open_sink
        self.todo = deque((name, key, 0) for name, key in objects)
        self.retries: list[tuple[float, int, str, str, int]] = []  # (due, seq, name, key, try)
        self.seq = 0
        self.multi = pycurl.CurlMulti()
        concurrency = downloader.concurrency
        self.multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, concurrency)
        self.multi.setopt(pycurl.M_MAXCONNECTS, concurrency)
        self.idle = [downloader.handle() for _ in range(min(concurrency, len(self.todo)))]
        self.active: dict[pycurl.Curl, _Attempt[R]] = {}

    def pending(self) -> bool:
        return bool(self.todo or self.retries or self.active)

    def _next(self) -> tuple[str, str, int] | None:
        """The retry that is due, else the next new object, else None."""
        if self.retries and self.retries[0][0] <= time.monotonic():
            return heapq.heappop(self.retries)[2:]
        return self.todo.popleft() if self.todo else None

    def start(self) -> list[Outcome[R]]:
        """Put every idle handle to work; returns the objects that failed before a request."""
        failed: list[Outcome[R]] = []
        while self.idle and (item := self._next()):
            name, key, number = item
            try:
                attempt = _Attempt(name, key, number, self.open_sink(name))
            except OSError as exc:
                failed.append((name, None, exc))
                continue
            handle = self.idle.pop()
            try:
                handle.setopt(pycurl.URL, self.downloader.presign(key))
                handle.setopt(pycurl.HEADERFUNCTION, attempt.header)
                handle.setopt(pycurl.WRITEFUNCTION, attempt.write)
                self.multi.add_handle(handle)
            except BaseException as exc:
                attempt.sink.discard()
                self.idle.append(handle)
                if not isinstance(exc, Exception):
                    raise
                failed.append((name, None, exc))
                continue
            self.active[handle] = attempt
        return failed

    def collect(self) -> list[Outcome[R]]:
        """Let libcurl move the transfers on; returns those that ended for good. A transient
        failure is put back, due after backoff()."""
        ended: list[Outcome[R]] = []
        if not self.active:
            return ended
        self.multi.perform()
        while True:
            queued, ok, failed = self.multi.info_read()
            for handle, errno, message in [(h, 0, "") for h in ok] + failed:
                self.multi.remove_handle(handle)
                self.idle.append(handle)
                attempt = self.active.pop(handle)
                try:
                    ended.append((attempt.name, attempt.outcome(handle, errno, message), None))
                except BaseException as exc:
                    attempt.sink.discard()
                    if not isinstance(exc, Exception):
                        raise  # Ctrl-C, caught in a callback
                    if attempt.number + 1 < ATTEMPTS and is_transient(exc):
                        due = time.monotonic() + backoff(attempt.number)
                        self.seq += 1
                        retry = (due, self.seq, attempt.name, attempt.key, attempt.number + 1)
                        heapq.heappush(self.retries, retry)
                    else:
                        ended.append((attempt.name, None, exc))
            if not queued:
                return ended

    def wait(self) -> None:
        """Until there is something to do: network activity, or the next retry's time."""
        if self.idle and self.todo:
            return  # start the next objects before waiting on the network
        until_retry = self.retries[0][0] - time.monotonic() if self.retries else 1.0
        if self.active:
            self.multi.select(min(1.0, max(0.0, until_retry)))
        elif self.retries:
            time.sleep(max(0.0, until_retry))

    def close(self) -> None:
        """Abort what is in flight and discard what it wrote."""
        for handle, attempt in self.active.items():
            self.multi.remove_handle(handle)
            attempt.sink.discard()
        self.active.clear()
        self.multi.close()
