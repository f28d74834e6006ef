"""`glue report` on real runs: a run through real workers and Redis gives a page naming every
scenario and the failure with its log; the summary.json the run left in its results folder
(or in the real Ceph RGW) gives the same page without Redis; an unknown run writes nothing."""

from __future__ import annotations

import json
import re
import secrets
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

from PIL import Image

from glue.cli import main as cli
from glue.jobs.report.build import HTML_NAME, PNG_NAME
from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine

VALUES = [f"v{n}.py" for n in range(1, 5)]


def glue(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_report_of_a_run_from_redis_and_from_its_results_folder(
    engine: Engine, tmp_path: Path, monkeypatch
) -> None:
    files = {name: scenarios.script(scenarios.VALUE, n=n) for n, name in enumerate(VALUES, 1)}
    files["fail.py"] = scenarios.script(scenarios.FAIL)
    source = scenarios.write(tmp_path / "scenarios", files)
    results = tmp_path / "results"
    run_id = engine.run_id("report")
    engine.start_workers("--slots", "2")
    code, _, err = engine.glue(
        "run", str(source), "--run-id", run_id, "--executor", "process", "--retries", "0",
        "--results", str(results), "--reduce", "sum:value",
    )  # fmt: skip
    assert code == 0, err
    summary = engine.wait_complete(run_id)
    engine.wait("the run summary", (results / run_id / "summary.json").exists)

    # From Redis, into the default folder reports/RUN_ID under the current one.
    monkeypatch.chdir(tmp_path)
    code, out, err = engine.glue("report", run_id)
    page = tmp_path / "reports" / run_id / HTML_NAME
    assert (code, out, err) == (0, f"{Path('reports') / run_id / HTML_NAME}\n", "")
    text = page.read_text()
    for scenario in [*VALUES, "fail.py"]:
        assert f'<td class="mono">{scenario}</td>' in text, scenario
    assert "sum:value" in text and ">10</pre>" in text  # 1 + 2 + 3 + 4
    failures = text[text.index("<h2>Failures (1)") :]
    assert "fail.py" in failures and "exit code\n3" in failures and "about to fail" in failures
    # One timeline lane per host and slot the jobs really ran on.
    lanes = {f"{j['host']}/{j['slot']}" for j in summary["jobs"]}
    assert lanes == set(re.findall(r'<td class="mono">([^<]+/\d+)</td>', text))
    with Image.open(page.parent / PNG_NAME) as image:
        assert image.format == "PNG"

    # From summary.json, as if Redis were gone: the same summary, so the same page.
    code, out, err = engine.glue(
        "report", run_id, "--from-results", str(results), "--output", str(tmp_path / "again")
    )
    assert code == 0, err
    assert Path(out.strip()).read_text() == text
    assert json.loads((results / run_id / "summary.json").read_text())["counts"] == {
        "failed": 1,
        "succeeded": 4,
    }


def test_unknown_run_or_missing_summary_is_one_line_and_writes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    code, out, err = engine.glue("report", "no-such-run", "--output", str(out_dir))
    assert (code, out) == (1, "")
    assert err == "glue: error: no run 'no-such-run' in this Redis\n"
    code, out, err = engine.glue(
        "report", "no-such-run", "--from-results", str(tmp_path), "--output", str(out_dir)
    )
    assert (code, out) == (1, "")
    assert err.startswith(f"glue: error: no run summary at {tmp_path}/no-such-run/summary.json")
    assert err.count("\n") == 1
    assert not out_dir.exists()


def test_report_from_a_summary_in_s3(
    rgw: RgwEndpoint, rgw_s3: S3Client, tmp_path: Path, monkeypatch
) -> None:
    bucket = f"glue-report-{secrets.token_hex(4)}"
    rgw_s3.create_bucket(Bucket=bucket)
    job = {"scenario": "deep/s1.py", "status": "succeeded", "host": "node1", "slot": 0}
    job |= {"start": "2025-03-01T12:00:00.000000Z", "end": "2025-03-01T12:00:05.000000Z"}
    job |= {"exit_code": 0, "attempt": 1}
    summary = {
        "run_id": "s3-run",
        "source": f"s3://{bucket}/scen",
        "results": f"s3://{bucket}/results",
        "total": 1,
        "done": 1,
        "complete": True,
        "counts": {"succeeded": 1},
        "hosts": {"node1": {"succeeded": 1}},
        "reduced": {"count": {"succeeded": 1}},
        "reduce_notes": [],
        "started": job["start"],
        "ended": job["end"],
        "failures": [],
        "jobs": [job],
    }
    rgw_s3.put_object(
        Bucket=bucket, Key="results/s3-run/summary.json", Body=json.dumps(summary).encode()
    )
    for name, value in rgw.env().items():
        monkeypatch.setenv(name, value)

    place = f"s3://{bucket}/results"
    code, out, err = glue("report", "s3-run", "--from-results", place, "--output", str(tmp_path))
    assert code == 0, err
    text = Path(out.strip()).read_text()
    assert "deep/s1.py" in text and "5.00 s" in text and "No scenarios" not in text

    code, _, err = glue("report", "other", "--from-results", place, "--output", str(tmp_path))
    assert code == 1
    assert err.startswith(f"glue: error: no run summary at {place}/other/summary.json")
