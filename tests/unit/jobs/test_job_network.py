"""The jobs network when two slots start their first job at once.

Both find it missing and both create it; the engine refuses the later create. Which answer it
gives depends on where the two cross (a clash of names, 409, or of bridge names, 403 on
Docker 20.10), and the crossing cannot be timed for real, so a stand-in engine gives each
answer here. bench/dispatch-local met the 403 on its first container job."""

from __future__ import annotations

import docker.errors
import pytest
import requests

from glue.config import Settings
from glue.jobs import docker_executor, slot
from glue.jobs.executor import ExecSpec


class Networks:
    """The networks of an engine where another slot creates the network first."""

    def __init__(self, status: int, made_by_other: bool) -> None:
        self.status, self.made_by_other, self.gets = status, made_by_other, 0

    def get(self, name: str) -> object:
        self.gets += 1
        if self.gets == 1 or not self.made_by_other:
            raise docker.errors.NotFound(f"network {name} not found")
        return object()

    def create(self, name: str, **options) -> None:
        response = requests.Response()
        response.status_code = self.status
        raise docker.errors.APIError("conflicts with network", response=response)


class Client:
    def __init__(self, networks: Networks) -> None:
        self.networks = networks


@pytest.fixture(autouse=True)
def a_slot(monkeypatch) -> None:
    monkeypatch.setattr(slot, "_current", slot.Slot("h", 1, "w", Settings()))


def spec() -> ExecSpec:
    return ExecSpec(command=["true"], scenario_file="s.py", timeout=10, name="n", host="h")


@pytest.mark.parametrize("status", [403, 409])
def test_a_network_another_slot_made_meanwhile_is_used(status: int) -> None:
    client = Client(Networks(status, made_by_other=True))
    options = docker_executor._network(client, spec())
    assert options == {"network": Settings().job_network}


def test_a_refused_create_with_no_network_made_is_the_error() -> None:
    client = Client(Networks(403, made_by_other=False))
    with pytest.raises(docker.errors.APIError, match="403"):
        docker_executor._network(client, spec())
