"""Which keys `glue sync` may copy, and the --include / --exclude filters.

A key is only ever turned into a local path after it passed `refusal()`: an S3 key is an
arbitrary string, and without this check `../x`, `/etc/x` or `a\\..\\x` would write outside the
destination folder.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from glue.s3.local import is_reserved

_CONTROL = re.compile("[\x00-\x1f\x7f]")


def is_dir_marker(rel: str) -> bool:
    """Keys ending in "/" are folder placeholders made by consoles; they hold no file."""
    return rel == "" or rel.endswith("/")


def refusal(rel: str) -> str | None:
    """Why the key (relative to the synced prefix) must not become a local path, or None."""
    if rel.startswith("/"):
        return "absolute key"
    if "\\" in rel:
        return "backslash in key"
    if _CONTROL.search(rel):
        return "control character in key"
    parts = rel.split("/")
    if ".." in parts:
        return "'..' segment in key"
    if "." in parts or "" in parts:
        return "'.' or empty segment in key (it would alias another path)"
    if is_reserved(parts[-1]):
        return "name reserved for glue sync's own files"
    return None


@dataclass(frozen=True)
class Filters:
    """--include/--exclude rules in command-line order; like `aws s3 sync`, the last match wins.

    Patterns are shell globs matched against the whole path relative to the synced folder,
    with "/" separators; `*` and `?` also match "/", so `--exclude '*.log'` excludes log files
    at any depth and `--exclude 'tmp/*'` a whole folder. Paths no rule matches are included.
    """

    rules: tuple[tuple[bool, str], ...] = ()

    def allows(self, rel: str) -> bool:
        allowed = True
        for include, pattern in self.rules:
            if fnmatch.fnmatchcase(rel, pattern):
                allowed = include
        return allowed
