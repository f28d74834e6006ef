"""A run whose scenarios and results live in S3 (the real Ceph RGW): scenarios are listed
and fetched from the prefix, results, logs and the run summary land beside it (each attempt
under its own prefix, copied to the scenario's place), concat reads its parts back from S3,
and `glue runs delete --results` removes them."""

from __future__ import annotations

import json
import secrets

from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine


def test_scenarios_from_s3_and_results_back_to_s3(
    engine: Engine, rgw: RgwEndpoint, rgw_s3: S3Client, monkeypatch
) -> None:
    bucket = f"glue-jobs-{secrets.token_hex(4)}"
    rgw_s3.create_bucket(Bucket=bucket)
    objects = {f"scen/s{n}.py": scenarios.script(scenarios.VALUE, n=n) for n in range(1, 6)}
    objects["scen/deep/s6.py"] = scenarios.script(scenarios.VALUE, n=6)
    objects["scen/notes.txt"] = "not a scenario"
    objects["scen/deep/"] = ""  # a folder marker, as S3 consoles make them
    objects["scen/deep/../../escape.py"] = "print('never run')"
    for key, body in objects.items():
        rgw_s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    for name, value in rgw.env().items():
        monkeypatch.setenv(name, value)
        engine.env[name] = value
    engine.start_workers("--slots", "2")
    run_id = engine.run_id("s3")

    code, _, err = engine.glue(
        "run", f"s3://{bucket}/scen", "--run-id", run_id, "--executor", "process",
        "--reduce", "sum:value", "--reduce", "concat",
    )  # fmt: skip
    assert code == 0, err
    assert "skipping key 'scen/deep/../../escape.py': '..' segment in key" in err
    assert "6 scenarios, 6 queued, 0 already queued or done" in err
    assert f"results in s3://{bucket}/results" in err
    summary = engine.wait_complete(run_id)
    summary_key = f"results/{run_id}/summary.json"
    engine.wait(
        "the summary in S3",
        lambda: rgw_s3.list_objects_v2(Bucket=bucket, Prefix=summary_key)["KeyCount"],
    )
    assert summary["counts"] == {"succeeded": 6}
    assert summary["reduced"]["sum:value"] == 21

    listed = rgw_s3.list_objects_v2(Bucket=bucket, Prefix=f"results/{run_id}/")
    keys = {o["Key"].removeprefix(f"results/{run_id}/") for o in listed["Contents"]}
    names = ["s1.py", "s2.py", "s3.py", "s4.py", "s5.py", "deep/s6.py"]
    expected = {f"{n}/{part}" for n in names for part in ("outcome.json", "logs/output.log")}
    expected |= {f"{n}/results/result.json" for n in names} | {"summary.json"}
    expected |= {
        f"{n}/attempts/1/{part}"
        for n in names
        for part in ("outcome.json", "logs/output.log", "results/result.json")
    }
    assert keys == expected

    def read(key: str):
        return json.loads(rgw_s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    assert read(summary_key) == summary
    assert read(f"results/{run_id}/deep/s6.py/results/result.json") == {
        "value": 6,
        "m": {"score": 12},
    }
    # concat's parts are the results in S3, in scenario order (deep/s6.py first).
    assert [part["value"] for part in summary["reduced"]["concat"]] == [6, 1, 2, 3, 4, 5]

    code, _, err = engine.glue("runs", "delete", run_id, "--results")
    assert code == 0, err
    assert rgw_s3.list_objects_v2(Bucket=bucket, Prefix=f"results/{run_id}/")["KeyCount"] == 0
    assert rgw_s3.list_objects_v2(Bucket=bucket, Prefix="scen/")["KeyCount"] == len(
        objects
    )  # scenarios stay
