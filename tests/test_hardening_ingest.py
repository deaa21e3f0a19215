"""Attacks and faults on the way in: hostile payloads, a kiosk account grabbing the server's
client id, slots a kiosk does not have, a stuck or crashed ingest, doubtful kiosk clocks.

Each test drives the real broker (production config from lockers.broker) and the real server
runtime; the figures they produce are gathered by bench/hardening.py.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.codec import MAX_PAYLOAD_BYTES
from server.models import Alarm, Event, Slot
from tests.server_kit import (
    MORNING,
    FakeKiosk,
    deposit,
    make_clock,
    running_server,
    tap,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("each_database")


@pytest.fixture
def school(tmp_path: Path, broker_factory: Any) -> Iterator[tuple[Any, Any, FakeKiosk, FakeKiosk]]:
    """The server with kiosks north/k1 (10 slots) and north/k2 (4 slots), each a fake kiosk
    on its own broker account: k1 plays the attacker, k2 the honest neighbour."""
    b = broker_factory(kiosks=[("north", "k1"), ("north", "k2")])
    with running_server(tmp_path, b.host, b.port, make_clock(), username=b.server_username,
                        password=b.server_password) as rt:
        rt.services.admin.add_kiosk("admin", "k2", slots=4)
        kiosks = [FakeKiosk(b.host, b.port, "north", k, b.kiosk("north", k).username,
                            b.kiosk("north", k).password) for k in ("k1", "k2")]
        try:
            yield rt, b, kiosks[0], kiosks[1]
        finally:
            for k in kiosks:
                k.close()


def _count(rt: Any, *where: Any, model: Any = Event) -> int:
    with rt.store.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_deeply_nested_and_oversized_payloads_never_stop_another_kiosks_events(
        school: tuple[Any, Any, FakeKiosk, FakeKiosk]) -> None:
    rt, _b, attacker, honest = school
    attacker.publish_raw(t.EVENTS, b"[" * 1001 + b"]" * 1001)
    attacker.publish_raw(t.STATUS, b'{"v":1,"a":' * 5000 + b"1" + b"}" * 5000)
    attacker.publish_raw(t.EVENTS, b'{"v":1,"detail":"' + b"x" * (MAX_PAYLOAD_BYTES - 100)
                         + b'"}')  # under the broker's cap, still refused by the decoder
    for seq in range(1, 21):
        honest.publish(deposit(honest, seq, MORNING, "A001", seq % 4 + 1))
    honest.wait_for(lambda k: set(range(1, 21)) <= k.acked, what="all 20 events acked")
    assert _count(rt, Event.seq >= 1) == 20
    assert rt.ingest.stats.bad_payloads == 3
    assert rt.ingest.stats.restarts == 0 and rt.ingest.health()["healthy"]


def test_a_payload_over_the_brokers_cap_never_reaches_the_server(
        school: tuple[Any, Any, FakeKiosk, FakeKiosk]) -> None:
    rt, _b, attacker, honest = school
    # Mosquitto disconnects a client that sends a packet over max_packet_size.
    attacker.client.publish(t.topic(t.EVENTS, "north", "k1"), b"x" * (MAX_PAYLOAD_BYTES + 70_000),
                            qos=1)
    honest.publish(deposit(honest, 1, MORNING, "A002", 1))
    honest.wait_for(lambda k: 1 in k.acked, what="the honest event acked")
    assert rt.ingest.stats.bad_payloads == 0  # refused at the broker: nothing arrived


def test_a_seq_or_slot_sent_as_a_string_is_refused_not_coerced(
        school: tuple[Any, Any, FakeKiosk, FakeKiosk]) -> None:
    rt, _b, k1, _k2 = school
    good = deposit(k1, 1, MORNING, "A001", 3).model_dump_json(exclude_none=True)
    k1.publish_raw(t.EVENTS, good.replace('"seq":1', '"seq":"1"').encode())
    k1.publish_raw(t.EVENTS, good.replace('"slot":3', '"slot":"3"').encode())
    wait_until(lambda: rt.ingest.stats.bad_payloads == 2, what="both refused")
    k1.publish_raw(t.EVENTS, good.encode())
    k1.wait_for(lambda k: 1 in k.acked, what="the well-formed event acked")
    assert _count(rt) == 1


def test_a_slot_the_kiosk_does_not_have_is_refused_and_never_gets_a_row(
        school: tuple[Any, Any, FakeKiosk, FakeKiosk]) -> None:
    rt, _b, _k1, k2 = school  # k2 has slots 1..4
    k2.publish(deposit(k2, 1, MORNING, "A001", 5))
    k2.publish(m.SlotSnapshot(kiosk="k2", site="north", at=MORNING, slots=[
        m.SlotView(slot=1, state=m.SlotState.FAULT), m.SlotView(slot=99, state=m.SlotState.FREE)]))
    wait_until(lambda: rt.ingest.stats.refused_slots == 2, what="both counted")
    k2.publish(deposit(k2, 2, MORNING, "A001", 4))
    k2.wait_for(lambda k: 2 in k.acked, what="the event for slot 4 acked")
    assert 1 not in k2.acked  # never acked: the kiosk keeps it for someone to look at
    with rt.store.read() as s:
        numbers = set(s.scalars(select(Slot.number).join(Slot.kiosk).where(
            Slot.kiosk.has(code="k2"))))
    assert numbers == {1, 2, 3, 4}
    with rt.store.read() as s:  # the snapshot's configured slot was still mirrored
        assert s.scalar(select(Slot.state).where(Slot.kiosk.has(code="k2"), Slot.number == 1)
                        ) == "fault"
    assert rt.ingest.stats.bad_payloads == 2


def test_a_kiosk_using_the_servers_client_id_cannot_knock_the_server_off(
        school: tuple[Any, Any, FakeKiosk, FakeKiosk]) -> None:
    rt, b, _k1, k2 = school
    account = b.kiosk("north", "k1")
    server_ids = [rt.config.mqtt.client_id, f"{rt.config.mqtt.client_id}-rx", "server",
                  "server-rx"]
    intruders = [b.client(account.username, account.password, client_id=cid)
                 for cid in server_ids for _ in range(3)]
    for seq in range(1, 11):
        k2.publish(deposit(k2, seq, MORNING, "A003", seq % 4 + 1))
    k2.wait_for(lambda k: set(range(1, 11)) <= k.acked, what="every event acked")
    assert rt.link.connected.is_set() and rt.link.publishing
    assert rt.link.receiver_restarts == 0
    for conn in intruders:
        conn.close()


def test_healthz_answers_503_while_ingest_is_stuck_and_ok_once_it_moves(
        school: tuple[Any, Any, FakeKiosk, FakeKiosk]) -> None:
    rt, _b, k1, _k2 = school
    from server.web.app import create_app

    web = TestClient(create_app(rt.services, health=rt.health))
    release = threading.Event()
    rt.ingest.listeners.append(lambda _batch: release.wait(30))  # a listener that hangs
    rt.ingest.stuck_after_s = 0.3
    k1.publish(deposit(k1, 1, MORNING, "A001", 1))
    stuck = wait_until(lambda: (r := web.get("/healthz")).status_code == 503 and r,
                       what="healthz to say unhealthy")
    assert stuck.json()["status"] == "unhealthy"
    assert stuck.json()["ingest_oldest_unapplied_s"] >= 0.3  # reported rounded to 0.1 s
    release.set()
    wait_until(lambda: web.get("/healthz").status_code == 200, what="healthy again")


def test_ingest_that_crashes_is_restarted_and_applies_what_follows(
        school: tuple[Any, Any, FakeKiosk, FakeKiosk]) -> None:
    rt, _b, k1, _k2 = school
    crashed = threading.Event()

    def crash_once(_batch: object) -> None:
        if not crashed.is_set():
            crashed.set()
            raise SystemExit("a plugin that exits")  # escapes every `except Exception`

    rt.ingest.listeners.append(crash_once)
    k1.publish(deposit(k1, 1, MORNING, "A001", 1))
    wait_until(lambda: rt.ingest.stats.restarts == 1, what="the supervisor to restart ingest")
    k1.publish(deposit(k1, 2, MORNING, "A002", 2))
    k1.wait_for(lambda k: {1, 2} <= k.acked, what="both events acked")
    assert rt.ingest.health()["ingest_alive"]


def test_a_killed_receiver_process_is_started_again(
        school: tuple[Any, Any, FakeKiosk, FakeKiosk]) -> None:
    rt, _b, k1, _k2 = school
    os.kill(rt.link.receiver.pid, signal.SIGKILL)
    wait_until(lambda: rt.link.receiver_restarts == 1, what="the receiver restarted")
    wait_until(rt.link.connected.is_set, 15, what="the new receiver subscribed")
    k1.publish(deposit(k1, 1, MORNING, "A001", 1))
    k1.wait_for(lambda k: 1 in k.acked, 15, what="the event acked")


def test_events_with_implausible_times_are_kept_and_flagged_for_the_office(
        school: tuple[Any, Any, FakeKiosk, FakeKiosk]) -> None:
    rt, _b, k1, k2 = school
    card = rt.cards["A001"]
    k1.publish(tap(k1, 1, card, MORNING + timedelta(hours=6, minutes=30),
                   m.TapOutcome.RELEASE_OPENED, "A001", 1))  # a clock 6.5 h fast
    k2.publish(tap(k2, 1, card, MORNING, m.TapOutcome.NOT_RELEASE_TIME, "A001"))
    k2.publish(tap(k2, 2, card, MORNING - timedelta(hours=1), m.TapOutcome.NOT_RELEASE_TIME,
                   "A001"))  # behind the kiosk's previous event
    k1.wait_for(lambda k: 1 in k.acked, what="k1's event acked")
    k2.wait_for(lambda k: {1, 2} <= k.acked, what="k2's events acked")
    assert _count(rt) == 3  # nothing lost
    with rt.store.read() as s:
        alarms = {_kiosk(s, a.kiosk_id).code: a.detail for a in s.scalars(select(Alarm).where(
            Alarm.kind == "implausible_time"))}
    assert set(alarms) == {"k1", "k2"}
    assert "ahead of its arrival" in alarms["k1"]
    assert "previous event" in alarms["k2"]
    assert rt.ingest.stats.implausible_times == 2


def _kiosk(session: Any, kiosk_id: int) -> Any:
    from server.models import Kiosk

    return session.get(Kiosk, kiosk_id)
