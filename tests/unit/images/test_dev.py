"""The tag `glue image save` gives: <repo>.<commit> of the git checkout, or --tag."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from glue.images.dev import DevError, git_tag, image_reference


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "Team Model_v2"
    (repo / "sub").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "a")
    return repo


def test_repo_and_commit_then_dirty(checkout: Path) -> None:
    commit = git(checkout, "rev-parse", "--short=12", "HEAD")
    assert git_tag(checkout / "sub") == f"team-model_v2.{commit}"
    (checkout / "new.txt").write_text("untracked counts as a change\n")
    assert git_tag(checkout) == f"team-model_v2.{commit}-dirty"


def test_not_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(DevError, match="not in a git checkout"):
        git_tag(tmp_path)


def test_references(tmp_path: Path) -> None:
    assert image_reference("Mine", "v1", tmp_path) == "mine:v1"
    assert image_reference("mine", "team/model:2.0", tmp_path) == "team/model:2.0"
    with pytest.raises(DevError, match="not a valid tag"):
        image_reference("mine", "bad tag", tmp_path)
    with pytest.raises(DevError, match="not a valid repository"):
        image_reference("mine", "Team/Model:1", tmp_path)
