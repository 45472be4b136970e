"""The affinity pictures: history replayed from the events log, and the SVG drawn from it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from companions.admin_charts import affinity_replay, history_svg, vector_bars_svg

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def event(minutes: float, deltas: dict, *, source: str = "rules", inertia: float | None = 0.8):
    context = {"source": source} | ({"inertia": inertia} if inertia is not None else {})
    return SimpleNamespace(
        created_at=T0 + timedelta(minutes=minutes),
        deltas=deltas,
        context=context,
        event_type="ghost" if source == "ghost" else "message",
    )


def row(**axes):
    values = {
        "warmth": 0.3,
        "trust": 0.2,
        "intrigue": 0.5,
        "intimacy": 0.0,
        "patience": 0.5,
        "tension": 0.1,
    }
    values.update(axes)
    updated = values.pop("updated_at", T0)
    return SimpleNamespace(created_at=T0, updated_at=updated, **values)


def test_replay_applies_each_event_with_its_inertia_and_decay_between_events():
    events = [
        event(0, {"warmth": 0.5}),
        # Two days later: intrigue drifts -0.02, patience +0.01, tension -0.01 first.
        event(2 * 1440, {"trust": 0.5, "tension": 0.2}, source="llm", inertia=0.5),
    ]
    stored = row(
        warmth=0.3 + 0.2 * 0.5,
        trust=0.2 + 0.5 * 0.5,
        intrigue=0.5 - 0.02,
        patience=0.5 + 0.01,
        tension=0.1 - 0.01 + 0.5 * 0.2,
        updated_at=T0 + timedelta(days=2),
    )
    replay = affinity_replay(
        row=stored, events=events, default_inertia=0.8, now=T0 + timedelta(days=2)
    )
    assert [p.source for p in replay.points] == [None, "rules", "llm"]
    after_first = replay.points[1].vector
    assert after_first["warmth"] == pytest.approx(0.4)
    last = replay.points[2].vector
    assert last["trust"] == pytest.approx(0.45)
    assert last["intrigue"] == pytest.approx(0.48)
    assert last["tension"] == pytest.approx(0.19)
    assert replay.drift < 1e-9


def test_replay_uses_the_default_inertia_when_an_event_has_none_and_ends_at_now():
    stored = row(warmth=0.3 + 0.3 * 0.1)
    now = T0 + timedelta(hours=1)
    replay = affinity_replay(
        row=stored, events=[event(0, {"warmth": 0.1}, inertia=None)], default_inertia=0.7, now=now
    )
    assert replay.points[1].vector["warmth"] == pytest.approx(0.33)
    assert replay.points[-1].at == now and replay.points[-1].event is None
    assert replay.drift < 1e-9


def test_replay_reports_drift_when_the_stored_row_does_not_match_its_events():
    replay = affinity_replay(
        row=row(trust=0.9), events=[event(0, {"trust": 0.1})], default_inertia=0.8, now=T0
    )
    assert replay.drift == pytest.approx(0.9 - 0.22)


@pytest.mark.django_db
def test_replay_matches_the_services_over_a_fifty_turn_session(relationship):
    from django.utils import timezone

    row = relationship.affinity
    replay = affinity_replay(
        row=row,
        events=list(row.events.order_by("created_at", "id")),
        default_inertia=0.8,
        now=timezone.now(),
    )
    assert replay.drift < 1e-9
    assert len(replay.points) == row.events.count() + 2  # start, one per event, now


def test_vector_bars_start_warmth_at_its_zero_line_and_the_other_axes_at_the_left():
    svg = vector_bars_svg(
        {
            "warmth": -0.5,
            "trust": 1.0,
            "intrigue": 0.0,
            "intimacy": 0.25,
            "patience": 0.5,
            "tension": 2,
        }
    )
    bars = re.findall(
        r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="22" fill="#(?!888)', svg
    )
    (wx, ww), (tx, tw), (_, iw), (_, mw), (_, pw), (_, nw) = [(float(x), float(w)) for x, w in bars]
    track = 390  # 560 wide minus labels and values
    assert (wx, ww) == (90 + track / 4, track / 4)  # -0.5..0 on a -1..1 axis
    assert (tx, tw) == (90, track)
    assert iw == 1.5  # a zero value still shows a sliver
    assert mw == track / 4 and pw == track / 2
    assert nw == track  # out-of-range values are drawn at the edge
    assert ">-0.500<" in svg and "<script" not in svg


def test_history_draws_one_line_per_axis_and_a_marker_per_event_coloured_by_source():
    points = affinity_replay(
        row=row(warmth=0.33, tension=0.11, patience=0.49, updated_at=T0 + timedelta(minutes=60)),
        events=[
            event(0, {"warmth": 0.1}, inertia=0.7),
            event(60, {"patience": -0.05, "tension": 0.05}, source="ghost", inertia=0.8),
        ],
        default_inertia=0.8,
        now=T0 + timedelta(minutes=60),
    ).points
    svg = history_svg(points)
    assert svg.count("<polyline") == 6
    assert svg.count("<circle") == 5 + 6 * 2  # legend (5 sources) + one marker per axis per event
    assert svg.count('fill="#212529"><title>') == 6  # ghost markers
    assert "ghost: tension Δ +0.050" in svg
    assert "No events yet" in history_svg(points[:1])


def test_long_histories_keep_markers_only_for_gifts_and_ghosts():
    events = [event(i, {"warmth": 0.01}) for i in range(450)]
    events[100] = event(100, {"warmth": 0.1}, source="gift")
    points = affinity_replay(
        row=row(), events=events, default_inertia=0.8, now=T0 + timedelta(minutes=500)
    ).points
    svg = history_svg(points)
    assert svg.count("<polyline") == 6
    assert svg.count("<circle") == 5 + 6  # legend (5 sources) + the gift on each axis
