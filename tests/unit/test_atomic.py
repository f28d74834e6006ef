"""glue.atomic: a file is replaced whole or not at all, by any number of writers at once."""

from __future__ import annotations

import os
import stat

import pytest

from glue.atomic import AtomicFile, atomic_write
from tests.support.processes import run_at_once


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path) -> None:
    target = tmp_path / "f.txt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write(b"half of the new")
        raise RuntimeError("connection lost")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_atomic_write_replaces_and_sets_mtime(tmp_path) -> None:
    target = tmp_path / "f.txt"
    with atomic_write(target, mtime=1_000_000_000) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mtime == 1_000_000_000
    assert os.listdir(tmp_path) == ["f.txt"]


def test_atomic_file_commit_reports_the_final_stat_and_discard_leaves_nothing(tmp_path) -> None:
    kept = AtomicFile(tmp_path / "kept")
    kept.file.write(b"abc")
    st = kept.commit(mtime=1_500_000_000)
    final = (tmp_path / "kept").stat()
    assert (st.st_size, st.st_mtime_ns, st.st_ino) == (3, final.st_mtime_ns, final.st_ino)
    assert final.st_mtime == 1_500_000_000

    dropped = AtomicFile(tmp_path / "dropped")
    dropped.file.write(b"partial")
    dropped.discard()
    dropped.discard()  # twice is harmless: a failed finish() may be followed by discard()
    assert os.listdir(tmp_path) == ["kept"]


def test_a_private_file_is_never_readable_by_others(tmp_path) -> None:
    target = tmp_path / "secret"
    with atomic_write(target, mode=0o600) as f:
        assert stat.S_IMODE(os.fstat(f.fileno()).st_mode) == 0o600
        f.write(b"key")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_processes_writing_one_file_at_once_never_take_each_others_temp_file(tmp_path) -> None:
    """Ansible runs an inventory script from parallel syntax checks, each rewriting one cache."""
    target = tmp_path / "cache.json"

    def write_many() -> None:
        for i in range(200):
            with atomic_write(target) as f:
                f.write(f"{os.getpid()} {i}\n".encode() * 100)

    assert run_at_once(write_many) == [0, 0, 0, 0]
    lines = set(target.read_text().splitlines())
    assert len(lines) == 1 and lines.pop().endswith(" 199")
    assert os.listdir(tmp_path) == ["cache.json"]
