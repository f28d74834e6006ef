"""Turn a run summary (RunState.summary(), or its copy in summary.json) into a report:
report.html, one self-contained page, and timeline.png, its chart on its own.

Everything here works from the summary dict alone, so a report can be made while the run is
still going (jobs without an end show as running) and long after Redis is gone. Every string
in a summary came from users' scenarios, hosts and reducers: the page escapes all of it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from glue.atomic import atomic_write
from glue.jobs.executor import FAILED, SUCCEEDED, TIMED_OUT
from glue.jobs.job import ERROR, LOST, STOPPED
from glue.jobs.report import chart, page

HTML_NAME = "report.html"
PNG_NAME = "timeline.png"
SLOWEST = 10
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


@dataclass(frozen=True)
class JobRow:
    """One job as the page shows it: times in seconds since the run started."""

    anchor: str
    scenario: str
    status: str
    lane: str
    start: float | None
    end: float | None
    exit_code: int | None
    attempt: int | None

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


def job_rows(summary: dict[str, Any]) -> list[JobRow]:
    complete = summary.get("complete", False)
    origin = origin_of(summary)
    rows = []
    for index, job in enumerate(summary.get("jobs") or []):
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
    lanes = sorted({r.lane for r in rows if r.start is not None}, key=natural_key)
    index = {lane: i for i, lane in enumerate(lanes)}
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
        for r in rows
        if r.start is not None
    ]
    statuses = sorted({b.status for b in bars}, key=status_order)
    colors = {status: color_of(status) for status in statuses}
    return chart.render(f"run {summary['run_id']}", lanes, bars, colors)


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
    return {
        "run_id": summary["run_id"],
        "source": summary.get("source"),
        "results": summary.get("results"),
        "started": human_time(started),
        "ended": human_time(ended),
        "makespan": human_duration(makespan),
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
        "reduced": [(spec, pretty_json(v)) for spec, v in (summary.get("reduced") or {}).items()],
        "reduce_notes": summary.get("reduce_notes") or [],
        "paused_slots": summary.get("paused_slots") or [],
        "slowest": timed[:SLOWEST],
        "failures": failures,
        "open_failures": OPEN_FAILURES,
        "jobs": rows,
        "undrawn": sum(1 for r in rows if r.start is None),
        "timeline_svg": svg,
        "png_name": PNG_NAME,
        "human_duration": human_duration,
    }


def _write(path: Path, data: bytes) -> None:
    with atomic_write(path) as out:
        out.write(data)


def write_report(summary: dict[str, Any], out_dir: Path) -> Path:
    """Write report.html and timeline.png into out_dir (made if needed); the page's path.

    Each file is replaced whole (temp file + rename), so a browser or a web server reading
    the folder meanwhile sees the old report or the new one, never half of one."""
    rows = job_rows(summary)
    drawn = timeline(summary, rows)
    html = page.render(page_view(summary, rows, drawn.svg))
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / PNG_NAME, drawn.png)
    html_path = out_dir / HTML_NAME
    _write(html_path, html.encode())
    return html_path
