"""Build the project's container images locally, without pulling from any registry.

The base image comes from debootstrap and `docker import`; every other image is a Dockerfile
under images/ built FROM it. Each image carries a label with the hash of its inputs, so a build
whose inputs have not changed is skipped: `make setup` stays fast when there is nothing to do.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from glue.errors import GlueError

INPUTS_LABEL = "org.simfleet.inputs"
REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO_ROOT / "images"

BASE_SUITE = os.environ.get("SIMFLEET_DEBIAN_SUITE", "bookworm")
# Empty means debootstrap's own default mirror; set it to use a local mirror or proxy.
BASE_MIRROR = os.environ.get("SIMFLEET_DEBIAN_MIRROR", "")
# Bump BASE_RECIPE when the way the base is made changes, so existing bases are rebuilt.
BASE_RECIPE = "1"
BASE_PACKAGES = ("ca-certificates", "python3", "python3-venv", "procps", "tzdata")

VAGRANT_PUBKEY_GLOBS = (
    "/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub",
    "/usr/share/vagrant/keys/vagrant.pub",
)


class ImageError(GlueError):
    """A build that cannot go on; the message names the problem."""


@dataclass(frozen=True)
class ImageSpec:
    """One Dockerfile image: its tag, build context, and the images it is built FROM."""

    tag: str
    context: Path
    depends_on: tuple[str, ...] = ()
    buildargs: Callable[[], dict[str, str]] = field(default=lambda: {})


def vagrant_public_key() -> str:
    """Vagrant's insecure public key, which `vagrant up` uses for its first ssh login."""
    explicit = os.environ.get("SIMFLEET_VAGRANT_PUBKEY")
    candidates = (
        [explicit]
        if explicit
        else sorted(p for pattern in VAGRANT_PUBKEY_GLOBS for p in glob.glob(pattern))
    )
    for path in candidates:
        if path and Path(path).is_file():
            return Path(path).read_text().strip()
    raise ImageError(
        "Vagrant's insecure public key (keys/vagrant.pub) was not found: install the vagrant "
        "package or set SIMFLEET_VAGRANT_PUBKEY to its path"
    )


BASE_TAG = f"simfleet/base:{BASE_SUITE}"
SPECS: dict[str, ImageSpec] = {
    "node": ImageSpec(
        tag="simfleet/node:latest",
        context=IMAGES_DIR / "node",
        depends_on=(BASE_TAG,),
        buildargs=lambda: {"BASE_IMAGE": BASE_TAG, "VAGRANT_PUBKEY": vagrant_public_key()},
    ),
    # A one-node Ceph with radosgw: the lab's S3 store and the integration tests' (glue.lab.rgw).
    "ceph": ImageSpec(
        tag="simfleet/ceph:latest",
        context=IMAGES_DIR / "ceph",
        depends_on=(BASE_TAG,),
        buildargs=lambda: {"BASE_IMAGE": BASE_TAG},
    ),
    # The job runtime (glue.jobs.docker_executor); SIMFLEET_EXECUTOR_BASE swaps in a conda base.
    "executor": ImageSpec(
        tag="simfleet/executor:latest",
        context=IMAGES_DIR / "executor",
        depends_on=(BASE_TAG,),
        buildargs=lambda: {"BASE_IMAGE": os.environ.get("SIMFLEET_EXECUTOR_BASE", BASE_TAG)},
    ),
}


def tree_digest(paths: list[Path], extra: list[str]) -> str:
    """A hash over file names and contents under `paths`, plus extra strings."""
    h = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            h.update(str(f.relative_to(REPO_ROOT)).encode() + b"\0")
            h.update(f.read_bytes() + b"\0")
    for item in extra:
        h.update(item.encode() + b"\0")
    return h.hexdigest()[:32]


class Builder:
    """Builds images in dependency order and skips those whose inputs did not change."""

    def __init__(self, client: docker.DockerClient | None = None, log=print) -> None:
        self.client = client or docker.from_env()
        self.log = log

    def current_inputs(self, tag: str) -> str | None:
        try:
            return (self.client.images.get(tag).labels or {}).get(INPUTS_LABEL)
        except docker.errors.ImageNotFound:
            return None

    def image_id(self, tag: str) -> str:
        return self.client.images.get(tag).id

    def build_base(self, force: bool = False) -> None:
        digest = tree_digest([], [BASE_RECIPE, BASE_SUITE, BASE_MIRROR, *BASE_PACKAGES])
        if not force and self.current_inputs(BASE_TAG) == digest:
            self.log(f"{BASE_TAG} is up to date")
            return
        if os.geteuid() != 0:
            raise ImageError(
                "building the base image runs debootstrap, which needs root: run 'sudo make setup'"
            )
        if not shutil.which("debootstrap"):
            raise ImageError("debootstrap is not installed: run 'make setup'")
        self.log(f"building {BASE_TAG} with debootstrap ({BASE_SUITE})")
        with tempfile.TemporaryDirectory(prefix="simfleet-base-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            cmd = [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                BASE_SUITE,
                str(rootfs),
            ]
            if BASE_MIRROR:
                cmd.append(BASE_MIRROR)
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-5:])
                raise ImageError(f"debootstrap failed (exit {run.returncode}):\n{tail}")
            # Trim what a container never uses: apt lists and caches.
            for junk in ("var/lib/apt/lists", "var/cache/apt/archives"):
                shutil.rmtree(rootfs / junk, ignore_errors=True)
            tarball = Path(tmp) / "rootfs.tar"
            subprocess.run(
                ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."], check=True
            )
            repo, tag = BASE_TAG.split(":")
            self.client.api.import_image_from_file(
                str(tarball),
                repository=repo,
                tag=tag,
                changes=[f"LABEL {INPUTS_LABEL}={digest}", "ENV LANG=C.UTF-8", 'CMD ["/bin/bash"]'],
            )
        self.log(f"built {BASE_TAG}")

    def build(self, name: str, force: bool = False) -> str:
        """Build image `name` (and what it depends on); returns its tag."""
        spec = SPECS[name]
        for dep in spec.depends_on:
            if dep == BASE_TAG:
                self.build_base()
            else:
                self.build(next(n for n, s in SPECS.items() if s.tag == dep))
        args = spec.buildargs()
        digest = tree_digest(
            [spec.context],
            [self.image_id(d) for d in spec.depends_on] + [f"{k}={v}" for k, v in args.items()],
        )
        if not force and self.current_inputs(spec.tag) == digest:
            self.log(f"{spec.tag} is up to date")
            return spec.tag
        self.log(f"building {spec.tag}")
        stream = self.client.api.build(
            path=str(spec.context),
            tag=spec.tag,
            buildargs=args,
            rm=True,
            forcerm=True,
            labels={INPUTS_LABEL: digest},
            decode=True,
        )
        tail: list[str] = []
        for chunk in stream:
            if "error" in chunk:
                raise ImageError(
                    f"building {spec.tag} failed: {chunk['error'].strip()}\n" + "".join(tail[-15:])
                )
            text = chunk.get("stream", "")
            if text:
                tail.append(text)
                if os.environ.get("SIMFLEET_VERBOSE"):
                    sys.stdout.write(text)
        self.log(f"built {spec.tag}")
        return spec.tag
