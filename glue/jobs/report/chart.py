"""The run timeline: one lane per host and slot, one bar per job, coloured by status.

The figure is drawn once and saved twice: a PNG, a file to pass around on its own, and an SVG
for the report page, where each bar gets a tooltip (scenario, status, duration) and links to
the job's row. matplotlib is imported here, lazily, so that `glue --help` and every other
command never pay for it; its Figure is used without pyplot, so no global state and no GUI
backend is involved (PNGs come from Agg).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from glue.errors import GlueError

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
WIDTH_INCHES = 12.0
LANE_INCHES = 0.32
MIN_HEIGHT, MAX_HEIGHT = 2.8, 40.0
PNG_DPI = 110
# A 1 s job in a 3 h run is far below a pixel; bars are drawn at least this share of the axis
# wide so every job stays visible (the page's table has the exact times).
MIN_BAR_SHARE = 1 / 1000
UNITS = (("seconds", 1, 300), ("minutes", 60, 3 * 3600), ("hours", 3600, float("inf")))


@dataclass(frozen=True)
class Bar:
    """One job, or one run of jobs of a big run's lane (aggregate.py), on the timeline; times
    in seconds since the run started."""

    lane: int
    start: float
    end: float | None  # None: no end yet; drawn hatched up to the right edge
    status: str
    tooltip: str
    anchor: str  # id of the element in the page a click on the bar leads to (a job's row)
    loud: bool  # a failure of some kind: taller, outlined, marked, drawn on top


@dataclass(frozen=True)
class Chart:
    png: bytes
    svg: str  # one <svg> element, ready to be placed inline in HTML


def _unit(span: float) -> tuple[str, float]:
    """Seconds for short runs, minutes or hours for long ones, so tick labels stay short."""
    return next((name, size) for name, size, upto in UNITS if span <= upto)


def _height(lanes: int) -> float:
    return min(MAX_HEIGHT, max(MIN_HEIGHT, 1.3 + LANE_INCHES * lanes))


def _draw(
    title: str,
    lanes: Sequence[str],
    bars: Sequence[Bar],
    colors: Mapping[str, str],
    counts: Mapping[str, int],
) -> object:
    """The matplotlib Figure of the timeline."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    # The right edge: the last moment any job was seen (1 s for a run with no times at all).
    right = max([b.end for b in bars if b.end is not None] + [b.start for b in bars], default=0)
    right = right or 1.0
    unit, size = _unit(right)
    fig = Figure(figsize=(WIDTH_INCHES, _height(len(lanes))), layout="constrained")
    ax = fig.add_subplot()
    # One barh call per look (status, loud, open): thousands of bars draw in a moment.
    groups: dict[tuple[str, bool, bool], list[int]] = {}
    for index, bar in enumerate(bars):
        groups.setdefault((bar.status, bar.loud, bar.end is None), []).append(index)
    for (status, loud, unfinished), members in groups.items():
        ends = [right if bars[i].end is None else bars[i].end for i in members]
        lefts = [bars[i].start / size for i in members]
        widths = [
            max(end - bars[i].start, right * MIN_BAR_SHARE) / size
            for i, end in zip(members, ends, strict=True)
        ]
        lanes_of = [bars[i].lane for i in members]
        color = colors[status]
        patches = ax.barh(
            lanes_of,
            widths,
            left=lefts,
            height=0.8 if loud else 0.56,
            color=color,
            edgecolor="#111111" if loud else "white",
            linewidth=0.9 if loud else 0.4,
            hatch="///" if unfinished else None,
            alpha=0.65 if unfinished else 1.0,
            zorder=3 if loud else 2,
        ).patches
        for index, patch in zip(members, patches, strict=True):
            patch.set_gid(f"bar-{index}")
            patch.set_url(f"#{bars[index].anchor}")
        if loud:
            mids = [left + width / 2 for left, width in zip(lefts, widths, strict=True)]
            ax.plot(
                mids, lanes_of, linestyle="none", marker="X", markersize=7, color=color,
                mec="#111111", zorder=4,
            )  # fmt: skip

    ax.set_yticks(range(len(lanes)), labels=list(lanes), fontsize=9 if len(lanes) <= 60 else 6)
    ax.set_ylim(max(len(lanes), 1) - 0.5, -0.5)  # the first lane at the top
    ax.set_xlim(0, right / size * 1.01)
    ax.set_xlabel(f"{unit} since the run started")
    ax.set_title(title, loc="left", fontsize=11)
    ax.grid(axis="x", color="#e5e7eb", zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if not bars:
        ax.text(0.5, 0.5, "no jobs yet", transform=ax.transAxes, ha="center", color="#6b7280")
    handles = [
        Patch(color=c, label=f"{s} ({counts[s]})") for s, c in colors.items() if counts.get(s)
    ]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    return fig


def _inline_svg(svg: bytes, bars: Sequence[Bar]) -> str:
    """The SVG as one element for an HTML page: a tooltip on each bar, links kept in the page.

    Re-serialising through ElementTree also drops matplotlib's comments and metadata, and
    escapes the tooltips (scenario names are untrusted text)."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(svg)
    for metadata in root.findall(f"{{{SVG_NS}}}metadata"):
        root.remove(metadata)
    tooltips = {f"bar-{i}": bar.tooltip for i, bar in enumerate(bars)}
    for group in root.iter(f"{{{SVG_NS}}}g"):
        tooltip = tooltips.get(group.get("id", ""))
        if tooltip is not None:
            title = ET.Element(f"{{{SVG_NS}}}title")
            title.text = tooltip
            group.insert(0, title)
    for link in root.iter(f"{{{SVG_NS}}}a"):
        link.attrib.pop("target", None)  # matplotlib opens links in a new tab; these are anchors
    # The page sizes the chart: keep the viewBox, drop the fixed size in points.
    for name in ("width", "height"):
        root.attrib.pop(name, None)
    root.set("role", "img")
    return ET.tostring(root, encoding="unicode")


def render(
    title: str,
    lanes: Sequence[str],
    bars: Sequence[Bar],
    colors: Mapping[str, str],
    counts: Mapping[str, int],
) -> Chart:
    """The timeline as PNG bytes and as an inline SVG element.

    `colors` maps every status of `bars` to a CSS colour, in the legend's order; `counts`
    gives the legend's number of jobs per status (a bar may stand for many jobs)."""
    try:
        from matplotlib import rc_context
    except ImportError:
        raise GlueError(
            "glue report needs matplotlib: pip install 'simfleet[report]' (make setup does)"
        ) from None

    fig = _draw(title, lanes, bars, colors, counts)
    # A fixed salt makes the SVG's ids (and so the page) the same for the same summary.
    with rc_context({"svg.hashsalt": "glue-report"}):
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None})
    return Chart(png=png.getvalue(), svg=_inline_svg(svg.getvalue(), bars))
