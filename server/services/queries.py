"""Read-only questions the office console and the dashboard ask (no audit, no changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from server.custody.held import HeldRules
from server.custody.states import HELD, IN_A_SLOT, OPEN
from server.models import (
    Alarm,
    Card,
    CustodyRecord,
    Deposit,
    Event,
    Kiosk,
    Pupil,
    PupilException,
    Site,
    Slot,
)
from server.policy.calendar import local_now, local_today
from server.services.context import ServiceContext
from server.services.pupil_names import pupil_label
from server.services.whereabouts import event_words, phone_words


@dataclass(frozen=True)
class PupilSummary:
    """A pupil found by a search."""

    reference: str
    first_name: str
    last_name: str
    year_group: str | None
    form: str | None
    archived: bool

    @property
    def label(self) -> str:
        """"Amira Khan (8B)"."""
        return pupil_label(self.first_name, self.last_name, self.form)


@dataclass(frozen=True)
class PhoneWhereabouts:
    """Where a pupil's phone is now (DOMAIN rule 9), and today's history."""

    pupil_ref: str
    status: str  # not_handed_in | in_locker | collected | held | exempt
    kiosk: str | None
    slot: int | None
    deposited_at: datetime | None
    history: list[dict[str, Any]]  # today's kiosk events, each with "when" and "words"
    words: str = ""  # "In locker 12 at Main entrance kiosk since 08:31"
    kiosk_name: str | None = None


class Queries:
    """Searches and live pictures for the web."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def find_pupils(self, text: str, limit: int = 50) -> list[PupilSummary]:
        """Pupils whose name, reference, form or card UID matches ``text``."""
        like = f"%{text.strip()}%"
        with self.ctx.store.read() as s:
            by_card = select(Card.pupil_id).where(Card.uid == text.strip().upper()
                                                  .replace(":", ""))
            rows = s.scalars(select(Pupil).where(or_(
                Pupil.first_name.ilike(like), Pupil.last_name.ilike(like),
                (Pupil.first_name + " " + Pupil.last_name).ilike(like),
                Pupil.reference.ilike(like), Pupil.form.ilike(like), Pupil.id.in_(by_card)))
                .order_by(Pupil.last_name, Pupil.first_name).limit(limit)).all()
            return [PupilSummary(p.reference, p.first_name, p.last_name, p.year_group, p.form,
                                 p.archived) for p in rows]

    def choose_pupil(self, text: str) -> tuple[str | None, list[PupilSummary]]:
        """The pupil a form's "name or reference" box means: an exact reference, or the only
        pupil whose name matches. Otherwise ``None`` and the candidates to choose from."""
        text = text.strip()
        if not text:
            return None, []
        found = self.find_pupils(text, limit=20)
        exact = [p for p in found if p.reference.lower() == text.lower()]
        if len(exact) == 1:
            return exact[0].reference, exact
        return (found[0].reference if len(found) == 1 else None), found

    def where_is_phone(self, pupil_ref: str, site: str | None = None) -> PhoneWhereabouts:
        """Where the pupil's phone is and what happened to it today, in words too."""
        with self.ctx.store.read() as s:
            pupil = self.ctx.pupil(s, pupil_ref, site)
            st = s.get(Site, pupil.site_id)
            assert st is not None
            now = self.ctx.clock.now()
            today = local_today(st, now)
            records = s.scalars(select(CustodyRecord).where(
                CustodyRecord.site_id == pupil.site_id,
                CustodyRecord.pupil_ref == pupil.reference,
                CustodyRecord.state.in_(OPEN)).order_by(CustodyRecord.id.desc())).all()
            # A held device is the one the office is asked about first.
            held = next((r for r in records if r.state in HELD), None)
            office = next((r for r in records if r.state not in IN_A_SLOT), None)
            dep = s.scalar(select(Deposit).where(Deposit.pupil_id == pupil.id,
                                                 Deposit.day == today)
                           .order_by(Deposit.deposited_at.desc()))
            exempt = s.scalar(select(func.count()).select_from(PupilException).where(
                PupilException.pupil_id == pupil.id, PupilException.revoked_at.is_(None),
                PupilException.starts <= today,
                or_(PupilException.ends.is_(None), PupilException.ends >= today)))
            history = [{"at": e.at, "type": e.type, "outcome": e.outcome, "slot": e.slot,
                        "when": local_now(st, e.at).strftime("%H:%M"),
                        "words": event_words(e.type, e.outcome, e.slot)}
                       for e in s.scalars(select(Event).where(
                           Event.pupil_ref == pupil.reference).order_by(Event.at.desc())
                           .limit(50)) if local_today(st, e.at) == today]
            kid: int | None = None
            slot: int | None = None
            when: datetime | None = None
            if held is not None:
                kid, slot, status, when = held.kiosk_id, held.slot, "held", held.came_in_at
            elif office is not None:
                status, when = "in_office", office.came_in_at
            elif dep is not None:
                kid, slot, when = dep.kiosk_id, dep.slot, dep.deposited_at
                status = "collected" if dep.collected_at else "in_locker"
            else:
                status = "exempt" if exempt else "not_handed_in"
            k = s.get(Kiosk, kid) if kid is not None else None
            words = phone_words(
                status, kiosk=(k.name or k.code) if k else None, slot=slot,
                since=local_now(st, when) if when else None,
                collected=local_now(st, dep.collected_at) if dep and dep.collected_at else None,
                place=(held or office).place if (held or office) else None,
                release_mode=HeldRules(s, st, now).release_mode(held) if held else None)
            return PhoneWhereabouts(pupil.reference, status, k.code if k else None, slot, when,
                                    history, words, k.name or k.code if k else None)

    def kiosks(self, site: str | None = None) -> list[dict[str, Any]]:
        """Every kiosk with online state, last seen, and its slots' states."""
        with self.ctx.store.read() as s:
            q = select(Kiosk, Site.code).join(Site)
            if site:
                q = q.where(Site.code == site)
            pairs = s.execute(q.order_by(Site.code, Kiosk.code)).all()
            # One query for every kiosk's slots, as plain rows: at 20 kiosks x 300 slots a
            # query per kiosk loading Slot objects took most of the dashboard's first render.
            by_kiosk: dict[int, list[dict[str, Any]]] = {k.id: [] for k, _ in pairs}
            rows = s.execute(select(Slot.kiosk_id, Slot.number, Slot.bank, Slot.state,
                                    Slot.door_open)
                             .where(Slot.kiosk_id.in_(by_kiosk)).order_by(Slot.number))
            for kiosk_id, number, bank, state, door_open in rows:
                by_kiosk[kiosk_id].append({"slot": number, "bank": bank, "state": state,
                                           "door_open": door_open})
            return [{"site": scode, "kiosk": k.code, "online": k.online,
                     "last_seen": k.last_seen, "policy_version": k.policy_version,
                     "slots": by_kiosk[k.id]} for k, scode in pairs]

    def open_alarms(self) -> list[dict[str, Any]]:
        """Alarms not yet cleared, newest first."""
        with self.ctx.store.read() as s:
            rows = s.execute(select(Alarm, Kiosk.code).join(Kiosk).where(
                Alarm.cleared_at.is_(None)).order_by(Alarm.raised_at.desc())).all()
            return [{"id": a.id, "kiosk": code, "kind": a.kind, "slot": a.slot,
                     "detail": a.detail, "raised_at": a.raised_at} for a, code in rows]
