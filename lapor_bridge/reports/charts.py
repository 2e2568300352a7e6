"""Charts as inline SVG drawn by pygal: no script, no external reference.

pygal's SVG carries a config <script>, credit comments with URLs and XML
namespace URIs; inline in HTML5 none of them is needed, so they are removed
and the site holds no `http` reference of its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pygal
from markupsafe import Markup
from pygal.style import Style

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#666",
    font_family="DejaVu Sans, Arial, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=12,
    title_font_size=14,
    value_font_size=11,
    colors=("#c0392b", "#e59866", "#7d3c98", "#c39bd3", "#2471a3", "#17a589", "#839192", "#b7950b"),
)
_DROP = (
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"<script\b.*?</script>", re.S),
    re.compile(r'\s+xmlns(:\w+)?="[^"]*"'),
)


def inline(svg: str) -> Markup:
    for pattern in _DROP:
        svg = pattern.sub("", svg)
    return Markup(svg)


def _config(**extra: object) -> dict[str, object]:
    return {
        "js": [],
        "style": STYLE,
        "disable_xml_declaration": True,
        "explicit_size": False,
        "legend_at_bottom": True,
        "print_values": False,
        "width": 900,
        **extra,
    }


def horizontal_bars(
    title: str, labels: Sequence[str], series: dict[str, Sequence[int]], *, stacked: bool = True
) -> Markup:
    """One bar per label (top to bottom in the given order), a segment per series."""
    chart = (pygal.HorizontalStackedBar if stacked else pygal.HorizontalBar)(
        **_config(title=title, height=max(220, 60 + 26 * len(labels)))
    )
    # pygal draws horizontal bars bottom-up: reverse so the first label is on top
    chart.x_labels = list(reversed(labels))
    for name, values in series.items():
        chart.add(name, list(reversed(list(values))))
    return inline(chart.render(is_unicode=True))


def stacked_columns(title: str, labels: Sequence[str], series: dict[str, Sequence[int]]) -> Markup:
    chart = pygal.StackedBar(
        **_config(title=title, height=380, x_label_rotation=-45, show_minor_x_labels=True)
    )
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return inline(chart.render(is_unicode=True))
