"""What each kind of kiosk event changes in the records: deposits, collections, the slot
mirror, alarms, spent early releases. Called by :func:`server.ingest.events.apply_events` with
the batch's new events in order.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server import audit
from server.bulk import insert_rows
from server.ingest import custody
from server.ingest.batch import BatchResult
from server.ingest.kiosks import KnownKiosk
from server.ingest.slot_mirror import write_slots
from server.models import Alarm, Deposit, EarlyRelease, Pupil, Site


def apply_effects(session: Session, now: datetime,
                  new: list[tuple[KnownKiosk, m.EventBase]], result: BatchResult,
                  entries: list[audit.Entry]) -> None:
    """Apply ``new`` events in order; custody moves append their audit entries to
    ``entries`` (committed with the batch)."""
    refs = {(k.site_id, ev.pupil_ref) for k, ev in new if getattr(ev, "pupil_ref", None)}
    pupil_ids = _pupil_ids(session, refs)
    deposits: list[dict[str, object]] = []
    slots: dict[tuple[int, int], dict[str, object]] = {}  # only each slot's last state matters
    for kiosk, ev in new:
        if isinstance(ev, m.DepositEvent):
            deposits.append(_deposit(session, now, kiosk, ev,
                                     pupil_ids.get((kiosk.site_id, ev.pupil_ref)),
                                     entries, result))
        elif isinstance(ev, m.CollectionEvent):
            # A deposit earlier in this batch must exist before its collection.
            _insert_deposits(session, deposits)
            custody.collected(session, kiosk, ev, entries, result)
        elif isinstance(ev, (m.SlotStateEvent, m.DoorEvent)):
            _mirror_slot(slots, kiosk, ev)
        elif isinstance(ev, m.AlarmEvent):
            _alarm(session, kiosk, ev)
        elif isinstance(ev, m.TapEvent) and ev.outcome == m.TapOutcome.EARLY_RELEASE_OPENED:
            _early_release_used(session, kiosk, ev,
                                pupil_ids.get((kiosk.site_id, ev.pupil_ref)), result)
    _insert_deposits(session, deposits)
    if slots:
        write_slots(session, slots)


def _deposit(session: Session, now: datetime, kiosk: KnownKiosk, ev: m.DepositEvent,
             pid: int | None, entries: list[audit.Entry], result: BatchResult,
             ) -> dict[str, object]:
    """Open the deposit's custody record; return its ``deposits`` row (inserted later)."""
    # Settings are read per batch (not cached) so a changed late_after applies at once.
    site = session.get(Site, kiosk.site_id)
    assert site is not None
    local = ev.at.astimezone(ZoneInfo(site.timezone))
    cid = custody.deposited(session, now, kiosk, ev, pid, local.date(), entries, result)
    return {"site_id": kiosk.site_id, "kiosk_id": kiosk.id, "slot": ev.slot,
            "pupil_id": pid, "pupil_ref": ev.pupil_ref, "day": local.date(),
            "deposited_at": ev.at, "custody_id": cid,  # None: nothing went in
            "late": bool(site.late_after and local.time() > site.late_after)}


def _insert_deposits(session: Session, deposits: list[dict[str, object]]) -> None:
    """Insert the deposit rows gathered so far and empty ``deposits``."""
    if deposits:
        insert_rows(session, Deposit.__table__, deposits)
        deposits.clear()


def _mirror_slot(slots: dict[tuple[int, int], dict[str, object]], kiosk: KnownKiosk,
                 ev: m.SlotStateEvent | m.DoorEvent) -> None:
    """Fold a slot's state or door change into its mirrored row."""
    if isinstance(ev, m.SlotStateEvent):
        slots.setdefault((kiosk.id, ev.slot), {}).update(
            state=ev.state.value, pupil_ref=ev.pupil_ref, custody_id=ev.custody_id,
            updated_at=ev.at)
    else:
        slots.setdefault((kiosk.id, ev.slot), {}).update(door_open=ev.door == "opened",
                                                         updated_at=ev.at)


def _early_release_used(session: Session, kiosk: KnownKiosk, ev: m.TapEvent, pid: int | None,
                        result: BatchResult) -> None:
    """An early release opened a slot: it is spent, and the site's policy view changes."""
    session.execute(update(EarlyRelease).where(
        EarlyRelease.pupil_id == pid, EarlyRelease.used_at.is_(None),
        EarlyRelease.cancelled_at.is_(None)).values(used_at=ev.at))
    result.policy_sites.add(kiosk.site_id)


def _pupil_ids(session: Session, refs: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    if not refs:
        return {}
    sites = {s for s, _ in refs}
    rows = session.execute(select(Pupil.site_id, Pupil.reference, Pupil.id).where(
        Pupil.site_id.in_(sites), Pupil.reference.in_({r for _, r in refs})))
    return {(s, r): i for s, r, i in rows}


def _alarm(session: Session, kiosk: KnownKiosk, ev: m.AlarmEvent) -> None:
    if ev.state == "raised":
        session.add(Alarm(kiosk_id=kiosk.id, kind=ev.alarm.value, slot=ev.slot,
                          detail=ev.detail or ev.reader, raised_at=ev.at))
    else:
        session.execute(update(Alarm).where(and_(
            Alarm.kiosk_id == kiosk.id, Alarm.kind == ev.alarm.value, Alarm.slot == ev.slot
            if ev.slot is not None else Alarm.slot.is_(None), Alarm.cleared_at.is_(None))
        ).values(cleared_at=ev.at))
