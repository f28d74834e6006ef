"""The job sandbox: what a run may ask for, what a worker allows, and the names that are safe.

A run's sandbox settings (network, read-only root, pids limit, shared memory, secrets, extra
environment) travel with every job; the worker compares them with its own allowances from
glue.yml, which the inventory sets (Nomad's operator allowlist pattern). A run can therefore
never grant itself more than the fleet's owner allows: the worker refuses the job with a
reason naming the setting and the bound, and `glue run` refuses it at once when its glue.yml
states the bounds.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from glue.config import Settings
from glue.errors import GlueError

JOBS_NETWORK, NO_NETWORK = "jobs", "none"
# Never a run setting, whatever a worker's allow_networks says: they share the host's
# namespaces or another container's.
FORBIDDEN_NETWORKS = ("host",)
# The jobs network's bridge (the docker role makes it the same way; its firewall rules key on
# this interface name), with traffic between job containers off.
JOBS_BRIDGE_OPTIONS = {
    "com.docker.network.bridge.name": "simfleet-jobs0",
    "com.docker.network.bridge.enable_icc": "false",
}
SECRETS_MOUNT = "/run/secrets"
# Where a job finds its secrets' files (one per name): /run/secrets in a container.
SECRETS_ENV = "SIMFLEET_SECRETS"
_SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Refused(GlueError):
    """A run asks for more than this worker allows, or names something unsafe."""


@dataclass(frozen=True)
class Profile:
    """A run's sandbox settings (the defaults are the strict ones)."""

    network: str = JOBS_NETWORK
    read_only_root: bool = True
    pids_limit: int = 256
    shm_size: str = "64m"
    secrets: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: dict[str, Any] | Settings) -> Profile:
        """From a run spec (or the submitting side's settings)."""
        get = spec.get if isinstance(spec, dict) else lambda name, default: getattr(spec, name)
        defaults = cls()
        return cls(
            network=get("network", defaults.network),
            read_only_root=get("read_only_root", defaults.read_only_root),
            pids_limit=get("pids_limit", defaults.pids_limit),
            shm_size=get("shm_size", defaults.shm_size),
            secrets=list(get("secrets", [])),
            env=parse_env(get("env", [])),
        )


def parse_env(items: list[str]) -> dict[str, str]:
    """`NAME=VALUE` items of `--env`; the name must be a plain variable name."""
    env = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not _ENV_NAME.match(name):
            raise Refused(f"env {item!r} is not NAME=VALUE with a plain variable name")
        env[name] = value
    return env


def _bytes(name: str, value: str) -> int:
    # Imported here: the docker package costs `glue status` a third of its start-up time.
    from docker.utils import parse_bytes

    try:
        return parse_bytes(value)
    except Exception:
        raise Refused(f"{name} {value!r} is not a size such as 64m or 1g") from None


def check(profile: Profile, bounds: Settings) -> None:
    """Refuse, naming the setting and this worker's bound, what the worker does not allow."""
    if profile.network in FORBIDDEN_NETWORKS or profile.network.startswith("container:"):
        raise Refused(f"network {profile.network!r} is never allowed for a job")
    if profile.network not in bounds.allow_networks:
        raise Refused(
            f"network {profile.network!r} is not in this worker's allow_networks "
            f"{bounds.allow_networks}"
        )
    if not profile.read_only_root and not bounds.allow_writable_root:
        raise Refused("read_only_root false is refused: this worker's allow_writable_root is false")
    if not 1 <= profile.pids_limit <= bounds.max_pids_limit:
        raise Refused(
            f"pids_limit {profile.pids_limit} is above this worker's max_pids_limit "
            f"{bounds.max_pids_limit}"
        )
    if _bytes("shm_size", profile.shm_size) > _bytes("max_shm_size", bounds.max_shm_size):
        raise Refused(
            f"shm_size {profile.shm_size} is above this worker's max_shm_size {bounds.max_shm_size}"
        )
    for name in profile.secrets:
        if not _SECRET_NAME.match(name):
            raise Refused(f"secret name {name!r} must be letters, digits, '.', '_' and '-'")


def key_refusal(key: str) -> str | None:
    """Why a scenario key cannot be passed to a command safely, or None.

    Shell metacharacters are fine (keys are passed as one argv element, or shell-quoted);
    these are not: a NUL cannot be in an argument, a line break or control character breaks
    logs and quoting, and a name starting with '-' reads as an option."""
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        return "it holds a control character (NUL, line break, ...)"
    if any(part.startswith("-") for part in PurePosixPath(key).parts):
        return "a part of it starts with '-'"
    return None


def read_secret(secrets_dir: str | None, name: str) -> bytes:
    """A named secret's bytes from this worker's secrets_dir, never following a link."""
    if not secrets_dir:
        raise Refused(f"the run names secret {name!r} but this worker has no secrets_dir")
    if not _SECRET_NAME.match(name):
        raise Refused(f"secret name {name!r} must be letters, digits, '.', '_' and '-'")
    path = Path(secrets_dir) / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise Refused(f"secret {name!r} is not on this worker ({path}: {exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise Refused(f"secret {name!r} is not a regular file on this worker ({path})")
        return f.read()


def install_secrets(
    profile: Profile, secrets_dir: str | None, dest: Path, uid: int, gid: int
) -> dict[str, Path]:
    """Copy the run's secrets into `dest`, readable by the job's uid alone; name -> copy.

    A worker running as root hands each copy to the job's uid (mode 0400); otherwise the copy
    stays the worker's and, when the job runs as another account, is shared with that
    account's group (0440), which the worker belongs to."""
    copies = {}
    for name in profile.secrets:
        data = read_secret(secrets_dir, name)
        dest.mkdir(mode=0o755, exist_ok=True)
        copy = dest / name
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if os.getuid() == 0:
                os.fchown(out.fileno(), uid, gid)
            elif uid != os.getuid():
                os.fchown(out.fileno(), -1, gid)
                os.fchmod(out.fileno(), 0o440)
        copies[name] = copy
    return copies
