"""`glue report`'s page and chart, from a summary written here: every job on the timeline,
counts, the slowest list in order, failures with their log escaped, a real PNG, clean
overwrites, and a run with no jobs at all."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from glue.cli.main import build_parser
from glue.jobs.report import aggregate
from glue.jobs.report.build import (
    HTML_NAME,
    PAGE_SIZE,
    PNG_NAME,
    human_duration,
    job_rows,
    natural_key,
    page_view,
    write_report,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = "<script>alert('tail')</script>"
ODD_NAME = "odd <i>name</i> & co.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def at(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def job(scenario, status, host, slot, start, end, exit_code=0, **extra) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "status": status,
        "host": host,
        "slot": slot,
        "start": at(start),
        "end": at(end),
        "exit_code": exit_code,
        "attempt": 1,
        **extra,
    }


def make_summary() -> dict[str, Any]:
    """A run of 7 scenarios on node1, node2 and node10 (2 slots each); one still running."""
    outcomes = [
        job("a.py", "succeeded", "node1", 0, 0, 12),
        job("b.py", "succeeded", "node1", 1, 1, 41),
        job(
            "c.py",
            "failed",
            "node2",
            0,
            2,
            9,
            exit_code=3,
            error="exit code 3",
            oom_killed=False,
            log_tail=f"starting\n{HOSTILE}",
        ),
        job("d.py", "timed_out", "node10", 0, 3, 33, exit_code=None, error="timed out after 30s"),
        job(ODD_NAME, "succeeded", "node2", 1, 5, 25),
        job("f.py", "succeeded", "node10", 1, 8, 10),
        job("g.py", "succeeded", "node2", 0, 12, None),  # no end yet
    ]
    jobs = sorted(outcomes, key=lambda o: o["scenario"])
    return {
        "run_id": "sweep-7",
        "source": "s3://scenarios/team",
        "results": "s3://scenarios/results",
        "total": 8,
        "done": 7,
        "complete": False,
        "counts": {"failed": 1, "succeeded": 5, "timed_out": 1},
        "hosts": {
            "node1": {"succeeded": 2},
            "node10": {"succeeded": 1, "timed_out": 1},
            "node2": {"failed": 1, "succeeded": 2},
        },
        "reduced": {"sum:value": 42, "concat": [{"note": "<b>bold</b>"}]},
        "reduce_notes": ["sum:value skipped d.py: no field 'value'"],
        "started": at(0),
        "ended": at(41),
        "failures": [o for o in jobs if o["status"] in ("failed", "timed_out")],
        "jobs": [{k: v for k, v in o.items() if k not in ("error", "log_tail")} for o in jobs],
    }


def section(page: str, title: str) -> str:
    """The page's <section> whose heading (or <summary>) starts with `title`."""
    start = page.index(f">{title}")
    return page[start : page.index("</section>", start)]


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, str]:
    page = write_report(make_summary(), tmp_path / "out")
    return page, page.read_text()


def test_every_job_is_on_the_timeline_and_in_the_job_list(report) -> None:
    page, text = report
    assert page.name == HTML_NAME
    svg = text[text.index("<svg") : text.index("</svg>")]
    tooltips = [html.unescape(t) for t in re.findall(r"<title>(.*?)</title>", svg, re.S)]
    for scenario in ("a.py", "b.py", "c.py", "d.py", ODD_NAME, "f.py", "g.py"):
        assert sum(t.startswith(scenario + "\n") for t in tooltips) == 1, scenario
        assert html.escape(scenario, quote=False) in section(text, "All jobs")
    assert "g.py\nrunning on node2/0, since +12.0 s" in tooltips
    assert "b.py\nsucceeded on node1/1, 40.0 s" in tooltips
    # Each bar links to its job's row.
    assert svg.count('xlink:href="#job-') == 7 and text.count('<tr id="job-') == 7


def test_notes_are_counted_in_all_though_only_the_first_are_kept(tmp_path: Path) -> None:
    summary = make_summary()
    kept = [f"sum:value skipped s{n}.py: no field 'value'" for n in range(20)]
    summary["reduce_notes"] = [*kept, "... and 99980 more"]
    summary["reduce_notes_total"] = 100_000
    notes = section(write_report(summary, tmp_path / "out").read_text(), "Reduced result")
    assert "<h3>Notes (100000)</h3>" in notes
    assert notes.count("<li") == 21 and "... and 99980 more" in notes
    assert "has them all" not in notes  # the summary keeps only these too


def test_counts_banner_and_reduced_result(report) -> None:
    _, text = report
    counts = section(text, "Scenarios by status")
    for status, n in (("succeeded", 5), ("failed", 1), ("timed_out", 1), ("not finished", 1)):
        assert re.search(rf">{status}\s*<span class=\"n\">{n}</span>", counts), status
    assert "7 of 8 scenarios done" in text
    reduced = section(text, "Reduced result")
    assert "sum:value" in reduced and "42" in reduced
    assert "&lt;b&gt;bold&lt;/b&gt;" in reduced and "<b>bold" not in reduced
    assert "no field &#39;value&#39;" in reduced


def test_a_long_reduced_value_is_cut_on_the_page(tmp_path: Path) -> None:
    summary = make_summary()
    summary["reduced"]["concat"] = [{"scenario": f"s{n:06d}.py", "value": n} for n in range(10_000)]
    text = write_report(summary, tmp_path / "out").read_text()
    reduced = section(text, "Reduced result")
    assert len(reduced) < 8000, len(reduced)  # whole, it would be some 600,000
    assert "s000000.py" in reduced and "s009999.py" not in reduced
    assert f"more characters: `glue result {summary['run_id']}` prints the whole value" in reduced
    # Short values stay whole.
    assert "sum:value" in reduced and "42" in reduced


def test_slowest_scenarios_come_longest_first(report) -> None:
    _, text = report
    rows = section(text, "Slowest scenarios").split("<tr>")[2:]
    names = [html.unescape(re.search(r'href="#job-\d+">(.*?)</a>', r, re.S)[1]) for r in rows]
    # b 40 s, d 30 s, odd 20 s, a 12 s, c 7 s, f 2 s; g has no end and no duration.
    assert names == ["b.py", "d.py", ODD_NAME, "a.py", "c.py", "f.py"]
    assert "40.0 s" in rows[0] and "node1/1" in rows[0]


def test_failures_show_status_exit_code_error_and_escaped_log(report) -> None:
    _, text = report
    failures = section(text, "Failures (2)")
    assert "c.py" in failures and "d.py" in failures
    assert "exit code 3" in failures and "timed out after 30s" in failures
    logs = re.findall(r"<pre>(.*?)</pre>", failures, re.S)
    assert [html.unescape(log) for log in logs] == [f"starting\n{HOSTILE}"]
    # Nothing from the summary became markup anywhere on the page.
    assert "<script" not in text and "<i>name" not in text


def test_page_is_self_contained(report) -> None:
    _, text = report
    assert not re.search(r"<(script|link|img|iframe)\b", text)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "url(http" not in text and "@import" not in text


def test_lanes_sort_naturally() -> None:
    lanes = ["node10/0", "node2/1", "node1/10", "node1/2", "node2/0"]
    natural = ["node1/2", "node1/10", "node2/0", "node2/1", "node10/0"]
    assert sorted(lanes, key=natural_key) == natural


@pytest.mark.parametrize(
    "seconds, text",
    [(None, "—"), (0.123, "0.12 s"), (14.25, "14.2 s"), (187, "3 min 07 s"), (7500, "2 h 05 min")],
)
def test_durations_read_like_a_person_would_say_them(seconds, text) -> None:
    assert human_duration(seconds) == text


def test_a_job_without_an_end_shows_as_running_or_unknown() -> None:
    summary = make_summary()
    status = {row.scenario: row.status for row in job_rows(summary)}
    assert (status["g.py"], status["a.py"]) == ("running", "succeeded")
    summary["complete"] = True
    assert {row.scenario: row.status for row in job_rows(summary)}["g.py"] == "unknown"
    assert page_view(summary, job_rows(summary), "")["slowest"][0].scenario == "b.py"


def test_timeline_png_is_a_real_image(report) -> None:
    page, _ = report
    png = page.parent / PNG_NAME
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    with Image.open(png) as image:
        assert image.format == "PNG"
        width, height = image.size
        image.verify()
    assert width >= 1000 and 250 <= height <= 2000


def test_a_second_report_replaces_the_first_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_report(make_summary(), out)
    finished = make_summary()
    finished["jobs"] = finished["jobs"][:2]
    finished.update(run_id="sweep-8", failures=[], total=2, done=2, complete=True)
    page = write_report(finished, out)
    text = page.read_text()
    assert 'Run <span class="mono">sweep-8</span>' in text and "sweep-7" not in text
    assert "c.py" not in text and "scenarios done" not in text
    assert sorted(p.name for p in out.iterdir()) == [HTML_NAME, PNG_NAME]
    assert (out / PNG_NAME).read_bytes().startswith(PNG_SIGNATURE)


def test_a_run_with_no_jobs_still_renders(tmp_path: Path) -> None:
    empty = {
        "run_id": "empty",
        "source": "/data/scen",
        "results": "/data/results",
        "total": 0,
        "done": 0,
        "complete": False,
        "counts": {},
        "hosts": {},
        "reduced": {"count": {}},
        "reduce_notes": [],
        "started": None,
        "ended": None,
        "failures": [],
        "jobs": [],
    }
    page = write_report(empty, tmp_path / "out")
    text = page.read_text()
    assert "No scenarios in this run yet" in text and "All jobs (0)" in text
    assert "Failures" not in text
    with Image.open(page.parent / PNG_NAME) as image:
        assert image.format == "PNG"


def test_help_documents_every_option(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser("report").parse_args(["report", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: glue report")
    for option in ("--output", "--from-results", "--s3-endpoint-url", "--redis-url", "--config"):
        assert option in out


def test_expected_duration_and_idle_gaps_are_on_the_page(tmp_path: Path) -> None:
    summary = make_summary()
    summary["jobs"][0]["expected"] = 11.0  # a.py: 12 s on node1/0, then h.py 3 s later
    summary["jobs"].append(job("h.py", "succeeded", "node1", 0, 15, 20))
    text = write_report(summary, tmp_path / "out").read_text()
    row = text[text.index('<tr id="job-0">') :].split("</tr>")[0]
    assert "12.0 s" in row and "11.0 s" in row
    slowest = section(text, "Slowest scenarios")
    assert '<th class="num">Expected</th>' in slowest
    dispatch = section(text, "Dispatch")
    assert re.search(r'node1/0</td><td class="num">2</td>\n<td class="num">3.00 s</td>', dispatch)
    assert "3.00 s" in dispatch and "Idle gap between jobs: mean 3.00 s, longest 3.00 s" in dispatch
    assert "lower bound" in text


def test_a_big_run_gets_aggregated_bars_and_paged_jobs(tmp_path: Path) -> None:
    jobs = []
    for n in range(2 * PAGE_SIZE + 10):
        lane, rank = n % 4, n // 4
        status = "failed" if n == 999 else "succeeded"
        jobs.append(job(f"s{n:05d}.py", status, f"node{lane // 2}", lane % 2, rank, rank + 0.9))
    summary = {**make_summary(), "jobs": jobs, "failures": [jobs[999]], "complete": True}
    summary.update(
        total=len(jobs), done=len(jobs), counts={"succeeded": len(jobs) - 1, "failed": 1}
    )
    out = tmp_path / "out"
    (out).mkdir()
    (out / "jobs-0009.html").write_text("left from an earlier, bigger report")
    text = write_report(summary, out).read_text()
    assert sorted(p.name for p in out.glob("jobs-*.html")) == [
        "jobs-0001.html", "jobs-0002.html", "jobs-0003.html",
    ]  # fmt: skip
    assert '<tr id="job-' not in text and f"All jobs ({len(jobs)})" in text
    last = (out / "jobs-0003.html").read_text()
    assert last.count('<tr id="job-') == 10 and "s04009.py" in last and "Back to the report" in last
    svg = text[text.index("<svg") : text.index("</svg>")]
    tooltips = [html.unescape(t) for t in re.findall(r"<title>(.*?)</title>", svg, re.S)]
    # Each lane is one busy stretch (node1/1's cut where its failure fills a bin), and the
    # one failure has a loud bar of its own.
    busy = [t for t in tooltips if "mostly succeeded" in t]
    assert {t.split(":")[0] for t in busy} == {"node0/0", "node0/1", "node1/0", "node1/1"}
    assert len(busy) <= 5 and len(tooltips) <= 7
    assert len([t for t in tooltips if t.startswith("node1/1: 1 job(s) failed, +")]) == 1


def test_aggregated_segments_merge_bins_and_keep_short_failures() -> None:
    spans = [aggregate.Span(0, float(s), s + 1.0, "succeeded") for s in range(100)]
    spans.append(aggregate.Span(0, 50.2, 50.3, "failed"))  # shorter than a bin
    spans.append(aggregate.Span(1, 10.0, None, "running"))  # still going: up to the edge
    got = aggregate.segments(spans, 2, 100.0, lambda s: s == "failed")
    base = [s for s in got if not s.loud]
    assert [(s.lane, s.status, s.start, s.end, s.jobs) for s in base] == [
        (0, "succeeded", 0.0, 100.0, 101),
        (1, "running", 10.0, 100.0, 1),
    ]
    (loud,) = [s for s in got if s.loud]
    assert (loud.lane, loud.status, loud.jobs) == (0, "failed", 1) and loud.end - loud.start < 5
    assert aggregate.bins_per_lane(1) == aggregate.MAX_BINS
    assert aggregate.bins_per_lane(10_000) == aggregate.MIN_BINS
