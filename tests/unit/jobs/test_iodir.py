"""A job folder: made fresh for every attempt, and the output log is the worker's own file."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from glue.jobs.executor import SUBDIRS, IoDir

NOBODY = 65534


def test_a_fresh_folder_with_the_io_dir_inside_and_the_log_beside(tmp_path) -> None:
    io = IoDir.create(tmp_path / "job")
    assert stat.S_IMODE(io.folder.stat().st_mode) == 0o711
    assert sorted(p.name for p in io.root.iterdir()) == sorted(SUBDIRS)
    assert io.log.parent == io.folder and not io.log.is_relative_to(io.root)
    with io.open_log() as log:
        log.write(b"2024-01-01T00:00:00.000000Z one\n")
    assert io.log_tail() == "2024-01-01T00:00:00.000000Z one"


def test_a_linked_log_is_never_opened(tmp_path) -> None:
    io = IoDir.create(tmp_path / "job")
    target = tmp_path / "target"
    target.write_text("keep")
    io.log.symlink_to(target)
    with pytest.raises(OSError):
        io.open_log()
    assert io.log_tail() == "" and target.read_text() == "keep"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make files the worker cannot delete")
def test_leftovers_the_worker_cannot_delete_are_moved_aside() -> None:
    """As a non-root worker whose earlier attempt left another account's files."""
    shared = Path(tempfile.mkdtemp())
    try:
        shared.chmod(0o777)
        folder = shared / "job"
        folder.mkdir()
        os.chown(folder, NOBODY, NOBODY)
        (folder / "io").mkdir()  # root's: nobody cannot empty it
        (folder / "io" / "left").write_text("x")
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                io = IoDir.create(folder)
                os._exit(0 if sorted(p.name for p in io.root.iterdir()) == sorted(SUBDIRS) else 1)
            finally:
                os._exit(2)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        names = sorted(p.name for p in shared.iterdir())
        assert names[0] == "job" and names[1].startswith("job.stale-") and len(names) == 2
    finally:
        shutil.rmtree(shared)
