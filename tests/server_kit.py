"""Shared pieces of the server tests: a migrated database, a running server, a fake kiosk.

The fake kiosk speaks the wire contract directly with paho (through lockers.wire only), so the
server is tested exactly as a real kiosk would drive it.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import BaseModel
from sqlalchemy import create_engine, text

from lockers.clock import FakeClock
from lockers.mqtt import make_client
from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.codec import decode_topic, encode

# Monday 2026-11-23, 08:00 in London (= UTC in winter): a normal school morning.
MORNING = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition"
               ) -> Any:
    """Poll ``predicate`` until truthy or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def database_url(tmp_path: Path) -> str:
    """``LOCKERS_TEST_DATABASE_URL`` (emptied first) or a fresh SQLite file."""
    url = os.environ.get("LOCKERS_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path}/lockers.db"
    engine = create_engine(url)
    with engine.begin() as conn:  # a clean schema for each test
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


class FakeKiosk:
    """A kiosk that is nothing but the wire: publishes events, records what the server sends."""

    def __init__(self, host: str, port: int, site: str, kiosk: str,
                 username: str | None = None, password: str | None = None) -> None:
        self.site, self.kiosk = site, kiosk
        self.received: queue.Queue[tuple[str, BaseModel]] = queue.Queue()
        self.acked: set[int] = set()
        self.snapshots: list[m.PolicySnapshot] = []
        self.updates: list[m.PolicyUpdate] = []
        self.commands: list[m.Command] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        c = make_client(f"{kiosk}-{uuid.uuid4().hex[:6]}", username=username or None,
                        password=password)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = lambda *a: self._subscribed.set()
        self.client = c
        c.connect(host, port)
        c.loop_start()
        if not self._subscribed.wait(5):
            raise AssertionError("fake kiosk could not subscribe")

    def _on_connect(self, client: Any, *_: Any) -> None:
        client.subscribe([(t.topic(ch, self.site, self.kiosk), 1)
                          for ch in (t.EVENT_ACKS, t.POLICY, t.POLICY_UPDATES, t.COMMANDS)])

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parsed, message = decode_topic(msg.topic, msg.payload)
        with self._cond:
            if isinstance(message, m.EventAck):
                self.acked.update(message.seqs)
            elif isinstance(message, m.PolicySnapshot):
                self.snapshots.append(message)
            elif isinstance(message, m.PolicyUpdate):
                self.updates.append(message)
            elif isinstance(message, m.Command):
                self.commands.append(message)
            self._cond.notify_all()
        self.received.put((parsed.channel.name, message))

    def publish(self, message: BaseModel, channel: t.Channel | None = None) -> None:
        """Publish a wire message on its channel (QoS 1), waiting for the broker."""
        from lockers.wire.codec import channel_of

        ch = channel or channel_of(message)
        self.client.publish(t.topic(ch, self.site, self.kiosk), encode(message),
                            qos=1).wait_for_publish(5)

    def publish_raw(self, channel: t.Channel, payload: bytes) -> None:
        """Publish bytes that may not be a valid message."""
        self.client.publish(t.topic(channel, self.site, self.kiosk), payload,
                            qos=1).wait_for_publish(5)

    def wait_for(self, predicate: Callable[[FakeKiosk], Any], timeout: float = 5.0,
                 what: str = "message") -> Any:
        """Wait until ``predicate(self)`` holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"fake kiosk {self.kiosk}: timed out waiting for {what}")
                self._cond.wait(remaining)

    def card(self, card_hash: str) -> m.CardEntry | None:
        """The card's entry in the newest replica (snapshot plus later updates)."""
        if not self.snapshots:
            return None
        snap = self.snapshots[-1]
        cards = {c.card: c for c in snap.cards}
        for up in self.updates:
            if up.version > snap.version:
                cards.update({c.card: c for c in up.upsert_cards})
                for h in up.remove_cards:
                    cards.pop(h, None)
        return cards.get(card_hash)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def tap(kiosk: FakeKiosk, seq: int, card: str, at: datetime, outcome: m.TapOutcome,
        pupil_ref: str | None = None, slot: int | None = None) -> m.TapEvent:
    """A tap event as the kiosk would send it."""
    return m.TapEvent(kiosk=kiosk.kiosk, site=kiosk.site, seq=seq, at=at, reader="r1", card=card,
                      pupil_ref=pupil_ref, outcome=outcome, slot=slot)


def deposit(kiosk: FakeKiosk, seq: int, at: datetime, pupil_ref: str, slot: int
            ) -> m.DepositEvent:
    """A deposit event."""
    return m.DepositEvent(kiosk=kiosk.kiosk, site=kiosk.site, seq=seq, at=at,
                          pupil_ref=pupil_ref, slot=slot)


def make_clock() -> FakeClock:
    """A fake clock on a Monday morning."""
    return FakeClock(MORNING)


UIDS = {"A001": "04A1B2C3D4E501", "A002": "04A1B2C3D4E502", "A003": "04A1B2C3D4E503"}


def seed(services: Any) -> dict[str, str]:
    """A school: site north, kiosk k1 with 10 slots, staff, three pupils with cards.
    Returns each pupil's card hash."""
    from server.models import Pupil

    services.admin.create_staff(None, "admin", "Ada Admin", "admin", "correct horse")
    services.admin.create_site("admin", "north", "North School",
                               breaches_before_parent_collection=2)
    services.admin.add_kiosk("admin", "k1", slots=10)
    services.admin.create_staff("admin", "office1", "Olu Office", "office", "office pass")
    services.admin.create_staff("admin", "head", "Hana Head", "leadership", "leader pass")
    with services.store.write() as s:
        site_id = services.ctx.site(s, "north").id
        for ref, first, last in (("A001", "Amira", "O'Neil"), ("A002", "Ben", "Šimek"),
                                 ("A003", "Cara", "Lee")):
            s.add(Pupil(site_id=site_id, reference=ref, first_name=first, last_name=last,
                        year_group="9", form="9X"))
    return {ref: services.cards.enrol_card("office1", ref, uid).card_hash
            for ref, uid in UIDS.items()}


@contextmanager
def running_server(tmp_path: Path, host: str, port: int, clock: Any, *,
                   username: str | None = None, password: str | None = None,
                   seeded: bool = True, notify: Any = None) -> Iterator[Any]:
    """A migrated database, a started ServerRuntime; yields the runtime (``.cards`` set).
    ``notify``: a NotifyConfig (default: notifications queue but are not sent)."""
    from server.config import ServerConfig
    from server.migrate import upgrade
    from server.mqtt_link import MqttSettings
    from server.runtime import ServerRuntime

    url = database_url(tmp_path)
    upgrade(url)
    # The audit anchor's files go beside the test's database (on PostgreSQL there is no
    # database file to put them beside: the test's folder then, never the working tree).
    config = ServerConfig(database_url=url, config_dir=str(tmp_path), mqtt=MqttSettings(
        host=host, port=port, username=username, password=password,
        client_id=f"server-{uuid.uuid4().hex[:6]}"), replica_tick_s=30,
        **({"notify": notify} if notify is not None else {}))
    rt = ServerRuntime(config, clock=clock)
    rt.cards = seed(rt.services) if seeded else {}
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


@contextmanager
def server_and_kiosk(tmp_path: Path, broker_factory: Any) -> Iterator[tuple[Any, FakeKiosk]]:
    """The project's real broker (production ACL, per-kiosk accounts) with the server on its
    server account and a fake kiosk north/k1 on its own account."""
    b = broker_factory(kiosks=[("north", "k1")])
    with running_server(tmp_path, b.host, b.port, make_clock(), username=b.server_username,
                        password=b.server_password) as rt:
        account = b.kiosk("north", "k1")
        kiosk = FakeKiosk(b.host, b.port, "north", "k1", account.username, account.password)
        try:
            yield rt, kiosk
        finally:
            kiosk.close()


def count_rows(rt: Any, model: Any, *where: Any) -> int:
    """How many rows of ``model`` match ``where`` in the runtime's database."""
    from sqlalchemy import func, select

    with rt.store.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0
