"""Hostile: talk to the Docker engine (`docker ps`), which is root on the host. Refused: the
socket is not mounted (container) and the slot account is not in the docker group (process)."""

import json
import os
import socket

detail, blocked = "", True
for path in ("/var/run/docker.sock", "/run/docker.sock"):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(path)
            s.sendall(b"GET /containers/json HTTP/1.0\r\n\r\n")
            detail, blocked = s.recv(200).decode(errors="replace"), False
            break
    except OSError as exc:
        detail += f"{path}: {exc.strerror}; "
with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as out:
    json.dump({"attack": "docker ps", "blocked": blocked, "detail": detail}, out)
