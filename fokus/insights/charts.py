"""Charts as inline SVG drawn on the server: no script, no CDN, printable, CSP-clean.

Coordinates are written with a dot whatever the language (SVG needs it); labels are
localised by the caller (they arrive as ready strings) and escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH = 720
HEIGHT = 220
PAD_LEFT = 44
PAD_BOTTOM = 28
PAD_TOP = 12


def _scale(maximum: float) -> float:
    return maximum if maximum > 0 else 1.0


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]],
              *, title: str, max_labels: int = 12) -> SafeString:
    """Grouped bars: series are (name, css class, values), one value per label."""
    if not labels:
        return SafeString("")
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    top = _scale(max((max(values, default=0) for _, _, values in series), default=0))
    group_w = plot_w / len(labels)
    bar_w = max(1.0, group_w * 0.8 / max(1, len(series)))
    parts: list[str] = []
    for s_index, (name, css, values) in enumerate(series):
        for i, value in enumerate(values):
            h = plot_h * value / top
            x = PAD_LEFT + i * group_w + group_w * 0.1 + s_index * bar_w
            y = PAD_TOP + plot_h - h
            parts.append(format_html(
                '<rect class="{}" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {} — {}</title></rect>",
                css, f"{x:.1f}", f"{y:.1f}", f"{bar_w:.1f}", f"{h:.1f}", labels[i], name,
                _number(value),
            ))
    step = max(1, len(labels) // max_labels)
    for i in range(0, len(labels), step):
        x = PAD_LEFT + i * group_w + group_w / 2
        parts.append(format_html('<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                                 f"{x:.1f}", HEIGHT - 8, labels[i]))
    return _frame(title, top, parts, series)


def line_chart(labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]],
               *, title: str, max_labels: int = 8, marker: int | None = None) -> SafeString:
    """Lines over the same labels; `marker` draws a vertical rule at that label index."""
    if not labels:
        return SafeString("")
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    top = _scale(max((max(values, default=0) for _, _, values in series), default=0))
    step_x = plot_w / max(1, len(labels) - 1)
    parts: list[str] = []
    for _, css, values in series:
        points = " ".join(
            f"{PAD_LEFT + i * step_x:.1f},{PAD_TOP + plot_h - plot_h * v / top:.1f}"
            for i, v in enumerate(values)
        )
        parts.append(format_html('<polyline class="{}" fill="none" points="{}"/>', css, points))
    if marker is not None and 0 <= marker < len(labels):
        x = PAD_LEFT + marker * step_x
        parts.append(format_html('<line class="marker" x1="{}" x2="{}" y1="{}" y2="{}"/>',
                                 f"{x:.1f}", f"{x:.1f}", PAD_TOP, PAD_TOP + plot_h))
    step = max(1, len(labels) // max_labels)
    for i in range(0, len(labels), step):
        parts.append(format_html('<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                                 f"{PAD_LEFT + i * step_x:.1f}", HEIGHT - 8, labels[i]))
    return _frame(title, top, parts, series)


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _frame(title: str, top: float, parts: list[str],
           series: Sequence[tuple[str, str, Sequence[float]]]) -> SafeString:
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    axis = format_html(
        '<line class="axis-line" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>'
        '<text class="axis" x="{}" y="{}" text-anchor="end">0</text>',
        PAD_LEFT, WIDTH - 8, PAD_TOP + plot_h, PAD_TOP + plot_h,
        PAD_LEFT - 4, PAD_TOP + 8, _number(top), PAD_LEFT - 4, PAD_TOP + plot_h,
    )
    legend = format_html_join(
        "", '<span class="legend {}">{}</span>', ((css, name) for name, css, _ in series)
    )
    svg = format_html(
        '<figure class="chart"><svg viewBox="0 0 {} {}" role="img" aria-label="{}">'
        "<title>{}</title>{}{}</svg><figcaption>{}</figcaption></figure>",
        WIDTH, HEIGHT, title, title, axis, mark_safe("".join(parts)), legend,  # noqa: S308 - parts built with format_html
    )
    return svg
