"""A kiosk that lost its state is back in step once its slots match the custody picture.

The ``kiosk_state_lost`` alarm stays open until the kiosk's retained slot snapshot agrees with
the server's custody records slot by slot; then it clears itself, saying so.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server.custody.compare import compare
from server.custody.picture import SitePicture
from server.ingest.kiosks import KnownKiosk
from server.models import Alarm, Site

log = logging.getLogger("lockers.server.custody")


def settle_state_lost(session: Session, kiosk: KnownKiosk, snapshot: m.SlotSnapshot,
                      now: datetime) -> bool:
    """Clear the kiosk's open state-lost alarms if ``snapshot`` matches custody; return
    whether it did. Cheap when no such alarm is open (the usual case)."""
    open_alarms = session.scalars(select(Alarm).where(
        Alarm.kiosk_id == kiosk.id, Alarm.kind == "kiosk_state_lost",
        Alarm.cleared_at.is_(None))).all()
    if not open_alarms:
        return False
    site = session.get(Site, kiosk.site_id)
    assert site is not None
    differences = compare(SitePicture.of(session, site, now).slots(kiosk.id), snapshot.slots)
    if differences:
        log.warning("event=kiosk_custody_differs kiosk=%s differences=%s", kiosk.code,
                    "; ".join(str(d) for d in differences[:5]))
        return False
    for alarm in open_alarms:
        alarm.cleared_at = now
    log.info("event=kiosk_state_restored kiosk=%s", kiosk.code)
    return True
