"""A small HTTP proxy on loopback that forwards to a real S3 endpoint and injects faults.

It exists because a real RGW cannot be made to answer 503 or drop a connection on demand.
Each request is forwarded unchanged (the Host header too, so SigV4 signatures stay valid);
with the configured probabilities the proxy instead answers 503 SlowDown, closes the
connection without answering, or sends half of the body and closes. It also records every
request line and the client port it came from, so a test can count what a client really sent
and over how many connections.
"""

from __future__ import annotations

import http.client
import random
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


@dataclass
class Faults:
    """Probabilities per request; their sum must stay below 1."""

    error_503: float = 0.0
    drop: float = 0.0  # close the connection before answering
    cut: float = 0.0  # send the headers and half the body, then close
    delay: float = 0.0  # seconds to wait before forwarding each request


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, faults: Faults, seed: int = 1) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.faults = faults
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.ports: list[int] = []  # the client's port, per request
        self.injected = 0

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-answer (a test stopping a sync) is not the proxy's error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def pick(self, method: str, path: str, port: int) -> str:
        """Record the request and decide its fate: "ok", "503", "drop" or "cut"."""
        f = self.faults
        with self.lock:
            self.requests.append((method, path))
            self.ports.append(port)
            r = self.rng.random()
            fate = "ok"
            if r < f.error_503:
                fate = "503"
            elif r < f.error_503 + f.drop:
                fate = "drop"
            elif r < f.error_503 + f.drop + f.cut:
                fate = "cut"
            if fate != "ok":
                self.injected += 1
            return fate


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def log_message(self, format: str, *args) -> None:  # keep test output clean
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        fate = self.server.pick(self.command, self.path, self.client_address[1])
        if self.server.faults.delay:
            time.sleep(self.server.faults.delay)
        if fate == "503":
            self._answer(503, {"Content-Type": "application/xml"}, SLOWDOWN)
            return
        if fate == "drop":
            self.close_connection = True
            return
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(self.command, self.path, body=body, headers=headers)
            resp = upstream.getresponse()
            data = resp.read()
            out = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP}
        finally:
            upstream.close()
        if fate == "cut" and len(data) > 1:
            self.send_response(resp.status)
            for k, v in out.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        self._answer(resp.status, out, data, head=self.command == "HEAD")

    def _answer(self, status: int, headers: dict[str, str], data: bytes, head=False) -> None:
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        length = headers.get("Content-Length") if head else str(len(data))
        self.send_header("Content-Length", length or "0")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


@contextmanager
def fault_proxy(upstream: str, faults: Faults, seed: int = 1) -> Iterator[FaultProxy]:
    """Run a FaultProxy in a thread for the duration of the block."""
    proxy = FaultProxy(upstream, faults, seed)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()
