"""Local scenario folders: which files are scenarios, where results go by default, and that
a key can never reach outside its location."""

from __future__ import annotations

import pytest

from glue.errors import GlueError
from glue.jobs.locations import LocalFolder, results_beside


def test_listing_matches_the_pattern_at_any_depth_and_skips_hidden_and_results(tmp_path) -> None:
    root = tmp_path / "scen"
    for rel in ["a.py", "deep/b.py", "c.txt", ".hidden.py", ".git/x.py", "results/r1/a.py/x.py"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    listing = LocalFolder(str(root)).scenarios("*.py", exclude=str(root / "results"))
    assert listing.keys == ["a.py", "deep/b.py"]
    assert LocalFolder(str(root)).scenarios("deep/*").keys == ["deep/b.py"]


@pytest.mark.parametrize(
    "source, results",
    [
        ("/data/scen", "/data/results"),
        ("/data/scen/", "/data/results"),
        ("s3://bucket/team/scen", "s3://bucket/team/results"),
        ("s3://bucket/scen/", "s3://bucket/results"),
        ("s3://bucket", "s3://bucket/results"),
    ],
)
def test_results_default_to_a_results_sibling(source, results) -> None:
    assert results_beside(source) == results


@pytest.mark.parametrize("rel", ["../x", "a/../../x", "/etc/x", "a\\..\\x", "a//b", ""])
def test_keys_that_would_leave_the_folder_are_refused(tmp_path, rel) -> None:
    folder = LocalFolder(str(tmp_path / "out"))
    with pytest.raises(GlueError, match="refusing key"):
        folder.write_bytes(rel, b"x")
    assert not (tmp_path / "x").exists()


def test_writes_replace_files_whole(tmp_path) -> None:
    folder = LocalFolder(str(tmp_path))
    folder.write_bytes("r/s.py/outcome.json", b"first")
    folder.write_bytes("r/s.py/outcome.json", b"second")
    assert (tmp_path / "r/s.py/outcome.json").read_bytes() == b"second"
    assert [p.name for p in (tmp_path / "r/s.py").iterdir()] == ["outcome.json"]


def test_placing_an_attempt_replaces_each_name_whole(tmp_path) -> None:
    folder = LocalFolder(str(tmp_path))
    for rel, data in {
        "r/s.py/attempts/2/results/a.csv": b"new",
        "r/s.py/attempts/2/outcome.json": b"2",
        "r/s.py/results/a.csv": b"old",
        "r/s.py/results/stale.csv": b"old",
        "r/s.py/logs/output.log": b"old",
        "r/s.py/outcome.json": b"1",
    }.items():
        folder.write_bytes(rel, data)
    folder.place("r/s.py/attempts/2", "r/s.py", ("results", "logs", "outcome.json"))
    placed = {
        str(p.relative_to(tmp_path / "r/s.py")): p.read_bytes()
        for p in (tmp_path / "r/s.py").rglob("*")
        if p.is_file() and "attempts" not in p.parts
    }
    assert placed == {"results/a.csv": b"new", "outcome.json": b"2"}
