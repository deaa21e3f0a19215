"""A kiosk that doubts its clock opens no locker by the release window, and says so: a Pi has
no real-time clock, and a clock 6.5 hours fast makes a morning tap look like home time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from lockers.wire import encode
from lockers.wire import messages as m
from lockers.wire import topics as t
from tests.controller_kit import (
    KIOSK,
    MONDAY_0820,
    PUPILS,
    SITE,
    FakeServer,
    Rig,
    make_rig,
    snapshot,
    wait_until,
)
from tests.fixtures.broker import Broker

O, S = m.TapOutcome, m.SlotState  # noqa: E741
FAST = timedelta(hours=6, minutes=51)  # 08:20 reads as 15:11


@pytest.fixture
def server(broker: Broker) -> FakeServer:
    return FakeServer(broker, auto_ack=False)


@pytest.fixture
def rig(tmp_path: Path, mock_pins: MockFactory, broker: Broker,
        server: FakeServer) -> Iterator[Rig]:
    server.publish(t.POLICY, snapshot(PUPILS))
    r = make_rig(tmp_path, mock_pins, broker, readers=[], ntp_synced=False)
    wait_until(lambda: r.controller.view().policy_version == 1)
    yield r
    r.controller.stop()


def ack_all(server: FakeServer, rig: Rig, at: datetime) -> None:
    """The server acknowledges every event the kiosk has stored, stamped with its own clock."""
    def drained() -> bool:
        with server.cond:
            seqs = sorted({e.seq for e in server.events})
        if seqs:
            server.conn.publish_and_wait(t.topic(t.EVENT_ACKS, SITE, KIOSK), encode(
                m.EventAck(kiosk=KIOSK, seqs=seqs, at=at)))
        return rig.controller.view().outbox_pending == 0

    wait_until(drained, what="every event acknowledged")


def deposit(rig: Rig, uid: str) -> int:
    result = rig.tap(uid)
    assert result.outcome is O.DEPOSIT_OPENED
    rig.open_and_close(result.slot, item="put")
    wait_until(lambda: not rig.relay(result.slot))
    return result.slot


def test_a_kiosk_never_synced_takes_phones_in_but_opens_none_by_its_own_clock(
        rig: Rig, server: FakeServer) -> None:
    slot = deposit(rig, "04000001")  # hand-in does not depend on the time
    rig.clock.advance(7 * 3600)  # home time by the kiosk's clock, which nobody confirmed
    result = rig.tap("04000001", reader="departure")
    assert (result.outcome, result.slot) == (O.CLOCK_UNSURE, slot)
    assert not rig.relay(slot) and rig.state(slot) is S.OCCUPIED
    tap = server.wait_event(lambda e: isinstance(e, m.TapEvent)
                            and e.outcome is O.CLOCK_UNSURE)
    assert tap.pupil_ref == "P1"
    ack_all(server, rig, rig.clock.now())  # the server's acknowledgement confirms the time
    assert rig.tap("04000001", reader="departure").outcome is O.RELEASE_OPENED


def test_a_clock_set_hours_fast_opens_nothing_early_until_the_server_confirms_the_time(
        tmp_path: Path, mock_pins: MockFactory, broker: Broker, server: FakeServer) -> None:
    server.publish(t.POLICY, snapshot(PUPILS))
    rig = make_rig(tmp_path, mock_pins, broker, readers=[], ntp_synced=True)
    try:
        wait_until(lambda: rig.controller.view().policy_version == 1)
        slot = deposit(rig, "04000001")
        ack_all(server, rig, rig.clock.now())
        rig.clock.step_wall(FAST.total_seconds())  # the clock is set wrong: 08:21 reads 15:12
        rig.controller.tick_now()
        result = rig.tap("04000001", reader="departure")
        assert result.outcome is O.CLOCK_UNSURE and not rig.relay(slot)
        # The server's next acknowledgement says it is still morning: still no.
        ack_all(server, rig, MONDAY_0820 + timedelta(minutes=2))
        assert rig.tap("04000001", reader="departure").outcome is O.CLOCK_UNSURE
        assert not rig.relay(slot) and rig.state(slot) is S.OCCUPIED
        # The clock is put right; once the server confirms it, the kiosk answers by it again.
        rig.clock.step_wall(-FAST.total_seconds())
        rig.controller.tick_now()
        rig.tap("04000002")
        ack_all(server, rig, rig.clock.now())
        assert rig.tap("04000001", reader="departure").outcome is O.NOT_RELEASE_TIME
        rig.clock.advance(7 * 3600)  # real home time, by a clock the server vouched for
        ack_all(server, rig, rig.clock.now())
        assert rig.tap("04000001", reader="departure").outcome is O.RELEASE_OPENED
    finally:
        rig.controller.stop()


def test_a_commands_expiry_is_judged_by_the_servers_time_not_a_wrong_kiosk_clock(
        rig: Rig, server: FakeServer) -> None:
    slot = deposit(rig, "04000001")
    ack_all(server, rig, rig.clock.now())  # the server's time, as the kiosk last heard it
    rig.clock.step_wall(-3 * 3600)  # the kiosk's clock drops three hours behind
    rig.controller.tick_now()
    server_now = MONDAY_0820 + timedelta(minutes=5)
    # Issued an hour ago by the server's clock and long expired: a slow kiosk clock would
    # still think it was fresh.
    server.command(m.CommandKind.REMOTE_UNLOCK, slot=slot, purpose="parent_collection",
                   cid="stale-command", now=server_now - timedelta(hours=1), expires_in=120)
    assert server.acks.get(timeout=5).outcome is m.CommandOutcome.EXPIRED
    assert not rig.relay(slot)
    server.command(m.CommandKind.REMOTE_UNLOCK, slot=slot, purpose="parent_collection",
                   cid="fresh-command", now=server_now, expires_in=120)
    wait_until(lambda: rig.relay(slot), what="the fresh unlock to pulse the relay")
