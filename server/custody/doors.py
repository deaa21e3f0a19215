"""When a kiosk does not open a door the office asked to open for a custody record.

The office moved the record when it handed the device back (a parent collection, a DSL or
police hand-over, a return to the pupil); if the kiosk refused or could not open, the device
never left its slot: the record goes back into the slot it was in, an alarm is raised and the
refusal shows on the pupil's page.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server import audit
from server.custody import records as cr
from server.custody import states as st
from server.ingest.kiosks import KnownKiosk
from server.models import Alarm, Command, Confiscation, CustodyMove
from server.models.records import HELD

log = logging.getLogger("lockers.server.custody")


def door_refused(session: Session, kiosk: KnownKiosk, command: Command, ack: m.CommandAck,
                 now: datetime) -> None:
    """Record a refused or failed remote unlock of ``command`` (it names a custody record)."""
    detail = ack.detail or ack.outcome.value
    session.add(Alarm(kiosk_id=kiosk.id, kind="unlock_refused", slot=command.slot,
                      raised_at=now, detail=f"{command.purpose or 'remote unlock'} for "
                      f"{command.custody_id} not opened: {detail}"[:500]))
    log.warning("event=unlock_refused kiosk=%s slot=%s custody_id=%s detail=%r", kiosk.code,
                command.slot, command.custody_id, detail)
    rec = cr.by_custody_id(session, kiosk.site_id, command.custody_id or "", lock=True)
    if rec is None or rec.state not in st.CLOSED:
        return
    moved = session.scalar(select(CustodyMove).where(
        CustodyMove.record_id == rec.id, CustodyMove.command_id == command.id))
    last = cr.last_move(session, rec)
    if moved is None or last is None or last.id != moved.id:
        return  # the record moved on since: leave it
    mover = cr.Mover(audit.kiosk_actor(kiosk.site_code, kiosk.code), now)
    back = "door_refused" if moved.from_state == st.HELD_IN_SLOT else "door_refused_unheld"
    cr.move(session, mover, rec, back, reason=f"the kiosk did not open the door: {detail}",
            command_id=command.id)
    if rec.confiscation_id is not None and rec.state == st.HELD_IN_SLOT:
        conf = session.get(Confiscation, rec.confiscation_id)
        if conf is not None:
            conf.state, conf.closed_at, conf.closed_by_id = HELD, None, None
    audit.append(session, now, mover.entries)
