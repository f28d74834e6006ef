"""images/examples/jre-python: two bases in one image; its scenario calls Java and Python."""

from __future__ import annotations

from pathlib import Path

import docker

from tests.integration.images.conftest import REPO, glue

EXAMPLE = REPO / "images" / "examples" / "jre-python"


def test_jre_python_builds_and_its_scenario_passes(executor_image: str, tmp_path: Path) -> None:
    tag = "simfleet-test/jre-python:1"
    built = glue("image", "build", str(EXAMPLE), "--tag", tag)
    assert built.code == 0, built.err
    assert built.out.strip() == tag and "warning" not in built.err
    try:
        trial = glue(
            "image",
            "test",
            tag,
            "--scenario",
            str(EXAMPLE / "scenario.py"),
            "--reduce",
            "concat",
            "--io",
            str(tmp_path / "io"),
        )
        assert trial.code == 0, trial.out + trial.err
        assert "outcome: succeeded" in trial.out
        assert '"java": "openjdk version' in trial.out and '"python": "3.' in trial.out
    finally:
        docker.from_env().images.remove(tag, force=True)


MUSL_DOCKERFILE = """\
ARG BASE_IMAGE
FROM scratch AS alpine-runtime
COPY ld-musl-x86_64.so.1 /lib/ld-musl-x86_64.so.1
COPY tool /opt/tool/bin/tool
FROM ${BASE_IMAGE}
COPY --from=alpine-runtime /opt/tool /opt/tool
"""


def test_build_warns_when_a_stage_of_another_libc_is_copied(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(MUSL_DOCKERFILE)
    (tmp_path / "ld-musl-x86_64.so.1").write_bytes(b"\x7fELF stand-in for musl's loader")
    (tmp_path / "tool").write_text("#!/bin/sh\n")
    tag = "simfleet-test/musl-trap:1"
    built = glue("image", "build", str(tmp_path), "--tag", tag)
    try:
        assert built.code == 0, built.err
        assert built.err.strip() == (
            "glue: warning: stage 1 (glibc) copies from stage alpine-runtime (musl): binaries "
            "built for musl do not run on glibc"
        )
    finally:
        docker.from_env().images.remove(tag, force=True)


def test_build_failure_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM simfleet/base:bookworm\nRUN exit 3\n")
    done = glue("image", "build", str(tmp_path), "--tag", "simfleet-test/broken:1")
    assert done.code == 1
    assert done.err.splitlines()[-1].startswith("glue: error: build failed: The command")
    assert "no Dockerfile" in glue("image", "build", str(tmp_path / "none"), "--tag", "x:1").err
    assert "not a valid" in glue("image", "build", str(tmp_path), "--tag", "x:b@d").error_line()
