"""Reading what a job left without following its links or blocking on its FIFOs."""

from __future__ import annotations

import os

import pytest

from glue.jobs.nofollow import NotRegular, open_file, regular_files


@pytest.fixture
def io(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("password")
    root = tmp_path / "io"
    (root / "results" / "deep").mkdir(parents=True)
    (root / "results" / "a.json").write_text("{}")
    (root / "results" / "deep" / "b.txt").write_text("b")
    (root / "results" / "link").symlink_to(secret)
    (root / "results" / "dirlink").symlink_to(tmp_path)
    os.mkfifo(root / "results" / "fifo")
    (root / "logs").symlink_to(tmp_path)
    return root


def test_only_regular_files_through_real_folders_are_listed(io) -> None:
    skipped: list[str] = []
    found = {}
    for rel, f in regular_files(io / "results", skipped):
        with f:
            found[rel] = f.read()
    assert found == {"a.json": b"{}", "deep/b.txt": b"b"}
    assert skipped == [
        "results/dirlink: a symbolic link, not uploaded",
        "results/fifo: not a regular file, not uploaded",
        "results/link: a symbolic link, not uploaded",
    ]


def test_a_linked_folder_is_skipped_whole(io) -> None:
    skipped: list[str] = []
    assert list(regular_files(io / "logs", skipped)) == []
    assert skipped == ["logs: not a real folder, nothing in it uploaded"]
    assert list(regular_files(io / "missing", skipped)) == []


def test_open_file_refuses_links_fifos_and_linked_folders(io) -> None:
    with open_file(io, "results/a.json") as f:
        assert f.read() == b"{}"
    assert open_file(io, "results/none.json") is None
    for rel, what in [
        ("results/link", "is a symbolic link"),
        ("results/fifo", "is not a regular file"),
        ("results/deep", "is a folder"),
        ("logs/secret", "not a real folder"),
    ]:
        with pytest.raises(NotRegular, match=what):
            open_file(io, rel)
