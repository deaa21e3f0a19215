"""Custody at the kiosk: every door that opens is tied to one record, and a kiosk that lost
its records opens nothing that may be occupied. A real controller on mock pins, the real
broker, and the server's side played on the wire."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk_ui.presenter import for_tap
from lockers.wire import messages as m
from lockers.wire import topics as t
from tests.controller_kit import (
    KIOSK,
    PUPILS,
    SITE,
    STAFF_PIN,
    STAFF_UID,
    FakeServer,
    Rig,
    card,
    make_rig,
    snapshot,
    wait_until,
)
from tests.fixtures.broker import Broker

O, S = m.TapOutcome, m.SlotState  # noqa: E741


@pytest.fixture
def server(broker: Broker) -> FakeServer:
    return FakeServer(broker)


def start(tmp_path: Path, mock_pins: object, broker: Broker, server: FakeServer,
          policy: m.PolicySnapshot, **kw: object) -> Rig:
    server.publish(t.POLICY, policy)
    rig = make_rig(tmp_path, mock_pins, broker, readers=[], **kw)  # type: ignore[arg-type]
    wait_until(lambda: rig.controller.view().policy_version == policy.version,
               what="the policy snapshot")
    return rig


@pytest.fixture
def rig(tmp_path: Path, mock_pins: MockFactory, broker: Broker,
        server: FakeServer) -> Iterator[Rig]:
    r = start(tmp_path, mock_pins, broker, server, snapshot(PUPILS))
    yield r
    r.controller.stop()


def deposit(rig: Rig, uid: str) -> int:
    result = rig.tap(uid)
    assert result.outcome is O.DEPOSIT_OPENED
    rig.open_and_close(result.slot, item="put")
    wait_until(lambda: not rig.relay(result.slot), what="the deposit's pulse to end")
    return result.slot


def staff_mode(rig: Rig) -> None:
    assert rig.tap(STAFF_UID).outcome is O.STAFF_CARD
    rig.controller.staff_login(STAFF_PIN)
    assert rig.staff.get(timeout=5).ok


def test_a_deposit_names_the_custody_record_the_kiosk_opened_for_it(
        rig: Rig, server: FakeServer) -> None:
    slot = deposit(rig, "04000001")
    dep = server.wait_event(lambda e: isinstance(e, m.DepositEvent))
    assert dep.custody_id == f"{KIOSK}.{dep.epoch}.{dep.seq}" and dep.via == "pupil"
    assert rig.slot(slot).custody_id == dep.custody_id
    assert server.wait_event(lambda e: isinstance(e, m.SlotStateEvent)
                             and e.state is S.OCCUPIED).custody_id == dep.custody_id


def test_a_remote_unlock_for_another_device_is_refused_and_the_door_stays_shut(
        rig: Rig, server: FakeServer) -> None:
    # Pupil A collected early, pupil B then used the same slot; the office's command still
    # names A's record: the kiosk's own record of the slot says otherwise.
    slot = deposit(rig, "04000002")
    server.command(m.CommandKind.REMOTE_UNLOCK, slot=slot, purpose="parent_collection",
                   custody_id="k1.0123456789abcdef.7", expected_pupil_ref="P1")
    ack = server.acks.get(timeout=5)
    assert ack.outcome is m.CommandOutcome.REFUSED
    assert "holds another device" in (ack.detail or "")
    assert not rig.relay(slot) and rig.state(slot) is S.OCCUPIED
    alarm = server.wait_event(lambda e: isinstance(e, m.AlarmEvent)
                              and e.alarm is m.AlarmKind.CUSTODY_MISMATCH)
    assert (alarm.slot, alarm.state) == (slot, "raised")


def test_a_remote_unlock_naming_the_slots_own_record_opens_it(rig: Rig,
                                                             server: FakeServer) -> None:
    slot = deposit(rig, "04000001")
    record = rig.slot(slot).custody_id
    server.command(m.CommandKind.REMOTE_UNLOCK, slot=slot, purpose="parent_collection",
                   custody_id=record, expected_pupil_ref="P1")
    wait_until(lambda: rig.relay(slot) or rig.state(slot) is S.OPENING_FOR_RELEASE)
    rig.open_and_close(slot, item="take")
    assert server.acks.get(timeout=5).outcome is m.CommandOutcome.DOOR_OPENED
    collected = server.wait_event(lambda e: isinstance(e, m.CollectionEvent))
    assert (collected.custody_id, collected.via) == (record, "remote_unlock")


def test_staff_hand_in_for_a_pupil_who_forgot_their_card_is_recorded_for_that_pupil(
        rig: Rig, server: FakeServer) -> None:
    staff_mode(rig)
    rig.controller.staff_hand_in("P2")
    result = rig.staff.get(timeout=5)
    assert result.ok and result.slot is not None, result.message
    assert rig.relay(result.slot)
    rig.open_and_close(result.slot, item="put")
    dep = server.wait_event(lambda e: isinstance(e, m.DepositEvent))
    assert (dep.pupil_ref, dep.via, dep.staff_ref) == ("P2", "staff_assisted", "S01")
    assert rig.state(result.slot) is S.OCCUPIED
    # Tom's own tap at home time opens his locker like any other.
    rig.clock.advance(7 * 3600)
    wait_until(lambda: not rig.relay(result.slot))
    assert rig.tap("04000002", reader="departure").slot == result.slot


def test_a_confiscated_device_staff_put_in_a_locker_is_held_at_once(
        rig: Rig, server: FakeServer) -> None:
    staff_mode(rig)
    rig.controller.staff_hand_in("P1", confiscated=True)
    result = rig.staff.get(timeout=5)
    assert result.ok, result.message
    rig.open_and_close(result.slot, item="put")
    dep = server.wait_event(lambda e: isinstance(e, m.DepositEvent))
    assert (dep.via, dep.pupil_ref) == ("staff_confiscated", "P1")
    assert rig.state(result.slot) is S.HELD
    rig.clock.advance(7 * 3600)
    wait_until(lambda: not rig.relay(result.slot))
    assert rig.tap("04000001", reader="departure").outcome is O.HELD
    assert not rig.relay(result.slot)


def test_a_free_locker_staff_opened_is_not_given_out_until_staff_check_it(
        rig: Rig, server: FakeServer) -> None:
    staff_mode(rig)
    rig.controller.staff_open_slot(3, "pupil forgot their card")  # slot 3 has no sensor
    assert rig.staff.get(timeout=5).ok
    rig.open_and_close(3)
    changed = server.wait_event(lambda e: isinstance(e, m.AlarmEvent)
                                and e.alarm is m.AlarmKind.CONTENTS_CHANGED)
    assert changed.slot == 3 and rig.state(3) is S.FAULT
    for uid in ("04000001", "04000002"):
        assert rig.tap(uid).slot != 3
    rig.controller.staff_clear_fault(3)
    assert rig.staff.get(timeout=5).ok and rig.state(3) is S.FREE


def test_a_held_second_device_does_not_stop_the_pupil_collecting_their_own_phone(
        tmp_path: Path, mock_pins: MockFactory, broker: Broker, server: FakeServer) -> None:
    rig = start(tmp_path, mock_pins, broker, server, snapshot(PUPILS))
    try:
        slot = deposit(rig, "04000001")
        # Later a second phone is confiscated and kept in the office safe.
        second = card("04000001", "P1", "Amira", status=m.PupilStatus.HELD,
                      elsewhere=[m.DeviceWhere(held=True, back="parent_or_carer")])
        record = rig.slot(slot).custody_id
        server.publish(t.POLICY_UPDATES, m.PolicyUpdate(
            kiosk=KIOSK, site=SITE, version=2, base_version=1, generated_at=rig.clock.now(),
            upsert_cards=[second],
            custody=[m.SlotCustody(slot=slot, custody_id=record, pupil_ref="P1")]))
        wait_until(lambda: rig.controller.view().policy_version == 2)
        assert rig.state(slot) is S.OCCUPIED
        rig.clock.advance(7 * 3600)
        wait_until(lambda: not rig.relay(slot))
        result = rig.tap("04000001", reader="departure")
        assert (result.outcome, result.slot) == (O.RELEASE_OPENED, slot)
    finally:
        rig.controller.stop()


def test_at_the_wrong_kiosk_the_pupil_is_told_where_their_phone_is(
        tmp_path: Path, mock_pins: MockFactory, broker: Broker, server: FakeServer) -> None:
    away = card("04000001", "P1", "Amira", elsewhere=[m.DeviceWhere(
        kiosk="k2", kiosk_name="North entrance", slot=12)])
    held = card("04000002", "P2", "Tom", status=m.PupilStatus.HELD, elsewhere=[
        m.DeviceWhere(held=True, back="parent_or_carer")])
    rig = start(tmp_path, mock_pins, broker, server, snapshot([away, held, *PUPILS[2:]]))
    try:
        rig.clock.advance(7 * 3600)
        result = rig.tap("04000001", reader="departure")
        assert result.outcome is O.NOTHING_TO_COLLECT
        panel = for_tap(result)
        assert "Your phone is at North entrance, locker 12." in panel.body
        assert panel.slot is None and not rig.controller.hardware.bank.relays.energised
        result = rig.tap("04000002", reader="departure")
        panel = for_tap(result)
        assert result.outcome is O.HELD and panel.slot is None
        assert "Your parent or carer can collect it from the office." in panel.body
    finally:
        rig.controller.stop()


def test_a_kiosk_that_lost_its_state_file_opens_no_occupied_locker_until_the_server_says(
        tmp_path: Path, mock_pins: MockFactory, broker: Broker, server: FakeServer) -> None:
    rig = start(tmp_path, mock_pins, broker, server, snapshot(PUPILS))
    first = deposit(rig, "04000001")  # slot 1: has a presence sensor, phone inside
    second = deposit(rig, "04000002")  # slot 2: has a presence sensor, phone inside
    epoch = server.wait_event(lambda e: isinstance(e, m.DepositEvent)).epoch
    records = {n: rig.slot(n).custody_id for n in (first, second)}
    wait_until(lambda: rig.controller.view().outbox_pending == 0)
    rig.controller.stop()
    shutil.rmtree(tmp_path / "kiosk")  # the SD card's state file is gone
    # Offline, the kiosk reloads no records: the occupied sensors keep slots 1 and 2 shut, and
    # the sensorless slots are not given out either.
    offline = make_rig(tmp_path, mock_pins, None, readers=[], clock=rig.clock)
    try:
        assert offline.controller.view().awaiting_picture
        for slot in (first, second):
            offline.world.put_item(slot)  # the phones are still physically there
        assert offline.tap("04000005").outcome is O.UNKNOWN_CARD  # no replica either
    finally:
        offline.controller.stop()
    shutil.rmtree(tmp_path / "kiosk")
    # Online: a new epoch, and the server's picture puts both records back.
    picture = snapshot(PUPILS, version=5).model_copy(update={"custody": [
        m.SlotCustody(slot=first, custody_id=records[first], pupil_ref="P1"),
        m.SlotCustody(slot=second, custody_id=records[second], pupil_ref="P2", held=True)]})
    server.events.clear()
    back = start(tmp_path, mock_pins, broker, server, picture, clock=rig.clock)
    try:
        restarted = server.wait_event(lambda e: isinstance(e, m.KioskRestartedEvent))
        assert restarted.epoch != epoch and restarted.seq == 1
        wait_until(lambda: not back.controller.view().awaiting_picture)
        assert (back.state(first), back.state(second)) == (S.OCCUPIED, S.HELD)
        assert back.slot(first).custody_id == records[first]
        assert back.tap("04000005").slot not in (first, second)
        back.clock.advance(7 * 3600)
        assert back.tap("04000001", reader="departure").slot == first
        assert back.tap("04000002", reader="departure").outcome is O.HELD
    finally:
        back.controller.stop()


def test_without_the_servers_picture_an_empty_sensor_is_the_only_proof_a_locker_is_free(
        tmp_path: Path, mock_pins: MockFactory, broker: Broker, server: FakeServer) -> None:
    # A replica kept from before, but the slot records lost: the policy's cards are known,
    # yet only slots whose presence sensor reads empty may be given out until the server's
    # picture arrives.
    rig = start(tmp_path, mock_pins, broker, server, snapshot(PUPILS))
    rig.controller.stop()
    store = tmp_path / "kiosk" / f"{KIOSK}.sqlite3"
    with sqlite3.connect(store) as db:  # records lost, the replica kept
        db.execute("DELETE FROM slots")
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('awaiting_picture', '1')")
    offline = make_rig(tmp_path, mock_pins, None, readers=[], clock=rig.clock)
    try:
        offline.world.put_item(1)  # slot 1's sensor sees a phone; slot 2's sees nothing
        result = offline.tap("04000001")
        assert (result.outcome, result.slot) == (O.DEPOSIT_OPENED, 2)
        offline.open_and_close(2, item="put")
        assert offline.tap("04000002").outcome is O.NO_FREE_SLOT  # 3-8: no sensor to vouch
    finally:
        offline.controller.stop()
