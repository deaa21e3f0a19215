"""Ingest: events applied exactly once, acknowledged only after commit, gaps reported, bad
payloads counted and harmless."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lockers.wire import messages as m
from lockers.wire import topics as t
from server.models import Alarm, AuditEntry, Deposit, Event, Kiosk, PendingEvent
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


@pytest.fixture
def env(tmp_path: Path, broker_factory: Any) -> Iterator[tuple[Any, FakeKiosk]]:
    with server_and_kiosk(tmp_path, broker_factory) as (rt, kiosk):
        yield rt, kiosk


_count = count_rows


def test_duplicate_event_is_acked_again_but_applied_once(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    ev = deposit(kiosk, 1, MORNING, "A001", 3)
    kiosk.publish(ev)
    kiosk.wait_for(lambda k: 1 in k.acked, what="ack of seq 1")
    kiosk.acked.clear()
    kiosk.publish(ev)  # the kiosk did not hear the ack and sends again
    kiosk.wait_for(lambda k: 1 in k.acked, what="second ack of seq 1")
    assert _count(rt, Deposit) == 1
    assert _count(rt, Event) == 1
    assert rt.ingest.stats.duplicates == 1
    assert _count(rt, AuditEntry, AuditEntry.action == "event.deposit") == 1


def test_events_after_a_missing_one_wait_for_it_and_are_applied_in_the_kiosks_order(
        env: tuple[Any, FakeKiosk]) -> None:
    # A deposit resent late must never be applied after the collection that followed it:
    # each kiosk's events are applied in its own order, whatever order the broker brings.
    rt, kiosk = env
    for seq in (1, 4):
        kiosk.publish(tap(kiosk, seq, rt.cards["A001"], MORNING, m.TapOutcome.DEPOSIT_OPENED,
                          "A001", 3))
    kiosk.wait_for(lambda k: 1 in k.acked, what="ack 1")
    gap = Alarm.kind == "sequence_gap"
    wait_until(lambda: _count(rt, Alarm, gap) == 1, what="the gap alarm")
    with rt.store.read() as s:
        alarm = s.scalar(select(Alarm).where(gap))
        assert (alarm.gap_from, alarm.gap_to, alarm.cleared_at) == (2, 3, None)
    # 4 waits, parked: durable here (so acknowledged) but not applied.
    kiosk.wait_for(lambda k: 4 in k.acked, what="ack 4")
    assert _count(rt, Event) == 1 and _count(rt, PendingEvent) == 1
    for seq in (3, 2):  # late, and the wrong way round
        kiosk.publish(tap(kiosk, seq, rt.cards["A001"], MORNING, m.TapOutcome.ALREADY_DEPOSITED,
                          "A001"))
    kiosk.wait_for(lambda k: {2, 3, 4} <= k.acked, what="acks 2, 3 and 4")
    wait_until(lambda: _count(rt, Event) == 4, what="2, 3 and the parked 4 applied")
    assert _count(rt, PendingEvent) == 0
    with rt.store.read() as s:
        seqs = list(s.scalars(select(Event.seq).order_by(Event.id)))
        assert s.scalar(select(Kiosk.last_seq)) == 4
    assert seqs == [1, 2, 3, 4]  # applied in the kiosk's order
    assert _count(rt, Alarm, gap, Alarm.cleared_at.is_(None)) == 0


def test_bad_payloads_are_counted_and_change_nothing(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    audit_before = _count(rt, AuditEntry)
    kiosk.publish_raw(t.EVENTS, b"not json")
    kiosk.publish_raw(t.EVENTS, b'{"v":1,"type":"tap","kiosk":"k1"}')
    kiosk.publish_raw(t.EVENTS, b"\xff\xfe")
    kiosk.publish_raw(t.STATUS, b'{"v":9}')
    wait_until(lambda: rt.ingest.stats.bad_payloads == 4, what="4 bad payloads counted")
    # The server is still alive (a tap: one event, one audit entry, no custody move).
    kiosk.publish(tap(kiosk, 1, rt.cards["A002"], MORNING, m.TapOutcome.NOTHING_TO_COLLECT,
                      "A002"))
    kiosk.wait_for(lambda k: 1 in k.acked, what="ack after bad payloads")
    assert _count(rt, Event) == 1
    assert _count(rt, AuditEntry) == audit_before + 1


def test_status_marks_kiosk_online_then_offline_with_alarm(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    kiosk.publish(m.KioskStatus(kiosk="k1", site="north", state="online", reason="birth",
                                at=MORNING, software="1.0", policy_version=1))
    wait_until(lambda: _online(rt) is True, what="kiosk online")
    kiosk.publish(m.KioskStatus(kiosk="k1", site="north", state="offline", reason="will"))
    wait_until(lambda: _online(rt) is False, what="kiosk offline")
    assert _count(rt, Alarm, Alarm.kind == "kiosk_offline", Alarm.cleared_at.is_(None)) == 1


def _online(rt: Any) -> bool:
    with rt.store.read() as s:
        return bool(s.scalar(select(Kiosk.online)))


def test_deposit_after_late_after_is_flagged_late(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    from datetime import time

    rt.services.admin.update_settings("admin", "lateness from 08:45", late_after=time(8, 45))
    kiosk.publish(deposit(kiosk, 1, MORNING + timedelta(minutes=50), "A003", 2))
    kiosk.wait_for(lambda k: 1 in k.acked, what="ack")
    with rt.store.read() as s:
        assert s.scalar(select(Deposit.late)) is True


def test_slot_snapshot_mirrors_the_kiosk_slots(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    from server.models import Slot

    kiosk.publish(m.SlotSnapshot(kiosk="k1", site="north", at=MORNING, slots=[
        m.SlotView(slot=1, state=m.SlotState.OCCUPIED, pupil_ref="A001"),
        m.SlotView(slot=2, state=m.SlotState.HELD, pupil_ref="A002", door_open=False),
        m.SlotView(slot=10, state=m.SlotState.FAULT, door_open=True)]))

    def states() -> dict[int, tuple[str, bool]]:
        with rt.store.read() as s:
            return {n: (st, d) for n, st, d in s.execute(
                select(Slot.number, Slot.state, Slot.door_open).where(Slot.number.in_([1, 2, 10])))}

    wait_until(lambda: states().get(10) == ("fault", True), what="slot snapshot applied")
    assert states()[1] == ("occupied", False) and states()[2] == ("held", False)
