"""Build, on the Ansible controller, the wheels worker hosts install glue from.

Worker hosts need no route to a package index: the controller ships them glue's own wheel and
the wheels of its runtime dependencies, at the versions requirements.lock pins, for each
Python version and CPU architecture among the hosts (compiled wheels such as PyYAML's differ).
Each set is one uncompressed tar (wheels are compressed already), so a host gets it in one
transfer.

Which dependencies a host needs is decided here, for the host's exact Python: pip evaluates
environment markers for the Python it runs on even when it downloads for another one
(--python-version), and e.g. redis needs async-timeout on Debian 12's Python 3.11.2 but not
on 3.11.3 or later. So the closure is walked level by level - read each wheel's Requires-Dist,
keep what the host's markers select, take the version requirements.lock pins - and pip only
downloads single wheels (--no-deps) for the host's platform. A dependency the lock does not
pin (it was made on a Python that does not need it) gets the newest matching version, with a
warning.

The tar is named after a hash of what goes into it - glue's package folder, pyproject.toml,
README.md (the package's long description), requirements.lock - plus the target. The worker
role installs when the name it stamped into the venv differs, so nothing is built, copied or
installed while the sources stay the same, and a developer's change reaches every worker on
the next run. The name cannot come from the wheels: building glue twice gives different bytes
(zip timestamps). A tar that exists is complete (it is renamed into place when done) and is
never rebuilt; older tars for the same target are removed.

Usage: wheelhouse.py SOURCE_DIR OUT_DIR TARGET...   TARGET: PYTHON_VERSION-ARCH, e.g. 3.11.2-x86_64
Prints {"archives": {TARGET: PATH}, "built": [PATH, ...]} as JSON; pip's messages go to stderr.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# Ansible itself depends on packaging, so every controller has it.
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

PACKAGE = "glue"
# Files outside the package that the wheel or its dependencies depend on.
PROJECT_FILES = ("pyproject.toml", "README.md", "requirements.lock")
TARGET = re.compile(r"^(?P<version>(?P<minor>3\.\d+)\.\d+)-(?P<arch>[A-Za-z0-9_]+)$")
# pip matches platform tags literally, so list every glibc baseline a dependency's wheel may
# be built for, up to 2.28: any glibc from 2.28 on (Debian 12 has 2.36) runs them all.
MANYLINUX = ("manylinux2014", *(f"manylinux_2_{minor}" for minor in range(17, 29)))


def source_files(root: Path) -> list[Path]:
    """What glue's wheelhouse is made from, in a stable order."""
    package = sorted(
        path
        for path in (root / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    return [root / name for name in PROJECT_FILES] + package


def fingerprint(root: Path) -> str:
    """A hash of the sources, and of this script, which decides what the wheelhouse holds."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def pip(*args: str) -> None:
    """Run this Python's pip, its output kept off stdout (which carries the JSON answer)."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    subprocess.run(command, check=True, stdout=sys.stderr)


def build_glue(root: Path, work: Path) -> Path:
    """glue's wheel, built from a copy of the sources: a build in place leaves build/ and
    *.egg-info behind in the checkout."""
    src = work / "src"
    shutil.copytree(
        root / PACKAGE, src / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, src / name)
    pip("wheel", "--no-deps", "--wheel-dir", str(work / "glue"), str(src))
    (wheel,) = (work / "glue").glob("*.whl")
    return wheel


def read_pins(lock: Path) -> dict[str, str]:
    """requirements.lock as {canonical name: version}."""
    pins = {}
    for line in lock.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def marker_environment(version: str, minor: str, arch: str) -> dict[str, str]:
    """The environment markers of CPython `version` on Linux on `arch`."""
    return {
        "implementation_name": "cpython",
        "implementation_version": version,
        "os_name": "posix",
        "platform_machine": arch,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": version,
        "python_version": minor,
        "sys_platform": "linux",
    }


def requirements_of(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(
            name
            for name in archive.namelist()
            if name.count("/") == 1 and name.endswith(".dist-info/METADATA")
        )
        headers = email.parser.BytesHeaderParser().parsebytes(archive.read(metadata))
    return [Requirement(line) for line in headers.get_all("Requires-Dist") or []]


def selected(
    requirements: list[Requirement], extras: set[str], env: dict[str, str]
) -> list[Requirement]:
    """The requirements whose markers hold on the host, with `extras` of their package asked."""
    return [
        req
        for req in requirements
        if req.marker is None
        or any(req.marker.evaluate({**env, "extra": extra}) for extra in extras | {""})
    ]


def download_dependencies(wheel: Path, target: str, lock: Path, dest: Path) -> None:
    """The wheels `wheel` needs on a host of `target`, at the versions `lock` pins."""
    match = TARGET.match(target)
    assert match, target  # checked in main()
    version, arch = match["version"], match["arch"]
    env = marker_environment(version, match["minor"], arch)
    pins = read_pins(lock)
    platforms = [arg for tag in MANYLINUX for arg in ("--platform", f"{tag}_{arch}")]
    asked: dict[str, set[str]] = {}  # package -> extras asked for so far
    pending = selected(requirements_of(wheel), set(), env)
    while pending:
        level: dict[str, str] = {}
        for req in pending:
            name = canonicalize_name(req.name)
            if name in pins and not req.specifier.contains(pins[name], prereleases=True):
                sys.exit(f"wheelhouse: requirements.lock pins {name}=={pins[name]}, not {req}")
            if name in asked and set(req.extras) <= asked[name]:
                continue
            asked[name] = asked.get(name, set()) | set(req.extras)
            if name in pins:
                level[name] = f"{name}=={pins[name]}"
            else:
                print(f"wheelhouse: warning: no pin for {req} (Python {version})", file=sys.stderr)
                level[name] = f"{name}{req.specifier}"
        if not level:
            break
        pip(
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--implementation=cp",
            f"--python-version={version}",
            f"--abi=cp{match['minor'].replace('.', '')}",
            *platforms,
            f"--dest={dest}",
            *level.values(),
        )
        downloaded = {
            canonicalize_name(parse_wheel_filename(w.name)[0]): w for w in dest.glob("*.whl")
        }
        pending = [
            req
            for name in level
            for req in selected(requirements_of(downloaded[name]), asked[name], env)
        ]


def pack(folder: Path, archive: Path) -> None:
    """The wheels of `folder` in a tar at `archive`, which appears only once it is whole."""
    partial = folder.with_suffix(".tar")
    with tarfile.open(partial, "w") as tar:
        for wheel in sorted(folder.glob("*.whl")):
            tar.add(wheel, arcname=wheel.name)
    partial.replace(archive)


def prune(out: Path, target: str, keep: Path) -> None:
    """Drop wheelhouses of older sources for `target`; only the newest is ever installed."""
    for old in out.glob(f"glue-*-{target}.tar"):
        if old != keep:
            old.unlink()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or not all(TARGET.match(target) for target in argv[2:]):
        print(__doc__, file=sys.stderr)
        return 2
    root, out = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    targets = list(dict.fromkeys(argv[2:]))
    out.mkdir(parents=True, exist_ok=True)
    key = fingerprint(root)
    archives = {target: out / f"glue-{key}-{target}.tar" for target in targets}
    built: list[str] = []
    with tempfile.TemporaryDirectory(dir=out, prefix=".build-") as tmp:
        work = Path(tmp)
        wheel: Path | None = None
        for target, archive in archives.items():
            if archive.exists():
                continue
            wheel = wheel or build_glue(root, work)
            dest = work / target
            dest.mkdir()
            shutil.copy2(wheel, dest)
            download_dependencies(wheel, target, root / "requirements.lock", dest)
            pack(dest, archive)
            prune(out, target, archive)
            built.append(str(archive))
    print(json.dumps({"archives": {t: str(a) for t, a in archives.items()}, "built": built}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
