"""Hostile: mount a file system (needs CAP_SYS_ADMIN). Refused: no capabilities."""

import ctypes
import json
import os

libc = ctypes.CDLL(None, use_errno=True)
rc = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)
error = os.strerror(ctypes.get_errno()) if rc else ""
with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as out:
    json.dump({"attack": "mount", "blocked": rc != 0, "detail": error}, out)
