"""Bar charts drawn on the server as SVG: no script, printable, and read out as a list of figures.

Each chart is an `<svg role="img">` with a title and a description giving every figure, so a
screen reader hears the numbers; the page shows the same figures in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from markupsafe import Markup, escape

ROW_HEIGHT, BAR_HEIGHT, LABEL_WIDTH, BAR_WIDTH, VALUE_WIDTH = 28, 18, 300, 320, 90
COLOURS = ("#1d70b8", "#00703c", "#d4351c", "#f47738", "#4c2c92", "#28a197", "#b58840", "#d53880")


class Figure(Protocol):
    label: str
    count: int

    @property
    def percent(self) -> str: ...


def bar_chart(key: str, title: str, figures: Sequence[Figure]) -> Markup:
    """A horizontal bar chart of `figures`, bars scaled to the largest count."""
    largest = max((f.count for f in figures), default=0) or 1
    height = ROW_HEIGHT * max(len(figures), 1) + 8
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    description = "; ".join(f"{f.label}: {f.count} ({f.percent})" for f in figures) or "No figures"
    parts = [
        f'<svg class="dhr-chart" data-chart="{escape(key)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="chart-{escape(key)}-title '
        f'chart-{escape(key)}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-{escape(key)}-title">{escape(title)}</title>',
        f'<desc id="chart-{escape(key)}-desc">{escape(description)}</desc>',
    ]
    for index, figure in enumerate(figures):
        y = 4 + index * ROW_HEIGHT
        bar = round(BAR_WIDTH * figure.count / largest, 1)
        colour = COLOURS[index % len(COLOURS)]
        label = figure.label if len(figure.label) <= 44 else figure.label[:42] + "…"
        parts += [
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT - 4}" text-anchor="end" class="dhr-chart__label">'
            f'{escape(label)}</text>',
            f'<rect class="dhr-chart__bar" x="{LABEL_WIDTH}" y="{y}" width="{bar}" height="{BAR_HEIGHT}" '
            f'fill="{colour}" data-label="{escape(figure.label)}" data-count="{figure.count}"></rect>',
            f'<text x="{LABEL_WIDTH + bar + 6}" y="{y + BAR_HEIGHT - 4}" class="dhr-chart__value">'
            f'{figure.count} ({escape(figure.percent)})</text>',
        ]
    parts.append("</svg>")
    return Markup("".join(parts))
