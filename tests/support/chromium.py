"""Headless Chromium screenshots of the pages glue writes, for the tests and the benches that
check a page opens and draws what a person would look for."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from PIL import Image


def screenshot(page: Path, shot: Path, width: int = 1280, height: int = 1400) -> float | None:
    """Save what `page` draws in a `width` x `height` window to `shot`; the seconds it took.
    None when Chromium is not installed (make setup installs it)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    args += [f"--screenshot={shot}", f"--window-size={width},{height}", page.as_uri()]
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - start


def bar_green(shot: Path) -> int:
    """Pixels of the succeeded bars' green in a report's screenshot. Without its timeline a
    page of succeeded jobs has only the status bar's (about 12,000 at 1280 wide)."""
    with Image.open(shot) as image:
        pixels = image.convert("RGB").get_flattened_data()
        return sum(1 for r, g, b in pixels if g > 140 and r < 80 and b < 120)
