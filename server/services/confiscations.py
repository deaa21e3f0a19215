"""Confiscations (DOMAIN rules 4, 5, 8): the breach, and the custody moves it makes: hold,
parent collection, DSL/police hand-over, return to the pupil."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import notify
from server.custody import records as cr
from server.custody import states as cs
from server.custody.breaches import new_confiscation
from server.custody.held import PARENT_ONLY, PUPIL_END_OF_DAY
from server.errors import NotAllowed, NotFound
from server.models import Confiscation, CustodyRecord, Kiosk, Pupil, Site
from server.models.records import FINAL_STATES, HELD
from server.policy.calendar import term_containing
from server.services.context import Action, ServiceContext
from server.services.custody import CustodyServices

__all__ = ["PARENT_ONLY", "PUPIL_END_OF_DAY", "ConfiscationServices", "ConfiscationView"]


@dataclass(frozen=True)
class ConfiscationView:
    """A confiscation as the office sees it; ``command_id`` names the slot-opening command."""

    id: int
    pupil_ref: str
    state: str
    release_mode: str
    breaches_this_term: int
    kiosk: str | None
    slot: int | None
    confiscated_at: datetime
    reason: str
    command_id: str | None = None
    custody_id: str | None = None
    place: str | None = None  # where it is kept while in the office


class ConfiscationServices:
    """Office actions on confiscated devices: each is a move of the device's custody record."""

    def __init__(self, ctx: ServiceContext, custody: CustodyServices) -> None:
        self.ctx, self.custody = ctx, custody

    def confiscate(self, actor: str, pupil_ref: str, reason: str, *,
                   custody_id: str | None = None, place: str | None = None,
                   kiosk: str | None = None, slot: int | None = None,
                   second_device: bool = False, serious: bool = False,
                   site: str | None = None) -> ConfiscationView:
        """Record a confiscation.

        ``custody_id``: a device the school already holds for this pupil (in a slot: it is
        held there; handed in at the office: held there). ``kiosk``/``slot``: the same, named
        by where it is (refused unless this pupil's device is in that slot now). Neither: a
        device taken from the pupil, held in the office at ``place``; with no ``place`` either
        (and not a ``second_device``), the pupil's one device in a slot if they have exactly
        one there, else a device taken from the pupil. Release is to the pupil
        at end of day, unless the misuse is ``serious`` or this is the pupil's Nth breach
        this term (N: the site's setting): then parent only.
        """
        with self.ctx.action(actor, "confiscation.create") as act:
            s = act.session
            pupil = self.ctx.pupil(s, pupil_ref, site)
            st_ = s.get(Site, pupil.site_id)
            assert st_ is not None
            now = self.ctx.clock.now()
            rec = self._held_record(act, st_, pupil.reference, custody_id, kiosk, slot)
            if rec is None and place is None and not second_device:
                rec = self._only_device_in_a_slot(act, st_, pupil.reference)
            conf, breaches = new_confiscation(s, st_, pupil.id, act.staff.id, reason, now,
                                              serious=serious, second_device=second_device)
            mover = self.custody.mover(act)
            if rec is None:
                rec = cr.take_in(s, mover, "confiscate_taken", site_id=st_.id,
                                 pupil_id=pupil.id, pupil_ref=pupil.reference, day=conf.day,
                                 place=(place or "").strip() or "office", reason=reason,
                                 confiscation_id=conf.id)
            else:
                rec.confiscation_id = conf.id
                cr.move(s, mover, rec, "confiscate_in_slot" if rec.state == cs.IN_SLOT
                        else "confiscate_in_office", reason=reason)
            conf.custody_id = rec.custody_id
            act.audit("confiscation", conf.id, reason=reason, pupil_ref=pupil.reference,
                      detail={"release_mode": conf.release_mode, "breaches_this_term": breaches,
                              "second_device": second_device, "serious": serious,
                              "custody_id": rec.custody_id})
            act.touch(st_.id)
            if conf.release_mode == PARENT_ONLY:  # told in the same transaction as the hold
                notify.device_held_for_parent(s, now, actor, record="custody",
                                              record_id=rec.custody_id, pupil=pupil, site=st_,
                                              second_device=second_device)
            return self._view(s, conf)

    def record_parent_collection(self, actor: str, confiscation_id: int, collector_name: str,
                                 relationship: str, identity_check: str,
                                 ttl_s: float = 120.0) -> ConfiscationView:
        """A parent/carer collects a held device (see CustodyServices.parent_collection);
        wait for the kiosk with ``services.commands.wait`` if a locker opens."""
        view = self.custody.parent_collection(actor, self._custody_id(confiscation_id),
                                              collector_name, relationship, identity_check,
                                              ttl_s)
        return self.get(confiscation_id, view.command_id)

    def hand_over(self, actor: str, confiscation_id: int, to: str, note: str,
                  ttl_s: float = 120.0) -> ConfiscationView:
        """Hand a device to the DSL or the police (final; DSL and leadership only)."""
        view = self.custody.hand_over(actor, self._custody_id(confiscation_id), to, note,
                                      ttl_s)
        return self.get(confiscation_id, view.command_id)

    def release_to_pupil(self, actor: str, confiscation_id: int, reason: str) -> ConfiscationView:
        """Give a pupil-end-of-day device back by hand (the office, not the kiosk)."""
        view = self.custody.return_to_pupil(actor, self._custody_id(confiscation_id), reason)
        return self.get(confiscation_id, view.command_id)

    def get(self, confiscation_id: int, command_id: str | None = None) -> ConfiscationView:
        """One confiscation as the office sees it."""
        with self.ctx.store.read() as s:
            conf = s.get(Confiscation, confiscation_id)
            if conf is None:
                raise NotFound(f"no confiscation {confiscation_id}")
            return self._view(s, conf, command_id)

    def held_devices(self, site: str | None = None) -> list[ConfiscationView]:
        """Every device currently held, oldest first."""
        with self.ctx.store.read() as s:
            q = select(Confiscation).where(Confiscation.state == HELD).order_by(
                Confiscation.confiscated_at)
            if site:
                q = q.where(Confiscation.site_id == self.ctx.site(s, site).id)
            return [self._view(s, c) for c in s.scalars(q)]

    # --- helpers ------------------------------------------------------------------------

    def _held_record(self, act: Action, site: Site, pupil_ref: str, custody_id: str | None,
                     kiosk: str | None, slot: int | None) -> CustodyRecord | None:
        s = act.session
        if custody_id:
            rec = cr.by_custody_id(s, site.id, custody_id, lock=True)
            if rec is None or rec.pupil_ref != pupil_ref or rec.state in cs.CLOSED:
                raise NotAllowed(f"{pupil_ref} has no device in the school's charge with "
                                 f"custody record {custody_id}")
            return rec
        if kiosk or slot is not None:
            if not (kiosk and slot is not None):
                raise NotAllowed("name both the kiosk and the slot, or neither")
            rec = cr.in_slot(s, self.ctx.kiosk(s, site, kiosk).id, slot)
            if rec is None or rec.pupil_ref != pupil_ref:
                raise NotAllowed(f"slot {slot} at kiosk {kiosk} holds no device of {pupil_ref}"
                                 ": choose among the pupil's devices")
            return rec
        return None

    @staticmethod
    def _only_device_in_a_slot(act: Action, site: Site, pupil_ref: str
                               ) -> CustodyRecord | None:
        # Named neither by record nor by place, "confiscate the pupil's phone" means the one
        # device they have in a locker now, if there is exactly one (read from custody at
        # this moment, never from an earlier page); otherwise one taken from the pupil.
        rows = act.session.scalars(select(CustodyRecord).where(
            CustodyRecord.site_id == site.id, CustodyRecord.pupil_ref == pupil_ref,
            CustodyRecord.state == cs.IN_SLOT).with_for_update()).all()
        return rows[0] if len(rows) == 1 else None

    def _custody_id(self, confiscation_id: int) -> str:
        with self.ctx.store.read() as s:
            conf = s.get(Confiscation, confiscation_id)
            if conf is None:
                raise NotFound(f"no confiscation {confiscation_id}")
            if conf.state in FINAL_STATES:
                raise NotAllowed(f"confiscation {confiscation_id} is already closed "
                                 f"({conf.state}); a device handed to the DSL or police cannot "
                                 "be released here")
            if conf.custody_id is None:
                raise NotAllowed(f"confiscation {confiscation_id} was recorded before custody "
                                 "records existed: close it by hand")
            return conf.custody_id

    def _view(self, s: Session, conf: Confiscation, command_id: str | None = None
              ) -> ConfiscationView:
        pupil = s.get(Pupil, conf.pupil_id)
        assert pupil is not None
        rec = cr.by_custody_id(s, conf.site_id, conf.custody_id) if conf.custody_id else None
        kiosk = s.get(Kiosk, rec.kiosk_id) if rec is not None and rec.kiosk_id else None
        return ConfiscationView(conf.id, pupil.reference, conf.state, conf.release_mode,
                                _breaches(s, conf), kiosk.code if kiosk else None,
                                rec.slot if rec is not None else None, conf.confiscated_at,
                                conf.reason, command_id or conf.command_id,
                                rec.custody_id if rec is not None else None,
                                rec.place if rec is not None else None)


def _breaches(s: Session, conf: Confiscation) -> int:
    """How many confiscations the pupil has had this term, up to and including ``conf``."""
    st = s.get(Site, conf.site_id)
    start, end = term_containing(s, st, conf.day)
    return int(s.scalar(select(func.count()).select_from(Confiscation).where(
        Confiscation.pupil_id == conf.pupil_id, Confiscation.day >= start,
        Confiscation.day <= end, Confiscation.id <= conf.id)) or 0)
