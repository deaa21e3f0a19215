"""The ingest worker: takes messages off the queue, applies a batch, commits, THEN acks.

One thread owns all writes from the wire. It drains up to ``max_batch`` queued messages, applies
them in one transaction, commits, and only then publishes one EventAck per kiosk for the batch
(so a kiosk forgets an event only once it is durable here). A failed batch is retried message
by message so one poisonous message cannot hold back the rest.

The worker cannot die silently: a batch that raises is counted as poison and logged, and the
thread runs under a supervisor that restarts the loop if anything escapes it. Its liveness and
lag (queue length, age of the oldest message not yet applied) are what /healthz reports, and
/healthz answers 503 when the worker is dead or stuck.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from lockers.clock import Clock
from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.codec import decode_topic
from lockers.wire.errors import WireError
from server.commands import SUCCESS, CommandCenter
from server.custody.restored import settle_state_lost
from server.ingest.events import BatchResult, apply_events
from server.ingest.guards import configured_slots, slots_named
from server.ingest.kiosk_state import record_status
from server.ingest.kiosks import KioskDirectory, KnownKiosk, UnknownSite, lock_kiosks
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
    poison: int = 0  # messages in batches that raised (logged; the rest carried on)
    restarts: int = 0  # times the supervisor restarted the worker loop
    refused_slots: int = 0  # messages naming a slot the kiosk was not configured with
    implausible_times: int = 0  # events kept but flagged for a doubtful clock
    # Seconds from each event's own timestamp (set by the kiosk at publish) to our commit;
    # meaningful when kiosk and server clocks agree (the benchmark), kept only on request.
    commit_latencies: list[float] = field(default_factory=list)
    server_latencies: list[float] = field(default_factory=list)  # received here -> committed


class IngestWorker:
    """Applies everything kiosks send; see the module doc for the ordering promise."""

    def __init__(self, store: Store, clock: Clock, inbox: queue.Queue[Inbound],
                 publish: Callable[[BaseModel, str, str], object],
                 replica: ReplicaPublisher | None, commands: CommandCenter | None,
                 max_batch: int = 500, keep_latencies: bool = False,
                 stuck_after_s: float = 60.0,
                 ack: Callable[[list[Inbound]], None] | None = None) -> None:
        self.store, self.clock, self.inbox, self.publish = store, clock, inbox, publish
        # Acknowledges a finished batch's messages to the broker (ServerLink.ack).
        self.ack = ack
        self.replica, self.commands = replica, commands
        self.max_batch, self.keep_latencies = max_batch, keep_latencies
        self.stats = IngestStats()
        self.kiosks = KioskDirectory()
        self.committed = threading.Condition()  # notified after every commit (tests wait on it)
        # Called after each commit with the batch's decoded messages (events, statuses, slot
        # snapshots, command acks): the web's live dashboard listens here. Listeners must be
        # quick and must not raise; they run on the ingest thread.
        self.listeners: list[Callable[[list[tuple[t.ParsedTopic, BaseModel]]], None]] = []
        self.stuck_after_s = stuck_after_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._batch_oldest: float | None = None  # when the batch in hand first arrived

    def start(self) -> None:
        """Run in a background thread, under :meth:`supervise`."""
        self._thread = threading.Thread(target=self.supervise, name="ingest", daemon=True)
        self._thread.start()

    def supervise(self) -> None:
        """Run the loop; whatever escapes it is logged and the loop restarted (with a short,
        growing pause so a fault that repeats does not spin)."""
        failures = 0
        while not self._stop.is_set():
            try:
                self.run()
            except BaseException as exc:
                failures += 1
                self.stats.restarts += 1
                self._batch_oldest = None
                log.critical("event=ingest_worker_crashed restarts=%s error=%r",
                             self.stats.restarts, exc, exc_info=exc)
                self._stop.wait(min(0.1 * 2 ** failures, 5.0))
            else:
                return

    def health(self) -> dict[str, object]:
        """Liveness and lag: ``healthy`` is False when the worker is dead or a message has
        waited longer than ``stuck_after_s`` to be applied."""
        now = time.monotonic()
        with self.inbox.mutex:  # peek at the head without taking it
            length = len(self.inbox.queue)
            head = self.inbox.queue[0].received if length else None
        waiting = [x for x in (head, self._batch_oldest) if x is not None]
        lag = max(0.0, now - min(waiting)) if waiting else 0.0
        alive = self._thread is not None and self._thread.is_alive()
        return {"ingest_alive": alive, "ingest_queue_length": length,
                "ingest_oldest_unapplied_s": round(lag, 3),
                "ingest_restarts": self.stats.restarts, "poison_messages": self.stats.poison,
                "healthy": alive and lag <= self.stuck_after_s}

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
            self._batch_oldest = min(item.received for item in batch)
            try:
                self.handle(batch)
            except Exception:
                # One batch's fault (a bug, a database hiccup) must not stop the rest: the
                # kiosks send again what was not acknowledged.
                self.stats.poison += len(batch)
                log.exception("event=batch_poison size=%s", len(batch))
            finally:
                self._batch_oldest = None
                self._ack_broker(batch)

    def _ack_broker(self, batch: list[Inbound]) -> None:
        """PUBACK the batch's messages now that it is committed or given up on: what was
        not stored is not acknowledged to its kiosk, which offers it again."""
        if self.ack is None:
            return
        try:
            self.ack(batch)
        except Exception:  # the link is down: the broker redelivers or the kiosk resends
            log.warning("event=broker_ack_failed size=%s", len(batch), exc_info=True)

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
                except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
                    self.kiosks.forget()
                    self.stats.bad_payloads += 1
                    log.error("event=message_failed topic=%s error=%s", one[0].topic, exc)

    def _decode(self, item: Inbound) -> tuple[Inbound, t.ParsedTopic, BaseModel] | None:
        try:
            parsed, message = decode_topic(item.topic, item.payload)
        except Exception as exc:  # noqa: BLE001 - WireError, or anything the decoder trips on
            self.stats.bad_payloads += 1
            log.warning("event=bad_payload topic=%s bytes=%s reason=%r", item.topic,
                        len(item.payload), str(exc)[:300])
            if not isinstance(exc, WireError):
                log.error("event=decoder_fault error=%r", exc)
            return None
        return item, parsed, message

    def _apply(self, decoded: list[tuple[Inbound, t.ParsedTopic, BaseModel]]) -> None:
        now = self.clock.now()
        batch = _Routed()
        with self.store.write() as s:
            resolved = self._resolve(s, decoded)
            lock_kiosks(s, {k.id for _, k, _ in resolved})
            slots = configured_slots(s, {k.id for _, k, msg in resolved if slots_named(msg)})
            for item, kiosk, message in resolved:
                kept = self._configured_only(item, kiosk, message, slots.get(kiosk.id, set()),
                                             batch.refused)
                if kept is not None:
                    self._route(s, now, item, kiosk, kept, batch)
            if batch.events or batch.refused:
                apply_events(s, now, batch.events, batch.result, batch.refused)
        committed = time.time()
        self._after_commit(decoded, batch.result, committed)
        for cid in batch.wake:
            self.commands.acked(cid)  # type: ignore[union-attr]
        self._tell_replica(batch.result, batch.resend, batch.prompt_sites)

    def _resolve(self, s: Session, decoded: list[tuple[Inbound, t.ParsedTopic, BaseModel]],
                 ) -> list[tuple[Inbound, KnownKiosk, BaseModel]]:
        """Each message with its kiosk; messages from a site we do not know are counted as
        bad payloads and dropped."""
        resolved: list[tuple[Inbound, KnownKiosk, BaseModel]] = []
        for item, parsed, message in decoded:
            try:
                resolved.append((item, self.kiosks.get(s, parsed.site, parsed.kiosk), message))
            except UnknownSite as exc:
                self.stats.bad_payloads += 1
                log.warning("event=unknown_site topic=%s reason=%r", item.topic, str(exc))
        return resolved

    def _configured_only(self, item: Inbound, kiosk: KnownKiosk, message: BaseModel,
                         configured: set[int], refused: list[tuple[KnownKiosk, m.EventBase]],
                         ) -> BaseModel | None:
        """``message`` as far as it keeps to the kiosk's configured slots, or None when it
        is refused for naming another."""
        stray = slots_named(message) - configured
        if not stray:
            return message
        # A slot the kiosk was never configured with: counted and logged like any payload the
        # contract refuses, and no slot row appears from a kiosk's say-so. An event naming one
        # is refused; a snapshot still mirrors the configured slots it shows (a pin map larger
        # than the configuration).
        self.stats.bad_payloads += 1
        self.stats.refused_slots += 1
        log.warning("event=bad_payload topic=%s reason='slot(s) %s not configured "
                    "for this kiosk'", item.topic, _ranges(stray))
        if isinstance(message, m.EventBase):
            refused.append((kiosk, message))  # still takes its place in order
        if not isinstance(message, m.SlotSnapshot):
            return None
        return message.model_copy(update={"slots": [
            v for v in message.slots if v.slot in configured]})

    def _route(self, s: Session, now: datetime, item: Inbound, kiosk: KnownKiosk,
               message: BaseModel, batch: _Routed) -> None:
        """Apply one status, snapshot or command ack at once; keep an event for the batch."""
        if isinstance(message, m.EventBase):
            batch.events.append((kiosk, message, item.payload))
        elif isinstance(message, m.KioskStatus):
            if record_status(s, kiosk, message, self.clock.now()):
                batch.resend.append(kiosk.id)
        elif isinstance(message, m.SlotSnapshot):
            mirror_snapshot(s, kiosk, message)
            settle_state_lost(s, kiosk, message, now)
        elif isinstance(message, m.CommandAck) and self.commands is not None:
            cid = self.commands.apply_ack(s, kiosk, message, now)
            if cid:
                batch.wake.append(cid)
                if message.outcome not in SUCCESS:
                    # A refused hand-back puts the device's record back in its slot: the
                    # kiosk's custody picture changes again, and staff are waiting on it.
                    batch.prompt_sites.add(kiosk.site_id)

    def _tell_replica(self, result: BatchResult, resend: list[int], prompt: set[int]) -> None:
        """After the commit: new kiosks' sites, kiosks owed their custody picture and sites
        whose policy view moved go out to the kiosks' replica (what only the kiosks' own
        events moved may gather for a moment: server/replica.py)."""
        registered, self.kiosks.registered = self.kiosks.registered, []
        if self.replica is None:
            return
        for known in registered:
            self.replica.changed(known.site_id)
        for kiosk_id in resend + sorted(result.state_lost):
            # A kiosk that lost its state gets its custody picture at once.
            self.replica.resend_snapshot(kiosk_id)
        for site_id in prompt:
            self.replica.changed(site_id)
        for site_id in result.policy_sites - prompt:
            self.replica.changed(site_id, by_kiosk=True)

    def _after_commit(self, decoded: list[tuple[Inbound, t.ParsedTopic, BaseModel]],
                      result: BatchResult, committed: float) -> None:
        st = self.stats
        st.applied += result.applied
        st.duplicates += result.duplicates
        st.gaps += result.gaps
        st.implausible_times += result.implausible_times
        st.batches += 1
        # Counters first, then the acks: whoever waits on an ack sees the batch counted.
        at = self.clock.now()
        for (site, kiosk, epoch), seqs in result.acks.items():
            # Acks go out only now that the batch is durable, echoing the events' epoch.
            self.publish(m.EventAck(kiosk=kiosk, seqs=sorted(set(seqs)), at=at, epoch=epoch),
                         site, kiosk)
        if self.keep_latencies:
            mono = time.monotonic()
            st.server_latencies.extend(mono - item.received for item, _, msg in decoded
                                       if isinstance(msg, m.EventBase))
            st.commit_latencies.extend(committed - msg.at.timestamp() for _, _, msg in decoded
                                       if isinstance(msg, m.EventBase))
        with self.committed:
            self.committed.notify_all()
        if self.listeners:
            # Events as applied (each once, each kiosk's in its order, parked ones when they
            # are applied), not as received: a resent copy must not move a slot back.
            messages = [(parsed, msg) for _, parsed, msg in decoded
                        if not isinstance(msg, m.EventBase)]
            messages += [(t.ParsedTopic(k.site_code, k.code, t.EVENTS), ev)
                         for k, ev in result.applied_events]
            for listener in list(self.listeners):
                try:
                    listener(messages)
                except Exception:  # a dashboard bug must never stop ingest
                    log.exception("event=listener_failed listener=%r", listener)


@dataclass
class _Routed:
    """What one batch's messages leave to do: events to apply (and refused ones that hold
    their place), kiosks owed their custody picture, commands whose waiters to wake."""

    events: list[tuple[KnownKiosk, m.EventBase, bytes]] = field(default_factory=list)
    refused: list[tuple[KnownKiosk, m.EventBase]] = field(default_factory=list)
    resend: list[int] = field(default_factory=list)
    wake: list[str] = field(default_factory=list)
    prompt_sites: set[int] = field(default_factory=set)  # replicas staff are waiting on
    result: BatchResult = field(default_factory=BatchResult)


def _ranges(numbers: set[int]) -> str:
    """``{3, 4, 5, 9}`` -> ``"3-5,9"`` (a log line stays short for a 999-slot snapshot)."""
    out: list[str] = []
    for n in sorted(numbers):
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ",".join(out)
