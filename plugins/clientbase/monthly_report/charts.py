"""Small SVG charts written by hand, inlined in the report.

Why not matplotlib: the report needs three kinds of chart (shares against a plan, grouped bars
over months), and SVG written here is text in the HTML and in the PDF (WeasyPrint draws it
as vectors and keeps its labels as text), so the figures on a chart can be found and checked
by a test, with no plotting library (and its font cache) in the pipeline's environment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

# One palette for every chart (colour-blind safe: Okabe & Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
PLAN_COLOUR = "#222222"
FONT = "font-family='DejaVu Sans, sans-serif'"


def _text(x: float, y: float, text: str, size: int = 10, anchor: str = "start", colour: str = "#333") -> str:
    return (f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' fill='{colour}' {FONT}>"
            f"{escape(text)}</text>")


def share_bars(items: Sequence[tuple[str, float | None, float | None, bool | None]],
               fmt: Callable[[float | None], str], width: int = 640) -> str:
    """Horizontal bars of shares (0..1) with the plan as a tick: (label, share, plan share, on plan).

    A bar off plan is drawn in the warning colour, so the page says at a glance what to fix.
    """
    row, left, right = 24, 150, 120
    height = row * len(items) + 24
    scale = width - left - right
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img'>"]
    for i, (name, share, plan, on_plan) in enumerate(items):
        y = 8 + i * row
        value = max(0.0, min(1.0, float(share or 0)))
        colour = PALETTE[3] if on_plan is False else PALETTE[0]
        parts.append(_text(left - 8, y + 13, name, anchor="end"))
        parts.append(f"<rect x='{left}' y='{y}' width='{scale:.1f}' height='16' fill='#eeeeee'/>")
        parts.append(f"<rect x='{left}' y='{y}' width='{scale * value:.1f}' height='16' fill='{colour}'/>")
        label = fmt(share)
        if plan is not None:
            px = left + scale * max(0.0, min(1.0, float(plan)))
            parts.append(f"<line x1='{px:.1f}' y1='{y - 3}' x2='{px:.1f}' y2='{y + 19}' stroke='{PLAN_COLOUR}' "
                         "stroke-width='2'/>")
            label += f" / {fmt(plan)}"
        parts.append(_text(left + scale + 6, y + 13, label))
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
                 fmt: Callable[[float | None], str], width: int = 640, height: int = 220) -> str:
    """Vertical bars per category (a month), one bar per series, each value written above its bar."""
    left, bottom, top, legend = 10, 28, 18, 18
    plot_h = height - bottom - top - legend
    values = [float(v) for _, vs in series for v in vs if v is not None]
    peak = max([*values, 0.0]) or 1.0
    group_w = (width - 2 * left) / max(1, len(categories))
    bar_w = min(40.0, (group_w - 12) / max(1, len(series)))
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img'>"]
    base = top + legend + plot_h
    parts.append(f"<line x1='{left}' y1='{base}' x2='{width - left}' y2='{base}' stroke='#999'/>")
    for s, (name, _) in enumerate(series):
        x = left + s * 170
        parts.append(f"<rect x='{x}' y='2' width='12' height='12' fill='{PALETTE[s % len(PALETTE)]}'/>")
        parts.append(_text(x + 16, 12, name))
    for c, category in enumerate(categories):
        x0 = left + c * group_w + (group_w - bar_w * len(series)) / 2
        for s, (_, vs) in enumerate(series):
            value = vs[c] if c < len(vs) else None
            h = plot_h * max(0.0, float(value or 0)) / peak
            x = x0 + s * bar_w
            parts.append(f"<rect x='{x:.1f}' y='{base - h:.1f}' width='{bar_w - 2:.1f}' height='{h:.1f}' "
                         f"fill='{PALETTE[s % len(PALETTE)]}'/>")
            parts.append(_text(x + (bar_w - 2) / 2, base - h - 3, fmt(value), size=8, anchor="middle"))
        parts.append(_text(left + c * group_w + group_w / 2, base + 16, category, anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)
