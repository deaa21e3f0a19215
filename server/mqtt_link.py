"""The server's MQTT side: one client publishes (replica, commands, acks), one subscriber
receives (see :mod:`server.mqtt_receiver`), in a thread or in its own process."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import BaseModel

from lockers.wire import topics as t
from lockers.wire.codec import channel_of, encode
from server.mqtt_receiver import Inbound, ReceiverProcess, Subscriber, make_client

log = logging.getLogger("lockers.server.mqtt")

__all__ = ["Inbound", "MqttSettings", "ServerLink"]


@dataclass(frozen=True)
class MqttSettings:
    """Where the broker is and who the server is on it."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = "server"
    password: str | None = None
    client_id: str = "lockers-server"
    share_group: str = "lockers-server"
    tls_ca: str | None = None
    keepalive: int = 30
    receive_process: bool = True  # receive in a child process (see server.mqtt_receiver)
    # The receiver's own broker account (default "<username>-rx", as lockers.broker makes it).
    receiver_username: str | None = None
    # How long the broker keeps the receiver's session after its connection drops. 0 (the
    # default) for several processes on one shared subscription: Mosquitto 2.0 goes on
    # handing a disconnected member with a kept session its share of new messages, so a
    # dead process would hold events back until it came back (ADR 0010).
    session_expiry_s: int = 0
    # Each process receives only the schools it owns (server/affinity.py; PostgreSQL), so
    # one kiosk's events stay in one process and processes do not queue on each other.
    affinity: bool = False


class ServerLink:
    """Connect, receive every kiosk's messages onto ``inbox``, publish wire messages."""

    def __init__(self, settings: MqttSettings, inbox: queue.Queue[Inbound]) -> None:
        self.settings = settings
        self.inbox = inbox
        self.connected = threading.Event()  # set while the subscriber is receiving
        self._publisher_up = threading.Event()
        c = make_client(settings, settings.client_id)
        c.max_inflight_messages_set(100)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        self.client = c
        # Told which schools' kiosks (None: all) the receiver has just started listening to
        # (server.runtime asks those kiosks to offer their unacknowledged events again).
        self.on_listening: Callable[[list[str] | None], None] | None = None
        self.receiver: Subscriber | ReceiverProcess
        if settings.receive_process:
            self.receiver = ReceiverProcess(settings, inbox, self._receiving)
            self.receiver.on_listening = self._listening
        else:
            self.receiver = Subscriber(settings, inbox.put, self._receiving,
                                       sites=[] if settings.affinity else None,
                                       on_listening=self._listening)

    @property
    def receiver_restarts(self) -> int:
        """How often the receiver process died and was started again."""
        return getattr(self.receiver, "restarts", 0)

    def start(self, timeout: float = 15.0) -> None:
        """Connect both sides; return once the server is receiving."""
        self.client.connect_async(self.settings.host, self.settings.port,
                                  keepalive=self.settings.keepalive)
        self.client.loop_start()
        self.receiver.start()
        if not (self.connected.wait(timeout) and self._publisher_up.wait(timeout)):
            raise ConnectionError(
                f"could not connect to the MQTT broker at {self.settings.host}:"
                f"{self.settings.port} within {timeout:.0f} s: check [mqtt] in server.toml "
                "(host, port, username, password_file)")
        log.info("event=mqtt_connected host=%s port=%s receive_process=%s", self.settings.host,
                 self.settings.port, self.settings.receive_process)

    def stop(self) -> None:
        """Disconnect cleanly."""
        self.receiver.stop()
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def publisher_up(self) -> threading.Event:
        """Set while the publishing connection is up (to wait on)."""
        return self._publisher_up

    @property
    def publishing(self) -> bool:
        """Whether the publishing connection is up."""
        return self._publisher_up.is_set()

    def publish(self, message: BaseModel, site: str, kiosk: str) -> mqtt.MQTTMessageInfo:
        """Publish a wire message on its channel for one kiosk (thread-safe)."""
        channel = channel_of(message)
        return self.client.publish(t.topic(channel, site, kiosk), encode(message),
                                   qos=channel.qos, retain=channel.retain)

    def ack(self, items: list[Inbound]) -> None:
        """Acknowledge handled messages to the broker (after their batch's commit)."""
        keys = [i.ack_key for i in items if i.qos > 0]
        if keys:
            self.receiver.ack(keys)

    def set_sites(self, sites: list[str]) -> None:
        """Receive these schools' kiosks from now on (server/affinity.py)."""
        self.receiver.set_sites(sites)

    def _listening(self, sites: list[str] | None) -> None:
        if self.on_listening is not None:
            self.on_listening(sites)

    def _receiving(self, up: bool) -> None:
        (self.connected.set if up else self.connected.clear)()

    def _on_connect(self, _c: Any, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if rc.is_failure:
            log.error("event=mqtt_connect_failed reason=%s", rc)
            return
        self._publisher_up.set()

    def _on_disconnect(self, _c: Any, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        self._publisher_up.clear()
        log.warning("event=mqtt_disconnected reason=%s", rc)
