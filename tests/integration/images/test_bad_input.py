"""Each user mistake ends with one line naming the problem and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

from tests.integration.images.conftest import glue
from tests.support.net import free_port
from tests.support.registry import Registry


def test_unknown_container() -> None:
    line = glue("image", "exec", "glue-test-no-such", "--", "true").error_line()
    assert "no dev container named 'glue-test-no-such'" in line
    assert "no dev container" in glue("image", "save", "glue-test-no-such").error_line()
    assert "no command given" in glue("image", "exec", "glue-test-no-such", "--").error_line()


def test_unknown_image(tmp_path: Path, registry: Registry) -> None:
    scenario = tmp_path / "s.py"
    scenario.write_text("print(1)\n")
    line = glue("image", "test", "glue-test-no-such:1", "--scenario", str(scenario)).error_line()
    assert "no image 'glue-test-no-such:1'" in line
    assert (
        "no image" in glue("image", "push", "glue-test-no-such:1", env=registry.env()).error_line()
    )
    assert (
        "no image" in glue("image", "new", "glue-test-x", "--from", "glue-test-no:1").error_line()
    )


def test_a_trial_folder_with_files_is_refused_and_kept(tmp_path: Path, executor_image: str) -> None:
    scenario = tmp_path / "s.py"
    scenario.write_text("print(1)\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    args = ["image", "test", executor_image, "--scenario", str(scenario), "--io", str(mine)]
    assert "is not empty" in glue(*args).error_line()
    assert (mine / "notes.txt").read_text() == "keep me\n"


def test_unknown_tag_and_repository(registry: Registry) -> None:
    env = registry.env()
    assert "not found" in glue("registry", "inspect", "no/such:tag", env=env).error_line()
    assert "not found" in glue("registry", "rm", "no/such:tag", env=env).error_line()


def test_illegal_tag(registry: Registry, tmp_path: Path) -> None:
    assert (
        "not a valid image reference"
        in glue("registry", "inspect", "Bad Name:x", env=registry.env()).error_line()
    )
    assert "not a valid" in glue("image", "push", "x:bad tag!", env=registry.env()).error_line()


def test_illegal_tag_on_save(dev_name: str, tmp_path: Path) -> None:
    assert glue("image", "new", dev_name, "--io", str(tmp_path / "io")).code == 0
    line = glue("image", "save", dev_name, "--tag", "bad tag!").error_line()
    assert "'bad tag!' is not a valid tag" in line
    assert "not in a git checkout" in glue("image", "save", dev_name, cwd=tmp_path).error_line()


def test_registry_unreachable(registry: Registry) -> None:
    env = {**registry.env(), "GLUE_REGISTRY": f"127.0.0.1:{free_port()}"}
    assert "is unreachable" in glue("registry", "ls", env=env).error_line()


def test_wrong_login(registry: Registry) -> None:
    env = {**registry.env(), "GLUE_REGISTRY_PASSWORD": "wrong"}
    assert "refused the login of tester" in glue("registry", "ls", env=env).error_line()


def test_wrong_ca(registry: Registry, tmp_path: Path) -> None:
    env = {**registry.env(), "GLUE_REGISTRY_CA": "/etc/ssl/certs/ca-certificates.crt"}
    assert "TLS failed" in glue("registry", "ls", env=env).error_line()


def test_no_registry_given(tmp_path: Path) -> None:
    line = glue("registry", "ls", cwd=tmp_path, env={"GLUE_REGISTRY": ""}).error_line()
    assert "no registry given" in line
