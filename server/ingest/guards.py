"""What ingest refuses or flags beyond the wire schema: slots a kiosk does not have, and event
times that cannot be right.

A slot number the schema allows (1..999) may still be one this kiosk was never configured
with: such a message is refused (counted as a bad payload, never creating a slot row), like
any other payload the contract refuses. An event whose time is implausible (far ahead of or
behind the moment it arrived, or earlier than the kiosk's previous event) is kept (nothing
is lost) but raises an ``implausible_time`` alarm the office sees, because a kiosk's clock
decides release times.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server.ingest.kiosks import KnownKiosk
from server.models import Alarm, Event, Slot

log = logging.getLogger("lockers.server.ingest")

# A kiosk's clock may drift a little; NTP steps are seconds. Beyond these, someone must look.
AHEAD_LIMIT = timedelta(minutes=5)
BEHIND_LIMIT = timedelta(days=14)  # a kiosk offline over a half-term holiday still delivers
BACKWARDS_LIMIT = timedelta(minutes=2)
TIME_ALARM = "implausible_time"


def configured_slots(session: Session, kiosk_ids: set[int]) -> dict[int, set[int]]:
    """Each kiosk's configured slot numbers (the slots an admin gave it)."""
    out: dict[int, set[int]] = {k: set() for k in kiosk_ids}
    for kiosk_id, number in session.execute(select(Slot.kiosk_id, Slot.number).where(
            Slot.kiosk_id.in_(kiosk_ids))):
        out[kiosk_id].add(number)
    return out


def slots_named(message: object) -> set[int]:
    """Every slot number a kiosk message names."""
    if isinstance(message, m.SlotSnapshot):
        return {view.slot for view in message.slots}
    slot = getattr(message, "slot", None)
    return {slot} if isinstance(slot, int) else set()


def time_problem(at: datetime, received: datetime, previous: datetime | None) -> str | None:
    """Why an event's own time is implausible, or None if it is believable."""
    if at > received + AHEAD_LIMIT:
        return f"stamped {at - received} ahead of its arrival"
    if at < received - BEHIND_LIMIT:
        return f"stamped {received - at} before its arrival"
    if previous is not None and at < previous - BACKWARDS_LIMIT:
        return f"stamped {previous - at} before the kiosk's previous event"
    return None


def flag_implausible_times(session: Session, now: datetime,
                           new: list[tuple[KnownKiosk, m.EventBase]]) -> int:
    """Raise (or refresh) one ``implausible_time`` alarm per kiosk whose new events carry
    times that cannot be right; return how many events were flagged. Events are in the order
    they will be applied, so each is compared with the one before it from the same kiosk."""
    previous = _previous_times(session, {k.id for k, _ in new})
    flagged: dict[int, list[str]] = {}
    kiosks: dict[int, KnownKiosk] = {}
    for kiosk, ev in sorted(new, key=lambda pair: (pair[0].id, pair[1].seq)):
        at = ev.at
        problem = time_problem(at, now, previous.get(kiosk.id))
        if problem is not None:
            flagged.setdefault(kiosk.id, []).append(f"#{ev.seq} {problem}")
            kiosks[kiosk.id] = kiosk
        else:
            previous[kiosk.id] = at
    for kiosk_id, problems in flagged.items():
        kiosk = kiosks[kiosk_id]
        detail = (f"{len(problems)} event(s) with a doubtful clock: "
                  + "; ".join(problems[:5]))[:500]
        alarm = session.scalar(select(Alarm).where(
            Alarm.kiosk_id == kiosk_id, Alarm.kind == TIME_ALARM, Alarm.cleared_at.is_(None)))
        if alarm is None:
            session.add(Alarm(kiosk_id=kiosk_id, kind=TIME_ALARM, raised_at=now, detail=detail))
        else:
            alarm.detail = detail
        log.warning("event=implausible_event_time site=%s kiosk=%s events=%s first=%r",
                    kiosk.site_code, kiosk.code, len(problems), problems[0])
    return sum(len(p) for p in flagged.values())


def _previous_times(session: Session, kiosk_ids: set[int]) -> dict[int, datetime]:
    """The time of each kiosk's highest-sequence stored event (its latest, by its clock)."""
    last = select(Event.kiosk_id, func.max(Event.seq).label("seq")).where(
        Event.kiosk_id.in_(kiosk_ids)).group_by(Event.kiosk_id).subquery()
    rows = session.execute(select(Event.kiosk_id, Event.at).join(
        last, (last.c.kiosk_id == Event.kiosk_id) & (last.c.seq == Event.seq)))
    return {kiosk_id: at for kiosk_id, at in rows}
