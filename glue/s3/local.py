"""The local side of `glue sync`: scanning the folder, the state file, the lock.

The state file maps each synced path to the object's ETag and size and to the local file's
size and mtime as glue left it. When the file still has that size and mtime, glue knows its
ETag without reading it, so a sync with nothing to do costs one listing and a stat per file.
A missing, damaged or foreign state file only costs speed: the ETags are then recomputed from
the files (glue.s3.etag), never assumed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from glue.atomic import TEMP_RE, atomic_write
from glue.errors import GlueError

STATE_NAME = ".glue-sync.json"
LOCK_NAME = ".glue-sync.lock"
STATE_VERSION = 1


def is_reserved(name: str) -> bool:
    """Names glue sync keeps for itself; keys and files with them are never synced."""
    return name in (STATE_NAME, LOCK_NAME) or bool(TEMP_RE.match(name))


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
            elif TEMP_RE.match(entry.name):
                if remove_temps:
                    Path(entry.path).unlink(missing_ok=True)
                    result.temps_removed += 1
            elif rel in (STATE_NAME, LOCK_NAME):
                continue
            elif entry.is_file():
                st = entry.stat()
                result.files[rel] = LocalFile(st.st_size, st.st_mtime_ns)
    return result


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
