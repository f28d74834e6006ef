"""The local side of `glue sync`: scanning the folder, atomic writes, the state file, the lock.

The state file maps each synced path to the object's ETag and size and to the local file's
size and mtime as glue left it. When the file still has that size and mtime, glue knows its
ETag without reading it, so a sync with nothing to do costs one listing and a stat per file.
A missing, damaged or foreign state file only costs speed: the ETags are then recomputed from
the files (glue.etag), never assumed.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from glue.errors import GlueError

STATE_NAME = ".glue-sync.json"
LOCK_NAME = ".glue-sync.lock"
STATE_VERSION = 1
# Temporary downloads: ".<final name>.glue-tmp-<12 hex>", next to the final file.
_TEMP_RE = re.compile(r"^\..+\.glue-tmp-[0-9a-f]{12}$")


def is_reserved(name: str) -> bool:
    """Names glue sync keeps for itself; keys and files with them are never synced."""
    return name in (STATE_NAME, LOCK_NAME) or bool(_TEMP_RE.match(name))


# Unique per process without a random number per file: a random prefix, then a counter.
_TEMP_PREFIX = secrets.token_hex(3)
_temp_counter = itertools.count()


def temp_path(final: Path) -> Path:
    suffix = f"{_TEMP_PREFIX}{next(_temp_counter) % 0x1000000:06x}"
    return final.with_name(f".{final.name}.glue-tmp-{suffix}")


@dataclass(frozen=True)
class LocalFile:
    size: int
    mtime_ns: int


@dataclass
class Scan:
    """The regular files under a folder (by "/"-separated relative path) and what was cleaned."""

    files: dict[str, LocalFile] = field(default_factory=dict)
    temps_removed: int = 0


def scan(root: Path, remove_temps: bool) -> Scan:
    """List the files under `root`; with remove_temps, delete temp files of interrupted syncs.

    Symlinked files count as files; symlinked folders are not followed (no loops, no escapes).
    """
    result = Scan()
    stack = [("", root)]
    while stack:
        rel_dir, path = stack.pop()
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            continue
        for entry in entries:
            rel = rel_dir + entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append((rel + "/", Path(entry.path)))
            elif _TEMP_RE.match(entry.name):
                if remove_temps:
                    Path(entry.path).unlink(missing_ok=True)
                    result.temps_removed += 1
            elif rel in (STATE_NAME, LOCK_NAME):
                continue
            elif entry.is_file():
                st = entry.stat()
                result.files[rel] = LocalFile(st.st_size, st.st_mtime_ns)
    return result


class AtomicFile:
    """A file written under a temporary name in its final folder and renamed into place by
    commit(). Killing the process at any point leaves either the old file or the new one under
    the final name, never a partial one; the temp file left behind is removed by the next
    scan()."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.tmp = temp_path(final)
        self.file: BinaryIO = self.tmp.open("xb")

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
def atomic_write(final: Path, mtime: float | None = None) -> Iterator[BinaryIO]:
    """Write `final` through an AtomicFile: renamed into place when the block ends, discarded
    when it raises."""
    atomic = AtomicFile(final)
    try:
        yield atomic.file
        atomic.commit(mtime)
    except BaseException:
        atomic.discard()
        raise


@dataclass(frozen=True)
class Entry:
    """What glue knows about one synced path (sizes are equal on both sides after a sync)."""

    etag: str
    size: int
    mtime_ns: int

    def matches(self, local: LocalFile | None) -> bool:
        """True when the file is still exactly as glue left it."""
        return local is not None and (local.size, local.mtime_ns) == (self.size, self.mtime_ns)


class State:
    """The state file of one local folder.

    It records facts about local files (this content has this ETag), not about a remote, so
    it stays valid when the same folder is synced with another endpoint or bucket: an ETag
    that matches is the same content wherever it was listed.
    """

    def __init__(self, root: Path) -> None:
        self.path = root / STATE_NAME
        self.entries: dict[str, Entry] = {}

    @classmethod
    def load(cls, root: Path) -> State:
        """The saved state, or an empty one when it is missing or unreadable."""
        state = cls(root)
        try:
            data = json.loads(state.path.read_text())
            if data.get("version") == STATE_VERSION:
                state.entries = {rel: Entry(*row) for rel, row in data["files"].items()}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            state.entries = {}
        return state

    def save(self) -> None:
        data = {
            "version": STATE_VERSION,
            "files": {rel: [e.etag, e.size, e.mtime_ns] for rel, e in self.entries.items()},
        }
        with atomic_write(self.path) as f:
            f.write(json.dumps(data, separators=(",", ":")).encode())


@contextlib.contextmanager
def folder_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder: two syncs at once would delete each other's
    temp files and overwrite each other's state."""
    with (root / LOCK_NAME).open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GlueError(f"another glue sync is using {root} (lock {f.name})") from None
        yield
