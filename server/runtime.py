"""The running server: MQTT link, ingest worker, replica publisher, command tracker, services.

``ServerRuntime(config).start()`` is what ``lockers server`` runs (plus the web app); tests
build the same object against a test broker and database.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import time

from lockers.clock import Clock, SystemClock
from server import bus
from server.affinity import SchoolOwnership
from server.audit_anchor import anchor_for
from server.bus import Bus
from server.commands import CommandCenter
from server.config import ServerConfig
from server.elected import ElectedWork, Job
from server.ingest.overdue import SWEEP_EVERY_S, OverdueParked
from server.ingest.worker import IngestWorker
from server.kiosk_resend import KioskResend
from server.leader import Leadership
from server.live_feed import updates_of
from server.mqtt_link import Inbound, ServerLink
from server.notify.sender import Sender
from server.notify.watch import Watch
from server.replica import ReplicaPublisher
from server.retention import purge
from server.services import Services
from server.store import Store

log = logging.getLogger("lockers.server")

COMMAND_EXPIRY_EVERY_S = 5.0  # how soon after its expiry an unanswered command times out
RETENTION_EVERY_S = 24 * 3600.0  # the retention purge, daily (the first a day after start)


class ServerRuntime:
    """All the server's moving parts, wired together."""

    def __init__(self, config: ServerConfig, clock: Clock | None = None,
                 store: Store | None = None, keep_latencies: bool = False) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.store = store or Store(config.database_url)
        self.inbox: queue.Queue[Inbound] = queue.Queue()
        # Schools owned per process (server/affinity.py) need PostgreSQL; one SQLite process
        # receives every school.
        affinity = config.mqtt.affinity and not self.store.is_sqlite
        self.link = ServerLink(dataclasses.replace(config.mqtt, affinity=affinity), self.inbox)
        self.ownership = SchoolOwnership(self.store, self.link.set_sites) if affinity else None
        publish = self.link.publish
        # Work done once for the installation goes to one elected process (ADR 0010); the
        # bus carries what every process must hear (policy changes, dashboard updates).
        self.leader = Leadership(self.store)
        self.bus = Bus(self.store)
        self.replica = ReplicaPublisher(self.store, self.clock, publish,
                                        tick_s=config.replica_tick_s,
                                        leading=self.leader.is_leader, relay=self._relay_policy)
        self.bus.subscribe(bus.POLICY, lambda v: self.replica.mark(
            v.get("site"), v.get("kiosk"), bool(v.get("by_kiosk"))))
        self.leader.on_change.append(self.replica.on_leadership)
        self.commands = CommandCenter(self.store, self.clock, publish)
        # What a lost process held, or what reached a school while nobody listened to it, the
        # kiosks offer again as soon as someone listens (server/kiosk_resend.py).
        self.resend = KioskResend(self.store, self.clock, publish, self.link.publisher_up)
        self.link.on_listening = self.resend.ask
        if not affinity and not self.store.is_sqlite:
            # One shared subscription: a lost process held events of any kiosk. (With
            # affinity the schools' new owners ask their kiosks once subscribed.)
            self.leader.on_member_lost.append(lambda: self.resend.ask(None))
            self.leader.on_change.append(lambda leading: self.resend.ask(None) if leading
                                         else None)
        self.elected = ElectedWork(self.leader.is_leader, [
            Job("command_expiry", self.commands.expire_due, every_s=COMMAND_EXPIRY_EVERY_S),
            Job("retention", lambda: purge(self.store, self.clock), every_s=RETENTION_EVERY_S,
                due=time.monotonic() + RETENTION_EVERY_S),
            # Parked events of a kiosk gone quiet are applied once their wait is over.
            Job("parked_events", OverdueParked(
                self.store, self.clock, self.replica,
                lambda messages: self.bus.notify_items(bus.LIVE, updates_of(messages))).run,
                every_s=SWEEP_EVERY_S)])
        self.ingest = IngestWorker(self.store, self.clock, self.inbox, publish, self.replica,
                                   self.commands, max_batch=config.ingest_max_batch,
                                   keep_latencies=keep_latencies,
                                   stuck_after_s=config.ingest_stuck_after_s,
                                   ack=self.link.ack)
        # Every commit's dashboard updates go to every process (see server.web.live).
        self.ingest.listeners.append(
            lambda messages: self.bus.notify_items(bus.LIVE, updates_of(messages)))
        self.services = Services(self.store, self.clock, self.replica, self.commands)
        self.anchor = anchor_for(config)
        # With [notify] enabled = false the outbox still fills (the office sees it) but
        # nothing leaves the server.
        self.sender = Sender(self.store, self.clock, config.notify, Watch(self.store, self.clock)) \
            if config.notify.enabled else None

    def _relay_policy(self, site_id: int | None, kiosk_id: int | None,
                      by_kiosk: bool = False) -> None:
        """A policy change (any process) goes to the elected publisher, wherever it runs."""
        self.bus.notify(bus.POLICY, {"site": site_id, "kiosk": kiosk_id, "by_kiosk": by_kiosk})

    def health(self) -> dict[str, object]:
        """What /healthz reports: broker link, ingest liveness and lag, counters. ``healthy``
        is False when ingest is dead or stuck (the web answers 503 then)."""
        return {"mqtt_connected": self.link.connected.is_set(),
                "receiver_restarts": self.link.receiver_restarts,
                "events_applied": self.ingest.stats.applied,
                "bad_payloads": self.ingest.stats.bad_payloads,
                "implausible_times": self.ingest.stats.implausible_times,
                "leader": self.leader.is_leader.is_set(),
                **self.ingest.health()}

    def start(self) -> None:
        """Connect to the broker and start the worker threads."""
        self.store.start_checkpoints()
        self.store.anchor = self.anchor  # every commit's audit head, signed outside the DB
        self.anchor.start()
        self.bus.start()
        self.ingest.start()
        # A member of the installation's processes before it receives anything: if it dies
        # holding kiosks' events, the elected process counts it lost and asks for them.
        self.leader.start()
        self.link.start()
        if self.ownership is not None:
            self.ownership.start()
        self.replica.start()
        self.elected.start()
        if self.sender is not None:
            self.sender.start()
        log.info("event=server_started db=%s broker=%s:%s", self.store.engine.url.render_as_string(
            hide_password=True), self.config.mqtt.host, self.config.mqtt.port)

    def stop(self) -> None:
        """Stop threads and disconnect."""
        if self.sender is not None:
            self.sender.stop()
        self.elected.stop()
        self.leader.stop()
        self.replica.stop()
        if self.ownership is not None:
            self.ownership.stop()
        self.link.stop()
        self.ingest.stop()
        self.anchor.stop()
        self.bus.stop()
        self.store.dispose()
        log.info("event=server_stopped")
