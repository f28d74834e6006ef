"""A replicated Redis watched by Redis Sentinel, all on loopback: one primary, replicas and
three sentinels, each a real redis-server process (`redis-server FILE --sentinel`, what
Debian's redis-sentinel runs), sharing one password like the redis role sets them up.

Sentinel times are short (down after 1 s) so a failover takes seconds, not half a minute.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.sentinel import MasterNotFoundError, Sentinel

from tests.support.net import free_port
from tests.support.redis_server import RedisServer

MASTER = "simfleet"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 10000
START_TIMEOUT = 20


class SentinelProcess:
    """One sentinel; its config file is its own (Sentinel rewrites it as it learns)."""

    def __init__(self, folder: Path, number: int, password: str, primary_port: int) -> None:
        self.folder = folder
        self.port = free_port()
        self.conf = folder / f"sentinel-{number}.conf"
        self.log = folder / f"sentinel-{number}.log"
        self.conf.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    "bind 127.0.0.1",
                    f"dir {folder}",
                    f"logfile {self.log}",
                    f'requirepass "{password}"',
                    f'sentinel sentinel-pass "{password}"',
                    f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2",
                    f'sentinel auth-pass {MASTER} "{password}"',
                    f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel parallel-syncs {MASTER} 1",
                    "",
                ]
            )
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            pytest.fail("redis-server is not installed (Debian package redis-server): make setup")
        self.proc = subprocess.Popen(
            [binary, str(self.conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None


class SentinelSet:
    """Primary, replicas and three sentinels; `sentinels` is the glue setting that finds them."""

    def __init__(self, folder: Path, password: str, replicas: int = 1) -> None:
        self.password = password
        self.primary = RedisServer(_mkdir(folder / "primary"), password)
        self.replicas = [
            RedisServer(
                _mkdir(folder / f"replica-{n}"),
                password,
                ("--replicaof", "127.0.0.1", str(self.primary.port)),
            )
            for n in range(replicas)
        ]
        self.watchers = [
            SentinelProcess(_mkdir(folder / "sentinels"), n, password, self.primary.port)
            for n in range(3)
        ]

    @property
    def sentinels(self) -> list[str]:
        return [f"127.0.0.1:{s.port}" for s in self.watchers]

    @property
    def servers(self) -> list[RedisServer]:
        return [self.primary, *self.replicas]

    def url(self) -> str:
        """redis_url beside `sentinels`: only its password and database count."""
        return self.primary.url()

    def sentinel(self) -> Sentinel:
        return Sentinel(
            [("127.0.0.1", s.port) for s in self.watchers],
            sentinel_kwargs={"password": self.password, "socket_timeout": 2},
            password=self.password,
            socket_timeout=2,
        )

    def primary_port(self) -> int | None:
        """The port the sentinels name as primary now, or None during a failover."""
        try:
            return int(self.sentinel().discover_master(MASTER)[1])
        except MasterNotFoundError:
            return None

    def start(self) -> None:
        for server in self.servers:
            server.start()
        for watcher in self.watchers:
            watcher.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready():
            if time.monotonic() > deadline:
                logs = "\n".join(w.log.read_text()[-800:] for w in self.watchers if w.log.exists())
                pytest.fail(f"the sentinels did not see the primary and its replicas:\n{logs}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        """Every sentinel knows the primary, every replica and the other sentinels."""
        for watcher in self.watchers:
            client = redis.Redis(port=watcher.port, password=self.password, socket_timeout=2)
            try:
                state = client.sentinel_master(MASTER)
                replicas = client.sentinel_slaves(MASTER)
            except (redis.exceptions.ConnectionError, redis.exceptions.ResponseError):
                return False
            finally:
                client.close()
            online = [r for r in replicas if r.get("master-link-status") == "ok"]
            if state.get("num-other-sentinels", 0) < 2 or len(online) < len(self.replicas):
                return False
        return True

    def kill_primary(self) -> RedisServer:
        """SIGKILL the Redis the sentinels name as primary now; returns it."""
        port = self.primary_port()
        victim = next(s for s in self.servers if s.port == port)
        victim.stop(signal.SIGKILL)
        return victim

    def stop(self) -> None:
        for watcher in self.watchers:
            watcher.stop()
        for server in self.servers:
            server.stop()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
