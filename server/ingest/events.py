"""Applying kiosk events to the school's records, each exactly once.

Idempotence comes from the unique (kiosk, epoch, seq) on ``events``: a batch first asks which
of its sequences are already stored and skips those (they are acknowledged again, not
reapplied). The epoch names one boot of the kiosk's store: a kiosk that lost its state file
starts a new one at sequence 1, which is applied (not dropped as duplicates) with an alarm.
Inserts use Core ``executemany`` because the morning rush is thousands of events a minute.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.orm import Session

from lockers.wire import messages as m
from server import audit
from server.bulk import insert_rows
from server.ingest import pending
from server.ingest.batch import BatchResult
from server.ingest.effects import apply_effects
from server.ingest.guards import flag_implausible_times
from server.ingest.kiosks import KnownKiosk
from server.models import Alarm, Event, Kiosk, PendingEvent

__all__ = ["BatchResult", "apply_events"]

log = logging.getLogger("lockers.server.ingest")


def apply_events(session: Session, now: datetime,
                 items: list[tuple[KnownKiosk, m.EventBase, bytes]], result: BatchResult,
                 refused: list[tuple[KnownKiosk, m.EventBase]] | None = None) -> None:
    """Store and apply ``items`` (kiosk, event, raw payload) inside the caller's transaction.

    Each event's audit entry carries the sha256 of the exact bytes the kiosk sent, so the chain
    vouches for the stored payload without copying it (the morning rush stays cheap).
    ``refused`` events (the contract refuses them) are neither stored nor acknowledged, but
    they take their place in their kiosk's sequence, so later events need not wait for them.
    """
    refused_keys = {(k.id, e.epoch or "", e.seq) for k, e in refused or []}
    # Events parked earlier for these kiosks take their place in the order again.
    everything, parked = pending.with_parked(session, items)
    by_kiosk = _group_by_kiosk(everything, refused or [])
    stored, marks = _stored_and_marks(session, by_kiosk)
    gaps = _open_gaps(session, by_kiosk)
    new: list[tuple[KnownKiosk, m.EventBase]] = []
    for kiosk_id, evs in by_kiosk.items():
        fresh, by_epoch = _sort_out_duplicates(kiosk_id, evs, stored, refused_keys, result)
        new.extend(_follow_sequence(session, now, evs[0][0], marks.get(kiosk_id, ("", 0)),
                                    by_epoch, fresh, result, gaps[kiosk_id]))
    # What waits for an earlier event is parked, durably: acknowledged like what is stored.
    held = pending.settle(session, now, everything, parked, result.held - refused_keys)
    _acknowledge(items, new, stored | held, result)
    _save_marks(session, result)
    if new:
        _store_and_apply(session, now, new,
                         {id(ev): payload for _, ev, payload in everything}, result)


def _group_by_kiosk(items: list[tuple[KnownKiosk, m.EventBase, bytes]],
                    refused: list[tuple[KnownKiosk, m.EventBase]],
                    ) -> dict[int, list[tuple[KnownKiosk, m.EventBase]]]:
    """Each kiosk's events, refused ones included (they hold their place in the sequence)."""
    by_kiosk: dict[int, list[tuple[KnownKiosk, m.EventBase]]] = defaultdict(list)
    for kiosk, ev, _ in items:
        by_kiosk[kiosk.id].append((kiosk, ev))
    for kiosk, ev in refused:
        by_kiosk[kiosk.id].append((kiosk, ev))
    return by_kiosk


def _stored_and_marks(session: Session,
                      by_kiosk: dict[int, list[tuple[KnownKiosk, m.EventBase]]],
                      ) -> tuple[set[tuple[int, str, int]], dict[int, tuple[str, int]]]:
    """The batch's (kiosk, epoch, seq) already stored, and each kiosk's epoch and high-water
    mark: one query each, whatever the batch's size."""
    triples = [(kid, e.epoch or "", e.seq) for kid, evs in by_kiosk.items() for _, e in evs]
    stored = {tuple(r) for r in session.execute(
        select(Event.kiosk_id, Event.epoch, Event.seq).where(
            tuple_(Event.kiosk_id, Event.epoch, Event.seq).in_(triples)))}
    marks = {k: (ep, last) for k, ep, last in session.execute(
        select(Kiosk.id, Kiosk.epoch, Kiosk.last_seq).where(Kiosk.id.in_(by_kiosk)))}
    return stored, marks  # type: ignore[return-value]


def _open_gaps(session: Session, by_kiosk: dict[int, list[tuple[KnownKiosk, m.EventBase]]],
               ) -> dict[int, list[Alarm]]:
    """Each kiosk's open sequence_gap alarms, in one query for the whole batch: asking per
    kiosk made a batch of 200 kiosks (a 50-school trust) cost hundreds of queries. The
    lists are kept up to date as the batch raises and clears gaps (see :func:`_gap_from`)."""
    gaps: dict[int, list[Alarm]] = {kiosk_id: [] for kiosk_id in by_kiosk}
    if gaps:
        for alarm in session.scalars(select(Alarm).where(
                Alarm.kiosk_id.in_(sorted(gaps)), Alarm.kind == "sequence_gap",
                Alarm.cleared_at.is_(None)).order_by(Alarm.id)):
            gaps[alarm.kiosk_id].append(alarm)
    return gaps


def _gap_from(gaps: list[Alarm], first: int) -> list[Alarm]:
    """The kiosk's open gap alarms starting at sequence ``first``."""
    return [a for a in gaps if a.gap_from == first and a.cleared_at is None]


def _raise_gap(session: Session, gaps: list[Alarm], alarm: Alarm) -> None:
    """Add a sequence_gap alarm, to the session and to the kiosk's open ones."""
    session.add(alarm)
    gaps.append(alarm)


def _sort_out_duplicates(kiosk_id: int, evs: list[tuple[KnownKiosk, m.EventBase]],
                         stored: set[tuple[int, str, int]],
                         refused_keys: set[tuple[int, str, int]], result: BatchResult,
                         ) -> tuple[list[tuple[KnownKiosk, m.EventBase]], dict[str, list[int]]]:
    """One kiosk's events not seen before (refused ones left out) and the new sequence
    numbers of each epoch (refused ones kept: they fill their place)."""
    fresh: list[tuple[KnownKiosk, m.EventBase]] = []
    by_epoch: dict[str, list[int]] = defaultdict(list)
    for kiosk, ev in evs:
        ep = ev.epoch or ""
        if (kiosk_id, ep, ev.seq) in stored or ev.seq in by_epoch[ep]:
            result.duplicates += 1
            continue
        by_epoch[ep].append(ev.seq)
        if (kiosk_id, ep, ev.seq) not in refused_keys:
            fresh.append((kiosk, ev))
    return fresh, by_epoch


def _follow_sequence(session: Session, now: datetime, kiosk: KnownKiosk,
                     mark: tuple[str, int], by_epoch: dict[str, list[int]],
                     fresh: list[tuple[KnownKiosk, m.EventBase]], result: BatchResult,
                     gaps: list[Alarm]) -> list[tuple[KnownKiosk, m.EventBase]]:
    """Move one kiosk's epoch and high-water mark over its new events; return those of
    ``fresh`` to apply now (the ones waiting for a missing earlier event are left out).
    ``gaps``: the kiosk's open sequence_gap alarms (kept up to date here)."""
    epoch, last = mark
    for ep, seqs in by_epoch.items():
        if not seqs:
            continue
        seqs.sort()
        if ep != epoch:
            switched = _switch_epoch(session, now, kiosk, (epoch, last), ep, seqs[0], result,
                                     gaps)
            if switched is None:
                continue  # late events of an earlier store: applied, the mark stays
            epoch, last = switched
        waiting = _hold_back(session, now, kiosk, epoch, seqs, last, gaps)
        if waiting:  # not applied, not acknowledged: the kiosk offers them again
            fresh = [(k, e) for k, e in fresh if not ((e.epoch or "") == ep and e.seq in waiting)]
            result.held_back += len(waiting)
            result.held.update((kiosk.id, ep, q) for q in waiting)
            seqs = [q for q in seqs if q not in waiting]
            if not seqs:
                continue
        high = _check_sequence(session, now, kiosk, epoch, seqs, last, result, gaps)
        if high != last:
            last = high
            result.last_seqs[kiosk.id] = (epoch, last)
    return fresh


def _switch_epoch(session: Session, now: datetime, kiosk: KnownKiosk, mark: tuple[str, int],
                  new_epoch: str, first_seq: int, result: BatchResult, gaps: list[Alarm],
                  ) -> tuple[str, int] | None:
    """The kiosk's mark once events of ``new_epoch`` arrive, or None when they are late
    events of an earlier store (the mark stays)."""
    epoch, last = mark
    verdict = _epoch_change(session, now, kiosk, epoch, last, new_epoch, first_seq, gaps)
    if verdict == "old":
        return None
    switched = (new_epoch, last if verdict == "continues" else 0)
    result.last_seqs[kiosk.id] = switched
    if verdict == "lost":
        result.state_lost.add(kiosk.id)
    return switched


def _acknowledge(items: list[tuple[KnownKiosk, m.EventBase, bytes]],
                 new: list[tuple[KnownKiosk, m.EventBase]],
                 stored: set[tuple[int, str, int]], result: BatchResult) -> None:
    """Acknowledge what is now stored: applied now or before."""
    applying = {(k.id, e.epoch or "", e.seq) for k, e in new}
    for kiosk, ev, _ in items:
        key = (kiosk.id, ev.epoch or "", ev.seq)
        if key in applying or key in stored:
            result.acks[(kiosk.site_code, kiosk.code, ev.epoch)].append(ev.seq)


def _save_marks(session: Session, result: BatchResult) -> None:
    """Write each moved kiosk's epoch and high-water mark in one statement."""
    if not result.last_seqs:
        return
    table = Kiosk.__table__
    session.connection().execute(
        table.update().where(table.c.id == bindparam("k")).values(
            last_seq=bindparam("s"), epoch=bindparam("e")),
        [{"k": k, "e": ep, "s": v} for k, (ep, v) in result.last_seqs.items()])


def _store_and_apply(session: Session, now: datetime, new: list[tuple[KnownKiosk, m.EventBase]],
                     raw: dict[int, bytes], result: BatchResult) -> None:
    """Insert the new events, apply their custody effects and audit them all at once."""
    new.sort(key=lambda ke: (ke[0].id, ke[1].epoch or "", ke[1].seq))  # each kiosk in its order
    result.applied_events.extend(new)
    rows, entries = [], []
    for kiosk, ev in new:
        payload = ev.model_dump(mode="json")
        rows.append({"kiosk_id": kiosk.id, "epoch": ev.epoch or "", "seq": ev.seq,
                     "type": payload["type"], "at": ev.at,
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
    moves: list[audit.Entry] = []
    apply_effects(session, now, new, result, moves)
    # Each school's events and custody moves go to its own chain (details are plain JSON
    # values): one head lock per school, so processes busy with other schools do not wait.
    by_chain: dict[str, list[audit.Entry]] = defaultdict(list)
    for entry in entries + moves:
        by_chain[_school_of(entry)].append(entry)
    audit.append_by_chain(session, now, by_chain, plain=True)
    result.applied += len(new)


def _school_of(entry: audit.Entry) -> str:
    """The school (site code) whose chain an ingest entry belongs to: events and custody
    moves of a kiosk name it as their actor, ``kiosk:<site>/<kiosk>``."""
    if entry.actor.startswith("kiosk:"):
        return entry.actor[len("kiosk:"):].split("/", 1)[0]
    return ""


def _epoch_change(session: Session, now: datetime, kiosk: KnownKiosk, epoch: str, last: int,
                  new_epoch: str, first_seq: int, gaps: list[Alarm]) -> str:
    """What events of ``new_epoch`` mean when the kiosk's store was ``epoch``: "old" (late
    events of an earlier store), "continues" (an old kiosk upgraded: it names its store for
    the first time and its sequence carries on) or "lost" (the kiosk lost its state file and
    restarted its sequence: alarm, and its custody picture goes out at once)."""
    seen = session.scalar(select(Event.id).where(Event.kiosk_id == kiosk.id,
                                                 Event.epoch == new_epoch).limit(1))
    # Parked events of a store name it too: they were parked while it was the kiosk's. Once
    # the kiosk has restarted its sequence, what they wait for can never come: they are
    # applied at once as late events of that store (the server holds their only copy).
    if seen is None:
        seen = session.scalar(select(PendingEvent.id).where(
            PendingEvent.kiosk_id == kiosk.id, PendingEvent.epoch == new_epoch).limit(1))
    if seen is not None:
        return "old"
    if epoch == "" and (last == 0 or first_seq > last):
        return "continues"
    # Gaps of the lost store can never be filled now; the state-lost alarm says why.
    session.execute(update(Alarm).where(Alarm.kiosk_id == kiosk.id,
                                        Alarm.kind == "sequence_gap",
                                        Alarm.cleared_at.is_(None)).values(cleared_at=now))
    gaps.clear()
    session.add(Alarm(kiosk_id=kiosk.id, kind="kiosk_state_lost", raised_at=now,
                      detail=f"kiosk restarted its event sequence (store {new_epoch or 'unnamed'}"
                      f" after {epoch or 'unnamed'} at event {last}): its own slot records "
                      "were lost; it has been sent the custody picture, check its slots"))
    log.warning("event=kiosk_state_lost site=%s kiosk=%s old_epoch=%s new_epoch=%s last_seq=%s",
                kiosk.site_code, kiosk.code, epoch, new_epoch, last)
    return "lost"


GAP_WAIT_S = 60.0  # how long later events wait for a missing one before being applied anyway


def _hold_back(session: Session, now: datetime, kiosk: KnownKiosk, epoch: str,
               seqs: list[int], last: int, gaps: list[Alarm]) -> set[int]:
    """The sequence numbers to hold back because an earlier one has not arrived: each
    kiosk's events are applied in its own order (a deposit resent late must not reopen a
    record its collection already closed). The kiosk offers unacknowledged events again, so
    the gap fills within its resend time; if it has not after ``GAP_WAIT_S``, the events are
    applied anyway and the sequence_gap alarm stays for staff."""
    expected = last + 1
    for i, seq in enumerate(seqs):
        if seq < expected:
            continue  # fills an old gap
        if seq == expected:
            expected += 1
            continue
        waiting_since = min((a.raised_at for a in _gap_from(gaps, expected)), default=None)
        if waiting_since is None:
            _raise_gap(session, gaps, Alarm(
                kiosk_id=kiosk.id, kind="sequence_gap", raised_at=now, gap_from=expected,
                gap_to=seq - 1, detail=f"events {expected}..{seq - 1} not received yet; "
                                       "later events wait for them"))
            log.warning("event=sequence_gap_waiting site=%s kiosk=%s epoch=%s missing=%s..%s",
                        kiosk.site_code, kiosk.code, epoch, expected, seq - 1)
            return set(seqs[i:])
        if (now - waiting_since).total_seconds() < GAP_WAIT_S:
            return set(seqs[i:])
        return set()  # waited long enough: apply in the order we have them
    return set()


def _check_sequence(session: Session, now: datetime, kiosk: KnownKiosk, epoch: str,
                    seqs: list[int], last: int, result: BatchResult, gaps: list[Alarm]) -> int:
    """Raise a sequence_gap alarm for missing numbers; clear gaps these events filled.
    Return the new high-water mark."""
    high = last
    for seq in seqs:
        if seq > high + 1 and not _gap_from(gaps, high + 1):
            result.gaps += 1
            _raise_gap(session, gaps, Alarm(
                kiosk_id=kiosk.id, kind="sequence_gap", raised_at=now, gap_from=high + 1,
                gap_to=seq - 1, detail=f"events {high + 1}..{seq - 1} not received yet"))
            log.warning("event=sequence_gap site=%s kiosk=%s missing=%s..%s", kiosk.site_code,
                        kiosk.code, high + 1, seq - 1)
        high = max(high, seq)
    # Events arriving now (late, or in order after waiting) may close open gaps. Only an
    # event inside a gap can fill it, so the stored ones are counted only then.
    for alarm in [a for a in gaps if a.cleared_at is None and a.gap_from <= seqs[-1]]:
        late = [s for s in seqs if alarm.gap_from <= s <= alarm.gap_to]
        if not late:
            continue
        stored = session.scalar(select(func.count()).where(
            Event.kiosk_id == kiosk.id, Event.epoch == epoch,
            Event.seq.between(alarm.gap_from, alarm.gap_to)))
        if (stored or 0) + len(late) >= alarm.gap_to - alarm.gap_from + 1:
            alarm.cleared_at = now
            log.info("event=sequence_gap_filled kiosk=%s from=%s to=%s", kiosk.code,
                     alarm.gap_from, alarm.gap_to)
    return high
