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

from lockers.wire import messages as m
from server.models import Alarm, AuditEntry, Event, Kiosk, Slot
from server.store import Store
from tests.server_kit import MORNING, FakeKiosk, wait_until
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
        asked_before = {k.kiosk: k.asked for k in kiosks}
        helpers = _children(first)  # its receiver process, holding a broker connection
        assert helpers, "the server process has no receiver process"
        first.kill()
        killed_at = _stored(store)
        for k in kiosks:
            # What the dead process held comes again because the kiosks are asked for it (the
            # elected process counts a process lost), not on their 20 s silence timer.
            try:
                k.wait_for(lambda kk: kk.asked > asked_before[kk.kiosk], timeout=30,
                           what="the server to ask for the unacknowledged events")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; the survivor logged:\n{second.log()[-4000:]}"
                                     ) from None
        # Its receiver died with it, before anyone asked: one left behind would go on taking
        # a share of what the kiosks resend, and lose it again.
        assert not any(_running(pid) for pid in helpers)
        for k in kiosks:
            k.wait_for(lambda kk: kk.all_acked(), timeout=90, what="every event acknowledged")
    finally:
        for k in kiosks:
            k.close()
    assert killed_at < len(KIOSKS) * per_kiosk, "the kill came after the burst"
    _assert_applied_once_in_order(store, sent, per_kiosk)


def _children(proc: ServerProcess) -> list[int]:
    """The process ids of a server process's children (Linux /proc)."""
    assert proc.proc is not None
    path = Path(f"/proc/{proc.proc.pid}/task/{proc.proc.pid}/children")
    return [int(pid) for pid in path.read_text().split()]


def _running(pid: int) -> bool:
    """Whether a process is alive (gone, or dead and waiting to be reaped: not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _assert_applied_once_in_order(store: Store, sent: dict[str, list[Any]],
                                  per_kiosk: int) -> None:
    """Every event stored once, in its kiosk's order, applied once; slots as the kiosks
    left them; no gap alarm left open."""
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
        assert audited == len(sent) * per_kiosk
        # Gaps the kill left were waited for and filled: no alarm stays open.
        assert not s.scalars(select(Alarm).where(Alarm.kind == "sequence_gap",
                                                 Alarm.cleared_at.is_(None))).all()


def test_with_affinity_a_school_moves_to_the_survivor_when_its_owner_dies(
        tmp_path: Path, trust: tuple[Any, str, Store], processes: list[ServerProcess]) -> None:
    broker, url, store = trust
    processes += [ServerProcess(url, broker, n, tmp_path / f"server{n}", affinity=True).start()
                  for n in (1, 2)]
    for proc in processes:
        proc.wait_ready()
    owner = wait_until(lambda: next((p for p in processes if "schools=north" in p.log()),
                                    None), timeout=30, what="an owner for the school")
    survivor = next(p for p in processes if p is not owner)
    kiosks = _kiosks(broker)
    per_kiosk = 400
    sent = {k.kiosk: slot_events(k, per_kiosk) for k in kiosks}
    try:
        for k in kiosks:
            k.send(sent[k.kiosk])
        wait_until(lambda: _stored(store) >= per_kiosk // 2, timeout=60,
                   what="the burst to be under way")
        asked_before = {k.kiosk: k.asked for k in kiosks}
        owner.kill()
        killed_at = _stored(store)
        for k in kiosks:
            # The survivor asks the school's kiosks once it listens to them: what was sent
            # while nobody did comes again at once.
            k.wait_for(lambda kk: kk.asked > asked_before[kk.kiosk], timeout=30,
                       what="the survivor to ask for the unacknowledged events")
            k.wait_for(lambda kk: kk.all_acked(), timeout=90, what="every event acknowledged")
    finally:
        for k in kiosks:
            k.close()
    assert killed_at < len(KIOSKS) * per_kiosk, "the kill came after the burst"
    assert "schools=north" in survivor.log()  # it took the school over
    _assert_applied_once_in_order(store, sent, per_kiosk)


def _birth(kiosk: FakeKiosk) -> m.KioskStatus:
    """A kiosk's birth message naming an old policy: the server owes it its snapshot."""
    return m.KioskStatus(kiosk=kiosk.kiosk, site=kiosk.site, state="online", reason="birth",
                         at=MORNING, policy_version=0)


def test_only_the_elected_process_publishes_policy_and_another_takes_over_when_it_dies(
        tmp_path: Path, trust: tuple[Any, str, Store], processes: list[ServerProcess]) -> None:
    broker, url, _ = trust
    first = ServerProcess(url, broker, 1, tmp_path / "server1").start()
    processes.append(first)
    first.wait_ready()
    wait_until(lambda: "event=leader_elected" in first.log(), timeout=30, what="a leader")
    second = ServerProcess(url, broker, 2, tmp_path / "server2").start()
    processes.append(second)
    second.wait_ready()
    account = broker.kiosk("north", "k1")
    kiosk = FakeKiosk(broker.host, broker.port, "north", "k1", account.username,
                      account.password)
    try:
        kiosk.wait_for(lambda k: k.snapshots, timeout=30, what="the retained snapshot")
        # Births reach either process (shared subscription); the snapshot they are owed
        # comes from the leader alone.
        for _ in range(6):
            before = len(kiosk.snapshots)
            kiosk.publish(_birth(kiosk))
            kiosk.wait_for(lambda k, n=before: len(k.snapshots) > n, timeout=30,
                           what="the snapshot a birth is owed")
        assert "event=replica_published" in first.log()
        assert "event=replica_published" not in second.log()
        assert "event=leader_elected" not in second.log()
        versions_before = [s.version for s in kiosk.snapshots]
        first.kill()
        wait_until(lambda: "event=leader_elected" in second.log(), timeout=30,
                   what="the other process to take over")
        # The new leader sends every kiosk its snapshot afresh, under a higher version.
        kiosk.wait_for(lambda k: k.snapshots[-1].version > max(versions_before), timeout=30,
                       what="the new leader's snapshot")
        before = len(kiosk.snapshots)
        kiosk.publish(_birth(kiosk))
        kiosk.wait_for(lambda k: len(k.snapshots) > before, timeout=30,
                       what="a snapshot from the new leader")
    finally:
        kiosk.close()
    assert "event=replica_published" in second.log()
    versions = [s.version for s in kiosk.snapshots if s.kiosk == "k1"]
    assert versions == sorted(set(versions)), "a policy version was handed out twice"


def test_processes_starting_together_migrate_the_database_once(
        tmp_path: Path, broker_factory: Any, postgres_url: str,
        processes: list[ServerProcess]) -> None:
    broker = broker_factory(kiosks=[("north", "k1")])
    go = tmp_path / "go"
    processes += [ServerProcess(postgres_url, broker, n, tmp_path / f"server{n}",
                                migrate_when=go).start() for n in (1, 2)]
    go.touch()  # both are waiting on this file: they migrate at the same moment
    for proc in processes:
        proc.wait_ready()
    migrated = [proc for proc in processes if "Running upgrade" in proc.log()]
    assert len(migrated) == 1, "the schema was migrated by more than one process"
    from server.migrate import check_ready

    check_ready(postgres_url)  # at the newest schema


def test_a_dashboard_on_one_process_hears_slot_changes_stored_by_another(
        tmp_path: Path, trust: tuple[Any, str, Store], processes: list[ServerProcess]) -> None:
    from server import bus
    from server.web.live import Broadcaster

    broker, url, store = trust
    heard: list[dict[str, Any]] = []
    dashboard = Broadcaster()
    dashboard.publish = heard.extend  # type: ignore[method-assign]  # the browsers' side
    listener = bus.Bus(store)
    listener.subscribe(bus.LIVE, dashboard.publish)
    listener.start()
    try:
        wait_until(listener.listening.is_set, timeout=10, what="the bus to listen")
        processes.append(ServerProcess(url, broker, 2, tmp_path / "server2").start())
        processes[0].wait_ready()
        kiosks = _kiosks(broker)[:1]
        events = slot_events(kiosks[0], 40)
        try:
            kiosks[0].send(events)
            kiosks[0].wait_for(lambda k: k.all_acked(), timeout=60, what="every event")
        finally:
            kiosks[0].close()
        wanted = [(ev.slot, str(ev.state)) for ev in events]
        wait_until(lambda: [(u["slot"], u["state"]) for u in heard if u["kind"] == "slot"]
                   == wanted, timeout=20, what="every slot change on this process's dashboard")
    finally:
        listener.stop()
