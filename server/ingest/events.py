"""Applying kiosk events to the school's records, each exactly once.

Idempotence comes from the unique (kiosk, seq) on ``events``: a batch first asks which of its
sequences are already stored and skips those (they are acknowledged again, not reapplied).
Inserts use Core ``executemany`` because the morning rush is thousands of events a minute.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server import audit
from server.ingest.kiosks import KnownKiosk
from server.models import (
    Alarm,
    Confiscation,
    Deposit,
    EarlyRelease,
    Event,
    Kiosk,
    Pupil,
    Site,
    Slot,
)
from server.models.records import HELD, RELEASED_TO_PUPIL

log = logging.getLogger("lockers.server.ingest")


@dataclass
class BatchResult:
    """What a batch did: sequences to acknowledge per kiosk, counts, sites whose policy moved."""

    acks: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    policy_sites: set[int] = field(default_factory=set)


def apply_events(session: Session, now: datetime,
                 items: list[tuple[KnownKiosk, m.EventBase]], result: BatchResult) -> None:
    """Store and apply ``items`` inside the caller's transaction; fill ``result``."""
    by_kiosk: dict[int, list[tuple[KnownKiosk, m.EventBase]]] = defaultdict(list)
    for kiosk, ev in items:
        by_kiosk[kiosk.id].append((kiosk, ev))
        result.acks[(kiosk.site_code, kiosk.code)].append(ev.seq)
    new: list[tuple[KnownKiosk, m.EventBase]] = []
    for kiosk_id, evs in by_kiosk.items():
        seqs = {ev.seq for _, ev in evs}
        stored = set(session.scalars(select(Event.seq).where(Event.kiosk_id == kiosk_id,
                                                             Event.seq.in_(seqs))))
        seen: set[int] = set()
        for kiosk, ev in evs:
            if ev.seq in stored or ev.seq in seen:
                result.duplicates += 1
                continue
            seen.add(ev.seq)
            new.append((kiosk, ev))
        if seen:
            _check_sequence(session, now, evs[0][0], sorted(seen), result)
    if not new:
        return
    rows, entries = [], []
    for kiosk, ev in new:
        payload = ev.model_dump(mode="json")
        rows.append({"kiosk_id": kiosk.id, "seq": ev.seq, "type": payload["type"], "at": ev.at,
                     "received_at": now, "pupil_ref": payload.get("pupil_ref"),
                     "outcome": payload.get("outcome"), "slot": payload.get("slot"),
                     "payload": payload})
        entries.append(audit.Entry(
            actor=f"kiosk:{kiosk.site_code}/{kiosk.code}", action=f"event.{payload['type']}",
            entity="event", entity_id=f"{kiosk.site_code}/{kiosk.code}#{ev.seq}",
            pupil_ref=payload.get("pupil_ref"), detail=payload))
    session.execute(insert(Event), rows)
    _apply_effects(session, now, new, result)
    audit.append(session, now, entries)
    result.applied += len(new)


def _check_sequence(session: Session, now: datetime, kiosk: KnownKiosk, seqs: list[int],
                    result: BatchResult) -> None:
    """Raise a sequence_gap alarm for missing numbers; clear gaps that late events filled."""
    last = session.scalar(select(Kiosk.last_seq).where(Kiosk.id == kiosk.id)) or 0
    high = last
    for seq in seqs:
        if seq > high + 1:
            result.gaps += 1
            session.add(Alarm(kiosk_id=kiosk.id, kind="sequence_gap", raised_at=now,
                              gap_from=high + 1, gap_to=seq - 1,
                              detail=f"events {high + 1}..{seq - 1} not received yet"))
            log.warning("event=sequence_gap site=%s kiosk=%s missing=%s..%s", kiosk.site_code,
                        kiosk.code, high + 1, seq - 1)
        high = max(high, seq)
    if high != last:
        session.execute(update(Kiosk).where(Kiosk.id == kiosk.id).values(last_seq=high))
    if seqs[0] <= last:  # something arrived late: it may close an open gap
        session.flush()
        for alarm in session.scalars(select(Alarm).where(
                Alarm.kiosk_id == kiosk.id, Alarm.kind == "sequence_gap",
                Alarm.cleared_at.is_(None), Alarm.gap_from <= seqs[-1])):
            late = [s for s in seqs if alarm.gap_from <= s <= alarm.gap_to]
            stored = session.scalar(select(func.count()).where(
                Event.kiosk_id == kiosk.id, Event.seq.between(alarm.gap_from, alarm.gap_to)))
            if late and (stored or 0) + len(late) >= alarm.gap_to - alarm.gap_from + 1:
                alarm.cleared_at = now
                log.info("event=sequence_gap_filled kiosk=%s from=%s to=%s", kiosk.code,
                         alarm.gap_from, alarm.gap_to)


def _apply_effects(session: Session, now: datetime,
                   new: list[tuple[KnownKiosk, m.EventBase]], result: BatchResult) -> None:
    refs = {(k.site_id, ev.pupil_ref) for k, ev in new if getattr(ev, "pupil_ref", None)}
    pupil_ids = _pupil_ids(session, refs)
    deposits = []
    for kiosk, ev in new:
        if isinstance(ev, m.DepositEvent):
            # Settings are read per batch (not cached) so a changed late_after applies at once.
            site = session.get(Site, kiosk.site_id)
            assert site is not None
            local = ev.at.astimezone(ZoneInfo(site.timezone))
            deposits.append({
                "site_id": kiosk.site_id, "kiosk_id": kiosk.id, "slot": ev.slot,
                "pupil_id": pupil_ids.get((kiosk.site_id, ev.pupil_ref)),
                "pupil_ref": ev.pupil_ref, "day": local.date(), "deposited_at": ev.at,
                "late": bool(site.late_after and local.time() > site.late_after)})
        elif isinstance(ev, m.CollectionEvent):
            _collected(session, kiosk, ev, pupil_ids, result)
        elif isinstance(ev, m.SlotStateEvent):
            _slot(session, kiosk, ev.slot, ev.at, state=ev.state.value, pupil_ref=ev.pupil_ref)
        elif isinstance(ev, m.DoorEvent):
            _slot(session, kiosk, ev.slot, ev.at, door_open=ev.door == "opened")
        elif isinstance(ev, m.AlarmEvent):
            _alarm(session, kiosk, ev)
        elif isinstance(ev, m.TapEvent) and ev.outcome == m.TapOutcome.EARLY_RELEASE_OPENED:
            pid = pupil_ids.get((kiosk.site_id, ev.pupil_ref))
            session.execute(update(EarlyRelease).where(
                EarlyRelease.pupil_id == pid, EarlyRelease.used_at.is_(None),
                EarlyRelease.cancelled_at.is_(None)).values(used_at=ev.at))
            result.policy_sites.add(kiosk.site_id)
    if deposits:
        session.execute(insert(Deposit), deposits)


def _pupil_ids(session: Session, refs: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    if not refs:
        return {}
    sites = {s for s, _ in refs}
    rows = session.execute(select(Pupil.site_id, Pupil.reference, Pupil.id).where(
        Pupil.site_id.in_(sites), Pupil.reference.in_({r for _, r in refs})))
    return {(s, r): i for s, r, i in rows}


def _collected(session: Session, kiosk: KnownKiosk, ev: m.CollectionEvent,
               pupil_ids: dict[tuple[int, str], int], result: BatchResult) -> None:
    session.execute(update(Deposit).where(
        Deposit.kiosk_id == kiosk.id, Deposit.slot == ev.slot, Deposit.collected_at.is_(None)
    ).values(collected_at=ev.at, collected_via=ev.via))
    if ev.via in ("pupil", "early_release"):
        # A pupil-end-of-day confiscation ends when the pupil takes the device home.
        moved = session.execute(update(Confiscation).where(
            Confiscation.kiosk_id == kiosk.id, Confiscation.slot == ev.slot,
            Confiscation.state == HELD, Confiscation.release_mode == "pupil_end_of_day"
        ).values(state=RELEASED_TO_PUPIL, closed_at=ev.at))
        if moved.rowcount:
            result.policy_sites.add(kiosk.site_id)


def _slot(session: Session, kiosk: KnownKiosk, number: int, at: datetime, **values: object
          ) -> None:
    done = session.execute(update(Slot).where(Slot.kiosk_id == kiosk.id, Slot.number == number)
                           .values(updated_at=at, **values))
    if not done.rowcount:
        session.execute(insert(Slot).values(kiosk_id=kiosk.id, number=number, updated_at=at,
                                            **values))


def _alarm(session: Session, kiosk: KnownKiosk, ev: m.AlarmEvent) -> None:
    if ev.state == "raised":
        session.add(Alarm(kiosk_id=kiosk.id, kind=ev.alarm.value, slot=ev.slot,
                          detail=ev.detail or ev.reader, raised_at=ev.at))
    else:
        session.execute(update(Alarm).where(and_(
            Alarm.kiosk_id == kiosk.id, Alarm.kind == ev.alarm.value, Alarm.slot == ev.slot
            if ev.slot is not None else Alarm.slot.is_(None), Alarm.cleared_at.is_(None))
        ).values(cleared_at=ev.at))
