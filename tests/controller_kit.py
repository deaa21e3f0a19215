"""Pieces for the kiosk controller's tests: a policy builder, a fake server on the real broker,
and a rig that runs a real controller on mock pins, the sim world and the real pcscd."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from firmware_py.board import BoardConfig, build_hardware
from firmware_py.interfaces import CardTapped
from firmware_py.nfc import ReaderSpec
from firmware_py.sim.world import SimWorld
from locker_controller.api import KioskView, StaffResult, TapResult
from locker_controller.controller import Controller
from locker_controller.staff import hash_pin
from lockers.cardhash import card_hash
from lockers.clock import FakeClock
from lockers.kiosk_config import BrokerConfig, KioskConfig, ReaderConfig, RelayConfig
from lockers.wire import decode_topic, encode
from lockers.wire import messages as m
from lockers.wire import topics as t
from tests.fixtures.broker import Broker
from tests.server_kit import wait_until  # one polling helper for every test kit

REPO = Path(__file__).resolve().parents[1]
SITE, KIOSK = "school1", "k1"
KEY = "test-card-key-123"
MONDAY_0820 = datetime(2026, 11, 23, 8, 20, tzinfo=UTC)  # London is on UTC in November
STAFF_UID, STAFF_PIN = "5A5A5A5A", "2468"


def card(uid: str, ref: str, name: str, **kw: Any) -> m.CardEntry:
    """A card entry for the replica."""
    return m.CardEntry(card=card_hash(KEY, uid), pupil_ref=ref, first_name=name, **kw)


def snapshot(cards: list[m.CardEntry], version: int = 1, assignment: str = "dynamic",
             door_open_alarm_s: int = 60, late_after: dtime | None = None,
             today: date = MONDAY_0820.date()) -> m.PolicySnapshot:
    """A replica: today and the next week (weekends closed), release 15:10-16:30."""
    days = []
    for i in range(8):
        d = today + timedelta(days=i)
        school = d.weekday() < 5
        days.append(m.ReleaseDay(day=d, school_day=school,
                                 release_opens=dtime(15, 10) if school else None,
                                 release_closes=dtime(16, 30) if school else None))
    staff = [m.StaffEntry(card=card_hash(KEY, STAFF_UID), staff_ref="S01",
                          pin_hash=hash_pin(STAFF_PIN, n=2**10))]
    return m.PolicySnapshot(
        kiosk=KIOSK, site=SITE, version=version, generated_at=MONDAY_0820,
        settings=m.KioskSettings(assignment=assignment, door_open_alarm_s=door_open_alarm_s,
                                 late_after=late_after),
        days=days, cards=cards, staff=staff)


PUPILS = [
    card("04000001", "P1", "Amira"),
    card("04000002", "P2", "Tom"),
    card("04000003", "P3", "Zoë", status=m.PupilStatus.EXEMPT),
    card("04000004", "P4", "Kai", eligible=False),
    card("04000005", "P5", "Ola"),
]


class FakeServer:
    """The server's side of the wire, played with the server's broker account."""

    def __init__(self, broker: Broker, auto_ack: bool = True) -> None:
        self.conn = broker.server_client()
        self.auto_ack = auto_ack
        self.events: list[m.EventBase] = []  # every delivery, in arrival order
        self.acks: queue.Queue[m.CommandAck] = queue.Queue()
        self.statuses: list[m.KioskStatus] = []
        self.snapshots: list[m.SlotSnapshot] = []
        self.cond = threading.Condition()
        self.conn.client.on_message = self._on_message
        self.conn.client.reconnect_delay_set(0.05, 0.5)
        self.topics = [(t.topic(ch, SITE, KIOSK), 1)
                       for ch in (t.EVENTS, t.STATUS, t.COMMAND_ACKS, t.SLOTS)]
        for topic, _ in self.topics:
            self.conn.subscribe_and_wait(topic)
        # After a broker restart the session is new: subscribe again on every reconnect.
        self.conn.client.on_connect = lambda c, *_: c.subscribe(self.topics)

    def _on_message(self, client: Any, _u: Any, msg: Any) -> None:
        _, message = decode_topic(msg.topic, msg.payload)
        with self.cond:
            if isinstance(message, m.EventBase):
                self.events.append(message)
                if self.auto_ack:
                    ack = m.EventAck(kiosk=KIOSK, seqs=[message.seq], at=message.at)
                    client.publish(t.topic(t.EVENT_ACKS, SITE, KIOSK), encode(ack), qos=1)
            elif isinstance(message, m.CommandAck):
                self.acks.put(message)
            elif isinstance(message, m.KioskStatus):
                self.statuses.append(message)
            elif isinstance(message, m.SlotSnapshot):
                self.snapshots.append(message)
            self.cond.notify_all()

    def publish(self, channel: t.Channel, message: Any) -> None:
        """Publish as the server does."""
        self.conn.publish_and_wait(t.topic(channel, SITE, KIOSK),
                                   message if isinstance(message, bytes) else encode(message),
                                   retain=channel.retain)

    def wait_event(self, predicate: Callable[[m.EventBase], bool], timeout: float = 5.0
                   ) -> m.EventBase:
        """The first event (already received or to come) matching ``predicate``."""
        with self.cond:
            found: list[m.EventBase] = []

            def check() -> bool:
                found[:] = [e for e in self.events if predicate(e)]
                return bool(found)

            if not self.cond.wait_for(check, timeout):
                raise AssertionError("the server never received the expected event")
            return found[0]

    def distinct(self) -> dict[int, m.EventBase]:
        """Every event by sequence number, checking redeliveries are identical."""
        with self.cond:
            seen: dict[int, m.EventBase] = {}
            for e in self.events:
                if e.seq in seen:
                    assert seen[e.seq] == e, f"seq {e.seq} delivered with two contents"
                seen[e.seq] = e
            return seen

    def of_type(self, kind: type) -> list[Any]:
        """Received events of one type."""
        with self.cond:
            return [e for e in self.events if isinstance(e, kind)]

    def command(self, kind: m.CommandKind, slot: int | None = None, expires_in: float = 60,
                cid: str = "cmd-0001", now: datetime = MONDAY_0820, **kw: Any) -> m.Command:
        """Send a command."""
        cmd = m.Command(id=cid, kiosk=KIOSK, kind=kind, actor="S01", reason="test",
                        issued_at=now, expires_at=now + timedelta(seconds=expires_in),
                        slot=slot, **kw)
        self.publish(t.COMMANDS, cmd)
        return cmd


@dataclass
class Rig:
    """A real controller on mock pins and the sim world, with a fake clock."""

    controller: Controller
    world: SimWorld
    clock: FakeClock
    results: queue.Queue[TapResult] = field(default_factory=queue.Queue)
    staff: queue.Queue[StaffResult] = field(default_factory=queue.Queue)
    views: list[KioskView] = field(default_factory=list)

    def tap(self, uid: str, reader: str = "arrival") -> TapResult:
        """A card read by the reader service (the reader itself is tested in firmware)."""
        self.controller.deliver(CardTapped(reader, uid, time.monotonic()))
        return self.results.get(timeout=5)

    def relay(self, slot: int) -> bool:
        """Whether the slot's relay is energised now."""
        return self.world.relay_energised(slot)

    def open_and_close(self, slot: int, item: str | None = None) -> None:
        """A pupil opens the door, puts (``item="put"``) or takes the phone, closes it."""
        self.world.open_door(slot)
        wait_until(lambda: self.slot(slot).door_open, what=f"door {slot} open")
        if item == "put":
            self.world.put_item(slot)
        elif item == "take":
            self.world.take_item(slot)
        self.world.close_door(slot)
        wait_until(lambda: not self.slot(slot).door_open, what=f"door {slot} closed")

    def slot(self, number: int) -> Any:
        """The controller's slot as its view shows it (read on its thread)."""
        return next(s for s in self.controller.view().slots if s.number == number)

    def state(self, number: int) -> m.SlotState:
        """A slot's state."""
        return self.slot(number).state

    def advance(self, seconds: float) -> None:
        """Move the fake clock and run the timers."""
        self.clock.advance(seconds)
        self.controller.tick_now()


def make_rig(tmp_path: Path, pin_factory: Any, broker: Broker | None, *,
             readers: list[ReaderSpec], pinmap: str = "sim8.toml",
             start: datetime = MONDAY_0820, clock: FakeClock | None = None,
             state_dir: Path | None = None, ntp_synced: bool = True,
             before_start: Callable[[Any, SimWorld], None] | None = None) -> Rig:
    """Build and start a controller rig. ``ntp_synced``: the operating system has set the
    clock since boot, as on a kiosk with network (tests of clock doubt turn it off).
    ``before_start(hardware, world)`` plays what happens before the controller starts."""
    synced_flag = tmp_path / "ntp-synchronized"
    if ntp_synced:
        synced_flag.touch()
    account = broker.kiosk(SITE, KIOSK) if broker else None
    config = KioskConfig(
        site=SITE, kiosk=KIOSK, card_key=KEY, state_dir=state_dir or tmp_path / "kiosk",
        pinmap=REPO / "hardware" / "pinmaps" / pinmap,
        readers=[ReaderConfig(role=r.role, name=r.name) for r in readers],
        relays=RelayConfig(pulse_s=0.2, max_coils=4, max_on_s=1.0),
        broker=BrokerConfig(host=broker.host if broker else "127.0.0.1",
                            port=broker.port if broker else 1,
                            username=account.username if account else "x",
                            password=account.password if account else "x",
                            reconnect_max_s=1),
        door_open_timeout_s=8.0, command_ack_timeout_s=8.0, synchronous="NORMAL",
        clock_synced_flag=synced_flag if ntp_synced else tmp_path / "never-synced",
    )
    hardware = build_hardware(
        BoardConfig(config.pinmap, [ReaderSpec(r.role, r.name) for r in config.readers],
                    pulse_s=config.relays.pulse_s, max_coils=config.relays.max_coils,
                    relay_max_on_s=config.relays.max_on_s),
        pin_factory=pin_factory, sim=True)
    world = SimWorld(hardware)
    clock = clock or FakeClock(start)
    controller = Controller(config, hardware, clock=clock, connect=broker is not None,
                            ticker=False)
    rig = Rig(controller, world, clock)

    def on_update(update: object) -> None:
        if isinstance(update, TapResult):
            rig.results.put(update)
        elif isinstance(update, StaffResult):
            rig.staff.put(update)
        elif isinstance(update, KioskView):
            rig.views.append(update)

    controller.subscribe(on_update)
    if before_start is not None:
        before_start(hardware, world)
    controller.start()
    return rig
