"""What the kiosks are told about custody: each kiosk's slots (the custody picture it checks
its own records against, and rebuilds from after losing its state) and, per pupil, where
their devices are when not at this kiosk or when held. Only what the kiosk needs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.wire.messages import DeviceWhere, SlotCustody
from server.custody import states as st
from server.custody.held import HeldRules
from server.models import CustodyRecord, Kiosk, Site

MAX_WHERE = 10  # the wire's limit per card


@dataclass
class CardCustody:
    """One pupil's custody as one kiosk sees it."""

    held_here: int | None = None  # the held slot, when the pupil has only held devices here
    elsewhere: list[DeviceWhere] = field(default_factory=list)


@dataclass
class SitePicture:
    """Every open custody record of a site, read once per replica build."""

    rules: HeldRules
    by_kiosk: dict[int, list[CustodyRecord]]
    by_pupil: dict[str, list[CustodyRecord]]
    kiosks: dict[int, tuple[str, str]]  # id -> (code, name)

    @classmethod
    def of(cls, session: Session, site: Site, now: datetime) -> SitePicture:
        """Read the site's open records."""
        rows = session.scalars(select(CustodyRecord).where(
            CustodyRecord.site_id == site.id, CustodyRecord.state.in_(st.OPEN))
            .order_by(CustodyRecord.id)).all()
        by_kiosk: dict[int, list[CustodyRecord]] = defaultdict(list)
        by_pupil: dict[str, list[CustodyRecord]] = defaultdict(list)
        for rec in rows:
            by_pupil[rec.pupil_ref].append(rec)
            if rec.state in st.IN_A_SLOT and rec.kiosk_id is not None:
                by_kiosk[rec.kiosk_id].append(rec)
        kiosks = {k.id: (k.code, k.name or k.code) for k in session.scalars(
            select(Kiosk).where(Kiosk.site_id == site.id))}
        return cls(HeldRules(session, site, now), by_kiosk, by_pupil, kiosks)

    def slots(self, kiosk_id: int) -> list[SlotCustody]:
        """The kiosk's custody picture: what the server believes is in each occupied slot."""
        return sorted((SlotCustody(slot=r.slot, custody_id=r.custody_id, pupil_ref=r.pupil_ref,
                                   held=self.rules.held(r))
                       for r in self.by_kiosk.get(kiosk_id, []) if r.slot is not None),
                      key=lambda c: c.slot)

    def card(self, pupil_ref: str, kiosk_id: int) -> CardCustody:
        """The pupil's held slot here (if all their devices here are held) and the devices
        the kiosk must be able to tell them about."""
        out = CardCustody()
        here_held: list[int] = []
        here_free = False
        for rec in self.by_pupil.get(pupil_ref, []):
            held = self.rules.held(rec)
            here = rec.state in st.IN_A_SLOT and rec.kiosk_id == kiosk_id
            if here and rec.slot is not None:
                if held:
                    here_held.append(rec.slot)
                else:
                    here_free = True
                    continue  # the pupil collects it here: nothing to tell
            if len(out.elsewhere) >= MAX_WHERE:
                continue
            code, name = self.kiosks.get(rec.kiosk_id or 0, (None, None))
            in_slot = rec.state in st.IN_A_SLOT
            out.elsewhere.append(DeviceWhere(
                kiosk=code if in_slot else None, kiosk_name=name[:60] if in_slot and name
                else None, slot=rec.slot if in_slot else None, held=held,
                back=self.rules.back(rec)))
        if here_held and not here_free:
            out.held_here = min(here_held)
        return out
