#!/bin/bash
# Bootstrap (or restart) a one-node Ceph cluster with radosgw and keep it in the foreground.
#
# It follows Ceph's manual deployment: keyrings, monmap, one mon, one OSD, radosgw with the
# beast frontend, then an S3 user. With RGW_STORE=bluestore the OSD keeps its data in a plain
# file under /var/lib/ceph, so a container restarted on the same volume keeps every object;
# with memstore (the default, for tests) everything lives in RAM and each start is fresh.
# Settings come from the environment:
#   RGW_ACCESS_KEY, RGW_SECRET_KEY  the S3 user's keys (required)
#   RGW_USER                        its uid (simfleet)
#   RGW_HTTP_PORT, RGW_HTTPS_PORT   ports inside the container (7480, 7443; 0 turns one off)
#   RGW_STORE                       memstore | bluestore
#   RGW_MEMSTORE_BYTES              RAM for memstore (1 GiB)
#   RGW_BLUESTORE_BYTES             size of the sparse block file for bluestore (20 GiB)
#   RGW_TLS_NAMES                   names and IPs the generated certificate is valid for
# A certificate mounted as /etc/simfleet-rgw/tls/{cert,key}.pem is used instead of a generated
# one; the generated CA is /var/lib/ceph/simfleet/tls/ca.pem.
set -euo pipefail

: "${RGW_ACCESS_KEY:?set RGW_ACCESS_KEY}" "${RGW_SECRET_KEY:?set RGW_SECRET_KEY}"
RGW_USER="${RGW_USER:-simfleet}"
RGW_HTTP_PORT="${RGW_HTTP_PORT:-7480}"
RGW_HTTPS_PORT="${RGW_HTTPS_PORT:-7443}"
RGW_STORE="${RGW_STORE:-memstore}"
RGW_MEMSTORE_BYTES="${RGW_MEMSTORE_BYTES:-1073741824}"
RGW_BLUESTORE_BYTES="${RGW_BLUESTORE_BYTES:-21474836480}"
RGW_TLS_NAMES="${RGW_TLS_NAMES:-localhost,127.0.0.1,::1}"
MOUNTED_TLS=/etc/simfleet-rgw/tls

DATA=/var/lib/ceph
STATE="$DATA/simfleet"        # keyrings, fsid and the TLS files, kept with the cluster
DONE="$STATE/bootstrapped"    # written last: its absence means "start from scratch"
MON=a
RGW=client.rgw.$MON
PIDS=()

say() { printf 'simfleet-rgw: %s\n' "$*"; }
die() { say "error: $*" >&2; exit 1; }

case "$RGW_STORE" in
  memstore | bluestore) ;;
  *) die "RGW_STORE must be memstore or bluestore, not '$RGW_STORE'" ;;
esac

frontends() {
  local spec="beast tcp_nodelay=1"
  [[ "$RGW_HTTP_PORT" != 0 ]] && spec+=" endpoint=0.0.0.0:$RGW_HTTP_PORT"
  [[ "$RGW_HTTPS_PORT" != 0 ]] && spec+=" ssl_endpoint=0.0.0.0:$RGW_HTTPS_PORT ssl_certificate=$STATE/tls/rgw.pem ssl_private_key=$STATE/tls/rgw.pem"
  echo "$spec"
}

# ceph.conf is written once at every start, before any daemon runs (a daemon reading it while
# it is rewritten would find no monitor), so changed ports or TLS apply to an existing cluster.
write_conf() {
  local store
  if [[ "$RGW_STORE" == memstore ]]; then
    store="osd objectstore = memstore
memstore device bytes = $RGW_MEMSTORE_BYTES"
  else
    store="osd objectstore = bluestore
bluestore block create = true
bluestore block size = $RGW_BLUESTORE_BYTES
bluestore cache autotune = false
bluestore cache size = 134217728
osd memory target = 939524096"
  fi
  mkdir -p /etc/ceph
  cat >/etc/ceph/ceph.conf.new <<CONF
[global]
fsid = $(cat "$STATE/fsid")
mon initial members = $MON
mon host = v2:127.0.0.1:3300,v1:127.0.0.1:6789
public network = 127.0.0.0/8
auth allow insecure global id reclaim = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
log to stderr = false
err to stderr = true
pid file = /var/run/ceph/\$cluster-\$name.pid

[client.admin]
keyring = $STATE/admin.keyring

[mon]
paxos propose interval = 0.05
paxos min wait = 0.01

[osd]
$store
# A fixed location: the container's hostname changes between runs, the CRUSH map must not.
crush location = root=default host=simfleet-rgw

[$RGW]
keyring = $DATA/radosgw/ceph-rgw.$MON/keyring
rgw frontends = $(frontends)
debug rgw = 0/0
CONF
  mv /etc/ceph/ceph.conf.new /etc/ceph/ceph.conf
}

# A CA and a server certificate for the names clients use, unless one is mounted.
ensure_tls() {
  local tls="$STATE/tls"
  mkdir -p "$tls"
  if [[ -f "$MOUNTED_TLS/cert.pem" && -f "$MOUNTED_TLS/key.pem" ]]; then
    cat "$MOUNTED_TLS/cert.pem" "$MOUNTED_TLS/key.pem" >"$tls/rgw.pem"
    return
  fi
  if [[ ! -f "$tls/ca.pem" ]]; then
    say "generating a CA"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=simfleet-rgw CA" \
      -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  fi
  if [[ -f "$tls/rgw.pem" && "$(cat "$tls/names" 2>/dev/null)" == "$RGW_TLS_NAMES" ]]; then
    return
  fi
  say "issuing a certificate for $RGW_TLS_NAMES"
  local san="" name
  IFS=, read -ra names <<<"$RGW_TLS_NAMES"
  for name in "${names[@]}"; do
    if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then san+="IP:$name,"; else san+="DNS:$name,"; fi
  done
  openssl req -newkey rsa:2048 -nodes -subj "/CN=${names[0]}" \
    -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -days 3650 -out "$tls/server.crt" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "${san%,}") 2>/dev/null
  cat "$tls/server.crt" "$tls/server.key" >"$tls/rgw.pem"
  echo "$RGW_TLS_NAMES" >"$tls/names"
  rm -f "$tls/server.csr"
}

start() {  # run a daemon in the foreground, in the background of this script
  "$@" -f &
  PIDS+=($!)
}

stop_all() {  # stop_all [EXIT_STATUS]
  say "stopping"
  local i
  # radosgw first, the mon last, so the OSD can tell the mon it is going down.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  exit "${1:-0}"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  # The daemons' own logs say why; show their ends before giving up.
  tail -n 15 /var/log/ceph/*.log >&2 2>/dev/null || true
  die "$what did not come up within ${limit}s"
}

# A new cluster starts from an empty /var/lib/ceph; an existing one keeps everything.
prepare() {
  if [[ "$RGW_STORE" == bluestore && -f "$DONE" ]]; then
    say "starting the existing cluster ($RGW_STORE)"
  else
    say "bootstrapping a new cluster ($RGW_STORE)"
    rm -rf "${DATA:?}"/*
    mkdir -p "$STATE"
    cat /proc/sys/kernel/random/uuid >"$STATE/fsid"
  fi
  mkdir -p /var/run/ceph /var/log/ceph
  if [[ "$RGW_HTTPS_PORT" != 0 ]]; then ensure_tls; fi
  write_conf
}

bootstrap() {
  mkdir -p "$DATA/mon/ceph-$MON"
  ceph-authtool --create-keyring "$STATE/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$STATE/admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$STATE/mon.keyring" --import-keyring "$STATE/admin.keyring" >/dev/null
  monmaptool --create --fsid "$(cat "$STATE/fsid")" \
    --addv "$MON" '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$STATE/monmap" >/dev/null
  ceph-mon --mkfs -i "$MON" --monmap "$STATE/monmap" --keyring "$STATE/mon.keyring"
  start ceph-mon -i "$MON"
  wait_for 30 "the monitor" ceph --connect-timeout 2 mon stat

  local uuid secret id
  uuid=$(cat /proc/sys/kernel/random/uuid)
  secret=$(ceph-authtool --gen-print-key)
  id=$(printf '{"cephx_secret": "%s"}' "$secret" | ceph osd new "$uuid" -i -)
  mkdir -p "$DATA/osd/ceph-$id"
  ceph-authtool --create-keyring "$DATA/osd/ceph-$id/keyring" --name "osd.$id" \
    --add-key "$secret" >/dev/null
  ceph-osd -i "$id" --mkfs --osd-uuid "$uuid" 2>&1 | grep -v 'created object store' || true
  start ceph-osd -i "$id"

  mkdir -p "$DATA/radosgw/ceph-rgw.$MON"
  ceph auth get-or-create "$RGW" mon 'allow rw' osd 'allow rwx' \
    -o "$DATA/radosgw/ceph-rgw.$MON/keyring"
}

restart() {
  start ceph-mon -i "$MON"
  wait_for 60 "the monitor" ceph --connect-timeout 2 mon stat
  local dir
  for dir in "$DATA"/osd/ceph-*; do
    start ceph-osd -i "${dir##*-}"
  done
}

ensure_user() {
  if radosgw-admin user info --uid="$RGW_USER" >/dev/null 2>&1; then
    radosgw-admin key create --uid="$RGW_USER" --key-type=s3 \
      --access-key="$RGW_ACCESS_KEY" --secret-key="$RGW_SECRET_KEY" >/dev/null
  else
    radosgw-admin user create --uid="$RGW_USER" --display-name="$RGW_USER" \
      --access-key="$RGW_ACCESS_KEY" --secret-key="$RGW_SECRET_KEY" >/dev/null
  fi
}

trap stop_all TERM INT

prepare
if [[ "$RGW_STORE" == bluestore && -f "$DONE" ]]; then
  restart
else
  bootstrap
fi
start radosgw -n "$RGW"
probe_port=$RGW_HTTP_PORT probe_scheme=http
[[ "$RGW_HTTP_PORT" == 0 ]] && probe_port=$RGW_HTTPS_PORT probe_scheme=https
wait_for 120 "radosgw" curl -fsk -o /dev/null "$probe_scheme://127.0.0.1:$probe_port/"
ensure_user
touch "$DONE"
say "ready: http port $RGW_HTTP_PORT, https port $RGW_HTTPS_PORT, user $RGW_USER"

# Stay in the foreground; if any daemon dies, stop the rest so the container exits visibly.
set +e
wait -n "${PIDS[@]}"
say "a daemon exited (status $?); see /var/log/ceph" >&2
stop_all 1
