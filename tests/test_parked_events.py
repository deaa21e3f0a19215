"""Parked events of a kiosk that went quiet: applied by the elected process once their wait is
over (server/ingest/overdue.py, ADR 0010), once, with the gap left for staff."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from lockers.wire import messages as m
from lockers.wire.codec import encode
from server import bus
from server.ingest.batch import BatchResult
from server.ingest.events import GAP_WAIT_S, apply_events
from server.ingest.kiosks import lock_kiosks
from server.ingest.overdue import OverdueParked
from server.models import Alarm, AuditEntry, Event, Kiosk, PendingEvent
from tests.server_kit import (
    MORNING,
    FakeKiosk,
    count_rows,
    deposit,
    server_and_kiosk,
    tap,
    wait_until,
)

# Each test runs on SQLite and on a real PostgreSQL (tests/fixtures/postgres.py).
pytestmark = pytest.mark.usefixtures("each_database")

GAP = Alarm.kind == "sequence_gap"


@pytest.fixture
def env(tmp_path: Path, broker_factory: Any) -> Iterator[tuple[Any, FakeKiosk]]:
    with server_and_kiosk(tmp_path, broker_factory) as (rt, kiosk):
        yield rt, kiosk


_count = count_rows


def _amira_collects_with_event_5_missing(rt: Any, kiosk: FakeKiosk) -> None:
    """Amira hands her phone in (events 1-4); event 5 is lost on the way; her collection
    (event 6) arrives and is parked behind it, acknowledged to the kiosk."""
    kiosk.publish(tap(kiosk, 1, rt.cards["A001"], MORNING, m.TapOutcome.DEPOSIT_OPENED,
                      "A001", 3))
    kiosk.publish(deposit(kiosk, 2, MORNING, "A001", 3))
    for seq in (3, 4):
        kiosk.publish(tap(kiosk, seq, rt.cards["A002"], MORNING, m.TapOutcome.NOT_RELEASE_TIME,
                          "A002"))
    kiosk.wait_for(lambda k: {1, 2, 3, 4} <= k.acked, what="acks 1-4")
    kiosk.publish(_collection(kiosk))
    kiosk.wait_for(lambda k: 6 in k.acked, what="the parked collection acknowledged")
    assert _count(rt, PendingEvent) == 1
    assert rt.services.queries.where_is_phone("A001").status == "in_locker"


def _collection(kiosk: FakeKiosk) -> m.CollectionEvent:
    return m.CollectionEvent(kiosk=kiosk.kiosk, site=kiosk.site, seq=6,
                             at=MORNING + timedelta(hours=7), slot=3, pupil_ref="A001",
                             via=m.OpenedVia.PUPIL)


def _event_5(rt: Any, kiosk: FakeKiosk) -> m.TapEvent:
    return tap(kiosk, 5, rt.cards["A003"], MORNING, m.TapOutcome.NOTHING_TO_COLLECT, "A003")


def _applied_once(rt: Any, seq: int) -> bool:
    return _count(rt, Event, Event.seq == seq) == 1


def test_a_collection_parked_behind_an_event_that_never_comes_is_applied_after_the_wait(
        env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    refreshes: list[dict[str, Any]] = []
    rt.bus.subscribe(bus.LIVE, lambda updates: refreshes.extend(
        u for u in updates if u.get("kind") == "refresh"))
    _amira_collects_with_event_5_missing(rt, kiosk)
    # Event 5 never comes and the kiosk goes quiet: nothing else will bring the parked 6.
    # The dashboard heard of the hand-in (2), not of the parked collection: it hears events
    # as they are applied, in the kiosk's order.
    wait_until(lambda: len(refreshes) == 1, what="the dashboard told of the hand-in")
    rounds = rt.elected.runs["parked_events"]
    rt.clock.advance(GAP_WAIT_S - 1)
    wait_until(lambda: rt.elected.runs["parked_events"] > rounds, timeout=30,
               what="a round of the elected process before the wait is over")
    assert rt.services.queries.where_is_phone("A001").status == "in_locker"
    assert _count(rt, PendingEvent) == 1
    rt.clock.advance(2)
    wait_until(lambda: rt.services.queries.where_is_phone("A001").status == "collected",
               timeout=30, what="the elected process to apply the parked collection")
    assert _count(rt, PendingEvent) == 0
    assert _applied_once(rt, 6)
    assert _count(rt, AuditEntry, AuditEntry.action == "event.collected") == 1
    # The hole stays for staff: the office sees the gap, still open.
    gaps = [a for a in rt.services.queries.open_alarms() if a["kind"] == "sequence_gap"]
    assert len(gaps) == 1 and "5..5" in gaps[0]["detail"]
    with rt.store.read() as s:
        assert s.scalar(select(Kiosk.last_seq)) == 6
    wait_until(lambda: len(refreshes) == 2, what="the live dashboard told of the collection")

    # The kiosk comes back and event 5 arrives after all: applied, the gap closes, and the
    # collection is not applied a second time.
    kiosk.acked.clear()
    kiosk.publish(_event_5(rt, kiosk))
    kiosk.wait_for(lambda k: 5 in k.acked, what="ack 5")
    assert _applied_once(rt, 5) and _applied_once(rt, 6)
    assert _count(rt, AuditEntry, AuditEntry.action == "event.collected") == 1
    assert _count(rt, Alarm, GAP, Alarm.cleared_at.is_(None)) == 0
    assert rt.services.queries.where_is_phone("A001").status == "collected"


def test_the_missing_event_committed_while_the_sweep_runs_applies_the_collection_once(
        env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    _amira_collects_with_event_5_missing(rt, kiosk)
    ev5 = _event_5(rt, kiosk)
    sweep = OverdueParked(rt.store, rt.clock)
    swept: list[int] = []
    with rt.store.write() as s:
        # Another process receives event 5 and commits it, with the parked 6 behind it, just
        # as the wait runs out and a sweep starts.
        known = rt.ingest.kiosks.get(s, "north", "k1")
        lock_kiosks(s, {known.id})
        result = BatchResult()
        apply_events(s, rt.clock.now(), [(known, ev5, encode(ev5))], result)
        assert result.applied == 2
        rt.clock.advance(GAP_WAIT_S + 1)
        racer = threading.Thread(target=lambda: swept.append(sweep.run()))
        racer.start()
        if not rt.store.is_sqlite:
            # The sweep has seen 6 still parked and waits on the kiosk's row lock. (On
            # SQLite it waits for the whole database, which cannot be watched from here.)
            wait_until(lambda: _waiting_on_a_lock(rt), timeout=10,
                       what="the sweep waiting for the kiosk's row")
    racer.join(30)
    assert swept == [0]  # it found 6 applied and unparked by the other commit
    assert _applied_once(rt, 5) and _applied_once(rt, 6)
    assert _count(rt, AuditEntry, AuditEntry.action == "event.collected") == 1
    assert _count(rt, PendingEvent) == 0
    assert _count(rt, Alarm, GAP, Alarm.cleared_at.is_(None)) == 0
    assert rt.services.queries.where_is_phone("A001").status == "collected"


def _waiting_on_a_lock(rt: Any) -> bool:
    with rt.store.read() as s:
        return bool(s.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")))


def test_a_hand_in_parked_when_the_kiosk_lost_its_state_is_applied_not_left_behind(
        env: tuple[Any, FakeKiosk]) -> None:
    # The kiosk's first event never arrives and Amira's hand-in (2) is parked behind it; then
    # the kiosk loses its state file and starts a new store at 1. Event 1 of the old store
    # can never come now, and the server holds the hand-in's only copy: it is applied at
    # once, and the office has the state-lost alarm to check the kiosk's slots.
    rt, kiosk = env
    old, new = "0123456789abcdef", "fedcba9876543210"
    kiosk.publish(deposit(kiosk, 2, MORNING, "A001", 3).model_copy(update={"epoch": old}))
    kiosk.wait_for(lambda k: 2 in k.acked, what="the parked hand-in acknowledged")
    assert _count(rt, PendingEvent) == 1
    kiosk.publish(tap(kiosk, 1, rt.cards["A002"], MORNING, m.TapOutcome.NOT_RELEASE_TIME,
                      "A002").model_copy(update={"epoch": new}))
    wait_until(lambda: _count(rt, Event) == 2, what="the new store's event and the hand-in")
    assert _count(rt, PendingEvent) == 0
    assert rt.services.queries.where_is_phone("A001").status == "in_locker"
    with rt.store.read() as s:
        assert tuple(s.execute(select(Kiosk.epoch, Kiosk.last_seq)).one()) == (new, 1)
    assert _count(rt, Alarm, Alarm.kind == "kiosk_state_lost") == 1
    assert _count(rt, Alarm, GAP, Alarm.cleared_at.is_(None)) == 0
