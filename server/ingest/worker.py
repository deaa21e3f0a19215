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

from lockers.clock import Clock
from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.codec import decode_topic
from lockers.wire.errors import WireError
from server.commands import SUCCESS, CommandCenter
from server.custody.restored import settle_state_lost
from server.ingest.events import BatchResult, apply_events
from server.ingest.kiosk_state import record_status
from server.ingest.kiosks import KioskDirectory, KnownKiosk, UnknownSite
from server.ingest.slot_mirror import mirror_snapshot
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
    server_latencies: list[float] = field(default_factory=list)  # received here -> committed


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
                    if record_status(s, kiosk, message, self.clock.now()):
                        resend.append(kiosk.id)
                elif isinstance(message, m.SlotSnapshot):
                    mirror_snapshot(s, kiosk, message)
                    settle_state_lost(s, kiosk, message, now)
                elif isinstance(message, m.CommandAck) and self.commands is not None:
                    cid = self.commands.apply_ack(s, kiosk, message, now)
                    if cid:
                        wake.append(cid)
                        if message.outcome not in SUCCESS:
                            # A refused hand-back puts the device's record back in its slot:
                            # the kiosk's custody picture changes again.
                            result.policy_sites.add(kiosk.site_id)
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
            for kiosk_id in resend + sorted(result.state_lost):
                # A kiosk that lost its state gets its custody picture at once.
                self.replica.resend_snapshot(kiosk_id)
            for site_id in result.policy_sites:
                self.replica.changed(site_id)

    def _after_commit(self, decoded: list[tuple[Inbound, t.ParsedTopic, BaseModel]],
                      result: BatchResult, committed: float) -> None:
        at = self.clock.now()
        for (site, kiosk, epoch), seqs in result.acks.items():
            # Acks go out only now that the batch is durable, echoing the events' epoch.
            self.publish(m.EventAck(kiosk=kiosk, seqs=sorted(set(seqs)), at=at, epoch=epoch),
                         site, kiosk)
        st = self.stats
        st.applied += result.applied
        st.duplicates += result.duplicates
        st.gaps += result.gaps
        st.batches += 1
        if self.keep_latencies:
            mono = time.monotonic()
            st.server_latencies.extend(mono - item.received for item, _, msg in decoded
                                       if isinstance(msg, m.EventBase))
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
