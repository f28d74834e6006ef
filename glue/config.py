"""Settings for the job engine, from glue.yml, the environment and flags (flags win).

One flat list of settings serves every command, so a glue.yml written for `glue run` also
configures `glue worker` on the same host. Precedence, lowest first: the defaults below, the
file (path from --config or GLUE_CONFIG), environment variables (GLUE_ + the name in capitals),
then command-line flags. A setting a layer does not mention leaves the lower layer's value.
"""

from __future__ import annotations

import argparse
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from glue.errors import GlueError

ENV_PREFIX = "GLUE_"
CONFIG_ENV = "GLUE_CONFIG"
EXECUTORS = ("docker", "process")
# Host labels and a run's required labels become parts of RQ queue names (glue.jobs.routing):
# lower case, no separator, and never a word the routing itself uses.
LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
RESERVED_LABEL = re.compile(r"^(gpu\d*|anyslot)$")
# A slot listens on one queue per subset of its host's labels: 2**MAX_LABELS at most.
MAX_LABELS = 4


class ConfigError(GlueError):
    """A setting that cannot be used; the message names the setting and where it came from."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the job engine; the README's glue.yml table documents each one."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    # With sentinels (host:port each), the primary is whatever they name; redis_url then gives
    # only the password (the same for data and sentinels) and the database number.
    sentinels: list[str] = field(default_factory=list)
    sentinel_master: str = "simfleet"
    queue: str = "simfleet"
    # What a run's jobs do.
    executor: str = "docker"
    image: str = "simfleet/executor:latest"
    command: str = "python3 {scenario}"
    pattern: str = "*.py"
    timeout: int = 3600
    retries: int = 2
    results: str | None = None
    reduce: list[str] = field(default_factory=lambda: ["count"])
    # Days a run's state stays in Redis after it completes (its results place keeps the rest).
    run_keep_days: float = 3
    cpus: float | None = None
    memory: str | None = None
    gpus: int = 0
    venv: str | None = None
    # Where a run's jobs may go: hosts with all these labels; CPU jobs also on GPU slots.
    require: list[str] = field(default_factory=list)
    gpu_slots_take_cpu: bool = False
    # The job's sandbox: what a run asks for, each bounded by the worker's allowances below.
    network: str = "jobs"
    read_only_root: bool = True
    pids_limit: int = 256
    shm_size: str = "64m"
    secrets: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    # Where and how a worker host runs them.
    slots: int = field(default_factory=lambda: os.cpu_count() or 1)
    # This host's GPUs (ids as NVIDIA_VISIBLE_DEVICES takes them) and labels; slot n owns the
    # n-th group of gpus_per_slot GPUs, slots past the last GPU are CPU slots.
    gpu_devices: list[str] = field(default_factory=list)
    gpus_per_slot: int = 1
    labels: list[str] = field(default_factory=list)
    heartbeat: int = 10
    maintenance_interval: int = 30
    workdir: str | None = None
    venv_root: str = "~/.virtualenvs"
    s3_endpoint_url: str | None = None
    # The worker's side of the sandbox: what it allows a run, and whom jobs run as.
    job_network: str = "simfleet-jobs"
    allow_networks: list[str] = field(default_factory=lambda: ["jobs", "none"])
    allow_writable_root: bool = False
    max_pids_limit: int = 1024
    max_shm_size: str = "1g"
    job_uid: int = 65534
    job_users: str | None = None
    secrets_dir: str | None = None
    # The name this worker's slots go by in job records, status and pauses (default: the
    # machine's host name); and when a slot that cannot run jobs pauses (glue.jobs.pause).
    host_name: str | None = None
    pause_after: int = 3
    pause_seconds: int = 30
    pause_max_seconds: int = 600
    executor_retries: int = 10

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ConfigError(f"executor {self.executor!r} is not one of: {', '.join(EXECUTORS)}")
        for name in (
            "timeout",
            "slots",
            "heartbeat",
            "maintenance_interval",
            "pids_limit",
            "max_pids_limit",
            "job_uid",
            "pause_after",
            "pause_seconds",
            "pause_max_seconds",
            "executor_retries",
            "gpus_per_slot",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.pause_max_seconds < self.pause_seconds:
            raise ConfigError(
                f"pause_max_seconds ({self.pause_max_seconds}) must not be below "
                f"pause_seconds ({self.pause_seconds})"
            )
        for name in ("retries", "gpus"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, not {getattr(self, name)}")
        if self.run_keep_days <= 0:
            raise ConfigError(f"run_keep_days must be positive, not {self.run_keep_days}")
        if self.cpus is not None and self.cpus <= 0:
            raise ConfigError(f"cpus must be positive, not {self.cpus}")
        for name in ("labels", "require"):
            for label in getattr(self, name):
                if not LABEL.match(label) or RESERVED_LABEL.match(label):
                    raise ConfigError(
                        f"{name}: {label!r} is not a label (lower-case letters, digits, - and _, "
                        "at most 32; not gpu, gpuN or anyslot)"
                    )
        if len(set(self.labels)) > MAX_LABELS:
            raise ConfigError(f"labels: at most {MAX_LABELS} per host, not {len(self.labels)}")
        for device in self.gpu_devices:
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", device):
                raise ConfigError(f"gpu_devices: {device!r} is not a GPU index or UUID")
        if len(set(self.gpu_devices)) != len(self.gpu_devices):
            raise ConfigError(f"gpu_devices: a GPU is listed twice in {self.gpu_devices}")
        for entry in self.sentinels:
            host, _, port = entry.rpartition(":")
            if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ConfigError(f"sentinels: {entry!r} is not HOST:PORT")


_HINTS = typing.get_type_hints(Settings)
NAMES = tuple(f.name for f in fields(Settings))


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _base_type(name: str) -> type:
    """int for `int`, str for `str | None`, list for `list[str]`."""
    hint = _HINTS[name]
    if isinstance(hint, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return typing.get_origin(hint) or hint


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Turn a value from YAML or the environment into the type the setting has."""
    kind = _base_type(name)
    nullable = isinstance(_HINTS[name], types.UnionType)
    if value is None or (nullable and value == ""):
        if nullable:
            return None
        raise ConfigError(f"{origin}: {name} needs a value")
    try:
        if kind is list:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list):
                raise TypeError
            return [str(item).strip() for item in items if str(item).strip()]
        if kind is bool:
            return _boolean(value)
        if isinstance(value, bool | dict | list) or (kind is int and isinstance(value, float)):
            raise TypeError
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: {name} must be {kind.__name__}, not {value!r}") from None


def _boolean(value: Any) -> bool:
    """YAML's true/false, or the same words (and 1/0, yes/no) from the environment."""
    if isinstance(value, bool):
        return value
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    raise TypeError


def read_file(path: Path) -> dict[str, Any]:
    """The settings in a glue.yml; unknown names are refused so a typo never goes unnoticed."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    unknown = sorted(set(data) - set(NAMES))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}")
    return {k: _coerce(k, v, str(path)) for k, v in data.items()}


def read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    return {
        name: _coerce(name, environ[env_name(name)], env_name(name))
        for name in NAMES
        if env_name(name) in environ
    }


def load(
    flags: Mapping[str, Any] | None = None,
    config_path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The effective settings: defaults < glue.yml < GLUE_* variables < flags that were given."""
    environ = os.environ if environ is None else environ
    path = config_path or environ.get(CONFIG_ENV)
    layers: dict[str, Any] = {}
    if path:
        layers.update(read_file(Path(path).expanduser()))
    layers.update(read_env(environ))
    layers.update({k: v for k, v in (flags or {}).items() if k in NAMES and v is not None})
    return replace(Settings(), **layers)


def config_path(args: argparse.Namespace) -> str | None:
    """The glue.yml a command line reads, if any (--config, else $GLUE_CONFIG)."""
    return args.config or os.environ.get(CONFIG_ENV)


def from_args(args: argparse.Namespace) -> Settings:
    """Settings for a parsed command line that used add_common_options."""
    return load(vars(args), config_path=args.config)


def add_common_options(parser: argparse.ArgumentParser, with_queue: bool = True) -> None:
    """--config and --redis-url, which every job-engine command takes; --queue if it uses one."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"settings file (glue.yml); default: ${CONFIG_ENV} if set",
    )
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help="Redis holding the queue, password included: redis://:PASSWORD@HOST:PORT/DB "
        f"(default: ${env_name('redis_url')}, else {Settings.redis_url})",
    )
    if with_queue:
        parser.add_argument(
            "--queue", metavar="NAME", help=f"RQ queue name (default: {Settings.queue})"
        )
