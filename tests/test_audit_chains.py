"""The audit log as one chain per school beside the installation's own (#17): each chain is
verifiable on its own, and a school's kiosk events go to its school's chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from server import audit
from server.migrate import upgrade
from server.models import AuditEntry
from server.services import Services
from server.store import Store
from tests.server_kit import (
    MORNING,
    database_url,
    deposit,
    make_clock,
    seed,
    server_and_kiosk,
)

# Each test runs on SQLite and on a real PostgreSQL (tests/fixtures/postgres.py).
pytestmark = pytest.mark.usefixtures("each_database")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = database_url(tmp_path)
    upgrade(url)
    s = Store(url)
    seed(Services(s, make_clock()))  # the installation's chain has staff actions in it
    yield s
    s.dispose()


def _entries(school: str, n: int) -> list[audit.Entry]:
    return [audit.Entry(actor=audit.kiosk_actor(school, "k1"), action="event.door",
                        entity="event", entity_id=f"{school}/k1#{i}", detail={"i": i})
            for i in range(n)]


def test_each_schools_chain_verifies_on_its_own_and_tampering_names_only_that_school(
        store: Store) -> None:
    with store.write() as s:
        for round_ in range(3):  # interleaved: ids of the chains mingle
            audit.append_by_chain(s, MORNING, {"north": _entries("north", 2 + round_),
                                               "south": _entries("south", 3)})
            audit.append(s, MORNING, [audit.Entry(actor="staff:office1", action="note",
                                                  entity="pupil", entity_id="A001")])
    with store.read() as s:
        assert audit.verify(s) == []
        chains = set(s.scalars(select(AuditEntry.chain)))
        south_row = s.scalar(select(AuditEntry.id).where(AuditEntry.chain == "south")
                             .order_by(AuditEntry.id).offset(4).limit(1))
    assert chains == {"", "north", "south"}
    with store.write() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == south_row)
                  .values(entity_id="south/k1#edited"))
    with store.read() as s:
        problems = audit.verify(s)
        assert [p.row_id for p in problems] == [south_row]
        assert audit.verify_chain(s, "north") == []
        assert audit.verify_chain(s, "") == []


def test_deleting_a_schools_newest_rows_is_caught_by_its_head(store: Store) -> None:
    with store.write() as s:
        audit.append(s, MORNING, _entries("north", 5), chain="north")
        audit.append(s, MORNING, [audit.Entry(actor="system", action="x", entity="y")])
        last = s.scalar(select(AuditEntry.id).where(AuditEntry.chain == "north")
                        .order_by(AuditEntry.id.desc()).limit(1))
        s.execute(AuditEntry.__table__.delete().where(AuditEntry.id == last))
    with store.read() as s:
        problems = [str(p) for p in audit.verify(s)]
    assert any("head of school north" in p for p in problems), problems


def test_a_schools_kiosk_events_go_to_that_schools_chain(
        tmp_path: Path, broker_factory: Any) -> None:
    with server_and_kiosk(tmp_path, broker_factory) as (rt, kiosk):
        kiosk.publish(deposit(kiosk, 1, MORNING, "A001", 3))
        kiosk.wait_for(lambda k: 1 in k.acked, what="ack of seq 1")
        with rt.store.read() as s:
            chain = s.scalar(select(AuditEntry.chain).where(
                AuditEntry.action == "event.deposit"))
            assert chain == "north"
            assert audit.verify(s) == []


def test_a_schools_chain_is_anchored_on_its_own(store: Store, tmp_path: Path) -> None:
    from server.audit_anchor import AuditAnchor
    from server.models import AuditHead

    anchor = AuditAnchor(tmp_path / "anchor.key", tmp_path / "anchor.jsonl", min_interval_s=0)
    with store.write() as s:
        audit.append(s, MORNING, _entries("north", 4), chain="north")
    anchor.committed(store)
    with store.read() as s:
        assert anchor.verify(s) == []
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.chain == "north")
                              .order_by(AuditEntry.id)))
    # Someone deletes the school's newest row and winds its head back to match: the chain
    # alone cannot tell, the anchor can.
    with store.write() as s:
        s.execute(AuditEntry.__table__.delete().where(AuditEntry.id == rows[-1].id))
        s.execute(update(AuditHead).where(AuditHead.chain == "north").values(
            last_id=rows[-2].id, last_hash=rows[-2].row_hash))
    with store.read() as s:
        assert audit.verify(s) == []
        problems = [str(p) for p in anchor.verify(s)]
    assert any(f"audit row {rows[-1].id}" in p and "gone" in p for p in problems), problems
    assert any("head of school north is behind" in p for p in problems), problems
    anchor.stop()
