"""Push a local image to the fleet's registry with skopeo, which takes the registry's CA and
login from files of its own (a temporary folder here): nothing in this machine's Docker
settings changes, exactly as run.yml pushes the executor image."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import docker
import docker.errors

from glue.errors import GlueError
from glue.registry.access import Access
from glue.registry.listing import parse_reference


def push(image: str, access: Access, name: str | None = None) -> str:
    """Push local `image` as registry/<name or its own name>; returns the reference the
    workers pull (at the registry's pull address)."""
    repository, tag = parse_reference(name or image)
    try:
        docker.from_env().images.get(image)
    except docker.errors.ImageNotFound:
        raise GlueError(f"no image {image!r} on this host") from None
    # skopeo's docker-daemon transport needs a tag or a digest.
    if "@" not in image and ":" not in image.rpartition("/")[2]:
        image += ":latest"
    if not shutil.which("skopeo"):
        raise GlueError("skopeo is not installed: run 'make setup'")
    with tempfile.TemporaryDirectory(prefix="glue-push-") as tmp:
        certs = Path(tmp) / "certs"
        certs.mkdir()
        if access.ca:
            shutil.copyfile(access.ca, certs / "ca.crt")
        authfile = Path(tmp) / "auth.json"
        login = f"{access.username or ''}:{access.password or ''}".encode()
        auths = {access.address: {"auth": base64.b64encode(login).decode()}}
        authfile.write_text(json.dumps({"auths": auths if access.username else {}}))
        authfile.chmod(0o600)
        run = subprocess.run(
            [
                "skopeo",
                "copy",
                "--quiet",
                f"--dest-cert-dir={certs}",
                f"--dest-authfile={authfile}",
                f"docker-daemon:{image}",
                f"docker://{access.address}/{repository}:{tag}",
            ],
            capture_output=True,
            text=True,
        )
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise GlueError(f"push to {access.address} failed: {last}")
    return f"{access.pull_name}/{repository}:{tag}"
