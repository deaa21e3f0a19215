"""Applying kiosk events to the school's records, each exactly once.

Idempotence comes from the unique (kiosk, seq) on ``events``: a batch first asks which of its
sequences are already stored and skips those (they are acknowledged again, not reapplied).
Inserts use Core ``executemany`` because the morning rush is thousands of events a minute.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server import audit
from server.bulk import insert_rows
from server.ingest.batch import BatchResult
from server.ingest.effects import apply_effects
from server.ingest.guards import flag_implausible_times
from server.ingest.kiosks import KnownKiosk
from server.models import Alarm, Event, Kiosk

__all__ = ["BatchResult", "apply_events"]

log = logging.getLogger("lockers.server.ingest")


def apply_events(session: Session, now: datetime,
                 items: list[tuple[KnownKiosk, m.EventBase, bytes]], result: BatchResult) -> None:
    """Store and apply ``items`` (kiosk, event, raw payload) inside the caller's transaction.

    Each event's audit entry carries the sha256 of the exact bytes the kiosk sent, so the chain
    vouches for the stored payload without copying it (the morning rush stays cheap).
    """
    by_kiosk: dict[int, list[tuple[KnownKiosk, m.EventBase]]] = defaultdict(list)
    raw = {id(ev): payload for _, ev, payload in items}
    for kiosk, ev, _ in items:
        by_kiosk[kiosk.id].append((kiosk, ev))
        result.acks[(kiosk.site_code, kiosk.code)].append(ev.seq)
    new: list[tuple[KnownKiosk, m.EventBase]] = []
    # One query for what is already stored, one for each kiosk's high-water mark.
    pairs = [(kid, e.seq) for kid, evs in by_kiosk.items() for _, e in evs]
    stored = {tuple(r) for r in session.execute(
        select(Event.kiosk_id, Event.seq).where(tuple_(Event.kiosk_id, Event.seq).in_(pairs)))}
    last_seqs = {k: v for k, v in session.execute(select(Kiosk.id, Kiosk.last_seq).where(
        Kiosk.id.in_(by_kiosk)))}
    for kiosk_id, evs in by_kiosk.items():
        seen: set[int] = set()
        for kiosk, ev in evs:
            if (kiosk_id, ev.seq) in stored or ev.seq in seen:
                result.duplicates += 1
                continue
            seen.add(ev.seq)
            new.append((kiosk, ev))
        if seen:
            _check_sequence(session, now, evs[0][0], sorted(seen), last_seqs.get(kiosk_id, 0),
                            result)
    if result.last_seqs:
        table = Kiosk.__table__
        session.connection().execute(
            table.update().where(table.c.id == bindparam("k")).values(last_seq=bindparam("s")),
            [{"k": k, "s": v} for k, v in result.last_seqs.items()])
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
            actor=audit.kiosk_actor(kiosk.site_code, kiosk.code), action=f"event.{payload['type']}",
            entity="event", entity_id=f"{kiosk.site_code}/{kiosk.code}#{ev.seq}",
            pupil_ref=payload.get("pupil_ref"),
            detail={"payload_sha256": hashlib.sha256(raw[id(ev)]).hexdigest()}))
    # Compared with the kiosk's previous stored event, so before this batch's rows go in.
    result.implausible_times += flag_implausible_times(session, now, new)
    insert_rows(session, Event.__table__, rows)  # the ORM bulk path costs 5x more here
    apply_effects(session, now, new, result)
    audit.append(session, now, entries, plain=True)
    result.applied += len(new)


def _check_sequence(session: Session, now: datetime, kiosk: KnownKiosk, seqs: list[int],
                    last: int, result: BatchResult) -> None:
    """Raise a sequence_gap alarm for missing numbers; clear gaps that late events filled."""
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
        result.last_seqs[kiosk.id] = high
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
