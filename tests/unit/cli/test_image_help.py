"""`glue image` (your job image) and `glue lab images` (the project's) say which is which."""

from __future__ import annotations

import pytest

from glue.cli.main import build_parser


def help_of(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*argv, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_image_help_points_at_lab_images(capsys) -> None:
    text = help_of(capsys, "image")
    assert "'glue lab images build'" in text
    for action in ("new", "shell", "exec", "save", "build", "test", "push"):
        assert f"glue image {action}" in text


def test_lab_images_help_points_at_image(capsys) -> None:
    assert "'glue image'" in help_of(capsys, "lab", "images")
    assert "'glue image build'" in help_of(capsys, "lab", "images", "build")


def test_old_name_is_gone(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["images", "build", "executor"])
    assert done.value.code == 2


@pytest.mark.parametrize("action", ["ls", "inspect", "rm", "gc", "page"])
def test_registry_actions_have_help(capsys, action: str) -> None:
    assert "usage: glue registry " + action in help_of(capsys, "registry", action)
