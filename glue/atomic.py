"""Writing a file so that readers only ever see the old content or the whole new content.

Every writer gets its own temporary name next to the final file, so processes writing the
same file at once (Ansible runs the inventory script from parallel syntax checks, two syncs
race on a report) never rename one another's half-written temp file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# ".<final name>.glue-tmp-<12 hex>", next to the final file.
TEMP_RE = re.compile(r"^\..+\.glue-tmp-[0-9a-f]{12}$")

# Unique per process without a random number per file: a random prefix, then a counter.
# A forked child draws a new prefix, or it would reuse its parent's names.
_temp_prefix: str
_temp_counter: Iterator[int]


def _new_prefix() -> None:
    global _temp_prefix, _temp_counter
    _temp_prefix = secrets.token_hex(3)
    _temp_counter = itertools.count()


_new_prefix()
os.register_at_fork(after_in_child=_new_prefix)


def temp_path(final: Path) -> Path:
    suffix = f"{_temp_prefix}{next(_temp_counter) % 0x1000000:06x}"
    return final.with_name(f".{final.name}.glue-tmp-{suffix}")


class AtomicFile:
    """A file written under a temporary name in its final folder and renamed into place by
    commit(). Killing the process at any point leaves either the old file or the new one under
    the final name, never a partial one. `mode` applies from creation on, so a private file is
    never readable by others, not even for a moment."""

    def __init__(self, final: Path, mode: int = 0o666) -> None:
        self.final = final
        self.tmp = temp_path(final)
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        self.file: BinaryIO = os.fdopen(fd, "wb")

    def commit(self, mtime: float | None = None) -> os.stat_result:
        """Finish the file, give it `mtime`, move it into place; returns its stat."""
        self.file.flush()
        fd = self.file.fileno()
        if mtime is not None:
            os.utime(fd, (mtime, mtime))
        st = os.fstat(fd)
        self.file.close()
        os.replace(self.tmp, self.final)
        return st

    def discard(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(final: Path, mtime: float | None = None, mode: int = 0o666) -> Iterator[BinaryIO]:
    """Write `final` through an AtomicFile: renamed into place when the block ends, discarded
    when it raises."""
    atomic = AtomicFile(final, mode)
    try:
        yield atomic.file
        atomic.commit(mtime)
    except BaseException:
        atomic.discard()
        raise
