"""Importing pupils from an MIS export: preview what would change, then apply it.

Reading the file is :mod:`server.roster_read` (encodings, layouts, traps), deciding what
changes is :mod:`server.roster_plan` (leavers, cards, problems); this module runs the two for
the CLI (``lockers import-roster``) and the web admin's upload, and carries a plan out: pupils
created or updated, leavers archived with their cards revoked (the kiosks' replica drops them
at once), cards enrolled, parent/carer contacts replaced, each change in the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.models import Card, Pupil, PupilContact, RosterMapping, Site
from server.policy.calendar import local_today
from server.roster_fields import ContactRow
from server.roster_layouts import PUPIL_FIELDS
from server.roster_plan import PupilPlan, RosterPlan, card_hash_of, plan_roster
from server.roster_read import RosterFileError, read_roster
from server.services import Services
from server.services.context import ADMIN, Action

# The simple layout's columns, for callers that name fields by this older mapping.
DEFAULT_MAPPING = {"reference": "UPN", "first_name": "Forename", "last_name": "Surname",
                   "year_group": "Year", "form": "Reg Group", "card_uid": "Card ID"}


@dataclass
class RosterReport:
    """What an import did (the plan it carried out, and its counts)."""

    plan: RosterPlan

    @property
    def problems(self) -> list[str]:
        """Every problem, as one line of words each."""
        return [str(p) for p in self.plan.problems]

    @property
    def created(self) -> int:
        """Pupils added."""
        return self.plan.count("new")

    @property
    def updated(self) -> int:
        """Pupils whose details changed (returners included)."""
        return self.plan.count("update") + self.plan.count("rejoin")

    @property
    def unchanged(self) -> int:
        """Pupils already as the file says."""
        return self.plan.count("unchanged")

    @property
    def archived(self) -> int:
        """Leavers archived, their cards revoked."""
        return self.plan.count("leave")

    @property
    def cards_enrolled(self) -> int:
        """Cards enrolled."""
        return self.plan.cards_new


def _data(source: bytes | Path) -> bytes:
    return source.read_bytes() if isinstance(source, Path) else source


def _saved(s: Session, site: Site) -> dict[str, str] | None:
    row = s.scalar(select(RosterMapping).where(RosterMapping.site_id == site.id))
    return dict(row.mapping) if row else None


def preview_roster(services: Services, source: bytes | Path, *, site: str | None = None,
                   mapping: dict[str, str] | None = None, full_export: bool = True
                   ) -> RosterPlan:
    """What importing ``source`` would change (nothing is written)."""
    with services.store.read() as s:
        st = services.ctx.site(s, site)
        roster = read_roster(_data(source), mapping, _saved(s, st))
        return plan_roster(s, st, roster, local_today(st, services.clock.now()),
                           full_export=full_export)


def import_roster(services: Services, actor: str, source: bytes | Path, *,
                  site: str | None = None, mapping: dict[str, str] | None = None,
                  full_export: bool = True, save_mapping: bool = False,
                  progress: bool = True) -> RosterReport:
    """Import ``source`` (a file or its bytes); see the module doc. Raises
    :class:`~server.roster_read.RosterFileError` if the file cannot be read at all."""
    from tqdm import tqdm

    name = source.name if isinstance(source, Path) else "upload"
    with services.ctx.action(actor, "roster.import") as act:
        s = act.session
        st = services.ctx.site(s, site)
        roster = read_roster(_data(source), mapping, _saved(s, st))
        now = services.clock.now()
        plan = plan_roster(s, st, roster, local_today(st, now), full_export=full_export)
        existing = {p.reference: p for p in s.scalars(select(Pupil).where(
            Pupil.site_id == st.id))}
        items: Iterable[PupilPlan] = tqdm(plan.pupils, desc="pupils", unit="row",
                                          disable=not progress)
        for item in items:
            _apply(act, st, item, existing.get(item.reference))
        for uid in plan.withheld_cards:
            card = s.scalar(select(Card).where(Card.site_id == st.id,
                                               Card.card_hash == card_hash_of(st, uid),
                                               Card.active.is_(True)))
            if card is not None:
                _revoke(act, card, "disputed", "the roster gives this card to two pupils")
        if save_mapping:
            _save_mapping(act, st, roster.mapping)
        act.audit("roster", name, detail={**plan.summary(), "layout": roster.layout,
                                          "encoding": roster.encoding,
                                          "full_export": full_export})
        act.touch(st.id)
    return RosterReport(plan)


def _apply(act: Action, st: Site, item: PupilPlan, pupil: Pupil | None) -> None:
    now = act.clock.now()
    if item.action == "skip":
        return
    if item.action == "leave":
        assert pupil is not None
        _archive(act, item, pupil, now)
        return
    pupil = _create_or_update(act, st, item, pupil)
    if item.card:
        _enrol(act, st, pupil, item.card)
    if item.contacts is not None and (item.action != "unchanged"):
        _replace_contacts(act, st, pupil, item.contacts, now)


def _archive(act: Action, item: PupilPlan, pupil: Pupil, now: datetime) -> None:
    """A leaver is archived (kept for the records) and their cards stop opening slots."""
    pupil.archived, pupil.archived_at = True, now
    if item.values.get("leaving_date"):
        pupil.leaving_date = item.values["leaving_date"]  # type: ignore[assignment]
    act.audit("pupil", pupil.reference, pupil_ref=pupil.reference, action="pupil.archive",
              reason="; ".join(item.changes) or "left the school")
    for card in act.session.scalars(select(Card).where(Card.pupil_id == pupil.id,
                                                       Card.active.is_(True))):
        _revoke(act, card, "left", "pupil left the school")


def _create_or_update(act: Action, st: Site, item: PupilPlan, pupil: Pupil | None) -> Pupil:
    """The pupil row as the roster gives it: added, updated, rejoined or left as it is."""
    s = act.session
    if pupil is None:
        pupil = Pupil(site_id=st.id, reference=item.reference, **item.values)
        s.add(pupil)
        s.flush()
        act.audit("pupil", item.reference, pupil_ref=item.reference, action="pupil.create")
    elif item.action in ("update", "rejoin"):
        for key, value in item.values.items():
            setattr(pupil, key, value)
        if item.action == "rejoin":
            pupil.archived, pupil.archived_at = False, None
        act.audit("pupil", item.reference, pupil_ref=item.reference, action="pupil.update",
                  detail={"changed": item.changes})
    return pupil


def _replace_contacts(act: Action, st: Site, pupil: Pupil, found: list[ContactRow],
                      now: datetime) -> None:
    """The roster's contacts replace those an earlier roster gave (staff-entered ones stay)."""
    s = act.session
    s.execute(delete(PupilContact).where(PupilContact.pupil_id == pupil.id,
                                         PupilContact.source == "roster"))
    for c in found:
        s.add(PupilContact(site_id=st.id, pupil_id=pupil.id, name=c.name,
                           relationship=c.relationship, email=c.email, phone=c.phone,
                           priority=c.priority, do_not_contact=c.do_not_contact,
                           opt_out_email=c.opt_out_email, opt_out_sms=c.opt_out_sms,
                           source="roster", updated_at=now))


def _enrol(act: Action, st: Site, pupil: Pupil, uid: str) -> None:
    s, now = act.session, act.clock.now()
    h = card_hash_of(st, uid)
    for old in s.scalars(select(Card).where(Card.pupil_id == pupil.id, Card.active.is_(True),
                                            Card.card_hash != h)):
        _revoke(act, old, "replaced", "the roster gives the pupil a new card")
    card = s.scalar(select(Card).where(Card.site_id == st.id, Card.card_hash == h))
    if card is None:
        card = Card(site_id=st.id, pupil_id=pupil.id, uid=uid, card_hash=h, enrolled_at=now)
        s.add(card)
    else:  # a card that was someone's (a leaver's, or revoked) is reissued
        if card.active and card.pupil_id != pupil.id:
            _revoke(act, card, "reissued", "the roster gives this card to another pupil")
        card.pupil_id, card.active, card.enrolled_at = pupil.id, True, now
        card.deactivated_at = card.deactivated_reason = None
    s.flush()
    act.audit("card", card.id, pupil_ref=pupil.reference, action="card.enrol",
              reason="roster import", detail={"card_hash": h})


def _revoke(act: Action, card: Card, why: str, reason: str) -> None:
    card.active, card.deactivated_at, card.deactivated_reason = False, act.clock.now(), why
    act.audit("card", card.id, action="card.revoke", reason=reason,
              detail={"card_hash": card.card_hash})


def _save_mapping(act: Action, st: Site, mapping: dict[str, str]) -> None:
    if act.staff.role not in ADMIN:
        raise RosterFileError("only an admin can save the school's column mapping")
    row = act.session.scalar(select(RosterMapping).where(RosterMapping.site_id == st.id))
    if row is None:
        row = RosterMapping(site_id=st.id, mapping=mapping, saved_by=act.staff.username,
                            saved_at=act.clock.now())
        act.session.add(row)
    row.mapping, row.saved_by, row.saved_at = dict(mapping), act.staff.username, act.clock.now()
    act.audit("roster_mapping", st.code, detail={"mapping": mapping})


__all__ = ["DEFAULT_MAPPING", "PUPIL_FIELDS", "RosterFileError", "RosterReport",
           "import_roster", "preview_roster"]
