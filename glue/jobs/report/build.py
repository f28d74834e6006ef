"""Turn a run summary (RunState.summary(), or its copy in summary.json) into a report:
report.html, one self-contained page, and timeline.png, its chart on its own.

A run of up to DETAIL_LIMIT jobs gets one bar per job and its job list on the page. A bigger
one (100,000 jobs) gets aggregated bars (aggregate.py) and its job list in pages of
PAGE_SIZE jobs beside the report (jobs-0001.html, ...), so the page stays small and opens fast.

Everything here works from the summary dict alone, so a report can be made while the run is
still going (jobs without an end show as running) and long after Redis is gone. Every string
in a summary came from users' scenarios, hosts and reducers: the page escapes all of it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from glue.atomic import atomic_write
from glue.jobs import dispatch
from glue.jobs.executor import FAILED, SUCCEEDED, TIMED_OUT
from glue.jobs.job import ERROR, LOST, STOPPED
from glue.jobs.report import aggregate, chart, page

HTML_NAME = "report.html"
PNG_NAME = "timeline.png"
SLOWEST = 10
DETAIL_LIMIT = 2000  # jobs drawn one by one and listed on the page itself
PAGE_SIZE = 2000  # jobs per page of the job list of a bigger run
SHOWN_FAILURES = 100  # failure cards on the page (each has its log); the rest are in the list
SHOWN_NOTES = 100
# A reduced value longer than this is cut on the page (concat of 100,000 results is megabytes).
SHOWN_VALUE_CHARS = 4000
JOBS_PAGE = "jobs-{:04d}.html"
OPEN_FAILURES = 5  # failures shown with their log at once; the others open on a click
# Shown instead of a status for jobs without an end: still going, or it never said.
RUNNING, UNKNOWN = "running", "unknown"
NOT_FINISHED = "not finished"  # scenarios of an incomplete run that have no outcome yet
COLORS = {
    SUCCEEDED: "#2f9e5b",
    FAILED: "#d9423a",
    TIMED_OUT: "#ef8a17",
    ERROR: "#b5176e",
    LOST: "#7c4dcc",
    STOPPED: "#6b7280",
    RUNNING: "#3b82f6",
    NOT_FINISHED: "#93c5fd",
    UNKNOWN: "#a3a3a3",
}
OTHER_COLOR = "#44403c"  # a status this version does not know
# Statuses that mean something went wrong: these bars must stand out on the timeline.
LOUD = {FAILED, TIMED_OUT, ERROR, LOST}


class JobRow(NamedTuple):
    """One job as the page shows it: times in seconds since the run started."""

    anchor: str
    scenario: str
    status: str
    lane: str
    start: float | None
    end: float | None
    exit_code: int | None
    attempt: int | None
    expected: float | None  # seconds the job was expected to take when it was queued
    href: str  # where the job's row is: on this page, or on a page of the job list

    @property
    def duration(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start


def natural_key(text: str) -> list[tuple[int, int | str]]:
    """node2 before node10, slot 2 before slot 10: numbers compare as numbers."""
    return [(1, int(part)) if part.isdigit() else (0, part) for part in re.split(r"(\d+)", text)]


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def since(moment: str | None, origin: datetime | None) -> float | None:
    when = parse_time(moment)
    return None if when is None or origin is None else (when - origin).total_seconds()


def human_duration(seconds: float | None) -> str:
    """0.42 s, 14.2 s, 3 min 07 s, 2 h 05 min: the precision a person wants at each scale."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def human_time(text: str | None) -> str:
    when = parse_time(text)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "—"


def lane_of(host: str | None, slot: int | str | None) -> str:
    return f"{host or '?'}/{'?' if slot is None else slot}"


def origin_of(summary: dict[str, Any]) -> datetime | None:
    """Time zero of the timeline: the run's first start, else its first recorded moment."""
    if summary.get("started"):
        return parse_time(summary["started"])
    moments = [parse_time(j.get("end")) for j in summary.get("jobs") or [] if j.get("end")]
    return min(moments, default=None)


def seconds_or_none(value: Any) -> float | None:
    """A number of seconds from a summary (which may come from a file anyone could edit)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def job_rows(summary: dict[str, Any]) -> list[JobRow]:
    complete = summary.get("complete", False)
    origin = origin_of(summary)
    jobs = summary.get("jobs") or []
    paged = len(jobs) > DETAIL_LIMIT
    rows = []
    for index, job in enumerate(jobs):
        end = since(job.get("end"), origin)
        status = job.get("status") or UNKNOWN
        if end is None:
            status = UNKNOWN if complete else RUNNING
        rows.append(
            JobRow(
                anchor=f"job-{index}",
                scenario=str(job.get("scenario")),
                status=status,
                lane=lane_of(job.get("host"), job.get("slot")),
                start=since(job.get("start"), origin),
                end=end,
                exit_code=job.get("exit_code"),
                attempt=job.get("attempt"),
                expected=seconds_or_none(job.get("expected")),
                href=(JOBS_PAGE.format(index // PAGE_SIZE + 1) if paged else "") + f"#job-{index}",
            )
        )
    return rows


def color_of(status: str) -> str:
    return COLORS.get(status, OTHER_COLOR)


def status_order(status: str) -> tuple[int, str]:
    """The palette's order (succeeded first, then the failures); unknown statuses last."""
    order = list(COLORS)
    return (order.index(status), "") if status in COLORS else (len(order), status)


def timeline(summary: dict[str, Any], rows: list[JobRow]) -> chart.Chart:
    drawn = [r for r in rows if r.start is not None]
    lanes = sorted({r.lane for r in drawn}, key=natural_key)
    index = {lane: i for i, lane in enumerate(lanes)}
    if len(rows) <= DETAIL_LIMIT:
        bars = [
            chart.Bar(
                lane=index[r.lane],
                start=r.start,
                end=r.end,
                status=r.status,
                tooltip=f"{r.scenario}\n{r.status} on {r.lane}, "
                + (human_duration(r.duration) if r.end is not None else f"since +{r.start:.1f} s"),
                anchor=r.anchor,
                loud=r.status in LOUD,
            )
            for r in drawn
        ]
    else:
        bars = aggregated_bars(drawn, lanes, index)
    counts = Counter(r.status for r in drawn)
    colors = {status: color_of(status) for status in sorted(counts, key=status_order)}
    return chart.render(f"run {summary['run_id']}", lanes, bars, colors, counts)


def aggregated_bars(rows: list[JobRow], lanes: list[str], index: dict[str, int]) -> list[chart.Bar]:
    """A big run's bars: each lane's jobs merged over stretches of time (aggregate.py)."""
    spans = [aggregate.Span(index[r.lane], r.start, r.end, r.status) for r in rows]
    right = max([r.end for r in rows if r.end is not None] + [r.start for r in rows], default=0)
    bars = []
    for seg in aggregate.segments(spans, len(lanes), right, lambda status: status in LOUD):
        when = f"+{seg.start:.0f} s to +{seg.end:.0f} s"
        if seg.loud:
            tooltip = f"{lanes[seg.lane]}: {seg.jobs} job(s) {seg.status}, {when}"
        else:
            tooltip = (
                f"{lanes[seg.lane]}: {seg.jobs} job(s), mostly {seg.status}, {when}, "
                f"busy {seg.busy:.0%}"
            )
        bars.append(
            chart.Bar(seg.lane, seg.start, seg.end, seg.status, tooltip, "all-jobs", seg.loud)
        )
    return bars


def host_rows(summary: dict[str, Any], rows: list[JobRow]) -> list[dict[str, Any]]:
    """Per host: jobs by status (from the summary), slots seen and time spent running jobs."""
    slots: dict[str, set[str]] = {}
    busy: Counter[str] = Counter()
    for r in rows:
        host = r.lane.rpartition("/")[0]
        slots.setdefault(host, set()).add(r.lane)
        busy[host] += r.duration or 0.0
    hosts = summary.get("hosts") or {}
    return [
        {
            "host": host,
            "counts": counts,
            "jobs": sum(counts.values()),
            "slots": len(slots.get(host, ())),
            "busy": human_duration(busy[host]),
        }
        for host, counts in sorted(hosts.items(), key=lambda item: natural_key(item[0]))
    ]


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def shown_value(value: Any, run_id: str) -> str:
    """A reduced value as the page shows it: whole when short, else its first lines and where
    the whole of it is, so one big `concat` does not make the page megabytes long."""
    text = pretty_json(value)
    if len(text) <= SHOWN_VALUE_CHARS:
        return text
    cut = text.rfind("\n", 0, SHOWN_VALUE_CHARS) + 1 or SHOWN_VALUE_CHARS
    return (
        f"{text[:cut]}... {len(text) - cut:,} more characters: "
        f"`glue result {run_id}` prints the whole value"
    )


def failure_cards(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "scenario": f.get("scenario"),
            "status": f.get("status") or UNKNOWN,
            "lane": lane_of(f.get("host"), f.get("slot")),
            "attempt": f.get("attempt"),
            "exit_code": f.get("exit_code"),
            "oom_killed": bool(f.get("oom_killed")),
            "error": f.get("error"),
            "log_tail": f.get("log_tail") or "",
        }
        for f in summary.get("failures") or []
    ]


def page_view(summary: dict[str, Any], rows: list[JobRow], svg: str) -> dict[str, Any]:
    """Everything the page template shows, already formatted."""
    started, ended = summary.get("started"), summary.get("ended")
    makespan = since(ended, parse_time(started))
    total, done = summary.get("total", len(rows)), summary.get("done", len(rows))
    counts = dict(sorted((summary.get("counts") or {}).items(), key=lambda c: status_order(c[0])))
    timed = sorted((r for r in rows if r.duration is not None), key=lambda r: -r.duration)
    failures = failure_cards(summary)
    shown = {*counts, *(r.status for r in rows), *(f["status"] for f in failures), NOT_FINISHED}
    # Older summaries have no dispatch figures: they come from the same jobs.
    figures = summary.get("dispatch") or dispatch.summarize(summary.get("jobs") or [])
    notes = summary.get("reduce_notes") or []
    paged = len(rows) > DETAIL_LIMIT
    return {
        "run_id": summary["run_id"],
        "source": summary.get("source"),
        "results": summary.get("results"),
        "started": human_time(started),
        "ended": human_time(ended),
        "makespan": human_duration(makespan),
        "lower_bound": figures["lower_bound"] and human_duration(figures["lower_bound"]),
        "total": total,
        "done": done,
        "complete": summary.get("complete", False),
        "counts": counts,
        "unfinished": max(0, total - done),
        "colors": {status: color_of(status) for status in shown},
        "hosts": host_rows(summary, rows),
        "host_statuses": sorted(
            {s for h in (summary.get("hosts") or {}).values() for s in h}, key=status_order
        ),
        "reduced": [
            (spec, shown_value(v, summary["run_id"]))
            for spec, v in (summary.get("reduced") or {}).items()
        ],
        "reduce_notes": notes[:SHOWN_NOTES],
        "notes_cut": len(notes) > SHOWN_NOTES,
        # The fold counts every note and keeps the first few (older summaries kept them all).
        "notes_total": summary.get("reduce_notes_total", len(notes)),
        "paused_slots": summary.get("paused_slots") or [],
        "slowest": timed[:SLOWEST],
        "failures": failures[:SHOWN_FAILURES],
        "failures_total": len(failures),
        "open_failures": OPEN_FAILURES,
        "gaps": sorted(figures["slots"].items(), key=lambda item: natural_key(item[0])),
        "gap_mean": human_duration(figures["gap_mean"]),
        "gap_max": human_duration(figures["gap_max"]),
        "aggregated": paged,
        "total_rows": len(rows),
        "jobs": [] if paged else rows,
        "job_pages": job_pages(len(rows)) if paged else [],
        "page_size": PAGE_SIZE,
        "undrawn": sum(1 for r in rows if r.start is None),
        "timeline_svg": svg,
        "png_name": PNG_NAME,
        "human_duration": human_duration,
    }


def job_pages(count: int) -> list[dict[str, str]]:
    """The pages of a big run's job list: file name and the range of jobs each holds."""
    return [
        {
            "name": JOBS_PAGE.format(n + 1),
            "label": f"{first + 1} to {min(first + PAGE_SIZE, count)}",
        }
        for n, first in enumerate(range(0, count, PAGE_SIZE))
    ]


def _write(path: Path, data: bytes) -> None:
    with atomic_write(path) as out:
        out.write(data)


def write_report(summary: dict[str, Any], out_dir: Path) -> Path:
    """Write report.html, timeline.png and, for a big run, its pages of jobs into out_dir
    (made if needed); the page's path.

    Each file is replaced whole (temp file + rename), so a browser or a web server reading
    the folder meanwhile sees the old report or the new one, never half of one. The pages of
    jobs come first and the report last; pages an earlier, bigger report left are removed."""
    rows = job_rows(summary)
    drawn = timeline(summary, rows)
    view = page_view(summary, rows, drawn.svg)
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = view["job_pages"]
    for n, this in enumerate(pages):
        jobs = rows[n * PAGE_SIZE : (n + 1) * PAGE_SIZE]
        listing = {**view, "jobs": jobs, "page": this, "pages": pages, "report_name": HTML_NAME}
        _write(out_dir / this["name"], page.render(listing, "jobs").encode())
    for stale in set(out_dir.glob(JOBS_PAGE.replace("{:04d}", "*"))) - {
        out_dir / p["name"] for p in pages
    }:
        stale.unlink()
    _write(out_dir / PNG_NAME, drawn.png)
    html_path = out_dir / HTML_NAME
    _write(html_path, page.render(view).encode())
    return html_path
