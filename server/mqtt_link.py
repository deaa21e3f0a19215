"""The server's one MQTT connection: shared subscriptions in, replica/commands/acks out.

paho calls ``on_message`` on its network thread; calling paho back from there deadlocks
(paho #354, #527), so messages only go onto a queue for the ingest worker. Routing happens in
``on_message`` because ``message_callback_add`` never fires for ``$share/...`` (paho #472).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import BaseModel

from lockers.wire import topics as t
from lockers.wire.codec import channel_of, encode

log = logging.getLogger("lockers.server.mqtt")

SUBSCRIBED = (t.EVENTS, t.STATUS, t.SLOTS, t.COMMAND_ACKS)


@dataclass(frozen=True)
class Inbound:
    """One message as received: topic, raw payload, and when (monotonic) it arrived."""

    topic: str
    payload: bytes
    received: float


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


class ServerLink:
    """Connect, subscribe to every kiosk's channels, and publish validated messages."""

    def __init__(self, settings: MqttSettings, inbox: queue.Queue[Inbound]) -> None:
        self.settings = settings
        self.inbox = inbox
        self.connected = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                        protocol=mqtt.MQTTv5)
        if settings.username:
            c.username_pw_set(settings.username, settings.password)
        if settings.tls_ca:
            c.tls_set(ca_certs=settings.tls_ca)
        c.max_inflight_messages_set(100)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self.client = c

    def start(self, timeout: float = 10.0) -> None:
        """Connect and start paho's network thread; wait until subscribed."""
        self.client.connect_async(self.settings.host, self.settings.port,
                                  keepalive=self.settings.keepalive)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            raise ConnectionError(
                f"could not connect to the MQTT broker at {self.settings.host}:"
                f"{self.settings.port} within {timeout:.0f} s: check [mqtt] in server.toml")

    def stop(self) -> None:
        """Disconnect cleanly."""
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, message: BaseModel, site: str, kiosk: str) -> mqtt.MQTTMessageInfo:
        """Publish a wire message on its channel for one kiosk (thread-safe)."""
        channel = channel_of(message)
        return self.client.publish(t.topic(channel, site, kiosk), encode(message),
                                   qos=channel.qos, retain=channel.retain)

    # --- paho callbacks: only queue work, never call the client back --------------------

    def _on_connect(self, client: Any, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if rc.is_failure:
            log.error("event=mqtt_connect_failed reason=%s", rc)
            return
        filters = [(t.shared(t.filter_all_kiosks(ch), self.settings.share_group),
                    mqtt.SubscribeOptions(qos=1)) for ch in SUBSCRIBED]
        # subscribe() from on_connect is the documented way to resubscribe after a reconnect.
        client.subscribe(filters)
        log.info("event=mqtt_connected host=%s port=%s", self.settings.host, self.settings.port)

    def _on_subscribe(self, _c: Any, _ud: Any, _mid: int, codes: Any, _props: Any) -> None:
        # Only now will the broker deliver to us: "connected" means "receiving".
        if any(code.is_failure for code in codes):
            log.error("event=mqtt_subscribe_refused codes=%s", codes)
        self.connected.set()

    def _on_disconnect(self, _c: Any, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        self.connected.clear()
        log.warning("event=mqtt_disconnected reason=%s", rc)

    def _on_message(self, _c: Any, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        self.inbox.put(Inbound(msg.topic, msg.payload, time.monotonic()))
