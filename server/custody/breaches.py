"""A confiscation is a breach of the school's rules: counted per term, deciding who may
collect the device (DOMAIN rules 4, 5, 8). Shared by the office's forms and by a kiosk's
staff-confiscated hand-in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.custody.held import PARENT_ONLY, PUPIL_END_OF_DAY
from server.models import Confiscation, Site
from server.policy.calendar import local_today, term_containing


def new_confiscation(session: Session, site: Site, pupil_id: int, staff_id: int, reason: str,
                     now: datetime, *, serious: bool = False, second_device: bool = False
                     ) -> tuple[Confiscation, int]:
    """Add a confiscation row; return it and the pupil's breach count this term.

    Release is to the pupil at end of day, unless the misuse is ``serious`` or this is the
    pupil's Nth breach this term (N: the site's setting): then parent only.
    """
    today = local_today(site, now)
    start, end = term_containing(session, site, today)
    earlier = session.scalar(select(func.count()).select_from(Confiscation).where(
        Confiscation.pupil_id == pupil_id, Confiscation.day >= start,
        Confiscation.day <= end)) or 0
    breaches = earlier + 1
    mode = PARENT_ONLY if serious or breaches >= site.breaches_before_parent_collection \
        else PUPIL_END_OF_DAY
    conf = Confiscation(site_id=site.id, pupil_id=pupil_id, reason=reason,
                        second_device=second_device, staff_id=staff_id, confiscated_at=now,
                        day=today, release_mode=mode)
    session.add(conf)
    session.flush()
    return conf, breaches
