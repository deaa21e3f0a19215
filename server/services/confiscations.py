"""Confiscations (DOMAIN rules 4, 5, 8): hold, parent collection, DSL/police hand-over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server import notify
from server.errors import NotAllowed, NotFound
from server.models import Confiscation, Kiosk, Pupil, Site
from server.models.records import (
    COLLECTED_BY_PARENT,
    FINAL_STATES,
    HANDED_TO_DSL,
    HANDED_TO_POLICE,
    HELD,
    RELEASED_TO_PUPIL,
)
from server.policy.calendar import local_today, term_containing
from server.services.context import Action, ServiceContext

PUPIL_END_OF_DAY = "pupil_end_of_day"
PARENT_ONLY = "parent_only"


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


class ConfiscationServices:
    """Office actions on confiscated devices."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def confiscate(self, actor: str, pupil_ref: str, reason: str, *, kiosk: str | None = None,
                   slot: int | None = None, second_device: bool = False,
                   serious: bool = False, site: str | None = None) -> ConfiscationView:
        """Record a confiscation; the device is held in ``kiosk``/``slot`` if given.

        Release is to the pupil at end of day, unless the misuse is ``serious`` or this is
        the pupil's Nth breach this term (N: the site's setting): then parent only.
        """
        with self.ctx.action(actor, "confiscation.create") as act:
            s = act.session
            pupil = self.ctx.pupil(s, pupil_ref, site)
            st = s.get(Site, pupil.site_id)
            assert st is not None
            now = self.ctx.clock.now()
            today = local_today(st, now)
            start, end = term_containing(s, st, today)
            earlier = s.scalar(select(func.count()).select_from(Confiscation).where(
                Confiscation.pupil_id == pupil.id, Confiscation.day >= start,
                Confiscation.day <= end)) or 0
            breaches = earlier + 1
            mode = PARENT_ONLY if serious or breaches >= st.breaches_before_parent_collection \
                else PUPIL_END_OF_DAY
            kiosk_row = self.ctx.kiosk(s, st, kiosk) if kiosk else None
            conf = Confiscation(site_id=st.id, pupil_id=pupil.id, reason=reason,
                                second_device=second_device, staff_id=act.staff.id,
                                confiscated_at=now, day=today, release_mode=mode,
                                kiosk_id=kiosk_row.id if kiosk_row else None, slot=slot)
            s.add(conf)
            s.flush()
            act.audit("confiscation", conf.id, reason=reason, pupil_ref=pupil.reference,
                      detail={"release_mode": mode, "breaches_this_term": breaches,
                              "second_device": second_device, "serious": serious,
                              "kiosk": kiosk, "slot": slot})
            act.touch(st.id)
            if mode == PARENT_ONLY:  # custody: move to the "held for parent collection" move
                notify.device_held_for_parent(s, now, actor, record="confiscation",
                                              record_id=conf.id, pupil=pupil, site=st,
                                              second_device=second_device)
            return ConfiscationView(conf.id, pupil.reference, HELD, mode, breaches, kiosk, slot,
                                    now, reason)

    def record_parent_collection(self, actor: str, confiscation_id: int, collector_name: str,
                                 relationship: str, identity_check: str,
                                 ttl_s: float = 120.0) -> ConfiscationView:
        """A parent/carer collects a held device: record who, how checked, which staff member,
        and open its slot remotely. Wait for the kiosk with ``services.commands.wait``."""
        if not (collector_name.strip() and relationship.strip() and identity_check.strip()):
            raise NotAllowed("a parent collection needs the collector's name, relationship and "
                             "how their identity was checked")
        with self.ctx.action(actor, "confiscation.parent_collection") as act:
            conf = self._open(act, confiscation_id)
            conf.state, conf.closed_at, conf.closed_by_id = (COLLECTED_BY_PARENT,
                                                             self.ctx.clock.now(), act.staff.id)
            conf.collector_name, conf.collector_relationship = collector_name, relationship
            conf.identity_check = identity_check
            reason = f"parent collection by {relationship}"
            conf.command_id = self._unlock(act, conf, "parent_collection", reason, ttl_s)
            act.audit("confiscation", conf.id, reason=reason, pupil_ref=self._ref(act, conf),
                      detail={"collector_name": collector_name, "relationship": relationship,
                              "identity_check": identity_check, "command_id": conf.command_id})
            return self._view(act, conf)

    def hand_over(self, actor: str, confiscation_id: int, to: str, note: str,
                  ttl_s: float = 120.0) -> ConfiscationView:
        """Hand a device to the DSL or the police (final: it leaves the lockers' control)."""
        if to not in ("dsl", "police"):
            raise NotAllowed("a device can be handed to 'dsl' or 'police'")
        with self.ctx.action(actor, f"confiscation.handed_to_{to}", roles=frozenset(
                {"office", "leadership", "admin"})) as act:
            conf = self._open(act, confiscation_id)
            conf.state = HANDED_TO_DSL if to == "dsl" else HANDED_TO_POLICE
            conf.closed_at, conf.closed_by_id, conf.handover_note = (self.ctx.clock.now(),
                                                                     act.staff.id, note)
            conf.command_id = self._unlock(act, conf, "staff", f"handed to {to}", ttl_s)
            act.audit("confiscation", conf.id, reason=note, pupil_ref=self._ref(act, conf),
                      detail={"to": to, "command_id": conf.command_id})
            notify.device_handed_over(act.session, conf.closed_at, actor, record="confiscation",
                                      record_id=conf.id, to=to,
                                      pupil=act.session.get(Pupil, conf.pupil_id),
                                      site=act.session.get(Site, conf.site_id))
            return self._view(act, conf)

    def release_to_pupil(self, actor: str, confiscation_id: int, reason: str) -> ConfiscationView:
        """Give a pupil-end-of-day device back by hand (the office, not the kiosk)."""
        with self.ctx.action(actor, "confiscation.release_to_pupil") as act:
            conf = self._open(act, confiscation_id)
            if conf.release_mode == PARENT_ONLY:
                raise NotAllowed("this device may only be collected by a parent or carer")
            conf.state, conf.closed_at, conf.closed_by_id = (RELEASED_TO_PUPIL,
                                                             self.ctx.clock.now(), act.staff.id)
            act.audit("confiscation", conf.id, reason=reason, pupil_ref=self._ref(act, conf))
            return self._view(act, conf)

    def held_devices(self, site: str | None = None) -> list[ConfiscationView]:
        """Every device currently held, oldest first."""
        from server.models import Pupil

        with self.ctx.store.read() as s:
            q = select(Confiscation, Pupil.reference).join(Pupil).where(
                Confiscation.state == HELD).order_by(Confiscation.confiscated_at)
            if site:
                q = q.where(Confiscation.site_id == self.ctx.site(s, site).id)
            out = []
            for c, ref in s.execute(q).all():
                kcode = s.get(Kiosk, c.kiosk_id).code if c.kiosk_id else None  # type: ignore
                out.append(ConfiscationView(c.id, ref, c.state, c.release_mode,
                                            _breaches(s, c), kcode, c.slot, c.confiscated_at,
                                            c.reason, c.command_id))
            return out

    # --- helpers ------------------------------------------------------------------------

    def _open(self, act: Action, confiscation_id: int) -> Confiscation:
        conf = act.session.get(Confiscation, confiscation_id, with_for_update=True)
        if conf is None:
            raise NotFound(f"no confiscation {confiscation_id}")
        if conf.state in FINAL_STATES:
            raise NotAllowed(f"confiscation {confiscation_id} is already closed ({conf.state}); "
                             "a device handed to the DSL or police cannot be released here")
        act.touch(conf.site_id)
        return conf

    def _unlock(self, act: Action, conf: Confiscation, purpose: str, reason: str,
                ttl_s: float) -> str | None:
        if conf.kiosk_id is None or conf.slot is None:
            return None  # the device is in the office, not in a slot
        kiosk = act.session.get(Kiosk, conf.kiosk_id)
        site = act.session.get(Site, conf.site_id)
        assert kiosk is not None and site is not None
        cmd = self.ctx.commands.record(act.session, kiosk, m.CommandKind.REMOTE_UNLOCK,
                                       act.staff.username, reason, slot=conf.slot,
                                       purpose=purpose, ttl_s=ttl_s)
        act.command(cmd, site.code)
        return cmd.id

    @staticmethod
    def _ref(act: Action, conf: Confiscation) -> str:
        from server.models import Pupil

        pupil = act.session.get(Pupil, conf.pupil_id)
        assert pupil is not None
        return pupil.reference

    def _view(self, act: Action, conf: Confiscation) -> ConfiscationView:
        kiosk = act.session.get(Kiosk, conf.kiosk_id) if conf.kiosk_id else None
        return ConfiscationView(conf.id, self._ref(act, conf), conf.state, conf.release_mode,
                                _breaches(act.session, conf), kiosk.code if kiosk else None,
                                conf.slot, conf.confiscated_at, conf.reason, conf.command_id)


def _breaches(s: Session, conf: Confiscation) -> int:
    """How many confiscations the pupil has had this term, up to and including ``conf``."""
    st = s.get(Site, conf.site_id)
    start, end = term_containing(s, st, conf.day)
    return int(s.scalar(select(func.count()).select_from(Confiscation).where(
        Confiscation.pupil_id == conf.pupil_id, Confiscation.day >= start,
        Confiscation.day <= end, Confiscation.id <= conf.id)) or 0)
