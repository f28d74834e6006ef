"""The registry, Redis and docker roles end to end: what node2 sees of the services on node1
after `vagrant up` provisioned the lab with site.yml, from the host and from a job container on
node2's jobs network. Secrets are the lab's generated ones, read from where
inventory/lab/group_vars/all.yml keeps them."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from glue.lab import rgw as gateway

SERVICE_HOST = "node1"  # the lab puts the first node in the registry and queue groups
CLIENT = "node2"
REGISTRY = f"{SERVICE_HOST}:6001"
REGISTRY_USER = "simfleet"
REGISTRY_PULL_USER = "simfleet-pull"
JOB_IMAGE = "e2e/job-probe:1"
PROBE_IMAGE = f"{REGISTRY}/e2e/probe:1"


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return f"{self.stdout}\n{self.stderr}"


def on_node(lab, node: str, script: str, stdin: str | None = None) -> Result:
    """Run a shell script as root on a lab node through Ansible (the way the lab is reached),
    with the JSON callback so rc, stdout and stderr come back as they are."""
    args: dict[str, str] = {"cmd": script, "executable": "/bin/bash"}
    if stdin is not None:
        args["stdin"] = stdin
    env = {
        **lab.env,
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
    }
    run = subprocess.run(
        ["ansible", node, "-b", "-m", "ansible.builtin.shell", "-a", json.dumps(args)],
        cwd=lab.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        host = json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"][node]
    except (ValueError, KeyError, IndexError):
        pytest.fail(f"ansible gave no result for {node}:\n{run.stdout[-2000:]}\n{run.stderr}")
    return Result(
        host.get("rc", -1), host.get("stdout", ""), host.get("stderr", host.get("msg", ""))
    )


def lab_secret(lab, name: str) -> str:
    path = Path(lab.root) / ".cache" / "lab-secrets" / name
    assert path.is_file(), f"{path} is missing: site.yml should have generated it"
    return path.read_text().strip()


@pytest.fixture(scope="module")
def probe_image(lab) -> str:
    """A tiny image built on node2 from scratch: nothing can be pulled from outside."""
    built = on_node(
        lab,
        CLIENT,
        "set -euo pipefail; d=$(mktemp -d); echo 'simfleet e2e' > $d/probe.txt;"
        " printf 'FROM scratch\\nCOPY probe.txt /\\n' > $d/Dockerfile;"
        f" docker build -q -t {PROBE_IMAGE} $d; rm -rf $d",
    )
    assert built.rc == 0, built.output
    return PROBE_IMAGE


def test_registry_push_and_pull_over_tls_with_the_password(lab, probe_image: str) -> None:
    password = lab_secret(lab, "registry-password")
    login = on_node(
        lab, CLIENT, f"docker login {REGISTRY} -u {REGISTRY_USER} --password-stdin", password
    )
    try:
        assert login.rc == 0, login.output
        push = on_node(lab, CLIENT, f"docker push {probe_image}")
        assert push.rc == 0, push.output
        pull = on_node(
            lab,
            CLIENT,
            f"set -e; docker image rm {probe_image}; docker pull {probe_image};"
            f" docker image inspect {probe_image} > /dev/null",
        )
        assert pull.rc == 0, pull.output
    finally:
        on_node(lab, CLIENT, f"docker logout {REGISTRY}")
    # The same image, asked for over TLS with the CA the docker role installed and the password.
    tags = on_node(
        lab,
        CLIENT,
        f"curl -sS --fail -K - --cacert /etc/docker/certs.d/{REGISTRY}/ca.crt"
        f" https://{REGISTRY}/v2/e2e/probe/tags/list",
        f'user = "{REGISTRY_USER}:{password}"\n',
    )
    assert tags.rc == 0, tags.output
    assert json.loads(tags.stdout) == {"name": "e2e/probe", "tags": ["1"]}


def test_registry_refuses_anonymous_push_and_pull(lab, probe_image: str) -> None:
    on_node(lab, CLIENT, f"docker logout {REGISTRY}")
    push = on_node(lab, CLIENT, f"docker push {probe_image}")
    assert push.rc != 0
    assert "no basic auth credentials" in push.output, push.output
    pull = on_node(lab, CLIENT, f"docker pull {REGISTRY}/e2e/probe:1")
    assert pull.rc != 0
    assert "no basic auth credentials" in pull.output, pull.output


def test_registry_refuses_plain_http(lab) -> None:
    plain = on_node(lab, CLIENT, f"curl -sS -i http://{REGISTRY}/v2/")
    assert "400 Bad Request" in plain.stdout, plain.output
    assert "plain HTTP request was sent to HTTPS port" in plain.stdout, plain.output


@pytest.fixture(scope="module")
def redis_cli(lab) -> None:
    """redis-cli on node2: the queue's clients need only Python, so no role installs it."""
    installed = on_node(lab, CLIENT, "command -v redis-cli || apt-get install -y -q redis-tools")
    assert installed.rc == 0, installed.output


@pytest.mark.usefixtures("redis_cli")
def test_redis_on_node1_answers_only_with_the_password(lab) -> None:
    anonymous = on_node(lab, CLIENT, f"redis-cli -h {SERVICE_HOST} ping")
    assert "NOAUTH" in anonymous.output, anonymous.output
    password = lab_secret(lab, "redis-password")
    authed = on_node(
        lab, CLIENT, f"REDISCLI_AUTH=$(cat) redis-cli -h {SERVICE_HOST} ping", password
    )
    assert authed.rc == 0, authed.output
    assert authed.stdout.strip() == "PONG"


def test_registry_pull_account_pulls_but_cannot_push(lab, probe_image: str) -> None:
    """The workers' login: docker pull works, docker push is refused with 403."""
    pushed = on_node(
        lab,
        CLIENT,
        f"set -e; docker login {REGISTRY} -u {REGISTRY_USER} --password-stdin;"
        f" docker push {probe_image}; docker logout {REGISTRY}",
        lab_secret(lab, "registry-password"),
    )
    assert pushed.rc == 0, pushed.output
    login = on_node(
        lab,
        CLIENT,
        f"docker login {REGISTRY} -u {REGISTRY_PULL_USER} --password-stdin",
        lab_secret(lab, "registry-pull-password"),
    )
    try:
        assert login.rc == 0, login.output
        pull = on_node(
            lab, CLIENT, f"set -e; docker image rm {probe_image}; docker pull {probe_image}"
        )
        assert pull.rc == 0, pull.output
        other = f"{REGISTRY}/e2e/pushed-by-puller:1"
        push = on_node(lab, CLIENT, f"docker tag {probe_image} {other}; docker push {other}")
        assert push.rc != 0, push.output
        assert f"denied: {REGISTRY_PULL_USER} may only pull" in push.output, push.output
    finally:
        on_node(lab, CLIENT, f"docker logout {REGISTRY}")


def node_address(lab, node: str) -> str:
    """A node's fleet address, as the common role's /etc/hosts block gives it on node2."""
    found = on_node(lab, CLIENT, f"getent ahostsv4 {node} | awk 'NR==1 {{print $1}}'")
    assert found.rc == 0 and found.stdout.strip(), found.output
    return found.stdout.strip()


@pytest.fixture(scope="module")
def job_image(lab) -> str:
    """A job-like image on node2: busybox alone (nc), from Debian's package on the node."""
    built = on_node(
        lab,
        CLIENT,
        "set -euo pipefail; command -v busybox >/dev/null || apt-get install -y -q busybox-static;"
        " d=$(mktemp -d); mkdir $d/bin; cp $(command -v busybox) $d/bin/busybox;"
        f" tar -C $d -c . | docker import --change 'ENTRYPOINT [\"/bin/busybox\"]' - {JOB_IMAGE};"
        " rm -rf $d",
    )
    assert built.rc == 0, built.output
    return JOB_IMAGE


def connect(lab, where: str, address: str, port: int) -> Result:
    """nc from node2 itself (where="host") or from a container on its jobs network."""
    if where == "host":
        return on_node(lab, CLIENT, f"busybox nc -w 5 {address} {port} </dev/null")
    return on_node(
        lab, CLIENT, f"docker run --rm --network simfleet-jobs {JOB_IMAGE} nc -w 5 {address} {port}"
    )


@pytest.mark.usefixtures("job_image")
def test_jobs_network_closes_the_fleets_services(lab, rgw) -> None:
    """From a job container on node2: node1's Redis, registry and ssh, and node2's own ssh, are
    refused, while node2 itself reaches node1's and the lab's S3 endpoint (the RGW container)
    stays reachable from the container."""
    node1, node2 = node_address(lab, SERVICE_HOST), node_address(lab, CLIENT)
    for port in (6379, 6001, 22):
        assert connect(lab, "host", node1, port).rc == 0, f"node2 cannot reach {node1}:{port}"
        refused = connect(lab, "job", node1, port)
        assert refused.rc != 0, f"a job reached {SERVICE_HOST}:{port}"
        assert "Connection refused" in refused.output, refused.output
    own = connect(lab, "job", node2, 22)
    assert own.rc != 0 and "Connection refused" in own.output, own.output
    s3 = gateway.container_endpoint(rgw.name).removeprefix("http://")
    s3_host, s3_port = s3.rsplit(":", 1)
    reached = connect(lab, "job", s3_host, int(s3_port))
    assert reached.rc == 0, reached.output
