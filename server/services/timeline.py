"""A custody record's story in words for the office: local times, kiosk names, staff names.

"Mon 23 Nov 08:41 · Handed in at North entrance, locker 12" and so on, one line per move.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.custody import states as st
from server.models import Command, CustodyMove, CustodyRecord, Kiosk, Site, Staff
from server.policy.calendar import local_now
from server.services.context import ServiceContext


@dataclass(frozen=True)
class TimelineLine:
    """One move, said in words."""

    when: str  # local time
    words: str
    reason: str | None


@dataclass(frozen=True)
class Timeline:
    """One record and its moves, oldest first."""

    custody_id: str
    state: str
    lines: tuple[TimelineLine, ...]


class Timelines:
    """Reads records' moves and says them in the school's words."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def of_pupil(self, pupil_ref: str, site: str | None = None, closed: int = 10
                 ) -> list[Timeline]:
        """The pupil's open records, then up to ``closed`` recently closed ones."""
        with self.ctx.store.read() as s:
            pupil = self.ctx.pupil(s, pupil_ref, site)
            mine = select(CustodyRecord).where(CustodyRecord.site_id == pupil.site_id,
                                               CustodyRecord.pupil_ref == pupil.reference)
            rows = list(s.scalars(mine.where(CustodyRecord.state.in_(st.OPEN))
                                  .order_by(CustodyRecord.id)))
            rows += list(s.scalars(mine.where(CustodyRecord.state.in_(st.CLOSED))
                                   .order_by(CustodyRecord.closed_at.desc()).limit(closed)))
            return [self._timeline(s, r) for r in rows]

    def _timeline(self, s: Session, rec: CustodyRecord) -> Timeline:
        site = s.get(Site, rec.site_id)
        assert site is not None
        moves = s.scalars(select(CustodyMove).where(CustodyMove.record_id == rec.id)
                          .order_by(CustodyMove.id)).all()
        lines = tuple(TimelineLine(local_now(site, mv.at).strftime("%a %d %b %H:%M"),
                                   self._words(s, mv), mv.reason) for mv in moves)
        return Timeline(rec.custody_id, rec.state, lines)

    def _words(self, s: Session, mv: CustodyMove) -> str:
        staff = self._staff(s, mv)
        at = self._locker(s, mv.kiosk_id, mv.slot)
        d: dict[str, Any] = mv.detail or {}
        opened = ""
        if mv.command_id:
            cmd = s.get(Command, mv.command_id)
            outcome = (cmd.outcome or "no answer yet").replace("_", " ") if cmd else "unknown"
            opened = f"; {at} unlocked (kiosk said: {outcome})"
        words = {
            "deposit_at_kiosk": f"Handed in at {at}" + (
                f" with {d.get('staff_ref')}'s help" if d.get("via") == "staff_assisted"
                else ""),
            "confiscated_into_slot": f"Confiscated by {d.get('staff_ref') or 'staff'} and "
                                     f"put in {at}",
            "hand_in_at_office": f"Handed in at the office to {staff}, kept in {mv.place}",
            "confiscate_taken": f"Confiscated by {staff}, kept in {mv.place}",
            "confiscate_in_slot": f"Confiscated by {staff} while in {at}",
            "confiscate_in_office": f"Confiscated by {staff}, kept in {mv.place}",
            "put_in_slot": f"Put in {at} by staff",
            "collected_at_kiosk": f"Collected by the pupil from {at}",
            "returned_by_office": f"Returned to the pupil by {staff}{opened}",
            "parent_collection": f"Collected by {d.get('collector_name')} "
                                 f"({d.get('relationship')}; identity: "
                                 f"{d.get('identity_check')}), handed over by {staff}{opened}",
            "handed_to_dsl": f"Handed to the DSL by {staff}{opened}",
            "handed_to_police": f"Handed to the police by {staff}{opened}",
            "door_refused": f"The kiosk did not open {at}: the device is still there, held",
            "door_refused_unheld": f"The kiosk did not open {at}: the device is still there",
        }
        return words.get(mv.move, mv.move.replace("_", " "))

    @staticmethod
    def _staff(s: Session, mv: CustodyMove) -> str:
        if mv.staff_id is not None:
            staff = s.get(Staff, mv.staff_id)
            if staff is not None:
                return staff.display_name
        return mv.actor.split(":", 1)[-1]

    @staticmethod
    def _locker(s: Session, kiosk_id: int | None, slot: int | None) -> str:
        return locker_words(s, kiosk_id, slot)


def locker_words(s: Session, kiosk_id: int | None, slot: int | None) -> str:
    """A locker in the office's words: "North entrance, locker 12" (or "the office")."""
    kiosk = s.get(Kiosk, kiosk_id) if kiosk_id else None
    if kiosk is None:
        return "the office"
    return f"{kiosk.name or kiosk.code}, locker {slot}"


def command_locker(ctx: ServiceContext, command_id: str) -> str | None:
    """Which locker a command opened for ("North entrance, locker 12"), for the office."""
    with ctx.store.read() as s:
        cmd = s.get(Command, command_id)
        if cmd is None or cmd.slot is None:
            return None
        return locker_words(s, cmd.kiosk_id, cmd.slot)
