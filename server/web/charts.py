"""The dashboard's charts, drawn on the server by pygal as SVG with real axes.

The SVG goes into the page as an image (a ``data:`` URL): the page's content security policy
forbids inline styles, and pygal's SVG carries its own. Every chart comes with its figures as
a table too, so a screen reader gets the numbers rather than a picture.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

import pygal
from pygal.style import Style

BUCKET = timedelta(minutes=5)  # a morning rush is read in five-minute steps
LABEL_PX = 14  # axis labels readable on a phone (the old chart's were 10 px)

STYLE = Style(background="#ffffff", plot_background="#ffffff", foreground="#13213a",
              foreground_strong="#13213a", foreground_subtle="#6b7280", colors=("#2e7d4f",),
              font_family="system-ui, sans-serif", label_font_size=LABEL_PX,
              major_label_font_size=LABEL_PX, title_font_size=16, value_font_size=LABEL_PX,
              value_label_font_size=LABEL_PX, tooltip_font_size=LABEL_PX,
              legend_font_size=LABEL_PX, no_data_font_size=16)


@dataclass(frozen=True)
class Chart:
    """A chart ready for a page: the SVG as a data URL, what it shows, and its figures."""

    svg: str
    data_url: str
    description: str
    rows: list[tuple[str, int]]  # (label, count), the chart's own figures


def arrivals_chart(arrivals: list[datetime]) -> Chart:
    """Phones handed in per five minutes, from the day's first hand-in to its last (the
    times are the school's local times as given)."""
    rows = _buckets(arrivals)
    chart = pygal.Bar(style=STYLE, width=960, height=360, show_legend=False,
                      x_title="Time of day (school time)", y_title="Phones handed in",
                      js=[], disable_xml_declaration=True, x_label_rotation=0,
                      show_minor_x_labels=False, x_labels_major_every=_label_every(len(rows)),
                      truncate_label=-1, min_scale=2, max_scale=6,
                      no_data_text="No phones handed in yet today", print_zeroes=False,
                      margin=12)
    chart.x_labels = [label for label, _n in rows]
    peak = max((n for _l, n in rows), default=0)
    step = max(1, -(-peak // 6))
    chart.y_labels = list(range(0, peak + step + 1, step))  # whole phones, never 0.4 of one
    chart.add("Phones handed in", [n for _label, n in rows])
    svg = chart.render(is_unicode=True)
    if rows:
        description = (f"Phones handed in per five minutes from {rows[0][0]} to "
                       f"{rows[-1][0]}: {sum(n for _l, n in rows)} in all, at most "
                       f"{max(n for _l, n in rows)} in five minutes.")
    else:
        description = "No phones handed in yet today."
    data_url = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return Chart(svg, data_url, description, rows)


def _buckets(arrivals: list[datetime]) -> list[tuple[str, int]]:
    """Counts per five-minute step from the first arrival's step to the last's, empty steps
    included so the time axis is even."""
    if not arrivals:
        return []
    first = min(arrivals).replace(second=0, microsecond=0)
    first -= timedelta(minutes=first.minute % 5)
    counts: dict[int, int] = {}
    for at in arrivals:
        step = int((at - first) / BUCKET)
        counts[step] = counts.get(step, 0) + 1
    return [((first + i * BUCKET).strftime("%H:%M"), counts.get(i, 0))
            for i in range(max(counts) + 1)]


def _label_every(steps: int) -> int:
    """Label about a dozen steps at most, so labels never overlap."""
    return max(1, -(-steps // 12))
