"""Which errors count as the queue being away, the sentinels setting, and riding out an outage
with one line (the failures are raised by hand: an outage of a few calls)."""

from __future__ import annotations

import io
import time

import pytest
import redis.exceptions

from glue import config
from glue.config import ConfigError
from glue.jobs.connection import QueueUnreachable, is_unreachable, target
from glue.jobs.outage import Rider


def test_sentinels_come_from_glue_yml_or_the_environment(tmp_path) -> None:
    path = tmp_path / "glue.yml"
    path.write_text("sentinels: [10.0.0.1:26379, '[fd00::2]:26379']\nsentinel_master: q\n")
    where = target(config.load({}, config_path=str(path), environ={}))
    assert where.sentinels == (("10.0.0.1", 26379), ("fd00::2", 26379))
    assert where.master == "q"
    env = {"GLUE_SENTINELS": "a:1,b:2,c:3"}
    assert target(config.load({}, environ=env)).sentinels == (("a", 1), ("b", 2), ("c", 3))
    assert target(config.load({}, environ={})).sentinels == ()


@pytest.mark.parametrize("entry", ["10.0.0.1", "host:", ":26379", "host:port", "host:70000"])
def test_a_sentinel_that_is_not_host_port_is_refused(entry: str) -> None:
    with pytest.raises(ConfigError, match=f"sentinels: '{entry}' is not HOST:PORT"):
        config.load({}, environ={"GLUE_SENTINELS": entry})


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (redis.exceptions.ConnectionError("refused"), True),
        (redis.exceptions.TimeoutError("timed out"), True),
        (redis.exceptions.ResponseError("NOREPLICAS Not enough good replicas to write."), True),
        (
            redis.exceptions.ReadOnlyError("READONLY You can't write against a read only replica."),
            True,
        ),
        (redis.exceptions.ResponseError("WRONGTYPE Operation against a key"), False),
        (redis.exceptions.AuthenticationError("invalid password"), False),
        (ValueError("not Redis"), False),
    ],
)
def test_what_counts_as_unreachable(exc: Exception, transient: bool) -> None:
    assert is_unreachable(exc) is transient


class Flaky:
    """Fails `times` times with `exc`, then answers."""

    def __init__(self, times: int, exc: Exception) -> None:
        self.left = times
        self.exc = exc

    def __call__(self) -> str:
        if self.left:
            self.left -= 1
            raise self.exc
        return "answer"


def test_an_outage_is_one_line_then_one_when_it_is_over(monkeypatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    out = io.StringIO()
    ride = Rider(out=out)
    assert ride(Flaky(5, redis.exceptions.ConnectionError("Connection refused."))) == "answer"
    lines = out.getvalue().splitlines()
    assert lines[0] == "glue: queue unreachable: Connection refused., retrying"
    assert lines[1].startswith("glue: queue reachable again after ")
    assert len(lines) == 2 and ride.outages == 1
    assert ride(Flaky(0, redis.exceptions.ConnectionError())) == "answer"
    assert ride.outages == 1


def test_past_the_deadline_it_gives_up_with_exit_status_4() -> None:
    out = io.StringIO()
    ride = Rider(deadline=time.monotonic() + 0.3, out=out)
    with pytest.raises(QueueUnreachable, match="queue unreachable for 0 s, giving up: gone") as e:
        ride(Flaky(100, redis.exceptions.ConnectionError("gone")))
    assert e.value.exit_code == 4
    assert out.getvalue().splitlines() == ["glue: queue unreachable: gone, retrying"]


def test_other_errors_are_not_retried() -> None:
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        Rider(out=io.StringIO())(Flaky(1, redis.exceptions.ResponseError("WRONGTYPE x")))
