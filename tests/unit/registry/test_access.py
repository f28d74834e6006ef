"""Where glue finds the registry: flags, GLUE_REGISTRY* variables, run.yml's settings file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from glue.registry.access import RegistryError, resolve


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path: Path) -> None:
    for name in (
        "GLUE_REGISTRY",
        "GLUE_REGISTRY_CA",
        "GLUE_REGISTRY_USERNAME",
        "GLUE_REGISTRY_AUTHFILE",
        "GLUE_REGISTRY_PASSWORD",
        "GLUE_REGISTRY_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def lab_settings(root: Path) -> Path:
    """What run.yml leaves in .cache/run: registry.yml, the CA and skopeo's auth file."""
    run = root / ".cache" / "run"
    (run / "registry-certs").mkdir(parents=True)
    (run / "registry-certs" / "ca.crt").write_text("CA")
    auth = base64.b64encode(b"simfleet:s3cret").decode()
    (run / "registry-auth.json").write_text(
        json.dumps({"auths": {"10.0.0.5:6001": {"auth": auth}}})
    )
    (run / "registry.yml").write_text(
        'address: "10.0.0.5:6001"\npull_address: "node1:6001"\n'
        "ca: registry-certs/ca.crt\nauthfile: registry-auth.json\n"
    )
    return run


def test_lab_settings_file_is_the_default(tmp_path: Path) -> None:
    run = lab_settings(tmp_path)
    access = resolve()
    assert access.address == "10.0.0.5:6001"
    assert access.pull_name == "node1:6001"
    assert access.ca == run / "registry-certs" / "ca.crt"
    assert (access.username, access.password) == ("simfleet", "s3cret")


def test_flags_and_environment_win(tmp_path: Path, monkeypatch) -> None:
    lab_settings(tmp_path)
    monkeypatch.setenv("GLUE_REGISTRY_PASSWORD", "other")
    monkeypatch.setenv("GLUE_REGISTRY_USERNAME", "pusher")
    access = resolve(address="127.0.0.1:5000")
    assert access.address == "127.0.0.1:5000"
    assert (access.username, access.password) == ("pusher", "other")
    # The file's pull name is its own registry's: another registry is pulled by its address.
    assert access.pull_name == "127.0.0.1:5000"


def test_no_registry_is_one_clear_error() -> None:
    with pytest.raises(RegistryError, match="no registry given"):
        resolve()


@pytest.mark.parametrize("address", ["http://x:1", "a b", "host:port"])
def test_bad_address(address: str) -> None:
    with pytest.raises(RegistryError, match="is not HOST or HOST:PORT"):
        resolve(address=address)


def test_missing_ca_and_unknown_setting(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="does not exist"):
        resolve(address="x:1", ca=str(tmp_path / "none.crt"))
    bad = tmp_path / "r.yml"
    bad.write_text("address: x:1\npasword: oops\n")
    with pytest.raises(RegistryError, match="unknown names"):
        resolve(settings=str(bad))
