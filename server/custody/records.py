"""Taking a device into custody and moving its record: the one writer of custody records.

Both the ingest (kiosk events) and the office's services call these inside their own
transaction; every call appends one row to ``custody_moves`` and one audit entry to the
caller's list, so a move and its who/when/why are committed together or not at all.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import audit
from server.custody import states as st
from server.models import CustodyMove, CustodyRecord

_KEEP: Any = object()  # "leave this field as it is"


@dataclass
class Mover:
    """Who is moving records, and where the audit entries of the moves go."""

    actor: str  # audit actor: "staff:jsmith", "kiosk:north/k1"
    at: datetime
    staff_id: int | None = None
    entries: list[audit.Entry] = field(default_factory=list)


def take_in(session: Session, mover: Mover, move: str, *, site_id: int,
            pupil_id: int | None, pupil_ref: str, day: date, custody_id: str | None = None,
            kiosk_id: int | None = None, slot: int | None = None, place: str | None = None,
            reason: str | None = None, confiscation_id: int | None = None,
            detail: dict[str, Any] | None = None) -> CustodyRecord:
    """Open a new record for a device coming in (``custody_id`` None: mint "s<number>")."""
    dest = st.next_state(move, None)
    rec = CustodyRecord(custody_id=custody_id or f"new-{secrets.token_hex(6)}",
                        site_id=site_id, pupil_id=pupil_id, pupil_ref=pupil_ref, state=dest,
                        came_in_at=mover.at, came_in_day=day, confiscation_id=confiscation_id)
    _place(rec, dest, kiosk_id, slot, place)
    session.add(rec)
    session.flush()
    if custody_id is None:
        rec.custody_id = f"s{rec.id}"
    _record(session, mover, rec, move, None, reason=reason, detail=detail)
    return rec


def move(session: Session, mover: Mover, rec: CustodyRecord, move_name: str, *,
         reason: str | None = None, kiosk_id: int | None = _KEEP, slot: int | None = _KEEP,
         place: str | None = _KEEP, command_id: str | None = None,
         detail: dict[str, Any] | None = None) -> CustodyMove:
    """Move ``rec`` along the lifecycle (raises :class:`IllegalMove` if it cannot go)."""
    before = rec.state
    dest = st.next_state(move_name, before)
    rec.state = dest
    _place(rec, dest, rec.kiosk_id if kiosk_id is _KEEP else kiosk_id,
           rec.slot if slot is _KEEP else slot, rec.place if place is _KEEP else place)
    rec.closed_at = mover.at if dest in st.CLOSED else None
    return _record(session, mover, rec, move_name, before, reason=reason,
                   command_id=command_id, detail=detail)


def by_custody_id(session: Session, site_id: int, custody_id: str, *, lock: bool = False
                  ) -> CustodyRecord | None:
    """The record with this id at this site."""
    q = select(CustodyRecord).where(CustodyRecord.site_id == site_id,
                                    CustodyRecord.custody_id == custody_id)
    return session.scalar(q.with_for_update() if lock else q)


def in_slot(session: Session, kiosk_id: int, slot: int) -> CustodyRecord | None:
    """The open record the server believes is in this slot (None: the slot is empty)."""
    return session.scalar(select(CustodyRecord).where(
        CustodyRecord.kiosk_id == kiosk_id, CustodyRecord.slot == slot,
        CustodyRecord.state.in_(st.IN_A_SLOT)).order_by(CustodyRecord.id.desc()))


def last_move(session: Session, rec: CustodyRecord) -> CustodyMove | None:
    """The record's latest move."""
    return session.scalar(select(CustodyMove).where(CustodyMove.record_id == rec.id)
                          .order_by(CustodyMove.id.desc()))


def _place(rec: CustodyRecord, dest: str, kiosk_id: int | None, slot: int | None,
           place: str | None) -> None:
    # A record in a slot names its kiosk and slot, one in the office its place; a closed
    # record keeps the last place it was in (the office reads "locker 12 opened").
    if dest in st.IN_A_SLOT:
        if kiosk_id is None or slot is None:
            raise st.IllegalMove(f"a device {dest.replace('_', ' ')} needs a kiosk and a slot")
        rec.kiosk_id, rec.slot, rec.place = kiosk_id, slot, None
    elif dest in (st.IN_OFFICE, st.HELD_IN_OFFICE):
        rec.kiosk_id, rec.slot, rec.place = None, None, (place or "office")
    elif place is not None:
        rec.place = place


def _record(session: Session, mover: Mover, rec: CustodyRecord, move_name: str,
            before: str | None, *, reason: str | None = None, command_id: str | None = None,
            detail: dict[str, Any] | None = None) -> CustodyMove:
    row = CustodyMove(record_id=rec.id, move=move_name, from_state=before, to_state=rec.state,
                      at=mover.at, actor=mover.actor, staff_id=mover.staff_id, reason=reason,
                      kiosk_id=rec.kiosk_id, slot=rec.slot, place=rec.place,
                      command_id=command_id, detail=detail)
    session.add(row)
    mover.entries.append(audit.Entry(
        actor=mover.actor, action=f"custody.{move_name}", entity="custody",
        entity_id=rec.custody_id, pupil_ref=rec.pupil_ref, reason=reason,
        detail={"from": before, "to": rec.state, "kiosk_id": rec.kiosk_id, "slot": rec.slot,
                "place": rec.place, "command_id": command_id, **(detail or {})}))
    return row
