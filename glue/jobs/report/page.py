"""The report page: one HTML file with its styles and its chart inside, and nothing fetched.

It has to open from a mail attachment or a results bucket on a machine with no network, so
no scripts, fonts or stylesheets come from anywhere else. Jinja2 escapes every value
(autoescape on: scenario names, errors and log tails are untrusted text); the only markup let
through unescaped is the timeline SVG that report_chart made and escaped itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from html import escape
from typing import Any

from glue.errors import GlueError

BASE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %}</title>
<style>
:root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px; }
h1 { margin: 0 0 10px; font-size: 24px; }
h1 .mono { font-size: inherit; }
h2 { margin: 0 0 12px; font-size: 17px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin: 16px 0; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.banner { background: #fef3c7; border: 1px solid #f59e0b; border-radius: 8px;
  padding: 10px 16px; margin: 16px 0; font-weight: 600; }
.badges { display: flex; flex-wrap: wrap; gap: 8px; }
.badge { display: inline-flex; align-items: center; gap: 6px; padding: 2px 10px;
  border-radius: 999px; color: #fff; font-weight: 600; font-size: 13px; }
.badge .n { background: rgba(255, 255, 255, .28); border-radius: 999px; padding: 0 7px; }
.progress { display: flex; height: 10px; border-radius: 5px; overflow: hidden;
  margin-top: 14px; background: var(--line); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-size: 12px; font-weight: 600; text-transform: uppercase;
  letter-spacing: .03em; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.key { width: 1%; white-space: nowrap; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas,
  "DejaVu Sans Mono", monospace; font-size: 12.5px; }
pre { margin: 8px 0 0; padding: 10px 12px; border-radius: 6px; background: #0f172a;
  color: #e2e8f0; max-height: 28em; overflow: auto; white-space: pre-wrap;
  overflow-wrap: anywhere; }
pre.json { margin: 0; background: #f1f5f9; color: var(--fg); }
.failure { border-left: 5px solid; border-radius: 4px; background: #fdf6f6;
  padding: 8px 14px; margin: 10px 0; }
.failure > summary { font-size: 14px; font-weight: normal; }
.failure .error { margin: 6px 0 0; }
.timeline svg { display: block; width: 100%; height: auto; }
.muted { color: var(--muted); }
tr:target { background: #fef9c3; }
nav.pages { display: flex; flex-wrap: wrap; gap: 4px 12px; margin: 8px 0; }
.timeline img { display: block; width: 100%; height: auto; }
details > summary { cursor: pointer; font-weight: 600; font-size: 17px; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 0 16px; }
@media (max-width: 900px) { .cols { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<main>
{% block main %}{% endblock %}
</main>
</body>
</html>
"""

MACROS = """\
{%- macro badge(status, n=none) -%}
<span class="badge" style="background: {{ colors[status] }}">{{ status }}
{%- if n is not none %} <span class="n">{{ n }}</span>{% endif %}</span>
{%- endmacro %}
{%- macro code(value) %}{{ "—" if value is none else value }}{% endmacro %}
{%- macro pager(pages, current=none) %}
<nav class="pages">{% for p in pages %}{% if p.name == current %}<strong>{{ p.label }}</strong>
{%- else %}<a href="{{ p.name }}">{{ p.label }}</a>{% endif %}
{% endfor %}</nav>
{%- endmacro %}
"""

JOBS = """\
{% extends "base" %}
{% import "macros" as m with context %}
{% block title %}simfleet run {{ run_id }}: jobs {{ page.label }}{% endblock %}
{% block main %}
<h1>Run <span class="mono">{{ run_id }}</span>: jobs {{ page.label }}</h1>
<p><a href="{{ report_name }}">Back to the report</a></p>
{{ m.pager(pages, page.name) }}
<section>
{{ jobs_table(jobs) }}
</section>
{{ m.pager(pages, page.name) }}
{% endblock %}
"""

JOBS_HEAD = """\
<table>
<thead><tr><th>Scenario</th><th>Status</th><th>Host/slot</th><th class="num">Start</th>
<th class="num">End</th><th class="num">Duration</th><th class="num">Expected</th>
<th class="num">Exit</th><th class="num">Attempt</th></tr></thead>
<tbody>
"""

REPORT = """\
{% extends "base" %}
{% import "macros" as m with context %}
{% block title %}simfleet run {{ run_id }}{% endblock %}
{% block main %}
<header>
<h1>Run <span class="mono">{{ run_id }}</span></h1>
<dl class="meta">
<dt>Started</dt><dd>{{ started }}</dd>
<dt>Ended</dt><dd>{{ ended }}</dd>
<dt>Makespan</dt><dd>{{ makespan }}{% if lower_bound %} <span class="muted">(lower bound
{{ lower_bound }}: the longest job, or all the work spread evenly over the slots)</span>
{%- endif %}</dd>
<dt>Scenarios from</dt><dd class="mono">{{ source }}</dd>
<dt>Results in</dt><dd class="mono">{{ results }}</dd>
</dl>
</header>

{% if not complete %}
<div class="banner" role="status">
{%- if total %}Run in progress: {{ done }} of {{ total }} scenarios done. This report shows
the run so far.{% else %}No scenarios in this run yet.{% endif %}</div>
{% endif %}

<section>
<h2>Scenarios by status</h2>
<div class="badges">
{% for status, n in counts.items() %}{{ m.badge(status, n) }}
{% endfor %}
{% if unfinished %}{{ m.badge("not finished", unfinished) }}{% endif %}
{% if not counts and not unfinished %}<span class="muted">no scenarios yet</span>{% endif %}
</div>
{% if total %}
<div class="progress" aria-hidden="true">
{% for status, n in counts.items() %}<div style="width: {{ 100 * n / total }}%;
background: {{ colors[status] }}" title="{{ status }}: {{ n }}"></div>{% endfor %}
</div>
{% endif %}
{% if paused_slots %}
<h3>Paused slots ({{ paused_slots | length }})</h3>
<ul>{% for line in paused_slots %}<li class="mono">{{ line }}</li>{% endfor %}</ul>
{% endif %}
</section>

<section>
<h2>Reduced result</h2>
{% if reduced %}
<table>
<thead><tr><th>Reducer</th><th>Value</th></tr></thead>
<tbody>
{% for spec, value in reduced %}
<tr><td class="mono key">{{ spec }}</td><td><pre class="json">{{ value }}</pre></td></tr>
{% endfor %}
</tbody>
</table>
{% else %}<p class="muted">No reducers.</p>{% endif %}
{% if reduce_notes %}
<h3>Notes ({{ notes_total }})</h3>
<ul>{% for note in reduce_notes %}<li class="mono">{{ note }}</li>{% endfor %}</ul>
{% if notes_cut %}<p class="muted">The first {{ reduce_notes | length }}
are shown; the run summary (summary.json) has them all.</p>{% endif %}
{% endif %}
</section>

<section class="timeline">
<h2>Timeline</h2>
{% if aggregated %}<p class="muted">One lane per host and job slot. With {{ total_rows }} jobs,
each bar stands for the jobs that kept a slot busy over a stretch of time, coloured by the
status that took most of it; stretches where jobs went wrong get a loud bar of their own.
Hover a bar for its jobs. Also saved as <a href="{{ png_name }}">{{ png_name }}</a>.</p>
{% else %}<p class="muted">One lane per host and job slot. Hover a bar for its scenario; click it
for its row in the job list. Also saved as <a href="{{ png_name }}">{{ png_name }}</a>.</p>
{% endif %}
{{ timeline_svg | safe }}
{% if undrawn %}<p class="muted">{{ undrawn }} job(s) have no start time and are not drawn.</p>
{% endif %}
</section>

{% if failures %}
<section>
<h2>Failures ({{ failures_total }})</h2>
{% if failures_total > failures | length %}<p class="muted">The first {{ failures | length }}
are shown; every job's status is in the job list.</p>{% endif %}
{% if failures | length > open_failures %}<p class="muted">The first {{ open_failures }} are
open; click a scenario for the others' error and log.</p>{% endif %}
{% for f in failures %}
<details class="failure" style="border-color: {{ colors[f.status] }}"
{%- if loop.index <= open_failures %} open{% endif %}>
<summary><strong class="mono">{{ f.scenario }}</strong> {{ m.badge(f.status) }}
<span class="muted">on {{ f.lane }} · attempt {{ m.code(f.attempt) }} · exit code
{{ m.code(f.exit_code) }}</span>{% if f.oom_killed %} · <strong>killed: out of memory</strong>
{% endif %}</summary>
{% if f.error %}<p class="error">{{ f.error }}</p>{% endif %}
{% if f.log_tail %}<pre>{{ f.log_tail }}</pre>
{% else %}<p class="muted">No log output.</p>{% endif %}
</details>
{% endfor %}
</section>
{% endif %}

<div class="cols">
<section>
<h2>Slowest scenarios</h2>
{% if slowest %}
<table>
<thead><tr><th class="num">#</th><th>Scenario</th><th>Host/slot</th><th class="num">Duration
</th><th class="num">Expected</th><th>Status</th></tr></thead>
<tbody>
{% for job in slowest %}
<tr><td class="num">{{ loop.index }}</td><td class="mono"><a href="{{ job.href }}">
{{- job.scenario }}</a></td><td class="mono">{{ job.lane }}</td>
<td class="num">{{ human_duration(job.duration) }}</td>
<td class="num">{{ human_duration(job.expected) }}</td><td>{{ m.badge(job.status) }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}<p class="muted">No finished jobs yet.</p>{% endif %}
</section>

<section>
<h2>Jobs per host</h2>
{% if hosts %}
<table>
<thead><tr><th>Host</th><th class="num">Slots</th><th class="num">Jobs</th>
{% for status in host_statuses %}<th class="num">{{ status }}</th>{% endfor %}
<th class="num">Busy</th></tr></thead>
<tbody>
{% for h in hosts %}
<tr><td class="mono">{{ h.host }}</td><td class="num">{{ h.slots }}</td>
<td class="num">{{ h.jobs }}</td>
{% for status in host_statuses %}<td class="num">{{ h.counts.get(status, "") }}</td>{% endfor %}
<td class="num">{{ h.busy }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}<p class="muted">No jobs yet.</p>{% endif %}
</section>
</div>

<section>
<h2>Dispatch</h2>
<p class="muted">The idle gap of a slot is the time from the end of one job to the start of
the next one on it: what glue spends between jobs.</p>
{% if gaps %}
<p>Idle gap between jobs: mean {{ gap_mean }}, longest {{ gap_max }}.</p>
<table>
<thead><tr><th>Host/slot</th><th class="num">Jobs</th><th class="num">Mean gap</th>
<th class="num">Longest gap</th></tr></thead>
<tbody>
{% for lane, g in gaps %}
<tr><td class="mono">{{ lane }}</td><td class="num">{{ g.jobs }}</td>
<td class="num">{{ human_duration(g.gap_mean) }}</td>
<td class="num">{{ human_duration(g.gap_max) }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}<p class="muted">No slot ran two jobs yet.</p>{% endif %}
</section>

<section id="all-jobs">
{% if job_pages %}
<h2>All jobs ({{ total_rows }})</h2>
<p class="muted">In pages of {{ page_size }} jobs, by scenario:</p>
{{ m.pager(job_pages) }}
{% else %}
<details{% if jobs | length <= 100 %} open{% endif %}>
<summary>All jobs ({{ jobs | length }})</summary>
{{ jobs_table(jobs) }}
</details>
{% endif %}
</section>
{% endblock %}
"""


def render(view: Mapping[str, Any], template: str = "report") -> str:
    """A page for a view made by glue.jobs.report.build: the report, or one page of jobs."""
    table = functools.partial(jobs_table, colors=view["colors"], duration=view["human_duration"])
    return _environment().get_template(template).render(view, jobs_table=table)


def jobs_table(jobs: Iterable[Any], colors: Mapping[str, str], duration: Callable) -> Any:
    """The job list's table, built here rather than in the template: a big run's pages hold
    100,000 rows, which Jinja's macros render some fifty times slower (and markupsafe's
    escape, without its C speedups, ten times). Every text from the
    summary goes through escape()."""
    from markupsafe import Markup

    def cell(value: Any) -> str:
        return "—" if value is None else escape(str(value), quote=False)

    def seconds(value: float | None) -> str:
        return "—" if value is None else f"+{value:.1f} s"

    out = [JOBS_HEAD]
    for job in jobs:
        status = escape(job.status, quote=False)
        out.append(
            f'<tr id="{job.anchor}"><td class="mono">{escape(job.scenario, quote=False)}</td><td>'
            f'<span class="badge" style="background: {colors[job.status]}">{status}</span></td>\n'
            f'<td class="mono">{escape(job.lane, quote=False)}</td>'
            f'<td class="num">{seconds(job.start)}</td>'
            f'<td class="num">{seconds(job.end)}</td><td class="num">{duration(job.duration)}</td>'
            f'<td class="num">{duration(job.expected)}</td>'
            f'<td class="num">{cell(job.exit_code)}</td><td class="num">{cell(job.attempt)}</td>'
            "</tr>\n"
        )
    out.append("</tbody>\n</table>")
    return Markup("".join(out))


@functools.cache
def _environment() -> Any:
    try:
        import jinja2
    except ImportError:
        raise GlueError(
            "glue report needs Jinja2: pip install 'simfleet[report]' (make setup does)"
        ) from None
    loader = jinja2.DictLoader({"base": BASE, "macros": MACROS, "report": REPORT, "jobs": JOBS})
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
