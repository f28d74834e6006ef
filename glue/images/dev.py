"""Dev containers: start one from a base with the io-dir mounted, work in it, save it.

A dev container runs as root (so apt works) and is kept alive by a sleep; `save` commits it
with the base's command, entrypoint, user and working folder put back, so the image behaves
like its base and not like the dev container. What `docker commit` cannot keep - files under
volume paths - is named in a warning, and the recipe (base, creator, a summary of `docker
diff`, the git commit) goes into labels.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container

from glue.errors import GlueError
from glue.jobs.docker_executor import IO_MOUNT
from glue.jobs.executor import PASS_ENV, SUBDIRS
from glue.registry.listing import REPOSITORY_PATTERN, TAG_PATTERN

LABEL = "org.simfleet.image"
DEV_LABEL = f"{LABEL}.dev"
BASE_LABEL = f"{LABEL}.base"
CREATOR_LABEL = f"{LABEL}.creator"
DIFF_LABEL = f"{LABEL}.diff"
SOURCE_LABEL = f"{LABEL}.source"
KEEP_ALIVE = ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"]
DIFF_KINDS = {0: "changed", 1: "added", 2: "deleted"}
DIFF_EXAMPLES = 8
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


class DevError(GlueError):
    """A dev container or image that does not exist, or a name or tag that cannot be used."""


def _client() -> docker.DockerClient:
    return docker.from_env()


def get(name: str) -> Container:
    """The dev container NAME (only containers `glue image new` made count)."""
    try:
        container = _client().containers.get(name)
    except docker.errors.NotFound:
        container = None
    if container is None or container.labels.get(DEV_LABEL) != "1":
        raise DevError(f"no dev container named {name!r}: make one with 'glue image new {name}'")
    return container


def new(name: str, base: str, io_dir: Path) -> Container:
    """Start dev container NAME from `base` with io_dir (inputs, configs, results, logs) at /io."""
    if not _NAME.match(name):
        raise DevError(f"{name!r} cannot name a container: letters, digits, '_', '.', '-'")
    client = _client()
    try:
        config = client.images.get(base).attrs["Config"]
    except docker.errors.ImageNotFound:
        raise DevError(
            f"no image {base!r} on this host (glue lab images build executor "
            "makes the default base)"
        ) from None
    try:
        client.containers.get(name)
        raise DevError(f"a container named {name!r} exists already")
    except docker.errors.NotFound:
        pass
    for sub in SUBDIRS:
        (io_dir / sub).mkdir(parents=True, exist_ok=True)
    environment = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    # Override only what the base sets, so that what a commit inherits from the container
    # (an empty user, no entrypoint) is the base's own value.
    return client.containers.run(
        base,
        name=name,
        command=KEEP_ALIVE,
        entrypoint=[] if config.get("Entrypoint") else None,
        user="0" if config.get("User") else None,
        detach=True,
        labels={DEV_LABEL: "1", BASE_LABEL: base},
        environment={**environment, "SIMFLEET_IO": IO_MOUNT},
        volumes={str(io_dir.resolve()): {"bind": IO_MOUNT, "mode": "rw"}},
    )


def exec_command(name: str, argv: list[str], write: Callable[[int, bytes], None]) -> int:
    """Run argv in the dev container as root, streaming its output; its exit code."""
    container = get(name)
    api = container.client.api
    exec_id = api.exec_create(container.id, argv, stdout=True, stderr=True, user="0")["Id"]
    for stdout, stderr in api.exec_start(exec_id, stream=True, demux=True):
        if stdout:
            write(1, stdout)
        if stderr:
            write(2, stderr)
    code = api.exec_inspect(exec_id)["ExitCode"]
    return 127 if code is None else code


def shell(name: str) -> None:
    """Replace this process with `docker exec -it NAME bash` (or sh): a real terminal, with
    raw mode, resizing and signals, is what the docker CLI does well and the SDK does not."""
    container = get(name)
    if not sys.stdin.isatty():
        raise DevError("glue image shell needs a terminal; use 'glue image exec' in scripts")
    if not shutil.which("docker"):
        raise DevError("glue image shell needs the docker command (Debian's docker.io)")
    shell_cmd = "bash" if container.exec_run(["sh", "-c", "command -v bash"])[0] == 0 else "sh"
    os.execvp(
        "docker", ["docker", "exec", "-it", "-u", "0", "-w", IO_MOUNT, container.id, shell_cmd]
    )


def git_tag(cwd: Path) -> str:
    """`<repo>.<commit>` of the git checkout at cwd, `-dirty` when it has uncommitted changes."""

    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
        if run.returncode != 0:
            raise DevError(f"{cwd} is not in a git checkout with a commit: give --tag")
        return run.stdout.strip()

    top = Path(git("rev-parse", "--show-toplevel"))
    commit = git("rev-parse", "--short=12", "HEAD")
    dirty = "-dirty" if git("status", "--porcelain") else ""
    repo = re.sub(r"[^a-z0-9_.-]+", "-", top.name.lower()).strip(".-") or "repo"
    return f"{repo}.{commit}{dirty}"


def image_reference(name: str, tag: str | None, cwd: Path) -> str:
    """REPOSITORY:TAG to save as: `--tag REPO:TAG` as given, a bare `--tag TAG` (or the git
    tag) in repository NAME."""
    ref = tag or git_tag(cwd)
    repository, _, tag_part = ref.rpartition(":") if ":" in ref else (name.lower(), "", ref)
    if not REPOSITORY_PATTERN.match(repository):
        raise DevError(
            f"{repository!r} is not a valid repository name (lower-case letters, "
            "digits, '.', '_', '-', '/')"
        )
    if not TAG_PATTERN.match(tag_part):
        raise DevError(
            f"{tag_part!r} is not a valid tag: letters, digits, '_', '.', '-' "
            "(not first), at most 128"
        )
    return f"{repository}:{tag_part}"


def diff_summary(container: Container) -> str:
    changes = container.diff() or []
    counts = {kind: 0 for kind in DIFF_KINDS.values()}
    for change in changes:
        counts[DIFF_KINDS.get(change["Kind"], "changed")] += 1
    added = [c["Path"] for c in changes if c["Kind"] == 1][:DIFF_EXAMPLES]
    text = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return f"{text}; e.g. {' '.join(added)}" if added else text


def unsaved_files(container: Container, base_volumes: list[str]) -> dict[str, int]:
    """Files under the container's mounts and the base's VOLUME paths: commit skips them."""
    paths = sorted(
        {m["Destination"] for m in container.attrs.get("Mounts", [])} | set(base_volumes)
    )
    found = {}
    for path in paths:
        code, out = container.exec_run(["find", path, "-mindepth", "1", "-type", "f"], user="0")
        files = out.decode(errors="replace").split() if code == 0 else []
        if files:
            found[path] = len(files)
    return found


@dataclass(frozen=True)
class Saved:
    reference: str
    image_id: str
    unsaved: dict[str, int]


def save(name: str, tag: str | None, force: bool, cwd: Path) -> Saved:
    container = get(name)
    reference = image_reference(name, tag, cwd)
    client = container.client
    try:
        client.images.get(reference)
        if not force:
            raise DevError(f"image {reference} exists already: pass --force to replace it")
    except docker.errors.ImageNotFound:
        pass
    base_ref = container.labels.get(BASE_LABEL, "")
    base = client.images.get(container.image.id).attrs["Config"]
    labels = {
        **(base.get("Labels") or {}),
        # A commit keeps the container's labels; this one must not mark the image as a dev.
        DEV_LABEL: "",
        BASE_LABEL: base_ref,
        CREATOR_LABEL: f"{getpass.getuser()}@{socket.gethostname()}",
        DIFF_LABEL: diff_summary(container),
    }
    labels[SOURCE_LABEL] = _source_or_none(cwd)
    unsaved = unsaved_files(container, list((base.get("Volumes") or {}).keys()))
    repository, _, tag_part = reference.rpartition(":")
    # A commit takes the container's settings for every field left out: put back the base's
    # command (the container's is the keep-alive), and its entrypoint and user where new()
    # overrode them.
    conf = {"Cmd": base.get("Cmd") or [], "Labels": labels}
    for field in ("Entrypoint", "User"):
        if base.get(field):
            conf[field] = base[field]
    image = container.commit(repository=repository, tag=tag_part, conf=conf)
    return Saved(reference, image.id, unsaved)


def _source_or_none(cwd: Path) -> str:
    try:
        return git_tag(cwd)
    except DevError:
        return ""


def remove(name: str) -> None:
    get(name).remove(force=True)
