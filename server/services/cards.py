"""Card enrolment and lost-card replacement (issue 4 item 7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from lockers.cardhash import card_hash, normalise_uid
from server.errors import NotAllowed, NotFound
from server.models import Card, Pupil, Site
from server.services.context import Action, ServiceContext


@dataclass(frozen=True)
class CardView:
    """A card as the office sees it."""

    id: int
    pupil_ref: str
    uid: str
    card_hash: str
    active: bool
    enrolled_at: datetime
    deactivated_reason: str | None


def _view(card: Card, ref: str) -> CardView:
    return CardView(card.id, ref, card.uid, card.card_hash, card.active, card.enrolled_at,
                    card.deactivated_reason)


class CardServices:
    """Office actions on pupils' cards."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def enrol_card(self, actor: str, pupil_ref: str, uid: str, reason: str = "enrolment",
                   site: str | None = None) -> CardView:
        """Give a pupil a new card (their older cards stay active unless replaced)."""
        with self.ctx.action(actor, "card.enrol") as act:
            s = act.session
            pupil = self.ctx.pupil(s, pupil_ref, site)
            card = self._enrol(act, pupil, uid, reason)
        return _view(card, pupil.reference)

    def replace_lost_card(self, actor: str, pupil_ref: str, new_uid: str,
                          reason: str = "card lost", site: str | None = None) -> CardView:
        """Deactivate every active card of the pupil as lost and enrol ``new_uid``."""
        with self.ctx.action(actor, "card.replace") as act:
            s = act.session
            pupil = self.ctx.pupil(s, pupil_ref, site)
            now = self.ctx.clock.now()
            for old in s.scalars(select(Card).where(Card.pupil_id == pupil.id,
                                                    Card.active.is_(True))):
                old.active, old.deactivated_at, old.deactivated_reason = False, now, "lost"
                act.audit("card", old.id, reason=reason, pupil_ref=pupil.reference,
                          action="card.lost", detail={"card_hash": old.card_hash})
            card = self._enrol(act, pupil, new_uid, reason)
        return _view(card, pupil.reference)

    def mark_card_lost(self, actor: str, uid: str, reason: str = "card lost",
                       site: str | None = None) -> CardView:
        """Deactivate one card (found by its UID) as lost; the kiosks stop accepting it."""
        with self.ctx.action(actor, "card.lost") as act:
            s = act.session
            st = self.ctx.site(s, site)
            h = card_hash(st.card_hash_key, uid)
            card = s.scalar(select(Card).where(Card.site_id == st.id, Card.card_hash == h))
            if card is None:
                raise NotFound(f"no card {normalise_uid(uid)} at site {st.code}")
            card.active, card.deactivated_at = False, self.ctx.clock.now()
            card.deactivated_reason = "lost"
            ref = s.get(Pupil, card.pupil_id).reference  # type: ignore[union-attr]
            act.audit("card", card.id, reason=reason, pupil_ref=ref,
                      detail={"card_hash": card.card_hash})
            act.touch(st.id)
        return _view(card, ref)

    def cards_of(self, pupil_ref: str, site: str | None = None) -> list[CardView]:
        """Every card a pupil has had, newest first."""
        with self.ctx.store.read() as s:
            pupil = self.ctx.pupil(s, pupil_ref, site)
            cards = s.scalars(select(Card).where(Card.pupil_id == pupil.id)
                              .order_by(Card.enrolled_at.desc(), Card.id.desc())).all()
            return [_view(c, pupil.reference) for c in cards]

    def _enrol(self, act: Action, pupil: Pupil, uid: str, reason: str) -> Card:
        s = act.session
        site = s.get(Site, pupil.site_id)
        assert site is not None
        site_key = site.card_hash_key
        uid_hex = normalise_uid(uid)
        h = card_hash(site_key, uid_hex)
        existing = s.scalar(select(Card).where(Card.site_id == pupil.site_id,
                                               Card.card_hash == h))
        if existing is not None:
            if existing.pupil_id != pupil.id and existing.active:
                raise NotAllowed(f"card {uid_hex} is already enrolled to another pupil: mark it "
                                 "lost there first")
            existing.pupil_id, existing.active = pupil.id, True
            existing.deactivated_at = existing.deactivated_reason = None
            card = existing
        else:
            card = Card(site_id=pupil.site_id, pupil_id=pupil.id, uid=uid_hex, card_hash=h,
                        enrolled_at=self.ctx.clock.now())
            s.add(card)
        s.flush()
        act.audit("card", card.id, reason=reason, pupil_ref=pupil.reference,
                  action="card.enrol", detail={"card_hash": h})
        act.touch(pupil.site_id)
        return card

