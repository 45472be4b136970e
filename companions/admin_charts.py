"""Pictures of a relationship for the admin: the affinity vector and each axis's history.

Server-rendered SVG strings (no scripts, no external assets), so the pages work offline and in
screenshots. The history is replayed from the events log with the same domain step the
services write with, ``domain.affinity.advance`` (reference eros-engine-core.md §1.3):
starting from a new session's vector at the row's ``created_at``, each event first drifts the
vector by the whole minutes of time decay since the previous write, then EMA-applies its raw
deltas with the inertia the event recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils.html import escape

from companions.domain import affinity as affinity_rules
from companions.domain.types import AXES, Affinity, AffinityDeltas

#: Plotted range of each axis (warmth may go negative; reference §1.3 clamps).
AXIS_RANGE = {axis: (affinity_rules.AXIS_MIN, affinity_rules.AXIS_MAX) for axis in AXES}
AXIS_RANGE["warmth"] = (affinity_rules.WARMTH_MIN, affinity_rules.AXIS_MAX)

AXIS_COLOURS = {
    "warmth": "#e4572e",
    "trust": "#2e86ab",
    "intrigue": "#8e44ad",
    "intimacy": "#d6336c",
    "patience": "#3c9d4e",
    "tension": "#e0a800",
}
#: Marker colour per delta source (``context.source`` of an event).
SOURCE_COLOURS = {
    "rules": "#6c757d",
    "llm": "#2e86ab",
    "offline": "#5fa8d3",
    "gift": "#d6336c",
    "ghost": "#212529",
}
_OTHER_SOURCE = "#adb5bd"
#: Intervals on the history's time axis.
TICKS = 4
#: Above this many events only gift and ghost events get markers (the lines stay exact).
MARKER_LIMIT = 400


@dataclass(frozen=True)
class HistoryPoint:
    """The vector right after one event (``event`` is None for the start and for "now")."""

    at: datetime
    vector: dict[str, float]
    event: Any = None
    source: str | None = None


@dataclass(frozen=True)
class Replay:
    """Replayed history and how far its end is from the stored row (max abs axis difference)."""

    points: list[HistoryPoint]
    drift: float


def event_source(event: Any) -> str:
    """The event's ``context.source`` (``rules``, ``llm``, ``offline``, ``gift``, ``ghost``),
    else its type."""
    context = event.context if isinstance(event.context, dict) else {}
    return str(context.get("source") or event.event_type)


def affinity_replay(
    *, row: Any, events: Iterable[Any], default_inertia: float, now: datetime
) -> Replay:
    """Replay ``events`` (oldest first) from a new session's vector at ``row.created_at``.

    Returns one point for the start, one per event (the vector after it) and a last point at
    ``now``: the stored row with time decay up to ``now``. ``drift`` compares the replay's end
    (decayed to ``row.updated_at``) with the stored axes; a non-zero drift means the row was
    written without an event (for example by hand in SQL).
    """
    start = row.created_at
    value = Affinity(updated_at=start)
    points = [HistoryPoint(start, value.vector())]
    for event in events:
        at = event.created_at
        context = event.context if isinstance(event.context, dict) else {}
        inertia = context.get("inertia")
        if not isinstance(inertia, int | float) or isinstance(inertia, bool):
            inertia = default_inertia
        try:
            deltas = AffinityDeltas.from_mapping(event.deltas or {})
        except (TypeError, ValueError):
            deltas = AffinityDeltas()
        # The very step the write made (services.affinity.affinity_advance).
        value = affinity_rules.advance(value, deltas, now=at, inertia=float(inertia)).affinity
        points.append(HistoryPoint(at, value.vector(), event, event_source(event)))
    if row.updated_at and value.updated_at and row.updated_at > value.updated_at:
        value = affinity_rules.apply_time_decay(value, now=row.updated_at)
    stored = {axis: getattr(row, axis) for axis in AXES}
    drift = max(abs(value.vector()[axis] - stored[axis]) for axis in AXES)
    current = affinity_rules.apply_time_decay(
        Affinity(**stored, updated_at=row.updated_at), now=now
    )
    if now > points[-1].at:
        points.append(HistoryPoint(now, current.vector()))
    return Replay(points, drift)


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def vector_bars_svg(vector: dict[str, float], *, title: str = "Affinity vector") -> str:
    """Horizontal bars, one per axis, on each axis's own range; warmth has a zero line."""
    width, row_h, label_w, value_w, top = 560, 34, 90, 60, 30
    bar_w = width - label_w - value_w - 20
    height = top + row_h * len(AXES) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="eros-chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="13">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="18" font-weight="bold" fill="currentColor">{escape(title)}</text>',
    ]
    for i, axis in enumerate(AXES):
        lo, hi = AXIS_RANGE[axis]
        value = float(vector.get(axis, 0.0))
        y = top + i * row_h
        x0 = label_w
        scale = bar_w / (hi - lo)
        zero_x = x0 + (0.0 - lo) * scale
        val_x = x0 + (min(max(value, lo), hi) - lo) * scale
        left, right = sorted((zero_x, val_x))
        colour = AXIS_COLOURS[axis]
        parts += [
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" fill="currentColor">'
            f"{axis}</text>",
            f'<rect x="{x0}" y="{y + 4}" width="{bar_w}" height="22" fill="#8882" rx="3"/>',
            f'<rect x="{left:.1f}" y="{y + 4}" width="{max(right - left, 1.5):.1f}" height="22" '
            f'fill="{colour}" rx="3"><title>{axis} {_fmt(value)} (range {lo:g}..{hi:g})'
            f"</title></rect>",
            f'<text x="{x0 + bar_w + 8}" y="{y + 19}" fill="currentColor" '
            f'font-family="monospace">{_fmt(value)}</text>',
        ]
        if lo < 0:
            parts.append(
                f'<line x1="{zero_x:.1f}" x2="{zero_x:.1f}" y1="{y + 1}" y2="{y + 29}" '
                f'stroke="currentColor" stroke-width="1.5"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def history_svg(points: Sequence[HistoryPoint]) -> str:
    """Six stacked line charts (one per axis) over time, event markers coloured by source."""
    width, panel_h, gap, left, right, top = 760, 96, 26, 90, 20, 34
    plot_w = width - left - right
    height = top + len(AXES) * (panel_h + gap) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="eros-chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="12">',
        "<title>Affinity history by axis</title>",
        '<text x="0" y="16" font-weight="bold" font-size="13" fill="currentColor">'
        "History from the events log</text>",
    ]
    # Legend of sources.
    lx = 260
    for source, colour in SOURCE_COLOURS.items():
        parts.append(f'<circle cx="{lx}" cy="12" r="5" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 9}" y="16" fill="currentColor">{source}</text>')
        lx += 70
    if len(points) < 2:
        parts.append(
            f'<text x="{left}" y="{top + 30}" fill="currentColor">No events yet.</text></svg>'
        )
        return "".join(parts)
    t0, t1 = points[0].at, points[-1].at
    span = max((t1 - t0).total_seconds(), 1.0)

    def x_of(at: datetime) -> float:
        return left + (at - t0).total_seconds() / span * plot_w

    for i, axis in enumerate(AXES):
        lo, hi = AXIS_RANGE[axis]
        y_top = top + i * (panel_h + gap)

        def y_of(value: float, lo=lo, hi=hi, y_top=y_top) -> float:
            clamped = min(max(value, lo), hi)
            return y_top + panel_h - (clamped - lo) / (hi - lo) * panel_h

        colour = AXIS_COLOURS[axis]
        last = points[-1].vector[axis]
        parts += [
            f'<rect x="{left}" y="{y_top}" width="{plot_w}" height="{panel_h}" fill="#8881"/>',
            f'<text x="{left - 8}" y="{y_top + panel_h / 2 + 4:.1f}" text-anchor="end" '
            f'font-weight="bold" fill="{colour}">{axis}</text>',
            f'<text x="{left - 8}" y="{y_top + panel_h / 2 + 18:.1f}" text-anchor="end" '
            f'font-family="monospace" fill="currentColor">{_fmt(last)}</text>',
            f'<text x="{left - 4}" y="{y_top + 9}" text-anchor="end" font-size="9" '
            f'fill="currentColor">{hi:g}</text>',
            f'<text x="{left - 4}" y="{y_top + panel_h}" text-anchor="end" font-size="9" '
            f'fill="currentColor">{lo:g}</text>',
        ]
        if lo < 0:
            zy = y_of(0.0)
            parts.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{zy:.1f}" y2="{zy:.1f}" '
                f'stroke="#8888" stroke-dasharray="3 3"/>'
            )
        # A step-free polyline: values change only at events, decay drifts in between.
        coords = " ".join(f"{x_of(p.at):.1f},{y_of(p.vector[axis]):.1f}" for p in points)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-linejoin="round"/>'
        )
        dense = len(points) > MARKER_LIMIT
        for p in points:
            if p.event is None or (dense and p.source not in ("gift", "ghost")):
                continue
            delta = (p.event.deltas or {}).get(axis, 0) if isinstance(p.event.deltas, dict) else 0
            marker = SOURCE_COLOURS.get(p.source or "", _OTHER_SOURCE)
            radius = 3.2 if delta else 2
            parts.append(
                f'<circle cx="{x_of(p.at):.1f}" cy="{y_of(p.vector[axis]):.1f}" r="{radius}" '
                f'fill="{marker}"><title>{escape(p.at.strftime("%Y-%m-%d %H:%M"))} '
                f"{escape(p.source or '')}: {axis} Δ {delta:+.3f} → {_fmt(p.vector[axis])}"
                f"</title></circle>"
            )
    # Time axis under the last panel: evenly spaced ticks with light grid lines through panels.
    y_axis = top + len(AXES) * (panel_h + gap) - gap + 14
    fmt = "%Y-%m-%d %H:%M" if span < 3 * 86400 else "%Y-%m-%d"
    for k in range(TICKS + 1):
        at = t0 + timedelta(seconds=span * k / TICKS)
        x = x_of(at)
        anchor = "start" if k == 0 else "end" if k == TICKS else "middle"
        label = at.strftime(fmt) + (" (now)" if k == TICKS else "")
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{y_axis - 12}" stroke="#8884" '
            f'stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{y_axis}" text-anchor="{anchor}" fill="currentColor">'
            f"{label}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
