"""Reading a Dockerfile's stages, COPY --from sources and ARGs."""

from __future__ import annotations

from glue.images.build import parse

DOCKERFILE = """\
# syntax comment
ARG BASE_IMAGE=simfleet/base:bookworm
ARG EXECUTOR_IMAGE
FROM ${BASE_IMAGE} AS jre
RUN apt-get update \\
 && apt-get install -y default-jre-headless
from --platform=linux/amd64 alpine:3 as musl
FROM ${EXECUTOR_IMAGE}
COPY --from=jre /usr/lib/jvm /usr/lib/jvm
COPY --chown=1:1 --from=musl /opt/x \\
     /opt/x
COPY --from=other-image:1 /a /a
"""


def test_stages_copies_and_args() -> None:
    stages, args = parse(DOCKERFILE)
    assert [(s.index, s.name) for s in stages] == [(0, "jre"), (1, "musl"), (2, None)]
    assert stages[2].copies_from == ["jre", "musl", "other-image:1"]
    assert stages[0].copies_from == []
    assert args == {"BASE_IMAGE", "EXECUTOR_IMAGE"}


def test_the_example_declares_both_bases(repo_root) -> None:
    stages, args = parse((repo_root / "images/examples/jre-python/Dockerfile").read_text())
    assert args == {"BASE_IMAGE", "EXECUTOR_IMAGE"}
    assert stages[-1].copies_from == ["jre", "jre"]
