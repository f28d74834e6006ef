"""`docker build` of a user's Dockerfile with the project's local bases as build arguments,
and a warning when a stage copies from a stage of another libc.

Nothing can be pulled here, so BASE_IMAGE (the Debian base) and EXECUTOR_IMAGE (the job
runtime) are passed to every Dockerfile that declares them. A runtime copied from a musl
(Alpine) stage into a glibc stage does not start there ("not found" for a file that exists):
each stage is built on its own first and its ELF loader tells its libc.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from glue.errors import GlueError
from glue.lab.images import BASE_TAG, SPECS
from glue.registry.listing import parse_reference

BASE_ARGS = {"BASE_IMAGE": BASE_TAG, "EXECUTOR_IMAGE": SPECS["executor"].tag}
# The ELF loaders by libc, for the common architectures.
LOADERS = {
    "musl": ("/lib/ld-musl-x86_64.so.1", "/lib/ld-musl-aarch64.so.1"),
    "glibc": ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"),
}
_FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$", re.I)
_COPY_FROM = re.compile(r"^COPY\s+.*--from=(\S+)", re.I)
_ARG = re.compile(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)", re.I)


class BuildError(GlueError):
    """A Dockerfile that cannot be built; the message carries the builder's last words."""


@dataclass
class Stage:
    index: int
    name: str | None
    copies_from: list[str]


def instructions(dockerfile: str) -> list[str]:
    """Logical lines: continuations joined, comments and blank lines dropped."""
    lines, current = [], ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    if current:
        lines.append(current)
    return lines


def parse(dockerfile: str) -> tuple[list[Stage], set[str]]:
    """The stages (name, the stages they COPY --from) and every ARG the file declares."""
    stages: list[Stage] = []
    args: set[str] = set()
    for line in instructions(dockerfile):
        if match := _FROM.match(line):
            stages.append(Stage(len(stages), match[2], []))
        elif (match := _COPY_FROM.match(line)) and stages:
            stages[-1].copies_from.append(match[1])
        elif match := _ARG.match(line):
            args.add(match[1])
    return stages, args


def libc_of(client: docker.DockerClient, image_id: str) -> str | None:
    """musl or glibc, from the ELF loader the image holds; None when it has neither."""
    container = client.containers.create(image_id, command=["true"], entrypoint=[])
    try:
        for libc, paths in LOADERS.items():
            for path in paths:
                try:
                    stream, _ = container.get_archive(path)
                    for _ in stream:
                        pass
                    return libc
                except docker.errors.NotFound:
                    continue
        return None
    finally:
        container.remove(force=True)


def _stream(client: docker.DockerClient, log: Callable[[str], None], **kwargs) -> str:
    """Run one build; returns the image id. On failure the builder's last lines go to stderr
    and the error itself is one line."""
    tail: list[str] = []
    image_id = None
    for chunk in client.api.build(decode=True, rm=True, forcerm=True, **kwargs):
        if "error" in chunk:
            sys.stderr.write("".join(tail[-10:]))
            raise BuildError(f"build failed: {chunk['error'].strip()}")
        if text := chunk.get("stream"):
            tail.append(text)
            log(text)
        if aux := chunk.get("aux"):
            image_id = aux.get("ID", image_id)
    if not image_id:
        raise BuildError("the build ended without an image")
    return image_id


def libc_warnings(
    client: docker.DockerClient,
    path: Path,
    dockerfile: str,
    buildargs: dict[str, str],
    log: Callable[[str], None],
) -> list[str]:
    """Build each stage that is copied from and the final one; name every COPY --from whose
    source stage has another libc than the stage it lands in."""
    stages, _ = parse(dockerfile)
    by_name = {s.name: s for s in stages if s.name} | {str(s.index): s for s in stages}
    libc: dict[int, str | None] = {}

    def of(stage: Stage) -> str | None:
        if stage.index not in libc:
            target = stage.name or None
            if target is None and stage.index != len(stages) - 1:
                return None  # an unnamed middle stage cannot be a build target
            image = _stream(client, log, path=str(path), buildargs=buildargs, target=target)
            libc[stage.index] = libc_of(client, image)
        return libc[stage.index]

    warnings = []
    for stage in stages:
        for source_name in stage.copies_from:
            source = by_name.get(source_name)
            if source is None:
                continue  # COPY --from an image, not a stage
            mine, theirs = of(stage), of(source)
            if mine and theirs and mine != theirs:
                warnings.append(
                    f"stage {stage.name or stage.index} ({mine}) copies from stage "
                    f"{source.name or source.index} ({theirs}): binaries built for {theirs} "
                    f"do not run on {mine}"
                )
    return warnings


def build(
    path: Path,
    tag: str,
    buildargs: dict[str, str],
    warn: Callable[[str], None],
    log: Callable[[str], None] = lambda _: None,
) -> str:
    """Build the Dockerfile at path as tag; returns the image id."""
    parse_reference(tag)
    dockerfile_path = path / "Dockerfile"
    if not dockerfile_path.is_file():
        raise BuildError(f"{path} has no Dockerfile")
    dockerfile = dockerfile_path.read_text()
    _, declared = parse(dockerfile)
    args = {k: v for k, v in BASE_ARGS.items() if k in declared} | buildargs
    client = docker.from_env()
    for line in libc_warnings(client, path, dockerfile, args, log):
        warn(line)
    return _stream(client, log, path=str(path), tag=tag, buildargs=args)
