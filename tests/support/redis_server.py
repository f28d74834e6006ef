"""A real redis-server (Debian's package) on a free loopback port, for the job-engine tests.

AOF is on with `appendfsync always`, so a restart - even after SIGKILL - loses nothing Redis
acknowledged: the "Redis restarted mid-run" test relies on that. The session fixture requires
a password, so every test also exercises passwords in URLs.
Use it from a folder's conftest with `from tests.support.redis_server import redis_server`.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.net import free_port

START_TIMEOUT = 10


class RedisServer:
    """One redis-server process that keeps its port and data folder across restarts."""

    def __init__(
        self, folder: Path, password: str | None = None, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.folder = folder
        self.password = password
        self.extra_args = list(extra_args)  # e.g. --replicaof for a replica
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, password: str | None = None) -> str:
        secret = self.password if password is None else password
        auth = f":{secret}@" if secret else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            pytest.fail("redis-server is not installed (Debian package redis-server): make setup")
        args = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        args += ["--hash-max-ziplist-value", "256"]  # as the redis role sets it
        args += ["--daemonize", "no", "--logfile", str(self.folder / "redis.log")]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        args += self.extra_args
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url())
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "redis.log").read_text()[-2000:]
                    pytest.fail(f"redis-server did not start on port {self.port}:\n{log}")
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def restart(self, sig: int = signal.SIGKILL) -> None:
        """Stop (by default the hard way) and start again on the same port and data."""
        self.stop(sig)
        self.start()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), password=secrets.token_hex(12))
    server.start()
    try:
        yield server
    finally:
        server.stop()
