"""The office's custody actions: hand-in at the office, return to the pupil, parent
collection, DSL/police hand-over; and what the office reads (current records, timeline, left
overnight). Every door that opens is named by the record, from where the record is now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server import audit, notify
from server.custody import records as cr
from server.custody import states as st
from server.custody.compare import Difference, compare_with_kiosk
from server.custody.held import PARENT_ONLY, HeldRules, overnight
from server.errors import NotAllowed, NotFound
from server.models import Confiscation, CustodyRecord, Kiosk, Pupil, Site, Slot
from server.models.records import (
    COLLECTED_BY_PARENT,
    HANDED_TO_DSL,
    HANDED_TO_POLICE,
    RELEASED_TO_PUPIL,
)
from server.policy.calendar import local_now, local_today
from server.services.context import OFFICE, Action, ServiceContext
from server.services.pupil_names import pupil_label

# The DSL and leadership hand devices to the DSL or the police; the office does not.
SAFEGUARDING = frozenset({"dsl", "leadership", "admin"})
PURPOSES = {"parent_collection": "parent_collection", "returned_by_office": "return_to_pupil",
            "handed_to_dsl": "dsl_handover", "handed_to_police": "police_handover"}
# Each custody state in the office's words (lists, the pupil page, reports).
STATE_WORDS = {st.IN_SLOT: "Still in locker", st.HELD_IN_SLOT: "Held in locker",
               st.IN_OFFICE: "Kept at the office", st.HELD_IN_OFFICE: "Held at the office",
               st.RETURNED_TO_PUPIL: "Returned to the pupil",
               st.COLLECTED_BY_PARENT: "Collected by a parent or carer",
               st.HANDED_TO_DSL: "Handed to the DSL", st.HANDED_TO_POLICE: "Handed to the police"}
CONFISCATION_STATE = {"returned_by_office": RELEASED_TO_PUPIL,
                      "parent_collection": COLLECTED_BY_PARENT,
                      "handed_to_dsl": HANDED_TO_DSL, "handed_to_police": HANDED_TO_POLICE}


@dataclass(frozen=True)
class CustodyView:
    """One custody record as the office sees it; ``actions`` are the moves offered now."""

    custody_id: str
    pupil_ref: str
    state: str
    kiosk: str | None
    kiosk_name: str | None
    slot: int | None
    place: str | None
    came_in_at: datetime
    held: bool
    release_mode: str | None
    confiscation_id: int | None
    check_needed: str | None
    overnight: timedelta | None
    actions: tuple[str, ...]
    came_in_local: str = ""  # "Mon 23 Nov 08:41" at the site
    command_id: str | None = None  # the door this view's last action opened
    pupil_label: str = ""  # "Amira Khan (8B)", what every list shows

    @property
    def release_words(self) -> str:
        """How the device goes back, in words ("" when not confiscated)."""
        return {"parent_only": "Parent or carer collection only",
                "pupil_end_of_day": "Back to the pupil at the end of the day"}.get(
                    self.release_mode or "", "")

    @property
    def state_words(self) -> str:
        """The record's state as the office says it."""
        return STATE_WORDS.get(self.state, self.state.replace("_", " "))

    @property
    def where(self) -> str:
        """Where the device is (or, once handed back, was last kept), in words."""
        if self.kiosk is not None and self.slot is not None:
            return f"{self.kiosk_name or self.kiosk}, locker {self.slot}"
        return self.place or "the office"


class CustodyServices:
    """Office actions on custody records, and the office's views of them."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # --- coming in ----------------------------------------------------------------------

    def hand_in_at_office(self, actor: str, pupil_ref: str, place: str,
                          reason: str = "handed in at the office", site: str | None = None
                          ) -> CustodyView:
        """A pupil hands a device in at the office (or to the class teacher), kept at
        ``place``; the pupil collects it from there."""
        if not place.strip():
            raise NotAllowed("say where the device is kept (e.g. 'office safe')")
        with self.ctx.action(actor, "custody.hand_in_at_office") as act:
            pupil = self.ctx.pupil(act.session, pupil_ref, site)
            rec = cr.take_in(act.session, self.mover(act), "hand_in_at_office",
                             site_id=pupil.site_id, pupil_id=pupil.id,
                             pupil_ref=pupil.reference, day=self._today(act.session, pupil),
                             place=place.strip(), reason=reason)
            act.touch(pupil.site_id)
            return self._view(act.session, rec)

    # --- going out ----------------------------------------------------------------------

    def return_to_pupil(self, actor: str, custody_id: str, reason: str, ttl_s: float = 120.0,
                        site: str | None = None) -> CustodyView:
        """Give the device back to the pupil by hand (its locker opens if it is in one)."""
        with self.ctx.action(actor, "custody.returned_by_office") as act:
            rec = self._open(act, custody_id, site)
            if rec.state in st.HELD and HeldRules(act.session, self._site(act, rec),
                                                  self.ctx.clock.now()).release_mode(rec) \
                    == PARENT_ONLY:
                raise NotAllowed("this device may only be collected by a parent or carer")
            return self._hand_back(act, rec, "returned_by_office", reason or "returned",
                                   ttl_s)

    def parent_collection(self, actor: str, custody_id: str, collector_name: str,
                          relationship: str, identity_check: str, ttl_s: float = 120.0,
                          site: str | None = None) -> CustodyView:
        """A parent/carer collects the device: who, relationship, how their identity was
        checked, which staff member; its locker opens if it is in one."""
        if not (collector_name.strip() and relationship.strip() and identity_check.strip()):
            raise NotAllowed("a parent collection needs the collector's name, relationship and "
                             "how their identity was checked")
        with self.ctx.action(actor, "custody.parent_collection") as act:
            rec = self._open(act, custody_id, site)
            detail = {"collector_name": collector_name, "relationship": relationship,
                      "identity_check": identity_check}
            view = self._hand_back(act, rec, "parent_collection",
                                   f"parent collection by {relationship}", ttl_s, detail)
            if rec.confiscation_id is not None:
                conf = act.session.get(Confiscation, rec.confiscation_id)
                assert conf is not None
                conf.collector_name, conf.collector_relationship = collector_name, relationship
                conf.identity_check = identity_check
            return view

    def hand_over(self, actor: str, custody_id: str, to: str, note: str, ttl_s: float = 120.0,
                  site: str | None = None) -> CustodyView:
        """Hand the device to the DSL or the police (final: it leaves the school's lockers).
        Allowed to the DSL and leadership, not the office."""
        if to not in ("dsl", "police"):
            raise NotAllowed("a device can be handed to 'dsl' or 'police'")
        if not note.strip():
            raise NotAllowed("say who received the device (name, role, reference)")
        move = f"handed_to_{to}"
        with self.ctx.action(actor, f"custody.{move}", roles=SAFEGUARDING) as act:
            rec = self._open(act, custody_id, site)
            view = self._hand_back(act, rec, move, note, ttl_s, {"to": to})
            pupil = act.session.get(Pupil, rec.pupil_id)
            assert pupil is not None
            notify.device_handed_over(act.session, self.ctx.clock.now(), actor, record="custody",
                                      record_id=rec.custody_id, pupil=pupil,
                                      site=self._site(act, rec), to=to)
            if rec.confiscation_id is not None:
                conf = act.session.get(Confiscation, rec.confiscation_id)
                assert conf is not None
                conf.handover_note = note
            return view

    def checked(self, actor: str, custody_id: str, note: str, site: str | None = None
                ) -> CustodyView:
        """Staff looked at a flagged slot and found the device there: clear the flag."""
        with self.ctx.action(actor, "custody.checked") as act:
            rec = self._open(act, custody_id, site)
            act.audit("custody", rec.custody_id, reason=note, pupil_ref=rec.pupil_ref,
                      detail={"flag": rec.check_needed})
            rec.check_needed = None
            return self._view(act.session, rec)

    # --- reading ------------------------------------------------------------------------

    def current(self, pupil_ref: str, site: str | None = None) -> list[CustodyView]:
        """The pupil's open custody records, oldest first."""
        with self.ctx.store.read() as s:
            pupil = self.ctx.pupil(s, pupil_ref, site)
            rows = s.scalars(select(CustodyRecord).where(
                CustodyRecord.site_id == pupil.site_id,
                CustodyRecord.pupil_ref == pupil.reference,
                CustodyRecord.state.in_(st.OPEN)).order_by(CustodyRecord.id)).all()
            return [self._view(s, r) for r in rows]

    def get(self, custody_id: str, site: str | None = None) -> CustodyView:
        """One record by id."""
        with self.ctx.store.read() as s:
            st_ = self.ctx.site(s, site)
            rec = cr.by_custody_id(s, st_.id, custody_id)
            if rec is None:
                raise NotFound(f"no custody record {custody_id}")
            return self._view(s, rec)

    def held(self, site: str | None = None) -> list[CustodyView]:
        """Every held device, oldest first (those left overnight say how long)."""
        with self.ctx.store.read() as s:
            st_ = self.ctx.site(s, site)
            rows = s.scalars(select(CustodyRecord).where(
                CustodyRecord.site_id == st_.id, CustodyRecord.state.in_(st.HELD))
                .order_by(CustodyRecord.came_in_at)).all()
            return [self._view(s, r) for r in rows]

    def still_in_charge(self, site: str | None = None) -> list[CustodyView]:
        """Every device the school still has (in a locker, held, at the office), oldest
        first: the office's end-of-day list of what has not gone home."""
        with self.ctx.store.read() as s:
            st_ = self.ctx.site(s, site)
            rows = s.scalars(select(CustodyRecord).where(
                CustodyRecord.site_id == st_.id, CustodyRecord.state.in_(st.OPEN))
                .order_by(CustodyRecord.came_in_at)).all()
            return [self._view(s, r) for r in rows]

    def left_overnight(self, site: str | None = None) -> list[CustodyView]:
        """Every device still in the school's charge after the day it came in."""
        with self.ctx.store.read() as s:
            st_ = self.ctx.site(s, site)
            rows = s.scalars(select(CustodyRecord).where(
                CustodyRecord.site_id == st_.id, CustodyRecord.state.in_(st.OPEN))
                .order_by(CustodyRecord.came_in_at)).all()
            return [v for v in (self._view(s, r) for r in rows) if v.overnight is not None]

    def compare_with_kiosk(self, site: str, kiosk: str,
                           snapshot: m.SlotSnapshot | list[m.SlotView]) -> list[Difference]:
        """Where the server's custody picture of ``kiosk`` and the kiosk's own slots
        disagree, record by record (empty: they agree). The simulator's report calls this."""
        with self.ctx.store.read() as s:
            return compare_with_kiosk(s, site, kiosk, snapshot, self.ctx.clock.now())

    def compare_with_mirror(self, site: str, kiosk: str) -> list[Difference]:
        """The same check against the server's own mirror of the kiosk's slots (fed by its
        slot-state events and retained snapshots): do the mirror and custody agree?"""
        with self.ctx.store.read() as s:
            k = self.ctx.kiosk(s, self.ctx.site(s, site), kiosk)
            views = [m.SlotView(slot=r.number, state=m.SlotState(r.state),
                                pupil_ref=r.pupil_ref, custody_id=r.custody_id)
                     for r in s.scalars(select(Slot).where(Slot.kiosk_id == k.id))]
            return compare_with_kiosk(s, site, kiosk, views, self.ctx.clock.now())

    # --- helpers ------------------------------------------------------------------------

    def mover(self, act: Action) -> cr.Mover:
        """A mover for the signed-in staff member; its audit entries commit with ``act``."""
        return cr.Mover(audit.staff_actor(act.staff.username), self.ctx.clock.now(),
                        act.staff.id, act.entries)

    def _hand_back(self, act: Action, rec: CustodyRecord, move: str, reason: str,
                   ttl_s: float, detail: dict[str, Any] | None = None) -> CustodyView:
        # The door comes only from where the record is at this moment; a device in the office
        # needs no door at all.
        st.next_state(move, rec.state)  # refuse before any command is sent
        command_id = None
        if rec.state in st.IN_A_SLOT and rec.kiosk_id is not None:
            kiosk = act.session.get(Kiosk, rec.kiosk_id)
            site = self._site(act, rec)
            assert kiosk is not None
            cmd = self.ctx.commands.record(
                act.session, kiosk, m.CommandKind.REMOTE_UNLOCK, act.staff.username, reason,
                slot=rec.slot, purpose=PURPOSES[move], ttl_s=ttl_s, custody_id=rec.custody_id,
                expected_pupil_ref=rec.pupil_ref)
            act.command(cmd, site.code)
            command_id = cmd.id
        cr.move(act.session, self.mover(act), rec, move, reason=reason, command_id=command_id,
                detail=detail)
        if rec.confiscation_id is not None:
            conf = act.session.get(Confiscation, rec.confiscation_id)
            assert conf is not None
            conf.state, conf.closed_at, conf.closed_by_id = (
                CONFISCATION_STATE[move], self.ctx.clock.now(), act.staff.id)
            conf.command_id = command_id
        act.touch(rec.site_id)
        return self._view(act.session, rec, command_id)

    def _open(self, act: Action, custody_id: str, site: str | None) -> CustodyRecord:
        q = select(CustodyRecord).where(CustodyRecord.custody_id == custody_id)
        if site is not None:
            q = q.join(Site).where(Site.code == site)
        rec = act.session.scalars(q.with_for_update()).first()
        if rec is None:
            raise NotFound(f"no custody record {custody_id}")
        if rec.state in st.CLOSED:
            raise NotAllowed(f"custody record {custody_id} is already closed "
                             f"({rec.state.replace('_', ' ')})")
        act.touch(rec.site_id)
        return rec

    @staticmethod
    def _site(act: Action, rec: CustodyRecord) -> Site:
        site = act.session.get(Site, rec.site_id)
        assert site is not None
        return site

    def _today(self, s: Session, pupil: Pupil) -> date:
        site = s.get(Site, pupil.site_id)
        assert site is not None
        return local_today(site, self.ctx.clock.now())

    def _view(self, s: Session, rec: CustodyRecord, command_id: str | None = None
              ) -> CustodyView:
        site = s.get(Site, rec.site_id)
        assert site is not None
        now = self.ctx.clock.now()
        rules = HeldRules(s, site, now)
        kiosk = s.get(Kiosk, rec.kiosk_id) if rec.kiosk_id else None
        mode = rules.release_mode(rec) if rec.confiscation_id or rec.state in st.HELD else None
        actions = tuple(a for a in st.OFFICE_ACTIONS.get(rec.state, ())
                        if not (a == "returned_by_office" and mode == PARENT_ONLY))
        pupil = s.get(Pupil, rec.pupil_id) if rec.pupil_id is not None else None
        return CustodyView(rec.custody_id, rec.pupil_ref, rec.state,
                           kiosk.code if kiosk else None,
                           (kiosk.name or kiosk.code) if kiosk else None, rec.slot, rec.place,
                           rec.came_in_at, rules.held(rec), mode, rec.confiscation_id,
                           rec.check_needed, overnight(s, site, rec, now), actions,
                           local_now(site, rec.came_in_at).strftime("%a %d %b %H:%M"),
                           command_id,
                           pupil_label(pupil.first_name, pupil.last_name, pupil.form)
                           if pupil else rec.pupil_ref)


__all__ = ["OFFICE", "SAFEGUARDING", "STATE_WORDS", "CustodyServices", "CustodyView"]
