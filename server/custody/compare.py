"""Does the server's custody picture match a kiosk's slots, record by record?

The simulator's report and the property test call this at close (and after every step): any
difference is a device the two ends disagree about, which is exactly what must never happen
once the kiosk is online. An empty list means they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server.custody.picture import SitePicture
from server.errors import NotFound
from server.models import Kiosk, Site

S = m.SlotState
HAS_DEVICE = frozenset({S.OCCUPIED, S.HELD, S.OPENING_FOR_RELEASE, S.OPEN_FOR_RELEASE})
NO_DEVICE = frozenset({S.FREE, S.OPENING_FOR_DEPOSIT, S.OPEN_FOR_DEPOSIT})


@dataclass(frozen=True)
class Difference:
    """One slot the server and the kiosk disagree about."""

    slot: int
    problem: str  # missing_at_kiosk | unknown_to_server | other_device | other_pupil | held
    server_custody_id: str | None
    kiosk_custody_id: str | None
    server_pupil_ref: str | None
    kiosk_pupil_ref: str | None

    def __str__(self) -> str:
        return (f"slot {self.slot}: {self.problem.replace('_', ' ')} (server "
                f"{self.server_custody_id}/{self.server_pupil_ref}, kiosk "
                f"{self.kiosk_custody_id}/{self.kiosk_pupil_ref})")


def compare(picture: list[m.SlotCustody], slots: list[m.SlotView]) -> list[Difference]:
    """Differences between the server's ``picture`` of one kiosk and that kiosk's ``slots``.

    A slot in fault is not compared (its contents are unknown until staff clear it); a
    kiosk that sends no custody ids (an old kiosk) is compared by pupil only.
    """
    server = {c.slot: c for c in picture}
    kiosk = {v.slot: v for v in slots}
    out: list[Difference] = []
    for number in sorted(set(server) | set(kiosk)):
        mine, theirs = server.get(number), kiosk.get(number)
        if theirs is not None and theirs.state is S.FAULT:
            continue
        has = theirs is not None and theirs.state in HAS_DEVICE

        def diff(problem: str, mine: m.SlotCustody | None = mine,
                 theirs: m.SlotView | None = theirs, number: int = number) -> Difference:
            return Difference(number, problem, mine.custody_id if mine else None,
                              theirs.custody_id if theirs else None,
                              mine.pupil_ref if mine else None,
                              theirs.pupil_ref if theirs else None)

        if mine is None:
            if has:
                out.append(diff("unknown_to_server"))
            continue
        if not has:
            out.append(diff("missing_at_kiosk"))
        elif theirs is not None and theirs.custody_id and theirs.custody_id != mine.custody_id:
            out.append(diff("other_device"))
        elif theirs is not None and theirs.pupil_ref != mine.pupil_ref:
            out.append(diff("other_pupil"))
        elif theirs is not None and theirs.state in (S.OCCUPIED, S.HELD) \
                and (theirs.state is S.HELD) != mine.held:
            out.append(diff("held"))
    return out


def compare_with_kiosk(session: Session, site_code: str, kiosk_code: str,
                       snapshot: m.SlotSnapshot | list[m.SlotView], now: datetime
                       ) -> list[Difference]:
    """Differences between the server's custody records for a kiosk and its slot snapshot
    (or its list of slots), as of ``now``."""
    row = session.execute(select(Kiosk, Site).join(Site, Kiosk.site_id == Site.id).where(
        Site.code == site_code, Kiosk.code == kiosk_code)).first()
    if row is None:
        raise NotFound(f"kiosk {site_code}/{kiosk_code} is not set up on the server")
    kiosk, site = row
    slots = snapshot.slots if isinstance(snapshot, m.SlotSnapshot) else snapshot
    return compare(SitePicture.of(session, site, now).slots(kiosk.id), slots)


__all__ = ["Difference", "compare", "compare_with_kiosk"]
