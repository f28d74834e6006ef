"""Fast GETs of many small objects from many threads at once.

Why not client.get_object: for a small object botocore's request pipeline (event hooks,
endpoint rules, urllib3, response parsing) costs about 1.2 ms of CPU, and under the GIL that
CPU, not the network, limits a download of thousands of small files. Here the shared botocore
client still does what must be right (endpoint, addressing style, credentials, SigV4) by
presigning each GET, and the request goes over one keep-alive http.client connection per
worker thread: about 0.45 ms of CPU in all. Through an HTTP proxy, which only botocore
handles, it falls back to client.get_object.

Failures are raised as the botocore exceptions client.get_object would raise (ClientError,
EndpointConnectionError, ConnectionClosedError, ResponseStreamingError, ...), without retries:
the caller retries whole objects.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import botocore.exceptions

from glue.s3 import S3Client, parse_timestamp

PRESIGN_SECONDS = 900


@dataclass
class ObjectStream:
    """An object being downloaded: its headers, and its body to read once in chunks."""

    etag: str  # as sent, quotes included
    size: int  # -1 when the server did not say
    last_modified: datetime
    chunks: Callable[[int], Iterator[bytes]]


def _error(status: int, body: bytes) -> botocore.exceptions.ClientError:
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


def _proxied(url: str) -> bool:
    """Whether botocore would send requests to `url` through an HTTP proxy from the environment."""
    parts = urlsplit(url)
    return bool(urllib.request.getproxies().get(parts.scheme)) and not urllib.request.proxy_bypass(
        parts.hostname or ""
    )


class ObjectReader:
    """Opens objects for download; one instance serves all worker threads."""

    def __init__(self, client: S3Client, verify: bool | str, timeout: float = 60.0) -> None:
        self.client = client
        self.timeout = timeout
        self.direct = not _proxied(client.meta.endpoint_url)
        self.tls = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        if verify is False:
            self.tls.check_hostname = False
            self.tls.verify_mode = ssl.CERT_NONE
        self.local = threading.local()

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        """This thread's connection to netloc, made on first use and kept alive."""
        conns = self.local.__dict__.setdefault("conns", {})
        conn = conns.get((scheme, netloc))
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self.tls)
            else:
                conn = http.client.HTTPConnection(netloc, timeout=self.timeout)
            conns[(scheme, netloc)] = conn
        return conn

    def open(self, bucket: str, key: str) -> ObjectStream:
        if not self.direct:
            resp = self.client.get_object(Bucket=bucket, Key=key)
            return ObjectStream(
                resp["ETag"], resp["ContentLength"], resp["LastModified"], resp["Body"].iter_chunks
            )
        url = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGN_SECONDS
        )
        parts = urlsplit(url)
        conn = self._connection(parts.scheme, parts.netloc)
        endpoint = f"{parts.scheme}://{parts.netloc}"
        try:
            conn.request("GET", f"{parts.path}?{parts.query}")
            resp = conn.getresponse()
        except ssl.SSLError as exc:
            conn.close()
            raise botocore.exceptions.SSLError(endpoint_url=endpoint, error=exc) from exc
        except (ConnectionRefusedError, socket.gaierror) as exc:
            conn.close()
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=endpoint) from exc
        except TimeoutError as exc:
            conn.close()
            raise botocore.exceptions.ReadTimeoutError(endpoint_url=endpoint) from exc
        except (OSError, http.client.HTTPException) as exc:
            # Also what a keep-alive connection the server has since closed looks like.
            conn.close()
            raise botocore.exceptions.ConnectionClosedError(endpoint_url=endpoint) from exc
        if resp.status != 200:
            body = self._read_all(conn, resp)
            raise _error(resp.status, body)

        def chunks(size: int) -> Iterator[bytes]:
            try:
                while block := resp.read(size):
                    yield block
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise botocore.exceptions.ResponseStreamingError(error=exc) from exc
            except GeneratorExit:
                conn.close()  # abandoned mid-body: the connection cannot be reused
                raise

        return ObjectStream(
            etag=resp.getheader("ETag", ""),
            size=int(resp.getheader("Content-Length", "-1")),
            last_modified=parse_timestamp(resp.getheader("Last-Modified", "")),
            chunks=chunks,
        )

    @staticmethod
    def _read_all(conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> bytes:
        try:
            return resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            return b""
