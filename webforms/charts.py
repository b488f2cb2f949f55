"""Bar charts drawn on the server as SVG: no script, printable, and read out as a list of figures.

Each chart is an `<svg role="img">` with a title and a description giving every figure, so a
screen reader hears the numbers; the page shows the same figures in a table beside it.

Each row is its label, whole (wrapped over as many lines as it needs), above a bar scaled to the
largest count with the count and share at its end. The drawing is narrow (`WIDTH` units, shown at
most that many pixels wide), so on a phone it shrinks little and its text stays readable.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Protocol

from markupsafe import Markup, escape

WIDTH = 400  # the viewBox's width; the stylesheet shows the chart at most this many pixels wide
FONT_SIZE, LINE_HEIGHT, LABEL_CHARACTERS = 17, 21, 40  # 40 characters of Arial at 17 units fit in 360
BAR_HEIGHT, BAR_GAP, ROW_GAP, VALUE_WIDTH = 22, 5, 14, 96
BAR_WIDTH = WIDTH - VALUE_WIDTH  # the longest bar leaves room for "84 (100%)" after it
BLUE = ("#1d70b8", None)  # GOV.UK blue, dark enough not to need an outline
# The register's status tags (govuk-tag--green / --blue / --orange): their background as the fill,
# their text colour as the outline, so a bar looks like its tag and stands out from the white page.
TAG_COLOURS = {
    "green": ("#cce2d8", "#005a30"),
    "blue": ("#bbd4ea", "#0c2d4a"),
    "orange": ("#fcd6c3", "#6e3619"),
}


class Figure(Protocol):
    @property
    def label(self) -> str: ...

    @property
    def count(self) -> int: ...

    @property
    def percent(self) -> str: ...


def bar_chart(key: str, title: str, figures: Sequence[Figure],
              colours: Mapping[str, tuple[str, str | None]] | None = None) -> Markup:
    """A horizontal bar chart of `figures`, bars scaled to the largest count.

    `colours` gives a label its (fill, outline); any other label's bar is GOV.UK blue.
    """
    largest = max((f.count for f in figures), default=0) or 1
    description = "; ".join(f"{f.label}: {f.count} ({f.percent})" for f in figures) or "No figures"
    rows: list[str] = []
    y = 0
    for figure in figures:
        lines = textwrap.wrap(figure.label, LABEL_CHARACTERS) or [""]
        spans = "".join(
            f'<tspan x="0" dy="{FONT_SIZE if number == 0 else LINE_HEIGHT}">'
            f'{escape(text)}{" " if number < len(lines) - 1 else ""}</tspan>'
            for number, text in enumerate(lines))
        rows.append(f'<text x="0" y="{y}" font-size="{FONT_SIZE}" class="dhr-chart__label" '
                    f'data-label="{escape(figure.label)}">{spans}</text>')
        y += FONT_SIZE + LINE_HEIGHT * (len(lines) - 1) + BAR_GAP + 2
        bar = round(BAR_WIDTH * figure.count / largest, 1)
        fill, outline = (colours or {}).get(figure.label, BLUE)
        stroke = f' stroke="{outline}" stroke-width="2"' if outline and figure.count else ""
        inset = 1 if stroke else 0  # the outline drawn inside the bar's length, so bars stay to scale
        rows += [
            f'<rect class="dhr-chart__bar" x="{inset}" y="{y}" width="{round(max(bar - 2 * inset, 0), 1)}" '
            f'height="{BAR_HEIGHT}" fill="{fill}"{stroke} data-label="{escape(figure.label)}" '
            f'data-count="{figure.count}"></rect>',
            f'<text x="{bar + 6}" y="{y + BAR_HEIGHT - 6}" font-size="{FONT_SIZE}" class="dhr-chart__value">'
            f'{figure.count} ({escape(figure.percent)})</text>',
        ]
        y += BAR_HEIGHT + ROW_GAP
    height = max(y - ROW_GAP + 2, BAR_HEIGHT)
    parts = [
        f'<svg class="dhr-chart" data-chart="{escape(key)}" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="chart-{escape(key)}-title '
        f'chart-{escape(key)}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-{escape(key)}-title">{escape(title)}</title>',
        f'<desc id="chart-{escape(key)}-desc">{escape(description)}</desc>',
        *rows,
        "</svg>",
    ]
    return Markup("".join(parts))
