"""Where a slot makes its job folders: the worker's own folder, never a shared fixed name."""

from __future__ import annotations

import os
import stat

import pytest

from glue.config import Settings
from glue.errors import GlueError
from glue.jobs import slot


@pytest.fixture
def fresh_slot(monkeypatch):
    def make(**settings):
        monkeypatch.setattr(slot, "_current", slot.Slot("h", 1, "w", Settings(**settings)))
        monkeypatch.setattr(slot, "_workdir", None)

    return make


def mode(path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_without_a_setting_each_worker_gets_a_fresh_private_folder(fresh_slot) -> None:
    fresh_slot()
    first = slot.workdir()
    try:
        assert slot.workdir() == first  # one per process, asked once
        assert first.name.startswith("glue-jobs-") and first.name != "glue-jobs-"
        assert mode(first) == 0o711 and first.stat().st_uid == os.getuid()
        fresh_slot()
        assert slot.workdir() != first
    finally:
        os.rmdir(slot.workdir())
        os.rmdir(first)


def test_a_configured_folder_is_made_0711(fresh_slot, tmp_path) -> None:
    fresh_slot(workdir=str(tmp_path / "jobs"))
    assert slot.workdir() == tmp_path / "jobs" and mode(tmp_path / "jobs") == 0o711


def test_a_link_is_refused(fresh_slot, tmp_path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "jobs").symlink_to(tmp_path / "elsewhere")
    fresh_slot(workdir=str(tmp_path / "jobs"))
    with pytest.raises(GlueError, match="must be a folder of this worker's own, not a link"):
        slot.workdir()
