#!/bin/sh
# Make a CA, a server certificate for localhost/127.0.0.1 and the htpasswd login
# (REGISTRY_USER / REGISTRY_PASSWORD), then serve with deletes enabled.
set -eu
tls=/etc/docker/registry/tls
mkdir -p "$tls" /var/lib/docker-registry
cd "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=test registry CA" \
  -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr \
  2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
  -extfile san.ext -out server.crt 2>/dev/null
htpasswd -Bbc /etc/docker/registry/htpasswd "$REGISTRY_USER" "$REGISTRY_PASSWORD"
cat > /etc/docker/registry/config.yml <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
http:
  addr: ":5000"
  tls:
    certificate: $tls/server.crt
    key: $tls/server.key
auth:
  htpasswd:
    realm: test-registry
    path: /etc/docker/registry/htpasswd
CONF
touch "$tls/ready"
exec docker-registry serve /etc/docker/registry/config.yml
