"""The ingest worker: takes messages off the queue, applies a batch, commits, THEN acks.

One thread owns all writes from the wire. It drains up to ``max_batch`` queued messages, applies
them in one transaction, commits, and only then publishes one EventAck per kiosk for the batch
(so a kiosk forgets an event only once it is durable here). A failed batch is retried message
by message so one poisonous message cannot hold back the rest.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lockers.clock import Clock
from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.codec import decode_topic
from lockers.wire.errors import WireError
from server import audit
from server.commands import CommandCenter
from server.ingest.events import BatchResult, apply_events
from server.ingest.kiosks import KioskDirectory, KnownKiosk, UnknownSite
from server.models import Alarm, Kiosk, Slot
from server.mqtt_link import Inbound
from server.replica import ReplicaPublisher
from server.store import Store

log = logging.getLogger("lockers.server.ingest")


@dataclass
class IngestStats:
    """Counters for health checks, tests and the benchmark."""

    applied: int = 0
    duplicates: int = 0
    bad_payloads: int = 0
    gaps: int = 0
    batches: int = 0
    # Seconds from each event's own timestamp (set by the kiosk at publish) to our commit;
    # meaningful when kiosk and server clocks agree (the benchmark), kept only on request.
    commit_latencies: list[float] = field(default_factory=list)


class IngestWorker:
    """Applies everything kiosks send; see the module doc for the ordering promise."""

    def __init__(self, store: Store, clock: Clock, inbox: queue.Queue[Inbound],
                 publish: Callable[[BaseModel, str, str], object],
                 replica: ReplicaPublisher | None, commands: CommandCenter | None,
                 max_batch: int = 500, keep_latencies: bool = False) -> None:
        self.store, self.clock, self.inbox, self.publish = store, clock, inbox, publish
        self.replica, self.commands = replica, commands
        self.max_batch, self.keep_latencies = max_batch, keep_latencies
        self.stats = IngestStats()
        self.kiosks = KioskDirectory()
        self.committed = threading.Condition()  # notified after every commit (tests wait on it)
        # Called after each commit with the batch's decoded messages (events, statuses, slot
        # snapshots, command acks): the web's live dashboard listens here. Listeners must be
        # quick and must not raise; they run on the ingest thread.
        self.listeners: list[Callable[[list[tuple[t.ParsedTopic, BaseModel]]], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run in a background thread."""
        self._thread = threading.Thread(target=self.run, name="ingest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the current batch and stop."""
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def run(self) -> None:
        """Loop until stopped."""
        while not self._stop.is_set():
            try:
                first = self.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            self.handle(batch)

    def handle(self, batch: list[Inbound]) -> None:
        """Apply one batch (falling back to one message at a time if it fails)."""
        decoded = [d for d in (self._decode(i) for i in batch) if d is not None]
        if not decoded:
            return
        try:
            self._apply(decoded)
        except Exception:
            log.exception("event=batch_failed size=%s retry=one_by_one", len(decoded))
            self.kiosks.forget()
            for one in decoded:
                try:
                    self._apply([one])
                except Exception as exc:
                    self.kiosks.forget()
                    self.stats.bad_payloads += 1
                    log.error("event=message_failed topic=%s error=%s", one[0].topic, exc)

    def _decode(self, item: Inbound) -> tuple[Inbound, t.ParsedTopic, BaseModel] | None:
        try:
            parsed, message = decode_topic(item.topic, item.payload)
        except WireError as exc:
            self.stats.bad_payloads += 1
            log.warning("event=bad_payload topic=%s bytes=%s reason=%r", item.topic,
                        len(item.payload), str(exc))
            return None
        return item, parsed, message

    def _apply(self, decoded: list[tuple[Inbound, t.ParsedTopic, BaseModel]]) -> None:
        now = self.clock.now()
        result = BatchResult()
        wake: list[str] = []
        resend: list[int] = []
        with self.store.write() as s:
            events: list[tuple[KnownKiosk, m.EventBase, bytes]] = []
            for item, parsed, message in decoded:
                try:
                    kiosk = self.kiosks.get(s, parsed.site, parsed.kiosk)
                except UnknownSite as exc:
                    self.stats.bad_payloads += 1
                    log.warning("event=unknown_site topic=%s reason=%r", item.topic, str(exc))
                    continue
                if isinstance(message, m.EventBase):
                    events.append((kiosk, message, item.payload))
                elif isinstance(message, m.KioskStatus):
                    if self._status(s, kiosk, message, now):
                        resend.append(kiosk.id)
                elif isinstance(message, m.SlotSnapshot):
                    self._slots(s, kiosk, message)
                elif isinstance(message, m.CommandAck) and self.commands is not None:
                    cid = self.commands.apply_ack(s, message, now)
                    if cid:
                        wake.append(cid)
            if events:
                apply_events(s, now, events, result)
        committed = time.time()
        self._after_commit(decoded, result, committed)
        for cid in wake:
            self.commands.acked(cid)  # type: ignore[union-attr]
        registered, self.kiosks.registered = self.kiosks.registered, []
        if self.replica is not None:
            for known in registered:
                self.replica.changed(known.site_id)
            for kiosk_id in resend:
                self.replica.resend_snapshot(kiosk_id)
            for site_id in result.policy_sites:
                self.replica.changed(site_id)

    def _after_commit(self, decoded: list[tuple[Inbound, t.ParsedTopic, BaseModel]],
                      result: BatchResult, committed: float) -> None:
        at = self.clock.now()
        for (site, kiosk), seqs in result.acks.items():
            # Acks go out only now that the batch is durable.
            self.publish(m.EventAck(kiosk=kiosk, seqs=sorted(set(seqs)), at=at), site, kiosk)
        st = self.stats
        st.applied += result.applied
        st.duplicates += result.duplicates
        st.gaps += result.gaps
        st.batches += 1
        if self.keep_latencies:
            st.commit_latencies.extend(committed - msg.at.timestamp() for _, _, msg in decoded
                                       if isinstance(msg, m.EventBase))
        with self.committed:
            self.committed.notify_all()
        if self.listeners:
            messages = [(parsed, msg) for _, parsed, msg in decoded]
            for listener in list(self.listeners):
                try:
                    listener(messages)
                except Exception:  # a dashboard bug must never stop ingest
                    log.exception("event=listener_failed listener=%r", listener)

    def _status(self, s: Session, kiosk: KnownKiosk, status: m.KioskStatus, now: object
                ) -> bool:
        """Record online/offline; return True if the kiosk needs its snapshot again."""
        row = s.get(Kiosk, kiosk.id)
        assert row is not None
        online = status.state == "online"
        was_online = row.online
        row.online = online
        row.last_seen = status.at or self.clock.now()
        if status.software:
            row.software = status.software
        if status.mode:
            row.mode = status.mode
        if status.policy_version is not None:
            row.reported_policy_version = status.policy_version
        if was_online != online:
            at = self.clock.now()
            if online:
                s.execute(update(Alarm).where(Alarm.kiosk_id == kiosk.id,
                                              Alarm.kind == "kiosk_offline",
                                              Alarm.cleared_at.is_(None)).values(cleared_at=at))
            else:
                s.add(Alarm(kiosk_id=kiosk.id, kind="kiosk_offline", raised_at=at,
                            detail=f"reason={status.reason}"))
            audit.append(s, at, [audit.Entry(
                actor=f"kiosk:{kiosk.site_code}/{kiosk.code}", action=f"kiosk.{status.state}",
                entity="kiosk", entity_id=f"{kiosk.site_code}/{kiosk.code}",
                detail=status.model_dump(mode="json"))])
            log.info("event=kiosk_%s site=%s kiosk=%s", status.state, kiosk.site_code,
                     kiosk.code)
        return (online and status.reason == "birth" and status.policy_version is not None
                and status.policy_version < row.policy_version)

    def _slots(self, s: Session, kiosk: KnownKiosk, snap: m.SlotSnapshot) -> None:
        existing = {n: sl for n, sl in s.execute(
            select(Slot.number, Slot).where(Slot.kiosk_id == kiosk.id)).all()}
        for view in snap.slots:
            row = existing.get(view.slot)
            if row is None:
                row = Slot(kiosk_id=kiosk.id, number=view.slot)
                s.add(row)
            row.state = view.state.value
            row.pupil_ref = view.pupil_ref
            row.door_open = view.door_open
            row.updated_at = snap.at
