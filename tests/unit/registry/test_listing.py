"""Image references as the registry commands take them."""

from __future__ import annotations

import pytest

from glue.registry.access import RegistryError
from glue.registry.listing import parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("team/model:1.2", ("team/model", "1.2")),
        ("model", ("model", "latest")),
        (f"model@{DIGEST}", ("model", DIGEST)),
        ("node1:6001/team/model:v_1-dirty", ("team/model", "v_1-dirty")),
    ],
)
def test_valid(ref: str, expected: tuple[str, str]) -> None:
    assert parse_reference(ref, "node1:6001") == expected


@pytest.mark.parametrize(
    "ref",
    ["Team/model:1", "model:bad tag", "model:-x", "model:" + "x" * 129, "model@sha256:short", ""],
)
def test_invalid(ref: str) -> None:
    with pytest.raises(RegistryError, match="not a valid image reference"):
        parse_reference(ref)
