"""Which kiosk a topic names: a cache from (site code, kiosk code) to database ids."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Kiosk, Site

log = logging.getLogger("lockers.server.ingest")


@dataclass
class KnownKiosk:
    """The ids and settings ingest needs for one kiosk."""

    id: int
    site_id: int
    site_code: str
    code: str


class UnknownSite(Exception):
    """A message names a site this server does not have."""


class KioskDirectory:
    """Resolves kiosks; a kiosk of a known site not yet in the database is registered (the
    broker already authenticated it, so its events must not be lost)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], KnownKiosk] = {}
        self.registered: list[KnownKiosk] = []  # new kiosks: their replica must go out

    def get(self, session: Session, site_code: str, kiosk_code: str) -> KnownKiosk:
        """The kiosk, registering it under its site if need be."""
        key = (site_code, kiosk_code)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        site = session.scalar(select(Site).where(Site.code == site_code))
        if site is None:
            raise UnknownSite(f"site {site_code!r} is not set up on this server")
        kiosk = session.scalar(select(Kiosk).where(Kiosk.site_id == site.id,
                                                   Kiosk.code == kiosk_code))
        if kiosk is None:
            kiosk = Kiosk(site_id=site.id, code=kiosk_code, name=kiosk_code)
            session.add(kiosk)
            session.flush()
            log.warning("event=kiosk_registered site=%s kiosk=%s", site_code, kiosk_code)
            known = KnownKiosk(kiosk.id, site.id, site.code, kiosk.code)
            self.registered.append(known)
        else:
            known = KnownKiosk(kiosk.id, site.id, site.code, kiosk.code)
        self._cache[key] = known
        return known

    def forget(self) -> None:
        """Drop the cache (after a rolled-back transaction may have registered kiosks)."""
        self._cache.clear()
        self.registered.clear()


def lock_kiosks(session: Session, kiosk_ids: set[int]) -> None:
    """Lock the batch's kiosk rows, in id order, until the transaction ends.

    Several server processes may receive events of one kiosk at once (the broker spreads a
    shared subscription's messages without regard to kiosk). Holding the kiosk's row while
    its events are checked against the stored ones and its ``last_seq`` is moved makes the
    other process wait and then see this one's commit: each kiosk's events are applied in
    its order, once, and its high-water mark only moves up (ADR 0009, 0010). Locking in id
    order keeps two batches sharing kiosks from deadlocking. On SQLite the write
    transaction (BEGIN IMMEDIATE) already holds the whole database, and FOR UPDATE is left out.
    """
    if not kiosk_ids:
        return
    session.execute(select(Kiosk.id).where(Kiosk.id.in_(sorted(kiosk_ids)))
                    .order_by(Kiosk.id).with_for_update()).all()
