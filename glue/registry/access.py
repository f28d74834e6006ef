"""How this machine reaches the registry: its address, the CA that signed its certificate,
the login, and the name workers pull it by.

The lab's run.yml leaves these in .cache/run/registry.yml (with the login in a Docker-style
auth file beside it), so `glue image push` and `glue registry` need no flags there. Flags and
GLUE_REGISTRY_* variables override that file; nothing in Docker's own settings is read or
changed.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from glue.errors import GlueError

LAB_SETTINGS = Path(".cache/run/registry.yml")
SETTINGS_ENV = "GLUE_REGISTRY_CONFIG"
PASSWORD_ENV = "GLUE_REGISTRY_PASSWORD"
_ADDRESS = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")


class RegistryError(GlueError):
    """The registry cannot be reached, refuses the login, or lacks what was asked for."""


@dataclass(frozen=True)
class Access:
    address: str
    ca: Path | None = None
    username: str | None = None
    password: str | None = None
    # The name workers pull by (node1:6001 in the lab) when it differs from `address`.
    pull_address: str | None = None

    @property
    def pull_name(self) -> str:
        return self.pull_address or self.address


def _login_from_authfile(path: Path, address: str) -> tuple[str, str] | None:
    """The user and password a Docker-style auth file (run.yml's, skopeo's) holds for address."""
    try:
        auths = json.loads(path.read_text()).get("auths", {})
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot read the registry auth file {path}: {exc}") from None
    entry = auths.get(address)
    if not entry or "auth" not in entry:
        return None
    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    return user, password


def _settings_file(explicit: str | None) -> tuple[dict, Path | None]:
    path = Path(explicit or os.environ.get(SETTINGS_ENV) or LAB_SETTINGS)
    if not path.is_file():
        if explicit or os.environ.get(SETTINGS_ENV):
            raise RegistryError(f"registry settings file {path} does not exist")
        return {}, None
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"registry settings file {path} is not YAML: {exc}") from None
    unknown = set(data) - {"address", "pull_address", "ca", "authfile", "username"}
    if unknown:
        raise RegistryError(f"registry settings file {path}: unknown names {sorted(unknown)}")
    return data, path.resolve().parent


def resolve(
    address: str | None = None,
    ca: str | None = None,
    username: str | None = None,
    authfile: str | None = None,
    settings: str | None = None,
) -> Access:
    """Flags first, then GLUE_REGISTRY* variables, then the settings file."""
    data, base = _settings_file(settings)

    def pick(flag: str | None, env: str, key: str) -> str | None:
        value = flag or os.environ.get(env) or data.get(key)
        if value and key in ("ca", "authfile") and base and not flag and not os.environ.get(env):
            value = str(base / value)
        return value

    address = pick(address, "GLUE_REGISTRY", "address")
    if not address:
        raise RegistryError(
            "no registry given: pass --registry HOST:PORT, set GLUE_REGISTRY, or run run.yml "
            f"once (it writes {LAB_SETTINGS})"
        )
    if not _ADDRESS.match(address):
        raise RegistryError(f"registry address {address!r} is not HOST or HOST:PORT")
    ca_path = pick(ca, "GLUE_REGISTRY_CA", "ca")
    if ca_path and not Path(ca_path).is_file():
        raise RegistryError(f"the registry CA file {ca_path} does not exist")
    user = pick(username, "GLUE_REGISTRY_USERNAME", "username")
    password = os.environ.get(PASSWORD_ENV)
    auth = pick(authfile, "GLUE_REGISTRY_AUTHFILE", "authfile")
    if auth and password is None:
        login = _login_from_authfile(Path(auth), address)
        if login:
            user, password = (user or login[0]), login[1]
    return Access(
        address=address,
        ca=Path(ca_path) if ca_path else None,
        username=user,
        password=password,
        # The file's pull name belongs to the file's registry, not to one a flag names.
        pull_address=data.get("pull_address") if address == data.get("address") else None,
    )
