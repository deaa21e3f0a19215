"""What kiosks say about themselves: online/offline, with an alarm while offline."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server import audit
from server.ingest.kiosks import KnownKiosk
from server.models import Alarm, Kiosk

log = logging.getLogger("lockers.server.ingest")


def record_status(s: Session, kiosk: KnownKiosk, status: m.KioskStatus, now: datetime
                  ) -> bool:
    """Record online/offline; return True if the kiosk needs its snapshot again."""
    row = s.get(Kiosk, kiosk.id)
    assert row is not None
    online = status.state == "online"
    was_online = row.online
    row.online = online
    row.last_seen = status.at or now
    if status.software:
        row.software = status.software
    if status.mode:
        row.mode = status.mode
    if status.policy_version is not None:
        row.reported_policy_version = status.policy_version
    if was_online != online:
        at = now
        if online:
            s.execute(update(Alarm).where(Alarm.kiosk_id == kiosk.id,
                                          Alarm.kind == "kiosk_offline",
                                          Alarm.cleared_at.is_(None)).values(cleared_at=at))
        else:
            s.add(Alarm(kiosk_id=kiosk.id, kind="kiosk_offline", raised_at=at,
                        detail=f"reason={status.reason}"))
        audit.append(s, at, [audit.Entry(
            actor=audit.kiosk_actor(kiosk.site_code, kiosk.code), action=f"kiosk.{status.state}",
            entity="kiosk", entity_id=f"{kiosk.site_code}/{kiosk.code}",
            detail=status.model_dump(mode="json"))])
        log.info("event=kiosk_%s site=%s kiosk=%s", status.state, kiosk.site_code,
                 kiosk.code)
    return (online and status.reason == "birth" and status.policy_version is not None
            and status.policy_version < row.policy_version)
