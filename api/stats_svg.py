"""Small charts as inline SVG, drawn on the server: horizontal bars for breakdowns and lines for
monthly series. No script and no style attributes (the pages' Content-Security-Policy allows
neither inline scripts nor inline styles): only SVG presentation attributes. Every text is
escaped; each chart carries a <title> and an aria-label for screen readers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from unicodedata import east_asian_width

from markupsafe import Markup, escape

FONT = 12
PALETTE = ("#2f6f9f", "#d9822b", "#3f8f4f", "#a33b3b", "#6c4f9f", "#7f7f7f")
AXIS = "#888888"
GRID = "#e2e2e2"
TEXT = "#222222"


def text_width(text: str, size: int = FONT) -> float:
    """Rough rendered width: CJK characters are a full em, others a bit over half."""
    return sum(size if east_asian_width(ch) in "WF" else size * 0.6 for ch in text)


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _svg(width: float, height: float, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'aria-label="{escape(title)}" font-family="sans-serif" font-size="{FONT}">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def _empty(title: str, empty_text: str, width: float) -> Markup:
    body = [
        f'<text x="{width / 2:.1f}" y="28" text-anchor="middle" fill="{AXIS}">'
        f"{escape(empty_text)}</text>"
    ]
    return _svg(width, 44, title, body)


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 560,
    bar_height: int = 18,
    gap: int = 6,
    color: str = PALETTE[0],
    value_format: Callable[[float], str] = _number,
    empty_text: str = "无数据 No data",
) -> Markup:
    """Horizontal bars, one per (label, value), in the order given; values must be >= 0."""
    if not items:
        return _empty(title, empty_text, width)
    label_width = min(max(text_width(label) for label, _ in items) + 8, width * 0.4)
    value_width = max(text_width(value_format(v)) for _, v in items) + 8
    plot = max(width - label_width - value_width, 40)
    top = max((v for _, v in items), default=0) or 1
    body = []
    for i, (label, value) in enumerate(items):
        y = i * (bar_height + gap) + gap
        length = plot * max(value, 0) / top
        middle = y + bar_height / 2 + FONT * 0.35
        body.append(
            f'<text x="{label_width - 6:.1f}" y="{middle:.1f}" text-anchor="end" '
            f'fill="{TEXT}">{escape(label)}</text>'
            f'<rect x="{label_width:.1f}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="{color}"><title>{escape(label)}: {escape(value_format(value))}</title></rect>'
            f'<text x="{label_width + length + 4:.1f}" y="{middle:.1f}" fill="{TEXT}">'
            f"{escape(value_format(value))}</text>"
        )
    height = len(items) * (bar_height + gap) + gap
    return _svg(width, height, title, body)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k not below `value` (an axis maximum)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
    empty_text: str = "无数据 No data",
) -> Markup:
    """One polyline per (name, values) over the same x labels, with a legend, y grid lines at
    quarters of a rounded maximum, and at most about twelve x labels."""
    if not x_labels or not series:
        return _empty(title, empty_text, width)
    top = nice_ceiling(max((max(values, default=0) for _, values in series), default=0))
    left = text_width(_number(top)) + 12
    right, upper, lower = 12, 28, 28
    plot_w, plot_h = width - left - right, height - upper - lower
    count = len(x_labels)

    def x_at(i: int) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y_at(v: float) -> float:
        return upper + plot_h * (1 - v / top)

    body = []
    for quarter in range(5):
        value = top * quarter / 4
        y = y_at(value)
        body.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{width - right:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID if quarter else AXIS}"/>'
            f'<text x="{left - 4:.1f}" y="{y + FONT * 0.35:.1f}" text-anchor="end" '
            f'fill="{TEXT}">{escape(_number(value))}</text>'
        )
    step = max(1, math.ceil(count / 12))
    for i in range(0, count, step):
        body.append(
            f'<text x="{x_at(i):.1f}" y="{height - lower + FONT + 4:.1f}" text-anchor="middle" '
            f'fill="{TEXT}">{escape(x_labels[i])}</text>'
        )
    legend_x = left
    for n, (name, values) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(values))
        body.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, v in enumerate(values):
            body.append(
                f'<circle cx="{x_at(i):.1f}" cy="{y_at(v):.1f}" r="2.5" fill="{color}">'
                f"<title>{escape(name)} {escape(x_labels[i])}: {escape(_number(v))}</title>"
                f"</circle>"
            )
        body.append(
            f'<rect x="{legend_x:.1f}" y="8" width="12" height="12" fill="{color}"/>'
            f'<text x="{legend_x + 16:.1f}" y="18" fill="{TEXT}">{escape(name)}</text>'
        )
        legend_x += 16 + text_width(name) + 16
    return _svg(width, height, title, body)
