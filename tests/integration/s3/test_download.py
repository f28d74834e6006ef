"""glue.s3.download against the real Ceph RGW: what each download yields, per-object failures,
bounded concurrency over kept-alive connections, and stopping early."""

from __future__ import annotations

import errno
import hashlib
import time

import botocore.exceptions
import botocore.httpsession

from glue.s3.client import make_client
from glue.s3.download import Downloader, DownloadError, Response
from tests.integration.s3.support import new_bucket, seed
from tests.support.faultproxy import Faults, fault_proxy


class MemorySink:
    """Keeps the bytes in memory and logs what the downloader did with it."""

    def __init__(self, name: str, log: list[tuple[str, str]], fail_write: bool = False) -> None:
        self.name = name
        self.log = log
        self.fail_write = fail_write
        self.data = bytearray()
        log.append(("open", name))

    def write(self, data: bytes) -> None:
        if self.fail_write:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.data += data

    def finish(self, response: Response) -> tuple[bytes, Response]:
        self.log.append(("finish", self.name))
        return bytes(self.data), response

    def discard(self) -> None:
        self.log.append(("discard", self.name))


def downloader(rgw, bucket: str, endpoint: str | None = None, concurrency: int = 4) -> Downloader:
    settings = rgw.settings(endpoint_url=endpoint) if endpoint else rgw.settings()
    return Downloader(make_client(settings, transfer_methods=False), bucket, True, concurrency)


def seeded_bucket(s3, count: int) -> tuple[str, dict[str, bytes]]:
    """A new bucket holding `count` objects of different sizes, and what they hold."""
    bucket = new_bucket(s3)
    data = {f"o/{i:03d}": hashlib.sha256(str(i).encode()).digest() * (i + 1) for i in range(count)}
    seed(s3, bucket, data)
    return bucket, data


def test_each_object_arrives_with_its_headers_and_a_missing_key_fails_alone(
    rgw, rgw_s3, capfd
) -> None:
    bucket, data = seeded_bucket(rgw_s3, 20)
    log: list[tuple[str, str]] = []
    wanted = [(key, key) for key in data] + [("gone", "o/not-there")]

    with fault_proxy(rgw.endpoint_http, Faults()) as proxy:
        results = {
            name: (result, exc)
            for name, result, exc in downloader(rgw, bucket, proxy.url).run(
                wanted, lambda name: MemorySink(name, log)
            )
        }

    for key, body in data.items():
        (got, response), exc = results[key]
        assert exc is None and got == body
        assert response.etag == f'"{hashlib.md5(body).hexdigest()}"'
        assert response.size == len(body)
        assert abs(response.last_modified - time.time()) < 600
    result, exc = results["gone"]
    assert result is None
    assert isinstance(exc, botocore.exceptions.ClientError)
    assert exc.response["Error"]["Code"] == "NoSuchKey"
    # A 404 is final: asked for once, and what was written for it was dropped.
    assert sum("not-there" in path for _, path in proxy.requests) == 1
    assert ("discard", "gone") in log
    assert capfd.readouterr().err == ""


def test_at_most_concurrency_connections_are_opened_and_kept_alive(rgw, rgw_s3) -> None:
    bucket, data = seeded_bucket(rgw_s3, 40)

    with fault_proxy(rgw.endpoint_http, Faults()) as proxy:
        done = list(
            downloader(rgw, bucket, proxy.url, concurrency=3).run(
                [(key, key) for key in data], lambda name: MemorySink(name, [])
            )
        )

    assert sorted(name for name, _, exc in done if exc is None) == sorted(data)
    assert len(proxy.requests) == 40
    assert 1 <= len(set(proxy.ports)) <= 3


def test_a_local_write_failure_fails_that_object_only_and_is_not_retried(
    rgw, rgw_s3, capfd
) -> None:
    bucket, data = seeded_bucket(rgw_s3, 10)
    log: list[tuple[str, str]] = []
    broken = "o/003"

    done = {
        name: exc
        for name, _, exc in downloader(rgw, bucket).run(
            [(key, key) for key in data], lambda name: MemorySink(name, log, name == broken)
        )
    }

    assert isinstance(done.pop(broken), OSError)
    assert all(exc is None for exc in done.values())
    assert log.count(("open", broken)) == 1
    assert ("discard", broken) in log
    assert capfd.readouterr().err == ""  # no traceback from inside libcurl's callback


def test_stopping_early_discards_every_transfer_in_flight(rgw, rgw_s3) -> None:
    bucket, data = seeded_bucket(rgw_s3, 30)
    log: list[tuple[str, str]] = []

    def open_sink(name: str) -> MemorySink:
        if name == "o/000":
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        return MemorySink(name, log)

    run = downloader(rgw, bucket, concurrency=4).run([(key, key) for key in data], open_sink)
    name, _, exc = next(run)  # reported as soon as the first transfers have started
    run.close()

    assert name == "o/000" and isinstance(exc, IsADirectoryError)
    in_flight = {"o/001", "o/002", "o/003", "o/004"}
    assert log == [("open", n) for n in sorted(in_flight)] + [
        ("discard", n) for n in sorted(in_flight)
    ]


def test_a_refused_certificate_fails_at_once_with_the_reason(rgw, rgw_s3) -> None:
    bucket = new_bucket(rgw_s3)
    seed(rgw_s3, bucket, {"k": b"data"})
    log: list[tuple[str, str]] = []
    client = make_client(rgw.settings(https=True), transfer_methods=False)
    # Verified against the public CAs botocore ships, which did not sign the lab's certificate.
    public_cas = botocore.httpsession.get_cert_path(True)

    [(name, result, exc)] = Downloader(client, bucket, public_cas, 2).run(
        [("k", "k")], lambda name: MemorySink(name, log)
    )

    assert name == "k" and result is None
    assert isinstance(exc, DownloadError)
    assert "certificate" in str(exc)
    assert log == [("open", "k"), ("discard", "k")]  # one attempt only
