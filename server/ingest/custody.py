"""The custody moves kiosk events make: a deposit takes a device in, a collection hands back
exactly the record it names; emergency and staff openings move nothing but flag the record.

Kiosks older than custody send no ``custody_id``: their deposits get one minted here
("<kiosk>.legacy.<seq>") and their collections fall back to the record in that slot.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server import audit
from server.custody import records as cr
from server.custody import states as st
from server.custody.breaches import new_confiscation
from server.ingest.batch import BatchResult
from server.ingest.kiosks import KnownKiosk
from server.models import Alarm, Confiscation, CustodyRecord, Deposit, Site, Staff
from server.models.records import RELEASED_TO_PUPIL

log = logging.getLogger("lockers.server.ingest")


def custody_id_of(kiosk: KnownKiosk, ev: m.DepositEvent) -> str:
    """The deposit's custody id: the kiosk's own, or one minted for an old kiosk."""
    return ev.custody_id or f"{kiosk.code}.{ev.epoch or 'legacy'}.{ev.seq}"


def deposited(session: Session, now: datetime, kiosk: KnownKiosk, ev: m.DepositEvent,
              pupil_id: int | None, day: date, entries: list[audit.Entry],
              result: BatchResult) -> str | None:
    """Take the deposited device into custody; return its custody id (None: empty slot)."""
    if ev.empty:  # the presence sensor saw nothing go in: no device, no record
        return None
    cid = custody_id_of(kiosk, ev)
    mover = cr.Mover(audit.kiosk_actor(kiosk.site_code, kiosk.code), ev.at, entries=entries)
    result.policy_sites.add(kiosk.site_id)  # the kiosks' custody picture changed
    # Only a device the server already holds comes in under an id the kiosk did not mint
    # (staff putting an office-held device into a slot): the morning rush skips the lookup.
    minted_here = cid.startswith(f"{kiosk.code}.")
    existing = None if minted_here else cr.by_custody_id(session, kiosk.site_id, cid)
    if existing is not None:
        if existing.state == st.HELD_IN_OFFICE:  # staff put an office-held device in a slot
            cr.move(session, mover, existing, "put_in_slot", kiosk_id=kiosk.id, slot=ev.slot,
                    reason=f"put in a slot at the kiosk by {ev.staff_ref or 'staff'}")
        elif (existing.kiosk_id, existing.slot) != (kiosk.id, ev.slot):
            log.warning("event=custody_id_reused kiosk=%s custody_id=%s", kiosk.code, cid)
        return cid
    stale = cr.in_slot(session, kiosk.id, ev.slot)
    if stale is not None:  # the server thought the slot held another device
        stale.check_needed = f"another device was put into slot {ev.slot} at {ev.at:%H:%M}"
        session.add(Alarm(kiosk_id=kiosk.id, kind="custody_mismatch", slot=ev.slot,
                          raised_at=now, detail=f"slot {ev.slot} held {stale.custody_id} when "
                          f"{cid} was deposited; check the slot"))
    if ev.via == "staff_confiscated":
        move, reason = "confiscated_into_slot", f"confiscated by {ev.staff_ref or 'staff'}"
        conf_id = _kiosk_confiscation(session, kiosk, ev, pupil_id, cid)
    else:
        move, conf_id = "deposit_at_kiosk", None
        reason = "handed in by the pupil" if ev.via == "pupil" else \
            f"handed in with {ev.staff_ref or 'staff'}'s help"
    cr.take_in(session, mover, move, site_id=kiosk.site_id, pupil_id=pupil_id,
               pupil_ref=ev.pupil_ref, day=day, custody_id=cid, kiosk_id=kiosk.id,
               slot=ev.slot, reason=reason, confiscation_id=conf_id,
               detail={"via": ev.via, "staff_ref": ev.staff_ref, "seq": ev.seq})
    return cid


def _kiosk_confiscation(session: Session, kiosk: KnownKiosk, ev: m.DepositEvent,
                        pupil_id: int | None, cid: str) -> int | None:
    staff = session.scalar(select(Staff).where(Staff.username == ev.staff_ref)) \
        if ev.staff_ref else None
    site = session.get(Site, kiosk.site_id)
    if staff is None or pupil_id is None or site is None:
        # Without a breach row the record is held parent-only: the safe side.
        log.warning("event=kiosk_confiscation_unattributed kiosk=%s staff=%s", kiosk.code,
                    ev.staff_ref)
        return None
    conf, _ = new_confiscation(session, site, pupil_id, staff.id,
                               "confiscated at the kiosk", ev.at)
    conf.custody_id = cid
    return conf.id


def collected(session: Session, kiosk: KnownKiosk, ev: m.CollectionEvent,
              entries: list[audit.Entry], result: BatchResult) -> None:
    """A slot was emptied: hand back exactly the record the kiosk names."""
    if ev.custody_id:
        rec = cr.by_custody_id(session, kiosk.site_id, ev.custody_id)
        session.execute(update(Deposit).where(
            Deposit.custody_id == ev.custody_id, Deposit.collected_at.is_(None)
        ).values(collected_at=ev.at, collected_via=ev.via))
    else:
        rec = cr.in_slot(session, kiosk.id, ev.slot)
        session.execute(update(Deposit).where(
            Deposit.kiosk_id == kiosk.id, Deposit.slot == ev.slot, Deposit.collected_at.is_(None)
        ).values(collected_at=ev.at, collected_via=ev.via))
    if rec is None:
        log.warning("event=collection_without_record kiosk=%s slot=%s custody_id=%s",
                    kiosk.code, ev.slot, ev.custody_id)
        return
    if rec.state not in st.IN_A_SLOT:
        return  # the office moved it already (parent collection, hand-over): the door's echo
    mover = cr.Mover(audit.kiosk_actor(kiosk.site_code, kiosk.code), ev.at, entries=entries)
    if ev.via in ("pupil", "early_release"):
        cr.move(session, mover, rec, "collected_at_kiosk", reason=f"collected ({ev.via})")
        if rec.confiscation_id is not None:
            session.execute(update(Confiscation).where(Confiscation.id == rec.confiscation_id)
                            .values(state=RELEASED_TO_PUPIL, closed_at=ev.at))
        result.policy_sites.add(kiosk.site_id)
        return
    # An emergency opening, a drill or a staff opening: the record stays where it was, and
    # staff must look (DESIGN.md: emergency open and drills leave custody records alone).
    rec.check_needed = f"slot emptied ({ev.via}) at {ev.at:%H:%M}; check the slot"
    entries.append(audit.Entry(
        actor=mover.actor, action="custody.check_needed", entity="custody",
        entity_id=rec.custody_id, pupil_ref=rec.pupil_ref, reason=rec.check_needed,
        detail={"via": ev.via, "slot": ev.slot, "command_id": ev.command_id}))


def slot_records(session: Session, kiosk_id: int) -> dict[int, CustodyRecord]:
    """The open records the server believes are in this kiosk's slots, by slot."""
    rows = session.scalars(select(CustodyRecord).where(
        CustodyRecord.kiosk_id == kiosk_id, CustodyRecord.state.in_(st.IN_A_SLOT))
        .order_by(CustodyRecord.id))
    return {r.slot: r for r in rows if r.slot is not None}
