"""glue.s3.local: scanning, the state file and the lock."""

from __future__ import annotations

import json

import pytest

from glue.atomic import temp_path
from glue.errors import GlueError
from glue.s3.local import (
    STATE_NAME,
    Entry,
    LocalFile,
    State,
    folder_lock,
    scan,
)


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
