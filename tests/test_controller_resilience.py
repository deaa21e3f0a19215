"""A kiosk without its network for most of a day, and a kiosk killed mid-deposit."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path

import pytest
import tomli_w
from gpiozero.pins.mock import MockFactory

from firmware_py.nfc import ReaderSpec
from lockers.wire import messages as m
from lockers.wire import topics as t
from tests.controller_kit import (
    KEY,
    KIOSK,
    SITE,
    FakeServer,
    card,
    make_rig,
    snapshot,
    wait_until,
)
from tests.fixtures.broker import Broker
from tests.fixtures.pcsc import Pcsc

REPO = Path(__file__).resolve().parents[1]
S = m.SlotState
TRANSITIONAL = (S.OPENING_FOR_DEPOSIT, S.OPEN_FOR_DEPOSIT, S.OPENING_FOR_RELEASE,
                S.OPEN_FOR_RELEASE)


@pytest.fixture
def server(broker: Broker) -> FakeServer:
    return FakeServer(broker)


def test_a_whole_morning_without_the_broker_loses_nothing_and_sends_everything_in_order(
        tmp_path: Path, mock_pins: MockFactory, broker: Broker, server: FakeServer,
        pcscd: Pcsc) -> None:
    pupils = [card(f"0A{i:06X}", f"P{i}", f"Pupil{i}") for i in range(1, 7)]
    server.publish(t.POLICY, snapshot(pupils))
    readers = [ReaderSpec("arrival", pcscd.reader_names[0])]
    rig = make_rig(tmp_path, mock_pins, broker, readers=readers,
                   start=datetime(2026, 11, 23, 7, 55, tzinfo=UTC))
    try:
        wait_until(lambda: rig.controller.view().policy_version == 1)
        rig.clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        broker.stop()
        wait_until(lambda: not rig.controller.view().online, what="the kiosk to see it")
        slots = {}
        for i, pupil in enumerate(pupils, start=1):  # arrivals through the morning
            rig.clock.advance(600)
            result = rig.tap(f"0A{i:06X}")
            assert result.outcome is m.TapOutcome.DEPOSIT_OPENED
            slots[pupil.pupil_ref] = result.slot
            rig.open_and_close(result.slot, item="put")
        rig.clock.set(datetime(2026, 11, 23, 11, 0, tzinfo=UTC))
        early = rig.tap("0A000001")  # taps keep being answered offline
        assert early.outcome is m.TapOutcome.NOT_RELEASE_TIME
        offline_events = rig.controller.view().outbox_pending
        assert offline_events > 6 * 5
        rig.clock.set(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
        broker.start()
        wait_until(lambda: rig.controller.view().outbox_pending == 0, timeout=20,
                   what="every event to be acknowledged after the broker came back")
        events = server.distinct()
        assert sorted(events) == list(range(1, max(events) + 1))  # none lost
        first_seen = list(dict.fromkeys(e.seq for e in server.events))
        assert first_seen == sorted(first_seen)  # in order
        deposits = [e for e in events.values() if isinstance(e, m.DepositEvent)]
        assert {d.pupil_ref: d.slot for d in deposits} == slots
        assert all(e.at.hour < 14 for e in events.values() if isinstance(e, m.DepositEvent))
    finally:
        rig.controller.stop()


# --- the kiosk killed with SIGKILL at random moments during deposits -------------------------


def kiosk_config(tmp_path: Path, broker: Broker, pcscd: Pcsc) -> Path:
    account = broker.kiosk(SITE, KIOSK)
    config = {
        "site": SITE, "kiosk": KIOSK, "card_key": KEY,
        "state_dir": str(tmp_path / "kiosk"),
        "pinmap": str(REPO / "hardware" / "pinmaps" / "sim8.toml"),
        "readers": [{"role": "arrival", "name": pcscd.reader_names[0]}],
        "relays": {"pulse_s": 0.2, "max_coils": 4, "max_on_s": 1.0},
        "broker": {"host": broker.host, "port": broker.port, "username": account.username,
                   "password": account.password, "reconnect_max_s": 1},
        "tap_hold_off_s": 0.5,
    }
    path = tmp_path / "kiosk.toml"
    path.write_bytes(tomli_w.dumps(config).encode())
    return path


def real_today_policy(cards: list[m.CardEntry]) -> m.PolicySnapshot:
    """The subprocess uses the wall clock: today is a school day whose window is far off."""
    now = datetime.now(UTC)
    base = snapshot(cards, today=now.date())
    days = [d.model_copy(update={"school_day": True, "release_opens": dtime(23, 59, 58),
                                 "release_closes": dtime(23, 59, 59)}) for d in base.days]
    return base.model_copy(update={"days": days, "generated_at": now,
                                   "settings": base.settings.model_copy(
                                       update={"timezone": "UTC"})})


# What the kiosk_process fixture hands a test: start a kiosk process (again) on the same state.
StartKiosk = Callable[[], subprocess.Popen[bytes]]


@pytest.fixture
def kiosk_process(tmp_path: Path, broker: Broker, pcscd: Pcsc) -> Iterator[StartKiosk]:
    """Starts the `lockers kiosk` process in sim mode; kills whatever is left after the test."""
    config = kiosk_config(tmp_path, broker, pcscd)
    env = {**os.environ, **pcscd.daemon.environ()}
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"kiosk{len(procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "kiosk", "--config",
                                 str(config), "--sim", "--sim-pupils"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_killing_the_kiosk_mid_deposit_loses_and_duplicates_nothing(
        broker: Broker, server: FakeServer, pcscd: Pcsc, kiosk_process: StartKiosk) -> None:
    rng = random.Random(20261123)
    pupils = [card(f"0B{i:06X}", f"P{i}", f"Pupil{i}") for i in range(1, 9)]
    server.publish(t.POLICY, real_today_policy(pupils))
    reader = pcscd.card(0)
    births = 0
    for round_ in range(5):
        proc = kiosk_process()
        births += 1
        wait_until(lambda n=births: sum(1 for s in server.statuses if s.reason == "birth"
                                        and s.policy_version == 1) >= n, timeout=20,
                   what=f"kiosk birth {births}")
        uid = f"0B{round_ + 1:06X}"
        reader.present_uid(uid)
        taps_before = len([e for e in server.events if isinstance(e, m.TapEvent)])
        # Kill it somewhere between the tap and the door shutting again.
        wait_until(lambda n=taps_before: len(server.of_type(m.TapEvent)) > n, timeout=10)
        reader.remove()
        pcscd.remove_all()
        reader = pcscd.card(0)
        delay = rng.uniform(0.0, 2.0)
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    last = kiosk_process()
    wait_until(lambda: sum(1 for s in server.statuses if s.reason == "birth") >= births + 1,
               timeout=20, what="the last kiosk's birth")

    def settled() -> bool:
        events = server.distinct()
        restarts = [e for e in events.values() if isinstance(e, m.KioskRestartedEvent)]
        contiguous = sorted(events) == list(range(1, max(events) + 1))
        snap = server.snapshots[-1] if server.snapshots else None
        calm = snap is not None and not [v for v in snap.slots if v.state in TRANSITIONAL]
        return len(restarts) == 6 and contiguous and calm

    wait_until(settled, timeout=20, what="every stored event to arrive and the slots to settle")
    events = server.distinct()
    restarts = [e for e in events.values() if isinstance(e, m.KioskRestartedEvent)]
    assert sum(not r.clean_shutdown for r in restarts) >= 1  # some kills did land mid-run
    wills = [st for st in server.statuses if st.reason == "will"]
    assert wills and all(st.state == "offline" for st in wills)  # the broker said it died
    snap = server.snapshots[-1]
    occupied = [v.pupil_ref for v in snap.slots if v.state is S.OCCUPIED]
    assert None not in occupied and len(occupied) == len(set(occupied)), "slots inconsistent"
    deposited = {e.pupil_ref for e in events.values() if isinstance(e, m.DepositEvent)}
    assert set(occupied) == deposited - {
        e.pupil_ref for e in events.values() if isinstance(e, m.CollectionEvent)}
    last.send_signal(signal.SIGTERM)
    assert last.wait(10) == 0
