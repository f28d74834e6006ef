"""A static HTML page of the registry: one self-contained file (styles inside, no scripts,
nothing fetched), like the run report, so it opens offline or from a shared folder."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from glue.registry.listing import Image

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f3f3f3} td.n{text-align:right;white-space:nowrap}
code{font:12px monospace;background:#f6f6f6;padding:.1em .3em}
.muted{color:#777}
"""


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def render(images: list[Image], registry: str, pull_name: str) -> str:
    """The page: repositories in name order, each tag newest first, with a pull command."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    by_repo: dict[str, list[Image]] = {}
    for image in images:
        by_repo.setdefault(image.repository, []).append(image)
    total = sum({i.digest: i.size for i in images}.values())
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Registry {escape(registry)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Registry {escape(registry)}</h1>",
        f"<p class=muted>{len(by_repo)} repositories, {len(images)} tags, "
        f"{human_size(total)} in distinct images; made {now}. Space of deleted images comes "
        "back only after <code>glue registry gc</code>.</p>",
    ]
    for repository in sorted(by_repo):
        tags = sorted(by_repo[repository], key=lambda i: i.created or "", reverse=True)
        parts.append(
            f"<h2>{escape(repository)}</h2><table><tr><th>tag</th><th>created</th>"
            "<th>size</th><th>digest</th><th>pull</th></tr>"
        )
        for image in tags:
            parts.append(
                f"<tr><td>{escape(image.tag)}</td>"
                f"<td>{escape((image.created or '?')[:19].replace('T', ' '))}</td>"
                f"<td class=n>{human_size(image.size)}</td>"
                f"<td><code>{escape(image.digest[:19])}</code></td>"
                f"<td><code>docker pull {escape(image.reference(pull_name))}</code></td></tr>"
            )
        parts.append("</table>")
    if not images:
        parts.append("<p>The registry holds no images.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
