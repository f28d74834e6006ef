"""scripts/setup.sh: refuses unsupported systems, and changes nothing when all is in place."""

from __future__ import annotations

import os
import subprocess


def setup(repo_root, **env):
    return subprocess.run(
        ["bash", str(repo_root / "scripts" / "setup.sh")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=1800,
    )


def test_an_unsupported_system_is_refused_by_name(repo_root, tmp_path) -> None:
    release = tmp_path / "os-release"
    release.write_text('ID=fedora\nID_LIKE="rhel centos"\nVERSION_ID=40\n')
    run = setup(repo_root, SIMFLEET_OS_RELEASE=str(release))
    assert run.returncode == 1
    assert run.stderr.strip() == (
        "simfleet setup: error: unsupported system 'fedora': "
        "simfleet needs Debian 12+ or Ubuntu 22.04+ (apt and dpkg)"
    )


def test_an_old_debian_is_refused_with_its_version(repo_root, tmp_path) -> None:
    release = tmp_path / "os-release"
    release.write_text("ID=debian\nVERSION_ID=11\n")
    run = setup(repo_root, SIMFLEET_OS_RELEASE=str(release))
    assert run.returncode == 1
    assert "unsupported system 'debian 11'" in run.stderr


def test_a_second_setup_finds_nothing_to_do(repo_root) -> None:
    # The test session itself runs after `make setup`, so everything is already in place.
    run = setup(repo_root)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    for action in ("installing", "creating", "starting", "building"):
        assert action not in out, out
    assert out.rstrip().endswith("simfleet setup: ready")
