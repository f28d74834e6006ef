"""glue.sync_local: scanning, atomic writes and the state file."""

from __future__ import annotations

import json
import os

import pytest

from glue.errors import GlueError
from glue.sync_local import (
    STATE_NAME,
    AtomicFile,
    Entry,
    LocalFile,
    State,
    atomic_write,
    folder_lock,
    scan,
    temp_path,
)


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


def test_scan_lists_files_and_removes_leftover_temp_files(tmp_path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.py").write_bytes(b"12345")
    (tmp_path / STATE_NAME).write_text("{}")
    leftover = temp_path(tmp_path / "d" / "b.py")
    leftover.write_bytes(b"partial")
    (tmp_path / "link").symlink_to(tmp_path / "d")  # a folder link is not followed

    kept = scan(tmp_path, remove_temps=False)
    assert set(kept.files) == {"d/a.py"} and leftover.exists()

    result = scan(tmp_path, remove_temps=True)
    assert result.files["d/a.py"].size == 5
    assert result.temps_removed == 1
    assert not leftover.exists()


def test_state_round_trip_and_damaged_state_is_ignored(tmp_path) -> None:
    state = State(tmp_path)
    state.entries["a/b.py"] = Entry("0123abcd", 10, 123)
    state.save()
    assert State.load(tmp_path).entries == {"a/b.py": Entry("0123abcd", 10, 123)}

    (tmp_path / STATE_NAME).write_text("{not json")
    assert State.load(tmp_path).entries == {}
    (tmp_path / STATE_NAME).write_text(json.dumps({"version": 99, "files": {"x": [1, 2, 3]}}))
    assert State.load(tmp_path).entries == {}


def test_an_entry_matches_only_the_file_as_it_was_left() -> None:
    entry = Entry("etag", 10, 123)
    assert entry.matches(LocalFile(10, 123))
    assert not entry.matches(LocalFile(10, 124))
    assert not entry.matches(LocalFile(11, 123))
    assert not entry.matches(None)


def test_two_syncs_of_one_folder_cannot_run_at_once(tmp_path) -> None:
    with (
        folder_lock(tmp_path),
        pytest.raises(GlueError, match="another glue sync"),
        folder_lock(tmp_path),
    ):
        pass
