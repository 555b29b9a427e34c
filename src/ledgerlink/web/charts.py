"""Server-rendered SVG charts: no chart library, no script, readable without JavaScript."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#2e5bff", "#b42318", "#067647", "#b54708", "#6941c6", "#0e7090")
Point = tuple[dt.datetime, float]


def line_chart(
    series: Mapping[str, Sequence[Point]], *, title: str, width: int = 520, height: int = 180, unit: str = ""
) -> Markup:
    """One polyline per series over a shared time axis; an empty chart says so instead of drawing nothing."""
    pad_l, pad_r, pad_t, pad_b = 44, 10, 22, 26
    points = [p for pts in series.values() for p in pts]
    head = (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<text x="{pad_l}" y="14" class="chart-title">{escape(title)}</text>'
    )
    if not points:
        return Markup(head + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data yet</text></svg>')
    t0 = min(p[0] for p in points).timestamp()
    t1 = max(p[0] for p in points).timestamp()
    vmax = max(max(p[1] for p in points), 1.0)
    span = max(t1 - t0, 1.0)
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b

    def x(t: dt.datetime) -> float:
        return pad_l + (t.timestamp() - t0) / span * plot_w

    def y(v: float) -> float:
        return pad_t + plot_h - v / vmax * plot_h

    parts = [head]
    for frac in (0.0, 0.5, 1.0):
        yy = y(vmax * frac)
        parts.append(
            f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e4e7ec"/>'
            f'<text x="{pad_l - 4}" y="{yy + 3:.1f}" text-anchor="end">{vmax * frac:,.0f}{escape(unit)}</text>'
        )
    first, last = min(p[0] for p in points), max(p[0] for p in points)
    parts.append(
        f'<text x="{pad_l}" y="{height - 8}">{first:%d %b %H:%M}</text>'
        f'<text x="{width - pad_r}" y="{height - 8}" text-anchor="end">{last:%d %b %H:%M}</text>'
    )
    for i, (name, pts) in enumerate(sorted(series.items())):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in sorted(pts))
        if len(pts) == 1:
            t, v = pts[0]
            parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
        else:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>')
        parts.append(
            f'<text x="{pad_l + 8 + i * 120}" y="{pad_t + 10}" class="legend" fill="{colour}">■ {escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
