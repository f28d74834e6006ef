"""Hostile: open a raw socket (needs CAP_NET_RAW; ping's ICMP echo sockets prove nothing).
Refused: no capabilities."""

import json
import os
import socket

try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    blocked, detail = False, "opened"
except OSError as exc:
    blocked, detail = True, exc.strerror
with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as out:
    json.dump({"attack": "raw socket", "blocked": blocked, "detail": detail}, out)
