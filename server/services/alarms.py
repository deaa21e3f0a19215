"""Alarms as staff see them: open ones with the kiosk's name and place, and acknowledging one
(who saw it, when, and what they are doing about it) so two people do not both run to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from server.errors import NotAllowed, NotFound
from server.models import Alarm, Kiosk, Site, Staff
from server.services.context import OFFICE, ServiceContext

# Alarm kinds in the school's words (the wire's names otherwise).
KIND_WORDS = {
    "door_left_open": "door left open", "forced_open": "door forced open",
    "door_did_not_open": "door did not open", "reader_fault": "card reader not working",
    "relay_watchdog": "lock control stopped", "fire_alarm": "fire alarm",
    "empty_deposit": "locker closed with nothing in it",
    "custody_mismatch": "locker contents do not match the record",
    "contents_changed": "locker contents may have changed: look inside",
    "board_fault": "lock board not answering", "unlock_refused": "kiosk refused to open",
    "kiosk_state_lost": "kiosk lost its records", "sequence_gap": "events missing from kiosk",
    "kiosk_offline": "kiosk offline"}


@dataclass(frozen=True)
class OpenAlarm:
    """An alarm not yet cleared, with where it is and whether someone has it in hand."""

    id: int
    kind: str
    what: str  # the kind in words
    kiosk: str  # the kiosk's code
    kiosk_name: str
    kiosk_place: str
    slot: int | None
    detail: str | None
    raised_at: datetime  # UTC
    acknowledged_at: datetime | None
    acknowledged_by: str | None  # a staff user name
    acknowledged_note: str | None
    acknowledged_by_name: str | None = None  # their name, as the page shows it


class AlarmDesk:
    """Open alarms, and their acknowledgement by staff."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def open_alarms(self, site: str | None = None) -> list[OpenAlarm]:
        """Alarms not yet cleared, newest first."""
        with self.ctx.store.read() as s:
            q = select(Alarm, Kiosk).join(Kiosk).join(Site).where(Alarm.cleared_at.is_(None))
            if site:
                q = q.where(Site.code == site)
            rows = s.execute(q.order_by(Alarm.raised_at.desc())).all()
            names = dict(s.execute(select(Staff.username, Staff.display_name).where(
                Staff.username.in_({a.acknowledged_by for a, _k in rows}))).all())
            return [OpenAlarm(a.id, a.kind, KIND_WORDS.get(a.kind, a.kind.replace("_", " ")),
                              k.code, k.name or k.code, k.place, a.slot, a.detail,
                              a.raised_at, a.acknowledged_at, a.acknowledged_by,
                              a.acknowledged_note, names.get(a.acknowledged_by))
                    for a, k in rows]

    def acknowledge(self, actor: str, alarm_id: int, note: str) -> None:
        """Record that ``actor`` has seen the alarm and what they are doing about it."""
        note = note.strip()
        with self.ctx.action(actor, "alarm.acknowledge", roles=OFFICE) as act:
            alarm = act.session.get(Alarm, alarm_id)
            if alarm is None:
                raise NotFound(f"there is no alarm {alarm_id}: it may have been cleared")
            if alarm.acknowledged_at is not None:
                raise NotAllowed(f"{alarm.acknowledged_by} acknowledged this alarm already")
            alarm.acknowledged_at = self.ctx.clock.now()
            alarm.acknowledged_by, alarm.acknowledged_note = actor, note[:500] or None
            act.audit("alarm", str(alarm_id), reason=note or "acknowledged",
                      detail={"kind": alarm.kind, "slot": alarm.slot})
