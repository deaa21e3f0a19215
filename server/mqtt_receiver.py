"""Receiving kiosks' messages: a paho subscriber, in a thread or in its own process.

paho calls ``on_message`` on its network thread and calling paho back from there deadlocks
(paho #354, #527), so received messages are only handed on. In production the subscriber runs
in a child process (``receive_process = true``): paho's per-message work then no longer
competes for the interpreter lock with the ingest worker, which roughly doubled the events per
second the server commits on a 2-core machine. The child sends what it received to the parent
in small batches over a pipe; the parent puts them on the ingest queue. Routing happens in
``on_message`` because ``message_callback_add`` never fires for ``$share/...`` (paho #472).

Messages are acknowledged to the broker by hand (``manual_ack_set``), only once the ingest
worker has finished their batch (committed it, or given up on it): see
docs/adr/0010-several-server-processes.md. A PUBACK names a packet id, and packet ids are
reused on a new connection, so each message carries the number of the connection it came on
and an acknowledgement meant for an earlier connection is dropped (the broker has already
forgotten that delivery).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from lockers import mqtt as lockers_mqtt
from lockers.broker import receiver_username
from lockers.wire import topics as t

log = logging.getLogger("lockers.server.mqtt")

SUBSCRIBED = (t.EVENTS, t.STATUS, t.SLOTS, t.COMMAND_ACKS)
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


@dataclass(frozen=True)
class Inbound:
    """One message as received: topic, raw payload, when (monotonic) it arrived, and what
    acknowledging it to the broker takes (packet id, QoS, the connection it came on)."""

    topic: str
    payload: bytes
    received: float
    mid: int = 0
    qos: int = 0
    connection: int = 0

    @property
    def ack_key(self) -> tuple[int, int, int]:
        """(connection, packet id, QoS): what :meth:`Subscriber.ack` takes."""
        return (self.connection, self.mid, self.qos)


def make_client(settings: Any, client_id: str, receiver: bool = False) -> mqtt.Client:
    """A client with the server's credentials (and TLS if configured). The receiver connects
    on its own account (the broker binds each account to one client id, lockers.broker)."""
    username = settings.username or None
    if receiver and username:
        username = settings.receiver_username or receiver_username(username)
    return lockers_mqtt.make_client(client_id, username=username,
                                    password=settings.password, tls_ca=settings.tls_ca)


class Subscriber:
    """Subscribes to every kiosk's channels (shared subscription) and hands messages on."""

    def __init__(self, settings: Any, deliver: Callable[[Inbound], None],
                 on_state: Callable[[bool], None], first_connection: int = 0,
                 sites: list[str] | None = None,
                 on_listening: Callable[[list[str] | None], None] | None = None) -> None:
        self.settings, self.deliver, self.on_state = settings, deliver, on_state
        # Hears which schools' kiosks (None: every school's) the broker now delivers to us,
        # once it has confirmed the subscription: the kiosks are asked to offer again what
        # we have not acknowledged (docs/adr/0010).
        self.on_listening = on_listening
        self._subscribing: dict[int, list[str] | None] = {}  # SUBSCRIBE packet id -> schools
        self._subscribing_lock = threading.Lock()  # its SUBACK may come before we note it
        # The schools received (None: all of them; see server/affinity.py).
        self.sites = sites
        c = make_client(settings, f"{settings.client_id}-rx", receiver=True)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        # PUBACK only after the ingest worker has committed (see the module doc).
        c.manual_ack_set(True)
        # Counts connections (packet ids are per connection); a restarted receiver process
        # starts from a new base so its numbers never meet its predecessor's.
        self.connection = first_connection
        self.client = c

    def start(self) -> None:
        """Connect in the background (paho reconnects by itself)."""
        self.client.connect_async(self.settings.host, self.settings.port,
                                  keepalive=self.settings.keepalive,
                                  clean_start=self.settings.session_expiry_s == 0,
                                  properties=session_properties(self.settings.session_expiry_s))
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, keys: list[tuple[int, int, int]]) -> None:
        """Acknowledge handled messages to the broker (thread-safe; never from a paho
        callback). Keys from an earlier connection are dropped: their packet ids may name
        other messages now."""
        current = self.connection
        for connection, mid, qos in keys:
            if qos > 0 and connection == current:
                self.client.ack(mid, qos)

    def _on_connect(self, client: Any, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if rc.is_failure:
            log.error("event=mqtt_connect_failed reason=%s", rc)
            return
        self.connection += 1
        # subscribe() from on_connect is the documented way to resubscribe after a reconnect.
        filters = self._filters(self.sites)
        if filters:
            _rc, mid = client.subscribe([(f, mqtt.SubscribeOptions(qos=1)) for f in filters])
            self._subscribing[mid] = None if self.sites is None else list(self.sites)
        else:
            self.on_state(True)  # owning no school yet: connected, nothing to receive

    def _filters(self, sites: list[str] | None) -> list[str]:
        """The shared-subscription filters for ``sites`` (None: every site)."""
        return [t.shared(t.filter_all_kiosks(ch, site), self.settings.share_group)
                for site in (["+"] if sites is None else sorted(sites)) for ch in SUBSCRIBED]

    def set_sites(self, sites: list[str]) -> None:
        """Receive these schools' kiosks from now on (and no others)."""
        old, new = set(self._filters(self.sites)), set(self._filters(sites))
        added = sorted(set(sites) - set(self.sites or []))
        self.sites = sorted(sites)
        if old - new:
            self.client.unsubscribe(sorted(old - new))
        if new - old:
            with self._subscribing_lock:
                _rc, mid = self.client.subscribe([(f, mqtt.SubscribeOptions(qos=1))
                                                  for f in sorted(new - old)])
                self._subscribing[mid] = added

    def _on_subscribe(self, _c: Any, _ud: Any, mid: int, codes: Any, _props: Any) -> None:
        if any(code.is_failure for code in codes):
            log.error("event=mqtt_subscribe_refused codes=%s", codes)
        self.on_state(True)  # only now does the broker deliver to us
        with self._subscribing_lock:
            sites = self._subscribing.pop(mid, [])
        if self.on_listening is not None and sites != []:
            self.on_listening(sites)

    def _on_disconnect(self, _c: Any, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        self.on_state(False)
        log.warning("event=mqtt_receiver_disconnected reason=%s", rc)

    def _on_message(self, _c: Any, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        self.deliver(Inbound(msg.topic, msg.payload, time.monotonic(), msg.mid, msg.qos,
                             self.connection))


def session_properties(expiry_s: int) -> Properties:
    """CONNECT properties asking the broker to keep the session ``expiry_s`` seconds after
    the connection drops (0: forget it at once)."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    return props


def _die_with_parent() -> None:
    """Be killed the moment the server process dies (Linux ``PR_SET_PDEATHSIG``). A receiver
    outliving a killed server stays a member of the shared subscription for a while, and the
    broker goes on handing it a share of what the kiosks resend at the survivors' request,
    which is then lost again (measured: 23 s to recover a kill instead of about 1 s)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = mp.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before we asked: go now
        os._exit(0)


def _child_main(settings: Any, conn: Connection, first_connection: int,
                sites: list[str] | None) -> None:
    """The receiver process: subscribe, forward batches to the parent until told to stop,
    and acknowledge to the broker what the parent says it has handled."""
    _die_with_parent()
    local: queue.Queue[Any] = queue.Queue()
    sub = Subscriber(settings, lambda i: local.put(
        (i.topic, i.payload, i.received, i.mid, i.qos, i.connection)),
        lambda up: local.put(("state", up)), first_connection, sites,
        lambda listening: local.put(("listening", listening)))
    stop = threading.Event()

    def from_parent() -> None:
        # "stop", or ("ack", keys); the pipe closing (the parent died) also means stop.
        while True:
            try:
                order = conn.recv()
            except (EOFError, OSError):
                break
            if order == "stop":
                break
            if order[0] == "sites":
                sub.set_sites(order[1])
            else:
                sub.ack(order[1])
        stop.set()

    threading.Thread(target=from_parent, name="mqtt-rx-acks", daemon=True).start()
    sub.start()
    while not stop.is_set():
        try:
            batch = [local.get(timeout=0.2)]
        except queue.Empty:
            continue
        while len(batch) < 2000:
            try:
                batch.append(local.get_nowait())
            except queue.Empty:
                break
        conn.send(batch)
    sub.stop()


class ReceiverProcess:
    """Parent side of the receiver process: starts it, and feeds the ingest queue."""

    def __init__(self, settings: Any, inbox: queue.Queue[Inbound],
                 on_state: Callable[[bool], None]) -> None:
        self.settings, self.inbox, self.on_state = settings, inbox, on_state
        self.on_listening: Callable[[list[str] | None], None] | None = None  # Subscriber's
        self.restarts = 0  # the child died unasked and was started again
        self._stopping = threading.Event()
        self._send_lock = threading.Lock()  # acks (ingest thread) and stop share the pipe
        self.sites: list[str] | None = [] if getattr(settings, "affinity", False) else None
        self._spawn()
        self._thread = threading.Thread(target=self._read, name="mqtt-rx-pipe", daemon=True)

    def _spawn(self) -> None:
        ctx = mp.get_context("spawn")  # never fork a process that runs threads
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child_main, args=(self.settings, child,
                                                      self.restarts * 1_000_000, self.sites),
                                 name="lockers-mqtt-rx", daemon=True)

    @property
    def pid(self) -> int | None:
        """The receiver process's id (None before it starts)."""
        return self._proc.pid

    def start(self) -> None:
        """Start the child and the thread that reads from it."""
        self._proc.start()
        self._thread.start()

    def stop(self) -> None:
        """Ask the child to disconnect and wait for it."""
        self._stopping.set()
        with contextlib.suppress(OSError), self._send_lock:  # the child may be gone already
            self._conn.send("stop")
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)

    def ack(self, keys: list[tuple[int, int, int]]) -> None:
        """Pass acknowledgements to the child, which sends them to the broker. A child that
        died meanwhile took its connection with it: nothing to acknowledge then."""
        with contextlib.suppress(OSError), self._send_lock:
            self._conn.send(("ack", keys))

    def set_sites(self, sites: list[str]) -> None:
        """Receive these schools' kiosks from now on (a restarted child starts with them)."""
        self.sites = sorted(sites)
        with contextlib.suppress(OSError), self._send_lock:
            self._conn.send(("sites", self.sites))

    def _read(self) -> None:
        while True:
            try:
                batch = self._conn.recv()
            except (EOFError, OSError):
                self.on_state(False)
                if self._stopping.is_set():
                    log.info("event=mqtt_receiver_closed")
                    return
                # The child died unasked (killed, out of memory): start another, so the
                # server does not stop receiving while /healthz still answers.
                self.restarts += 1
                log.error("event=mqtt_receiver_died exitcode=%s restarts=%s",
                          self._proc.exitcode, self.restarts)
                self._stopping.wait(min(0.2 * self.restarts, 5.0))
                if self._stopping.is_set():
                    return
                self._spawn()
                self._proc.start()
                continue
            for item in batch:
                if item[0] == "state":
                    self.on_state(item[1])
                elif item[0] == "listening":
                    if self.on_listening is not None:
                        self.on_listening(item[1])
                else:
                    self.inbox.put(Inbound(*item))
