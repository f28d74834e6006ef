"""Throw-away slot accounts for process jobs, as the worker role makes them on fleet hosts:
one unprivileged account per slot, in a group of its own, removed afterwards. Needs root."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

# Far above the uids system accounts and images use: containers of other tests or labs on
# this machine never run as them.
ACCOUNT_UIDS = 3_000_000


@contextmanager
def slot_accounts(count: int) -> Iterator[str]:
    """Accounts <prefix>1..count; yields the glue.yml `job_users` pattern naming them."""
    token = uuid.uuid4()
    prefix = f"sfj{token.hex[:6]}-"
    names = [f"{prefix}{n}" for n in range(1, count + 1)]
    base = ACCOUNT_UIDS + token.int % 100_000 * 10
    try:
        for n, name in enumerate(names, 1):
            ids = ["--uid", str(base + n), "--gid", str(base + n)]
            subprocess.run(["groupadd", "--gid", str(base + n), name], check=True)
            subprocess.run(
                ["useradd", *ids, "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                check=True,
            )
        yield prefix + "{slot}"
    finally:
        for name in names:
            subprocess.run(["userdel", name], check=False, stderr=subprocess.DEVNULL)
            subprocess.run(["groupdel", name], check=False, stderr=subprocess.DEVNULL)
