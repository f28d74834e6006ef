"""`glue registry page`: a self-contained page that a headless Chromium renders."""

from __future__ import annotations

import io
import re
import shutil
import tarfile
from pathlib import Path

import docker
import pytest
from PIL import Image

from tests.integration.images.conftest import glue
from tests.support import chromium
from tests.support.registry import Registry


@pytest.fixture
def pushed(registry: Registry) -> str:
    """A tiny image pushed to the registry as page-test/tiny:1 and :2 (same digest)."""
    client = docker.from_env()
    dockerfile = b"FROM scratch\nLABEL purpose=page-test\nCOPY Dockerfile /note\n"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag="page-test/tiny:1", rm=True)
    try:
        for tag in ("1", "2"):
            done = glue(
                "image",
                "push",
                "page-test/tiny:1",
                "--name",
                f"page-test/tiny:{tag}",
                env=registry.env(),
            )
            assert done.code == 0, done.err
    finally:
        client.images.remove("page-test/tiny:1", force=True)
    return "page-test/tiny"


def test_page_is_self_contained_and_renders(
    pushed: str, registry: Registry, tmp_path: Path
) -> None:
    page = tmp_path / "registry.html"
    done = glue("registry", "page", str(page), env=registry.env())
    assert done.code == 0, done.err
    html = page.read_text()
    assert f"docker pull {registry.address}/{pushed}:1" in html
    assert f"docker pull {registry.address}/{pushed}:2" in html
    assert re.search(r"<td class=n>[\d.]+ [KM]?B</td>", html) and "<td>20" in html  # size, date
    assert not re.search(r"""(src|href)=["']?https?:""", html) and "<script" not in html

    shot = tmp_path / "registry.png"
    if chromium.screenshot(page, shot, width=1100, height=600) is None:
        pytest.skip("chromium is not installed (make setup installs it)")
    with Image.open(shot) as image:
        dark = sum(image.convert("L").histogram()[:128])
    # Text was drawn: a blank or error page has next to no dark pixels.
    assert dark > 2000, dark
    # Keep the last screenshot where a person can look at it.
    shutil.copyfile(shot, Path("/tmp") / "glue-registry-page.png")
