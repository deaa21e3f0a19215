"""Several server processes on one PostgreSQL database, sharing the kiosks' traffic (#17).

Real server processes (tests/server_child.py) on their own broker accounts, one real
Mosquitto with the production ACL, a private PostgreSQL cluster (tests/fixtures/postgres.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server.models import Alarm, AuditEntry, Event, Kiosk, Slot
from server.store import Store
from tests.server_kit import wait_until
from tests.trust_kit import (
    ResendingKiosk,
    ServerProcess,
    last_states,
    prepare_database,
    slot_events,
)

KIOSKS = ["k1", "k2", "k3"]


@pytest.fixture
def trust(tmp_path: Path, broker_factory: Any, postgres_url: str
          ) -> Iterator[tuple[Any, str, Store]]:
    """A broker with kiosks north/k1..k3, a seeded PostgreSQL database and a store on it."""
    broker = broker_factory(kiosks=[("north", k) for k in KIOSKS])
    prepare_database(postgres_url, KIOSKS)
    store = Store(postgres_url)
    try:
        yield broker, postgres_url, store
    finally:
        store.dispose()


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    """Server processes started by the test, stopped (or already killed) at its end."""
    started: list[ServerProcess] = []
    yield started
    for proc in started:
        proc.stop()


def _kiosks(broker: Any) -> list[ResendingKiosk]:
    out = []
    for code in KIOSKS:
        account = broker.kiosk("north", code)
        out.append(ResendingKiosk(broker.host, broker.port, "north", code,
                                  account.username, account.password))
    return out


def _stored(store: Store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Event)) or 0


def test_a_process_killed_mid_burst_loses_nothing_and_applies_nothing_twice(
        tmp_path: Path, trust: tuple[Any, str, Store], processes: list[ServerProcess]) -> None:
    broker, url, store = trust
    first, second = (ServerProcess(url, broker, n, tmp_path / f"server{n}").start()
                     for n in (1, 2))
    processes += [first, second]
    for proc in processes:
        proc.wait_ready()
    kiosks = _kiosks(broker)
    per_kiosk = 400
    sent = {k.kiosk: slot_events(k, per_kiosk) for k in kiosks}
    try:
        for k in kiosks:
            k.send(sent[k.kiosk])
        wait_until(lambda: _stored(store) >= per_kiosk // 2, timeout=60,
                   what="the burst to be under way")
        first.kill()
        killed_at = _stored(store)
        for k in kiosks:
            k.wait_for(lambda kk: kk.all_acked(), timeout=90, what="every event acknowledged")
    finally:
        for k in kiosks:
            k.close()
    assert killed_at < len(KIOSKS) * per_kiosk, "the kill came after the burst"
    with store.read() as s:
        ids = dict(s.execute(select(Kiosk.code, Kiosk.id)).all())
        for code, events in sent.items():
            kid = ids[code]
            seqs = list(s.scalars(select(Event.seq).where(Event.kiosk_id == kid)
                                  .order_by(Event.id)))
            # Every event stored once, and stored in the kiosk's own order.
            assert seqs == list(range(1, per_kiosk + 1))
            assert s.scalar(select(Kiosk.last_seq).where(Kiosk.id == kid)) == per_kiosk
            slots = dict(s.execute(select(Slot.number, Slot.state)
                                    .where(Slot.kiosk_id == kid)).all())
            assert {n: slots[n] for n in last_states(events)} == last_states(events)
        # Applied once: one audit entry per event, none twice.
        audited = s.scalar(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action.like("event.%")))
        assert audited == len(KIOSKS) * per_kiosk
        # Gaps the kill left were waited for and filled: no alarm stays open.
        assert not s.scalars(select(Alarm).where(Alarm.kind == "sequence_gap",
                                                 Alarm.cleared_at.is_(None))).all()
