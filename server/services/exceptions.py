"""Medical and other exceptions (DOMAIN rule 6) and eligibility agreements (rule 7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from server.errors import NotAllowed, NotFound
from server.models import EligibilityAgreement, Pupil, PupilException
from server.services.context import LEADERSHIP, OFFICE, ServiceContext
from server.services.pupil_names import pupil_label

ALLOWS = ("keep_on_person", "access_at_times")
CATEGORIES = ("medical", "other")


@dataclass(frozen=True)
class ExceptionView:
    """An exception with what the office needs to see, including whether review is due."""

    id: int
    pupil_ref: str
    category: str
    reason: str
    approved_by: str
    agreement_date: date
    starts: date
    ends: date | None
    review_date: date | None
    allows: str
    access_times: str | None
    active: bool
    review_due: bool
    pupil_label: str = ""  # "Amira Khan (8B)"


class ExceptionServices:
    """Office actions on exceptions and eligibility agreements."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def grant_exception(self, actor: str, pupil_ref: str, *, category: str, reason: str,
                        approved_by: str, agreement_date: date, starts: date,
                        ends: date | None = None, review_date: date | None = None,
                        allows: str = "keep_on_person", access_times: str | None = None,
                        site: str | None = None) -> ExceptionView:
        """Record an exception agreed in writing by the headteacher or SLT."""
        if category not in CATEGORIES or allows not in ALLOWS:
            raise NotAllowed(f"category must be one of {CATEGORIES}, allows one of {ALLOWS}")
        if ends is None and review_date is None:
            raise NotAllowed("an exception needs an end date or a review date")
        if ends is not None and ends < starts:
            raise NotAllowed(f"the end date ({ends:%d %b %Y}) is before the start date "
                             f"({starts:%d %b %Y}): correct one of them")
        if review_date is not None and review_date < starts:
            raise NotAllowed(f"the review date ({review_date:%d %b %Y}) is before the start "
                             f"date ({starts:%d %b %Y}): correct one of them")
        if allows == "access_at_times" and not access_times:
            raise NotAllowed("say at which times access is allowed (e.g. '10:30-10:45')")
        if not approved_by.strip():
            raise NotAllowed("say who approved the exception (headteacher or SLT member)")
        with self.ctx.action(actor, "exception.grant", roles=OFFICE) as act:
            pupil = self.ctx.pupil(act.session, pupil_ref, site)
            row = PupilException(pupil_id=pupil.id, category=category, reason=reason,
                                 approved_by=approved_by, agreement_date=agreement_date,
                                 starts=starts, ends=ends, review_date=review_date, allows=allows,
                                 access_times=access_times, recorded_by_id=act.staff.id,
                                 recorded_at=self.ctx.clock.now())
            act.session.add(row)
            act.session.flush()
            act.audit("exception", row.id, reason=reason, pupil_ref=pupil.reference,
                      detail={"category": category, "approved_by": approved_by,
                              "agreement_date": agreement_date, "starts": starts, "ends": ends,
                              "review_date": review_date, "allows": allows,
                              "access_times": access_times})
            act.touch(pupil.site_id)
            return self._view(row, pupil.reference,
                              pupil_label(pupil.first_name, pupil.last_name, pupil.form))

    def revoke_exception(self, actor: str, exception_id: int, reason: str) -> None:
        """End an exception now."""
        if not reason.strip():
            raise NotAllowed("say why the exception ends (e.g. 'no longer needed, letter "
                             "from parent')")
        with self.ctx.action(actor, "exception.revoke", roles=OFFICE) as act:
            row = act.session.get(PupilException, exception_id)
            if row is None:
                raise NotFound(f"no exception {exception_id}")
            if row.revoked_at is not None:
                raise NotAllowed("this exception has already been revoked")
            row.revoked_at = self.ctx.clock.now()
            pupil = act.session.get(Pupil, row.pupil_id)
            assert pupil is not None
            act.audit("exception", row.id, reason=reason, pupil_ref=pupil.reference)
            act.touch(pupil.site_id)

    def exceptions(self, due_within_days: int | None = None, current_only: bool = False
                   ) -> list[ExceptionView]:
        """Exceptions not revoked; with ``due_within_days``, only those due for review by
        then; with ``current_only``, only those not yet ended (today's and future ones)."""
        today = self.ctx.clock.now().date()
        with self.ctx.store.read() as s:
            rows = s.execute(select(PupilException, Pupil).join(Pupil).where(
                PupilException.revoked_at.is_(None)).order_by(PupilException.id)).all()
            views = [self._view(r, p.reference,
                                pupil_label(p.first_name, p.last_name, p.form))
                     for r, p in rows]
        if current_only:
            views = [v for v in views if v.ends is None or v.ends >= today]
        if due_within_days is not None:
            limit = today + timedelta(days=due_within_days)
            views = [v for v in views if (v.review_date or v.ends or limit) <= limit]
        return views

    def record_eligibility(self, actor: str, pupil_ref: str, signed_on: date, signed_by: str,
                           expires: date | None = None, site: str | None = None) -> int:
        """Record a signed parent agreement allowing the pupil to bring a phone."""
        with self.ctx.action(actor, "eligibility.record", roles=OFFICE) as act:
            pupil = self.ctx.pupil(act.session, pupil_ref, site)
            row = EligibilityAgreement(pupil_id=pupil.id, signed_on=signed_on,
                                       signed_by=signed_by, expires=expires,
                                       recorded_by_id=act.staff.id,
                                       recorded_at=self.ctx.clock.now())
            act.session.add(row)
            act.session.flush()
            act.audit("eligibility", row.id, pupil_ref=pupil.reference,
                      detail={"signed_on": signed_on, "signed_by": signed_by,
                              "expires": expires})
            act.touch(pupil.site_id)
            return row.id

    def revoke_eligibility(self, actor: str, agreement_id: int, reason: str) -> None:
        """Withdraw an eligibility agreement."""
        with self.ctx.action(actor, "eligibility.revoke", roles=LEADERSHIP | OFFICE) as act:
            row = act.session.get(EligibilityAgreement, agreement_id)
            if row is None:
                raise NotFound(f"no eligibility agreement {agreement_id}")
            row.revoked_at = self.ctx.clock.now()
            pupil = act.session.get(Pupil, row.pupil_id)
            assert pupil is not None
            act.audit("eligibility", row.id, reason=reason, pupil_ref=pupil.reference)
            act.touch(pupil.site_id)

    def get(self, exception_id: int) -> ExceptionView:
        """One exception (for the revoke confirmation)."""
        with self.ctx.store.read() as s:
            row = s.get(PupilException, exception_id)
            pupil = s.get(Pupil, row.pupil_id) if row is not None else None
            if row is None or pupil is None:
                raise NotFound(f"no exception {exception_id}: it may have been removed")
            return self._view(row, pupil.reference,
                              pupil_label(pupil.first_name, pupil.last_name, pupil.form))

    def _view(self, r: PupilException, ref: str, label: str = "") -> ExceptionView:
        today = self.ctx.clock.now().date()
        active = r.revoked_at is None and r.starts <= today and (r.ends is None
                                                                or r.ends >= today)
        due = r.review_date is not None and r.review_date <= today + timedelta(days=14)
        return ExceptionView(r.id, ref, r.category, r.reason, r.approved_by, r.agreement_date,
                             r.starts, r.ends, r.review_date, r.allows, r.access_times, active,
                             due, label or ref)
