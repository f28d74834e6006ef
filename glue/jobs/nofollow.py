"""Reading a folder a job wrote in without following links or opening special files.

A scenario controls every name in its io-dir: it can put a symbolic link to the worker's
settings where the worker expects results, replace results/ itself with a link, or leave a
FIFO that blocks a reader forever. Everything here opens one name at a time relative to an
already opened folder (openat), with O_NOFOLLOW, and checks what it got with fstat.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class NotRegular(OSError):
    """The name is there but is a link, a folder, a device, a FIFO or a socket."""


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def open_file(root: Path, rel: str) -> BinaryIO | None:
    """root/rel opened for reading, None when missing; NotRegular when it is anything but a
    regular file reached through real folders (root itself is the worker's own path)."""
    *folders, name = rel.split("/")
    fd = os.open(root, _DIR)
    try:
        for folder in folders:
            inner = os.open(folder, _DIR, dir_fd=fd)
            os.close(fd)
            fd = inner
        try:
            file_fd = os.open(name, _FILE, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link
                raise NotRegular(f"{rel} is a symbolic link") from None
            raise
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise NotRegular(f"{rel}: a part of its path is not a real folder") from None
    finally:
        os.close(fd)
    mode = os.fstat(file_fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(file_fd)
        raise NotRegular(f"{rel} is {_kind(mode)}")
    return os.fdopen(file_fd, "rb")


def regular_files(src: Path, skipped: list[str]) -> Iterator[tuple[str, BinaryIO]]:
    """(relative path, open file) for each regular file under src, in name order, reached
    through real folders only; every other entry is named in `skipped` with what it is.

    The caller closes each file. src must be a real folder (not a link): else it is skipped
    whole."""
    try:
        fd = os.open(src, _DIR)
    except FileNotFoundError:
        return
    except OSError:
        skipped.append(f"{src.name}: not a real folder, nothing in it uploaded")
        return
    yield from _walk(fd, src.name, skipped)


def _walk(dir_fd: int, prefix: str, skipped: list[str]) -> Iterator[tuple[str, BinaryIO]]:
    try:
        with os.scandir(dir_fd) as scan:
            names = sorted(entry.name for entry in scan)
        for name in names:
            rel = f"{prefix}/{name}"
            try:
                mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    yield from _walk(os.open(name, _DIR, dir_fd=dir_fd), rel, skipped)
                    continue
                if not stat.S_ISREG(mode):
                    skipped.append(f"{rel}: {_kind(mode)}, not uploaded")
                    continue
                fd = os.open(name, _FILE, dir_fd=dir_fd)
            except OSError as exc:  # replaced meanwhile, or unreadable for the worker
                skipped.append(f"{rel}: {exc.strerror or exc}, not uploaded")
                continue
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the stat above
                os.close(fd)
                skipped.append(f"{rel}: not a regular file, not uploaded")
                continue
            yield rel.partition("/")[2], os.fdopen(fd, "rb")
    finally:
        os.close(dir_fd)
