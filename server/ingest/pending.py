"""Parking events that arrived before an earlier one of their kiosk (server.models.ingest).

Called under the kiosk rows' lock (server.ingest.kiosks.lock_kiosks), so whichever process
commits an event also sees, and applies, every parked successor it unblocks. A kiosk that
goes quiet sends nothing to unblock them: the elected process applies those whose wait is
over (server.ingest.overdue).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.codec import decode
from server.ingest.kiosks import KnownKiosk
from server.models import PendingEvent

log = logging.getLogger("lockers.server.ingest")

Key = tuple[int, str, int]  # (kiosk id, store epoch, sequence)
Item = tuple[KnownKiosk, m.EventBase, bytes]


def key_of(kiosk: KnownKiosk, ev: m.EventBase) -> Key:
    """An event's identity: (kiosk id, store epoch, sequence)."""
    return (kiosk.id, ev.epoch or "", ev.seq)


def with_parked(session: Session, items: list[Item]) -> tuple[list[Item], set[Key]]:
    """``items`` plus the events parked for their kiosks (not already among them), and the
    keys of everything parked."""
    kiosks = {k.id: k for k, _, _ in items}
    if not kiosks:
        return items, set()
    have = {key_of(k, ev) for k, ev, _ in items}
    parked: set[Key] = set()
    more: list[Item] = []
    for item in parked_of(session, kiosks):
        key = key_of(item[0], item[1])
        parked.add(key)
        if key not in have:
            more.append(item)
    return items + more, parked


def parked_of(session: Session, kiosks: dict[int, KnownKiosk]) -> list[Item]:
    """The events parked for ``kiosks`` (by id), each kiosk's in sequence order. Read under
    the kiosks' row lock, it is what no other process can apply meanwhile."""
    if not kiosks:
        return []
    rows = session.execute(select(PendingEvent.kiosk_id, PendingEvent.payload)
                           .where(PendingEvent.kiosk_id.in_(sorted(kiosks)))
                           .order_by(PendingEvent.kiosk_id, PendingEvent.seq)).all()
    # Stored as received, so each decodes as it did then.
    return [(kiosks[kiosk_id], decode(t.EVENTS, raw), raw) for kiosk_id, raw in rows]


def settle(session: Session, now: datetime, items: list[Item], parked: set[Key],
           held: set[Key]) -> set[Key]:
    """Park the events held back now that were not parked before; unpark those applied (or
    found stored) now. Returns the keys parked, which count as stored: acknowledged."""
    raw = {key_of(k, ev): (k, ev, payload) for k, ev, payload in items}
    to_park = [raw[key] for key in sorted(held - parked) if key in raw]
    if to_park:
        session.execute(PendingEvent.__table__.insert(), [
            {"kiosk_id": k.id, "epoch": ev.epoch or "", "seq": ev.seq, "received_at": now,
             "payload": payload} for k, ev, payload in to_park])
        log.info("event=events_parked count=%s", len(to_park))
    done = parked - held
    if done:
        session.execute(delete(PendingEvent).where(tuple_(
            PendingEvent.kiosk_id, PendingEvent.epoch, PendingEvent.seq).in_(sorted(done))))
    return held
