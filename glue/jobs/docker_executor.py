"""Run a scenario in a container through the Docker SDK, and never leave the container behind.

The container runs detached with the io-dir mounted at /io and the default profile of the job
sandbox: the worker's own uid (never 0: a root worker uses `job_uid`), every capability
dropped, no-new-privileges, Docker's default seccomp profile, a pids limit, a read-only root
with tmpfs /tmp and HOME, an init process, private IPC, swap equal to the memory limit, and
the jobs network (or none). Nothing else of the host is mounted but the run's secrets,
read-only. Its output is fetched with timestamps into the worker's own log file, and start,
end, exit code and OOM-kill come from `docker inspect`. The
container is removed on every path out: normal end, timeout, an exception, and a stop of the
job (executor.Interrupted). Containers carry labels naming their host and the slot process that
owns them, so reap_orphans() can remove the few a SIGKILL of that slot still leaves.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.types import DeviceRequest

from glue.jobs import sandbox, slot
from glue.jobs.executor import (
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    ExecResult,
    ExecSpec,
    ExecutorError,
    IoDir,
    interruptible,
    iso_utc,
)

IO_MOUNT = "/io"
HOME = "/home/simfleet"
TMPFS = "rw,nosuid,nodev,mode=1777"
LABEL = "org.simfleet.glue"
HOST_LABEL = f"{LABEL}.host"
OWNER_LABEL = f"{LABEL}.owner"
SIGKILL_EXIT = 137
NVIDIA_VISIBLE = "NVIDIA_VISIBLE_DEVICES"
CONFLICT = 409
_DOCKER_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$")


_client: docker.DockerClient | None = None


def client() -> docker.DockerClient:
    """This process's Docker client: a slot makes it once and keeps it from job to job."""
    global _client
    if _client is None:
        _client = docker.from_env()
    return _client


def _forget_client() -> None:
    # A forked slot must not use its parent's client: its kept-alive connection to the engine
    # would be one socket read by two processes, each waiting for an answer the other took.
    global _client
    _client = None


os.register_at_fork(after_in_child=_forget_client)


def process_start(pid: int) -> str | None:
    """The kernel's start time of a process, which tells a live owner from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def owner_label() -> str:
    pid = os.getpid()
    return f"{pid}:{process_start(pid)}"


def owner_alive(label: str) -> bool:
    pid, _, start = label.partition(":")
    return pid.isdigit() and process_start(int(pid)) == start


def docker_time(text: str | None) -> str | None:
    """Docker's nanosecond RFC 3339 time in iso_utc's format; None for "never"."""
    match = _DOCKER_TIME.match(text or "")
    if not match or text.startswith("0001-"):
        return None
    return f"{match[1]}.{(match[2] or '').ljust(6, '0')[:6]}Z"


def _pull(client: docker.DockerClient, image: str) -> None:
    # The client read the registry logins when it was made; a slot keeps its client for
    # days, and a login given or taken away since must count.
    client.api.reload_config()
    try:
        client.images.pull(image)
    except docker.errors.APIError as exc:
        raise ExecutorError(
            f"image {image} is not on this host and could not be pulled: {exc.explanation}"
        ) from None


def device_requests(spec: ExecSpec) -> list[DeviceRequest]:
    """The GPUs of the job's slot, by id: a `count` would give every slot the same first GPUs."""
    if not spec.gpus:
        return []
    here = slot.current()
    ids = spec.gpu_ids(here.gpus, f"{here.host}/{here.number}")
    return [DeviceRequest(device_ids=ids, capabilities=[["gpu"]])]


def _check_gpu_runtime(client: docker.DockerClient, gpus: int) -> None:
    if gpus and "nvidia" not in (client.info().get("Runtimes") or {}):
        raise ExecutorError(
            f"the job asks for {gpus} GPU(s) but this host's Docker engine has no NVIDIA runtime"
        )


def _network(client: docker.DockerClient, spec: ExecSpec) -> dict[str, str]:
    """The create() options for the run's network; the jobs network is made when missing
    (the docker role makes it on a fleet host; this keeps a bare engine working)."""
    wanted = spec.profile.network
    if wanted == sandbox.NO_NETWORK:
        return {"network_mode": "none"}
    if wanted != sandbox.JOBS_NETWORK:
        return {"network": wanted}
    name = slot.current().settings.job_network
    try:
        client.networks.get(name)
    except docker.errors.NotFound:
        try:
            client.networks.create(
                name, driver="bridge", options=sandbox.JOBS_BRIDGE_OPTIONS, check_duplicate=True
            )
        except docker.errors.APIError as exc:
            # Another slot made it meanwhile. The engine says so as a clash of names (409) or,
            # when both creates passed its name check, of bridge names (403, Docker 20.10).
            try:
                client.networks.get(name)
            except docker.errors.NotFound:
                raise exc from None
    return {"network": name}


def job_user() -> tuple[int, int]:
    """The uid:gid containers run as: the worker's own, or job_uid for a worker run as root."""
    if os.getuid() == 0:
        uid = slot.current().settings.job_uid
        return uid, uid
    return os.getuid(), os.getgid()


def _remove(client: docker.DockerClient, name: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(name).remove(force=True)


def _create(client: docker.DockerClient, spec: ExecSpec, io: IoDir) -> Container:
    """Create the job's container. A missing image is pulled, and a container left by an
    earlier attempt at this job (it holds the name) removed, only when create asks for it:
    the usual case costs one API call."""
    uid, gid = job_user()
    io.hand_to(uid, gid)
    secrets = sandbox.install_secrets(
        spec.profile, slot.current().settings.secrets_dir, io.private, uid, gid
    )
    volumes = {str(io.root): {"bind": IO_MOUNT, "mode": "rw"}}
    for name, copy in secrets.items():
        volumes[str(copy)] = {"bind": f"{sandbox.SECRETS_MOUNT}/{name}", "mode": "ro"}
    environment = {**spec.environment(IO_MOUNT), "HOME": HOME}
    # The GPUs are the device request's alone (Docker sets this variable for them): none for a
    # CPU job even where the nvidia runtime is the default and the image asks for all, and
    # never more through a run's --env.
    environment.pop(NVIDIA_VISIBLE, None)
    if not spec.gpus:
        environment[NVIDIA_VISIBLE] = "void"
    if secrets:
        environment[sandbox.SECRETS_ENV] = sandbox.SECRETS_MOUNT
    options = dict(
        command=spec.argv(IO_MOUNT),
        name=spec.name,
        labels={
            **{f"{LABEL}.{key}": value for key, value in spec.tags.items()},
            LABEL: "1",
            HOST_LABEL: spec.host,
            OWNER_LABEL: owner_label(),
        },
        environment=environment,
        volumes=volumes,
        working_dir=IO_MOUNT,
        user=f"{uid}:{gid}",
        nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
        mem_limit=spec.memory,
        memswap_limit=spec.memory,
        device_requests=device_requests(spec),
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        pids_limit=spec.profile.pids_limit,
        read_only=spec.profile.read_only_root,
        tmpfs={"/tmp": TMPFS, HOME: TMPFS},
        init=True,
        ipc_mode="private",
        shm_size=spec.profile.shm_size,
        **_network(client, spec),
    )
    for _ in range(3):
        try:
            return client.containers.create(spec.image, **options)
        except docker.errors.ImageNotFound:
            _pull(client, spec.image)
        except docker.errors.APIError as exc:
            if exc.status_code != CONFLICT:
                raise
            _remove(client, spec.name)
    raise ExecutorError(f"cannot create container {spec.name}: its name stays taken")


def run(spec: ExecSpec, io: IoDir) -> ExecResult:
    docker_client = client()
    _check_gpu_runtime(docker_client, spec.gpus)
    container = None
    try:
        with interruptible():
            container = _create(docker_client, spec, io)
            started = iso_utc()
            container.start()
            timed_out = False
            waited_from = time.monotonic()
            try:
                container.wait(timeout=spec.timeout)
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                if time.monotonic() - waited_from < spec.timeout:
                    raise
                container.kill()
                container.wait(timeout=60)
                timed_out = True
        with io.open_log() as log:
            for chunk in container.logs(stdout=True, stderr=True, timestamps=True, stream=True):
                log.write(chunk)
        container.reload()
        state = container.attrs["State"]
    finally:
        # Also when a stop interrupted create: the engine may have made it all the same.
        if container is not None:
            container.remove(force=True)
        else:
            _remove(docker_client, spec.name)
    exit_code = state.get("ExitCode")
    oom = bool(state.get("OOMKilled"))
    start = docker_time(state.get("StartedAt")) or started
    end = docker_time(state.get("FinishedAt")) or iso_utc()
    if timed_out:
        return ExecResult(TIMED_OUT, exit_code, start, end, oom, f"timed out after {spec.timeout}s")
    if exit_code == 0 and not oom:
        return ExecResult(SUCCEEDED, 0, start, end)
    return ExecResult(FAILED, exit_code, start, end, oom, _failure(exit_code, oom, spec.memory))


def _failure(exit_code: int | None, oom: bool, memory: str | None) -> str:
    if oom:
        return f"killed: out of memory (limit {memory})"
    # Some engines (cgroup v1 on recent kernels) never see the OOM event and report
    # OOMKilled false; a SIGKILL nobody else sent, under a memory limit, is the sign left.
    if exit_code == SIGKILL_EXIT and memory:
        return f"killed by SIGKILL under a {memory} memory limit: probably out of memory"
    return f"exit code {exit_code}"


def reap_orphans(host: str) -> int:
    """Remove this host's job containers whose owning process is gone; returns how many."""
    removed = 0
    for container in client().containers.list(
        all=True, filters={"label": [f"{LABEL}=1", f"{HOST_LABEL}={host}"]}
    ):
        if not owner_alive(container.labels.get(OWNER_LABEL, "")):
            try:
                container.remove(force=True)
                removed += 1
            except docker.errors.NotFound:
                pass
    return removed
