"""What `glue image save` keeps from a base that sets an entrypoint, a user and a volume."""

from __future__ import annotations

import io
from pathlib import Path

import docker

from tests.integration.images.conftest import glue

DOCKERFILE = """\
FROM {base}
USER nobody
ENTRYPOINT ["/bin/echo", "from the base:"]
CMD ["hello"]
VOLUME /data
"""


def test_save_keeps_entrypoint_user_and_names_volume_files(
    dev_name: str, executor_image: str, tmp_path: Path
) -> None:
    client = docker.from_env()
    base = f"{dev_name}:base"
    client.images.build(
        fileobj=io.BytesIO(DOCKERFILE.format(base=executor_image).encode()), tag=base, rm=True
    )
    assert glue("image", "new", dev_name, "--from", base, "--io", str(tmp_path / "io")).code == 0
    # The dev container runs as root although the base's user is nobody.
    done = glue("image", "exec", dev_name, "--", "sh", "-c", "id -u; echo y > /data/kept-not")
    assert done.out == "0\n"
    saved = glue("image", "save", dev_name, "--tag", "v1", cwd=tmp_path)
    assert saved.code == 0, saved.err
    assert "1 file(s) under /data are not saved" in saved.err
    config = client.images.get(f"{dev_name}:v1").attrs["Config"]
    assert config["User"] == "nobody"
    assert config["Entrypoint"] == ["/bin/echo", "from the base:"]
    assert config["Cmd"] == ["hello"]
    out = client.containers.run(f"{dev_name}:v1", remove=True)
    assert out == b"from the base: hello\n"
