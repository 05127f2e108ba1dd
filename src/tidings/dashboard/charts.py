"""Charts as server-rendered SVG: no script, readable by screen readers through their titles."""

from __future__ import annotations

from html import escape
from typing import Any

OK = "#1a7f37"
BAD = "#cf222e"
AXIS = "#57606a"


def stacked_hours(hours: list[dict[str, Any]], width: int = 720, height: int = 200) -> str:
    """Attempts per hour, succeeded below failed, one bar per hour."""
    top = max((h["succeeded"] + h["failed"] for h in hours), default=0) or 1
    left, bottom = 36, 22
    plot_w, plot_h = width - left - 4, height - bottom - 8
    bar = plot_w / max(len(hours), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title" preserveAspectRatio="none">',
        '<title id="chart-title">Deliveries per hour over the last 24 hours: '
        "succeeded and failed</title>",
        f'<line x1="{left}" y1="{8 + plot_h}" x2="{width - 4}" y2="{8 + plot_h}" stroke="{AXIS}"/>',
        f'<text x="{left - 4}" y="14" text-anchor="end" font-size="11" fill="{AXIS}">{top}</text>',
        f'<text x="{left - 4}" y="{8 + plot_h}" text-anchor="end" font-size="11" '
        f'fill="{AXIS}">0</text>',
    ]
    for i, h in enumerate(hours):
        x = left + i * bar + 1
        ok_h = plot_h * h["succeeded"] / top
        bad_h = plot_h * h["failed"] / top
        label = escape(f"{h['start'][11:16]} UTC: {h['succeeded']} succeeded, {h['failed']} failed")
        parts.append(f"<g><title>{label}</title>")
        if ok_h:
            parts.append(
                f'<rect x="{x:.1f}" y="{8 + plot_h - ok_h:.1f}" width="{bar - 2:.1f}" '
                f'height="{ok_h:.1f}" fill="{OK}"/>'
            )
        if bad_h:
            parts.append(
                f'<rect x="{x:.1f}" y="{8 + plot_h - ok_h - bad_h:.1f}" width="{bar - 2:.1f}" '
                f'height="{bad_h:.1f}" fill="{BAD}"/>'
            )
        parts.append("</g>")
        if i % 6 == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - 6}" font-size="11" fill="{AXIS}">'
                f"{escape(h['start'][11:16])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(series: list[float | None], width: int = 120, height: int = 24) -> str:
    """Success rate per hour (0 to 1), a gap where there was no attempt."""
    known = [v for v in series if v is not None]
    if not known:
        return '<span class="muted">no deliveries</span>'
    rate = sum(known) / len(known)
    step = width / max(len(series) - 1, 1)
    points: list[str] = []
    paths: list[str] = []
    for i, value in enumerate(series):
        if value is None:
            if points:
                paths.append(" ".join(points))
                points = []
            continue
        points.append(f"{i * step:.1f},{2 + (height - 4) * (1 - value):.1f}")
    if points:
        paths.append(" ".join(points))
    color = OK if rate >= 0.95 else BAD
    lines = "".join(
        f'<polyline points="{p}" fill="none" stroke="{color}" stroke-width="2"/>'
        if " " in p
        else f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2" fill="{color}"/>'
        for p in paths
    )
    title = escape(f"Success rate over 24 hours: {rate:.0%}")
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{title}"><title>{title}</title>{lines}</svg>'
    )
