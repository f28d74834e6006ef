"""The whole workflow on a real Docker engine and a real registry: new → exec → save → test →
push → registry ls / inspect / rm / gc."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import docker

from glue.images.dev import BASE_LABEL, CREATOR_LABEL, DIFF_LABEL, SOURCE_LABEL
from tests.integration.images.conftest import Done, glue
from tests.support.registry import Registry

SCENARIO = """\
import json, os, subprocess
out = subprocess.run(["bc"], input="6*7\\n", capture_output=True, text=True, check=True)
with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as f:
    json.dump({"value": int(out.stdout)}, f)
print("bc says", out.stdout.strip())
"""


def ok(done: Done) -> Done:
    assert done.code == 0, f"exit {done.code}\n{done.out}\n{done.err}"
    return done


def git_head(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()


def test_dev_container_to_registry(
    dev_name: str, executor_image: str, checkout: Path, registry: Registry, tmp_path: Path
) -> None:
    client = docker.from_env()
    env = registry.env()
    io_dir = tmp_path / "io"

    ok(glue("image", "new", dev_name, "--io", str(io_dir)))
    assert sorted(p.name for p in io_dir.iterdir()) == ["configs", "inputs", "logs", "results"]
    assert "already" in glue("image", "new", dev_name).error_line()

    # exec: a Debian package through apt inside the container; exit codes pass through.
    ok(
        glue(
            "image",
            "exec",
            dev_name,
            "--",
            "sh",
            "-c",
            "apt-get update -qq && apt-get install -y -qq --no-install-recommends bc",
        )
    )
    assert glue("image", "exec", dev_name, "--", "sh", "-c", "exit 7").code == 7
    assert ok(glue("image", "exec", dev_name, "--", "sh", "-c", "echo 6*7 | bc")).out == "42\n"
    # Written under /io: the io-dir on this host, not part of the image.
    ok(glue("image", "exec", dev_name, "--", "sh", "-c", "echo x > /io/results/note.txt"))

    # save: tag from the checkout; command, entrypoint and user come back from the base.
    clean_tag = f"my-work.{git_head(checkout)}"
    saved = ok(glue("image", "save", dev_name, cwd=checkout))
    assert saved.out.strip() == f"{dev_name}:{clean_tag}"
    assert "/io" in saved.err and "not saved" in saved.err
    image = client.images.get(f"{dev_name}:{clean_tag}")
    base = client.images.get(executor_image).attrs["Config"]
    config = image.attrs["Config"]
    assert config["Cmd"] == base["Cmd"] == ["python3", "--version"]
    assert config["Entrypoint"] == base["Entrypoint"]
    assert config["User"] == base["User"]
    assert config["WorkingDir"] == base["WorkingDir"]
    assert config["Labels"][BASE_LABEL] == executor_image
    assert config["Labels"][SOURCE_LABEL] == clean_tag
    assert "@" in config["Labels"][CREATOR_LABEL]
    assert "added" in config["Labels"][DIFF_LABEL]
    assert "already" in glue("image", "save", dev_name, cwd=checkout).error_line()
    (checkout / "notes.txt").write_text("changed\n")
    dirty = ok(glue("image", "save", dev_name, cwd=checkout)).out.strip()
    assert dirty == f"{dev_name}:{clean_tag}-dirty"
    ok(glue("image", "save", dev_name, "--force", cwd=checkout))
    ref = f"{dev_name}:{clean_tag}"
    client.images.get(ref).tag(dev_name, "alias")  # a second tag of the same image

    # test: the scenario runs as a fleet job would, with bc from the image.
    scenario = tmp_path / "calc.py"
    scenario.write_text(SCENARIO)
    trial = ok(
        glue(
            "image",
            "test",
            ref,
            "--scenario",
            str(scenario),
            "--reduce",
            "sum:value",
            "--io",
            str(tmp_path / "trial"),
        )
    )
    assert "outcome: succeeded" in trial.out
    assert 'result: {"value": 42}' in trial.out
    assert 'reduced: {"sum:value": 42}' in trial.out
    log = tmp_path / "trial" / "output.log"
    assert f"log: {log}" in trial.out and "bc says 42" in log.read_text()
    job = json.loads((tmp_path / "trial" / "io" / "configs" / "job.json").read_text())
    assert job["scenario"] == "calc.py" and job["image"] == ref
    # The base image has no bc: the same scenario fails there, with exit 1 and its outcome.
    failed = glue("image", "test", executor_image, "--scenario", str(scenario))
    assert failed.code == 1 and "outcome: failed" in failed.out

    # push: both tags of one image; the printed reference is what workers pull.
    pushed = ok(glue("image", "push", ref, env=env)).out.strip()
    assert pushed == f"{registry.address}/{ref}"
    ok(glue("image", "push", f"{dev_name}:alias", env=env))

    listed = json.loads(ok(glue("registry", "ls", f"{dev_name}*", "--json", env=env)).out)
    assert {row["tag"] for row in listed} == {clean_tag, "alias"}
    assert all(row["size"] > 1000 and row["created"].startswith("20") for row in listed)
    assert listed[0]["digest"] == listed[1]["digest"]
    table = ok(glue("registry", "ls", env=env)).out
    assert ref in table and "MB" in table
    inspected = json.loads(ok(glue("registry", "inspect", ref, env=env)).out)
    assert inspected["labels"][BASE_LABEL] == executor_image
    assert inspected["layers"] and inspected["history"]

    # rm: the tag shares its digest with `alias`, so it is refused, naming alias.
    refused = glue("registry", "rm", ref, env=env).error_line()
    assert "alias" in refused and "--all-tags" in refused
    removed = ok(glue("registry", "rm", ref, "--all-tags", env=env)).out
    assert f"deleted {ref}" in removed and f"deleted {dev_name}:alias" in removed
    assert json.loads(ok(glue("registry", "ls", f"{dev_name}*", "--json", env=env)).out) == []

    # gc: the dry run says what would go; the collection frees it; then nothing is left.
    dry = ok(glue("registry", "gc", "--dry-run", "--container", registry.container)).out
    would = int(dry.split()[2])
    assert dry.startswith("would free") and would > 1000
    freed = ok(glue("registry", "gc", "--container", registry.container)).out
    assert freed.startswith("freed") and int(freed.split()[1]) >= would
    again = ok(glue("registry", "gc", "--dry-run", "--container", registry.container)).out
    assert again.startswith("would free 0 bytes")
