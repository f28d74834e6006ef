"""glue.s3.keys: which keys may become local paths, and --include/--exclude."""

from __future__ import annotations

import pytest

from glue.s3.keys import Filters, is_dir_marker, refusal
from glue.s3.sync import folder_clashes


@pytest.mark.parametrize(
    "rel", ["a.py", "dir/sub/b.txt", "with space/ünïcode.py", "..hidden", "a..b", ".dotfile"]
)
def test_safe_keys(rel: str) -> None:
    assert refusal(rel) is None


@pytest.mark.parametrize(
    ("rel", "reason"),
    [
        ("../x", "'..' segment"),
        ("a/../../x", "'..' segment"),
        ("a/..", "'..' segment"),
        ("/etc/passwd", "absolute key"),
        ("a\\..\\x", "backslash"),
        ("./x", "'.' or empty segment"),
        ("a//b", "'.' or empty segment"),
        ("a\x00b", "control character"),
        ("sub/.glue-sync.json", "reserved"),
        ("sub/.x.py.glue-tmp-0123456789ab", "reserved"),
    ],
)
def test_unsafe_keys_are_refused_with_a_reason(rel: str, reason: str) -> None:
    assert reason in (refusal(rel) or "")


def test_dir_markers() -> None:
    assert is_dir_marker("a/") and is_dir_marker("")
    assert not is_dir_marker("a")


def test_key_folder_clashes() -> None:
    assert folder_clashes({"a", "a/b", "c/d", "c/d/e/f", "x"}) == {"a", "c/d"}
    assert folder_clashes({"ab", "a/b"}) == set()


@pytest.mark.parametrize(
    ("rules", "included"),
    [
        ((), {"a.py", "x/b.log", "tmp/c.py"}),
        (((False, "*.log"),), {"a.py", "tmp/c.py"}),
        (((False, "*"), (True, "*.py")), {"a.py", "tmp/c.py"}),
        (((False, "*"), (True, "*.py"), (False, "tmp/*")), {"a.py"}),
        (((True, "*.py"), (False, "*")), set()),  # the last match wins
        (((False, "x/?.log"),), {"a.py", "tmp/c.py"}),
    ],
)
def test_filters_last_match_wins(rules, included) -> None:
    paths = {"a.py", "x/b.log", "tmp/c.py"}
    assert {p for p in paths if Filters(rules).allows(p)} == included
