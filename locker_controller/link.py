"""The kiosk's MQTT link to the server (paho-mqtt 2.x, MQTT 5).

paho's callbacks run on its network thread and must never call the client back (paho #354,
#527): they only put what happened on the controller's queue. The dispatcher thread then
publishes. The link reconnects forever with backoff (paho's own loop); the durable outbox,
not paho's in-memory queue (paho #634), is what guarantees delivery.
"""

from __future__ import annotations

import logging
import queue
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import BaseModel

from lockers.kiosk_config import BrokerConfig
from lockers.mqtt import make_client
from lockers.wire import encode
from lockers.wire import topics as t
from lockers.wire.messages import KioskStatus

log = logging.getLogger("lockers.kiosk.link")

SUBSCRIBED = (t.POLICY, t.POLICY_UPDATES, t.COMMANDS, t.EVENT_ACKS)


@dataclass(frozen=True)
class LinkUp:
    """The broker accepted our connection (and our subscriptions are on their way)."""


@dataclass(frozen=True)
class LinkDown:
    """The connection dropped (or was refused: ``reason`` says why)."""

    reason: str


@dataclass(frozen=True)
class Incoming:
    """A message from the server."""

    topic: str
    payload: bytes


class ServerLink:
    """Connects, subscribes, publishes; reports everything onto ``inbox``."""

    def __init__(self, config: BrokerConfig, site: str, kiosk: str, inbox: queue.Queue[Any],
                 software: str) -> None:
        self.config, self.site, self.kiosk, self.inbox = config, site, kiosk, inbox
        self.connected = False
        client = make_client(f"kiosk-{site}-{kiosk}-{uuid.uuid4().hex[:6]}",
                             username=config.username, password=config.password,
                             tls_ca=config.tls_ca)
        will = KioskStatus(kiosk=kiosk, site=site, state="offline", reason="will",
                           software=software)
        client.will_set(t.topic(t.STATUS, site, kiosk), encode(will), qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=config.reconnect_max_s)
        client.max_queued_messages_set(0)  # unbounded: the outbox bounds what we give it
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client

    def start(self) -> None:
        """Connect in the background; paho retries for ever."""
        self.client.connect_async(self.config.host, self.config.port,
                                  keepalive=self.config.keepalive_s)
        self.client.loop_start()

    def stop(self, goodbye: KioskStatus | None = None) -> None:
        """Say goodbye (a clean offline status) and disconnect."""
        if goodbye is not None and self.connected:
            info = self.client.publish(t.topic(t.STATUS, self.site, self.kiosk),
                                       encode(goodbye), qos=1, retain=True)
            info.wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self) -> None:
        """Drop the connection without a DISCONNECT, as a crash or a pulled cable does (the
        broker then publishes our last will)."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
        self.connected = False

    def request_policy(self) -> None:
        """Subscribe to the retained policy again: the broker sends the current snapshot."""
        self.client.subscribe(t.topic(t.POLICY, self.site, self.kiosk), 1)

    def publish(self, channel: t.Channel, message: BaseModel | bytes) -> mqtt.MQTTMessageInfo:
        """Publish on one of our channels with the channel's QoS and retain flag."""
        payload = message if isinstance(message, bytes) else encode(message)
        return self.client.publish(t.topic(channel, self.site, self.kiosk), payload,
                                   qos=channel.qos, retain=channel.retain)

    # --- paho's thread: hand over, never call back -----------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("event=broker_refused reason=%s", rc)
            self.inbox.put(LinkDown(f"broker refused the connection: {rc}"))
            return
        self.connected = True
        # Subscribing from on_connect is the one call paho documents as safe here, and it
        # must happen on every reconnect.
        client.subscribe([(t.topic(ch, self.site, self.kiosk), 1) for ch in SUBSCRIBED])
        self.inbox.put(LinkUp())

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        was, self.connected = self.connected, False
        if was:
            self.inbox.put(LinkDown(str(rc)))

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.inbox.put(Incoming(msg.topic, bytes(msg.payload)))
