"""The server's mirror of each kiosk's slots: one writer for the ``slots`` table, fed by the
kiosks' slot-state and door events and by their retained slot snapshots."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server.ingest.kiosks import KnownKiosk
from server.models import Slot


def write_slots(session: Session, slots: dict[tuple[int, int], dict[str, object]]) -> None:
    """Write each touched slot's final values (``(kiosk id, number) -> columns``), inserting
    slots not seen before: one executemany per set of columns. The only writer of ``slots``
    on the wire side."""
    table = Slot.__table__
    existing = {tuple(r) for r in session.execute(select(Slot.kiosk_id, Slot.number).where(
        tuple_(Slot.kiosk_id, Slot.number).in_(list(slots))))}
    conn = session.connection()
    groups: dict[tuple[str, ...], list[dict[str, object]]] = defaultdict(list)
    for (kiosk_id, number), values in slots.items():
        if (kiosk_id, number) in existing:
            groups[tuple(sorted(values))].append({"k": kiosk_id, "n": number, **values})
        else:
            conn.execute(table.insert().values(kiosk_id=kiosk_id, number=number, **values))
    for cols, params in groups.items():
        stmt = table.update().where(table.c.kiosk_id == bindparam("k"),
                                    table.c.number == bindparam("n")
                                    ).values({c: bindparam(c) for c in cols})
        conn.execute(stmt, params)


def mirror_snapshot(session: Session, kiosk: KnownKiosk, snap: m.SlotSnapshot) -> None:
    """Mirror a kiosk's retained slot snapshot into the slots table."""
    write_slots(session, {(kiosk.id, v.slot): {"state": v.state.value, "pupil_ref": v.pupil_ref,
                                               "door_open": v.door_open, "updated_at": snap.at,
                                               "custody_id": v.custody_id}
                          for v in snap.slots})
