#!/usr/bin/env bash
# Install everything simfleet needs on a Debian/Ubuntu machine, doing only what is missing:
# Debian packages, the pinned Python venv, a running Docker engine and the lab images.
# Safe to run again: with nothing to do it only checks and exits.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SIMFLEET_VENV:-$ROOT/.venv}"
PYTHON="${SIMFLEET_PYTHON:-python3}"
DOCKERD_LOG="${SIMFLEET_DOCKERD_LOG:-/var/log/simfleet-dockerd.log}"

# Debian package names; each is installed only when dpkg does not have it.
APT_PACKAGES=(
  ca-certificates curl git make rsync openssh-client iptables
  docker.io vagrant debootstrap redis-server
  python3 python3-venv python3-dev gcc
  rclone
  skopeo parallel
  chromium
)

say() { printf 'simfleet setup: %s\n' "$*"; }
die() { printf 'simfleet setup: error: %s\n' "$*" >&2; exit 1; }

check_system() {
  [[ "$(uname -s)" == Linux ]] || die "unsupported system $(uname -s): simfleet needs Debian 12+ or Ubuntu 22.04+"
  local release="${SIMFLEET_OS_RELEASE:-/etc/os-release}"
  [[ -r "$release" ]] || die "unsupported system: no $release; simfleet needs Debian 12+ or Ubuntu 22.04+"
  # shellcheck disable=SC1091
  local id like version
  id="$(. "$release" && echo "${ID:-}")"
  like="$(. "$release" && echo "${ID_LIKE:-}")"
  version="$(. "$release" && echo "${VERSION_ID:-}")"
  case " $id $like " in
    *" debian "* | *" ubuntu "*) ;;
    *) die "unsupported system '$id': simfleet needs Debian 12+ or Ubuntu 22.04+ (apt and dpkg)" ;;
  esac
  # Older releases lack the docker.io, vagrant and Python versions the project pins against.
  if [[ -n "$version" && "$id" == debian && "${version%%.*}" -lt 12 ]] ||
     [[ -n "$version" && "$id" == ubuntu && "${version//./}" -lt 2204 ]]; then
    die "unsupported system '$id $version': simfleet needs Debian 12+ or Ubuntu 22.04+"
  fi
  command -v apt-get >/dev/null && command -v dpkg-query >/dev/null ||
    die "unsupported system '$id': apt-get and dpkg-query are missing"
}

# Commands that need root go through as_root: direct when root, sudo otherwise.
as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "'$*' needs root: run 'sudo make setup' or run as root"
  fi
}

install_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The venv is rebuilt only when pyproject.toml, the lock file or the interpreter change.
install_venv() {
  local stamp="$VENV/.simfleet-inputs" want
  want="$( (cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock"; "$PYTHON" -VV) | sha256sum | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$VENV/bin/glue" ]]; then
    return 0
  fi
  say "creating the Python environment in $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$ROOT/requirements.lock" -e "$ROOT[dev,report]"
  echo "$want" >"$stamp"
}

# Asked as root, so that a user outside the docker group does not start a second daemon.
docker_answers() { as_root timeout 10 docker info >/dev/null 2>&1; }

start_docker() {
  docker_answers && return 0
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    say "starting docker.service"
    as_root systemctl start docker
  else
    # No systemd here (a container or sandbox): run the daemon in the background.
    say "starting dockerd in the background (log: $DOCKERD_LOG)"
    as_root sh -c "nohup dockerd >>'$DOCKERD_LOG' 2>&1 &"
  fi
  local i
  for i in $(seq 1 60); do
    docker_answers && return 0
    sleep 1
  done
  die "the Docker engine did not answer within 60 s; see $DOCKERD_LOG"
}

# debootstrap and the Docker socket need root.
build_images() {
  as_root "$VENV/bin/glue" lab images build node ceph executor
}

# Under sudo, give the files made in the checkout back to the user who owns it.
return_ownership() {
  [[ $EUID -eq 0 && -n "${SUDO_UID:-}" ]] || return 0
  chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$VENV" "$ROOT/.cache" "$ROOT"/*.egg-info 2>/dev/null || true
}

main() {
  check_system
  install_packages
  install_venv
  start_docker
  build_images
  return_ownership
  say "ready"
}

main "$@"
