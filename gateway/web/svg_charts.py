"""Small bar charts drawn on the server as SVG (no script, no CDN): each is an image with a title, and the
page puts the same numbers in a table beside it for screen readers and for anyone who wants the figures."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

BAR = 22
GAP = 8
LABEL_WIDTH = 190
WIDTH = 520


def bar_chart(chart_id: str, title: str, items: Sequence[tuple[str, float]], *, unit: str = "",
              maximum: float | None = None) -> Markup:
    """A horizontal bar chart: one bar per (label, value), the value written at the end of the bar."""
    top = max([v for _, v in items] + [maximum or 0, 1])
    height = len(items) * (BAR + GAP) + GAP
    parts = [f'<svg class="chart" id="{escape(chart_id)}" role="img" aria-labelledby="{escape(chart_id)}-title" '
             f'viewBox="0 0 {WIDTH} {max(height, BAR + 2 * GAP)}" preserveAspectRatio="xMinYMin meet" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{escape(chart_id)}-title">{escape(title)}</title>']
    span = WIDTH - LABEL_WIDTH - 70
    for index, (label, value) in enumerate(items):
        y = GAP + index * (BAR + GAP)
        length = 0 if top == 0 else round(span * value / top, 1)
        text = f"{value:g}{unit}"
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + BAR * 0.7}" text-anchor="end" class="chart-label">'
                     f'{escape(short)}</text>')
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR}" class="chart-bar"/>')
        parts.append(f'<text x="{LABEL_WIDTH + length + 6}" y="{y + BAR * 0.7}" class="chart-value">'
                     f'{escape(text)}</text>')
    if not items:
        parts.append(f'<text x="{GAP}" y="{BAR}" class="chart-label">Nothing in this period</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every inserted value is escaped above
