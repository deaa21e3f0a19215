"""The kiosk's decisions, end to end through a real controller, real broker and mock pins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from firmware_py.lines import ExpanderInput
from firmware_py.nfc import ReaderSpec
from firmware_py.sim.world import SimWorld
from lockers.wire import messages as m
from lockers.wire import topics as t
from tests.controller_kit import (
    PUPILS,
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
from tests.fixtures.pcsc import Pcsc

O, S = m.TapOutcome, m.SlotState  # noqa: E741


@pytest.fixture
def server(broker: Broker) -> FakeServer:
    return FakeServer(broker)


@pytest.fixture
def readers(pcscd: Pcsc) -> list[ReaderSpec]:
    """The kiosk's two readers are the isolated pcscd's virtual ones."""
    return [ReaderSpec("arrival", pcscd.reader_names[0]),
            ReaderSpec("departure", pcscd.reader_names[1])]


@pytest.fixture
def rig(tmp_path: Path, mock_pins: MockFactory, broker: Broker, server: FakeServer,
        readers: list[ReaderSpec]) -> Iterator[Rig]:
    server.publish(t.POLICY, snapshot(PUPILS))
    r = make_rig(tmp_path, mock_pins, broker, readers=readers)
    wait_until(lambda: r.controller.view().policy_version == 1, what="the policy snapshot")
    yield r
    r.controller.stop()


def deposit(rig: Rig, uid: str) -> int:
    result = rig.tap(uid)
    assert result.outcome is O.DEPOSIT_OPENED
    rig.open_and_close(result.slot, item="put")
    return result.slot


def test_arrival_tap_opens_a_free_slot_and_the_deposit_counts_when_the_door_closes(
        rig: Rig, server: FakeServer) -> None:
    result = rig.tap("04000001")
    assert (result.outcome, result.first_name, result.slot) == (O.DEPOSIT_OPENED, "Amira", 1)
    assert rig.relay(1)
    assert rig.state(1) is S.OPENING_FOR_DEPOSIT
    rig.world.open_door(1)
    wait_until(lambda: rig.state(1) is S.OPEN_FOR_DEPOSIT)
    assert not server.of_type(m.DepositEvent)
    rig.world.put_item(1)
    rig.world.close_door(1)
    deposit_event = server.wait_event(lambda e: isinstance(e, m.DepositEvent))
    assert (deposit_event.slot, deposit_event.pupil_ref) == (1, "P1")
    assert rig.state(1) is S.OCCUPIED


def test_tap_before_home_time_keeps_the_slot_shut_and_says_when_it_opens(rig: Rig) -> None:
    slot = deposit(rig, "04000001")
    rig.clock.advance(3600)
    wait_until(lambda: not rig.relay(slot))
    result = rig.tap("04000001", reader="departure")
    assert (result.outcome, result.slot, result.opens_at) == (O.NOT_RELEASE_TIME, slot,
                                                              dtime(15, 10))
    assert not rig.relay(slot)
    assert rig.state(slot) is S.OCCUPIED


def test_tap_in_the_release_window_opens_the_slot_and_closing_it_records_collection(
        rig: Rig, server: FakeServer) -> None:
    slot = deposit(rig, "04000002")
    rig.clock.advance(7 * 3600)  # 15:20
    result = rig.tap("04000002", reader="departure")
    assert (result.outcome, result.slot) == (O.RELEASE_OPENED, slot)
    assert rig.relay(slot)
    rig.open_and_close(slot, item="take")
    collected = server.wait_event(lambda e: isinstance(e, m.CollectionEvent))
    assert (collected.pupil_ref, collected.via) == ("P2", "pupil")
    assert rig.state(slot) is S.FREE


def test_held_phone_stays_locked_when_pupil_taps_at_home_time(rig: Rig,
                                                              server: FakeServer) -> None:
    slot = deposit(rig, "04000001")
    held = card("04000001", "P1", "Amira", status=m.PupilStatus.HELD, slot=slot)
    server.publish(t.POLICY_UPDATES, m.PolicyUpdate(
        kiosk="k1", site="school1", version=2, base_version=1,
        generated_at=rig.clock.now(), upsert_cards=[held]))
    wait_until(lambda: rig.state(slot) is S.HELD, what="the slot to be held")
    rig.clock.advance(7 * 3600)
    wait_until(lambda: not rig.relay(slot))
    result = rig.tap("04000001", reader="departure")
    assert (result.outcome, result.slot) == (O.HELD, slot)
    assert not rig.relay(slot)
    assert rig.state(slot) is S.HELD


def test_exempt_pupil_is_greeted_and_recorded_without_opening_a_door(
        rig: Rig, server: FakeServer) -> None:
    result = rig.tap("04000003")
    assert (result.outcome, result.first_name, result.slot) == (O.EXEMPT, "Zoë", None)
    assert rig.controller.hardware.bank.relays.energised == []
    tap = server.wait_event(lambda e: isinstance(e, m.TapEvent))
    assert (tap.outcome, tap.pupil_ref) == (O.EXEMPT, "P3")


def test_unknown_card_is_refused_and_recorded(rig: Rig, server: FakeServer) -> None:
    result = rig.tap("0BADCAFE")
    assert result.outcome is O.UNKNOWN_CARD and result.first_name is None
    assert rig.controller.hardware.bank.relays.energised == []
    assert server.wait_event(lambda e: isinstance(e, m.TapEvent)).outcome is O.UNKNOWN_CARD


def test_pupil_without_a_phone_agreement_is_accepted_and_flagged(rig: Rig,
                                                                server: FakeServer) -> None:
    result = rig.tap("04000004")
    assert result.outcome is O.DEPOSIT_OPENED and result.flags == ("not_eligible",)
    tap = server.wait_event(lambda e: isinstance(e, m.TapEvent))
    assert tap.flags == ["not_eligible"]


def test_early_release_approval_opens_the_slot_once(rig: Rig, server: FakeServer) -> None:
    slot = deposit(rig, "04000005")
    approved = card("04000005", "P5", "Ola", early_release="er-42")
    server.publish(t.POLICY_UPDATES, m.PolicyUpdate(
        kiosk="k1", site="school1", version=2, base_version=1,
        generated_at=rig.clock.now(), upsert_cards=[approved]))
    wait_until(lambda: rig.controller.view().policy_version == 2)
    rig.clock.advance(3 * 3600)  # 11:20, an appointment
    result = rig.tap("04000005", reader="departure")
    assert (result.outcome, result.slot) == (O.EARLY_RELEASE_OPENED, slot)
    rig.open_and_close(slot, item="take")
    assert server.wait_event(lambda e: isinstance(e, m.CollectionEvent)).via == "early_release"
    slot2 = deposit(rig, "04000005")  # back from the appointment, hands in again
    assert rig.tap("04000005").outcome is O.NOT_RELEASE_TIME
    assert rig.state(slot2) is S.OCCUPIED


def test_several_doors_open_at_once_and_the_next_pupil_is_not_kept_waiting(rig: Rig) -> None:
    slots = [rig.tap(uid).slot for uid in ("04000001", "04000002", "04000005")]
    assert slots == [1, 2, 3]
    for s in slots:
        rig.world.open_door(s)
        rig.world.put_item(s)
    wait_until(lambda: rig.controller.view().open_for_deposit == (1, 2, 3))
    for s in reversed(slots):
        rig.world.close_door(s)
    wait_until(lambda: all(rig.state(s) is S.OCCUPIED for s in slots))


def test_late_arrival_is_flagged(tmp_path: Path, mock_pins: MockFactory, broker: Broker,
                                 server: FakeServer, readers: list[ReaderSpec]) -> None:
    server.publish(t.POLICY, snapshot(PUPILS, late_after=dtime(8, 45)))
    r = make_rig(tmp_path, mock_pins, broker, readers=readers)
    try:
        wait_until(lambda: r.controller.view().policy_version == 1)
        r.clock.advance(30 * 60)
        assert r.tap("04000001").flags == ("late",)
    finally:
        r.controller.stop()


def test_fixed_assignment_opens_the_pupils_own_slot(tmp_path: Path, mock_pins: MockFactory,
                                                    broker: Broker, server: FakeServer,
                                                    readers: list[ReaderSpec]) -> None:
    cards = [card("04000001", "P1", "Amira", slot=6), card("04000002", "P2", "Tom")]
    server.publish(t.POLICY, snapshot(cards, assignment="fixed"))
    r = make_rig(tmp_path, mock_pins, broker, readers=readers)
    try:
        wait_until(lambda: r.controller.view().policy_version == 1)
        assert (r.tap("04000001").slot, r.relay(6)) == (6, True)
        assert r.tap("04000002").outcome is O.SLOT_UNAVAILABLE  # no slot of their own
    finally:
        r.controller.stop()


def test_a_door_left_open_raises_an_alarm_cleared_when_it_closes(rig: Rig,
                                                                 server: FakeServer) -> None:
    slot = rig.tap("04000001").slot
    rig.world.open_door(slot)
    wait_until(lambda: rig.slot(slot).door_open)
    rig.advance(59)
    assert not server.of_type(m.AlarmEvent)
    rig.advance(2)
    alarm = server.wait_event(lambda e: isinstance(e, m.AlarmEvent))
    assert (alarm.alarm, alarm.state, alarm.slot) == (m.AlarmKind.DOOR_LEFT_OPEN, "raised", slot)
    rig.world.close_door(slot)
    server.wait_event(lambda e: isinstance(e, m.AlarmEvent) and e.state == "cleared")


def test_a_door_opened_without_a_tap_raises_a_forced_open_alarm(rig: Rig,
                                                                server: FakeServer) -> None:
    slot = deposit(rig, "04000001")
    rig.world.open_door(slot)
    alarm = server.wait_event(lambda e: isinstance(e, m.AlarmEvent))
    assert (alarm.alarm, alarm.slot) == (m.AlarmKind.FORCED_OPEN, slot)
    door = server.wait_event(lambda e: isinstance(e, m.DoorEvent) and not e.expected)
    assert door.slot == slot


def test_a_pulsed_door_that_never_opens_frees_the_slot_and_says_so(rig: Rig,
                                                                   server: FakeServer) -> None:
    slot = rig.tap("04000001").slot
    rig.advance(9)
    alarm = server.wait_event(lambda e: isinstance(e, m.AlarmEvent))
    assert alarm.alarm is m.AlarmKind.DOOR_DID_NOT_OPEN
    assert rig.state(slot) is S.FREE


def test_an_empty_deposit_is_flagged_not_counted_when_the_slot_has_a_presence_sensor(
        rig: Rig, server: FakeServer) -> None:
    result = rig.tap("04000001")
    assert result.slot == 1 and rig.controller.hardware.bank.has_presence_sensor(1)
    rig.open_and_close(1)  # nothing put in
    alarm = server.wait_event(lambda e: isinstance(e, m.AlarmEvent))
    assert alarm.alarm is m.AlarmKind.EMPTY_DEPOSIT
    assert rig.state(1) is S.FREE and not server.of_type(m.DepositEvent)
    result = rig.tap("04000001")
    rig.world.open_door(result.slot)
    rig.world.put_item(result.slot)
    wait_until(lambda: rig.slot(result.slot).door_open)
    rig.world.close_door(result.slot)
    assert server.wait_event(lambda e: isinstance(e, m.DepositEvent)).empty is False


def test_remote_unlock_for_parent_collection_opens_a_held_slot_and_acks_the_door(
        rig: Rig, server: FakeServer) -> None:
    slot = deposit(rig, "04000001")
    server.command(m.CommandKind.REMOTE_UNLOCK, slot=slot, purpose="parent_collection")
    wait_until(lambda: rig.state(slot) is S.OPENING_FOR_RELEASE, what="the unlock")
    assert rig.relay(slot)
    rig.world.open_door(slot)
    ack = server.acks.get(timeout=5)
    assert (ack.outcome, ack.command_id) == (m.CommandOutcome.DOOR_OPENED, "cmd-0001")
    rig.world.close_door(slot)
    collected = server.wait_event(lambda e: isinstance(e, m.CollectionEvent))
    assert (collected.via, collected.command_id) == ("remote_unlock", "cmd-0001")


def test_a_remote_unlock_whose_door_never_opens_is_reported(rig: Rig,
                                                            server: FakeServer) -> None:
    slot = deposit(rig, "04000001")
    server.command(m.CommandKind.REMOTE_UNLOCK, slot=slot, purpose="parent_collection")
    wait_until(lambda: rig.state(slot) is S.OPENING_FOR_RELEASE, what="the unlock")
    rig.advance(9)
    assert server.acks.get(timeout=5).outcome is m.CommandOutcome.DOOR_DID_NOT_OPEN


def test_expired_and_replayed_commands_are_refused(rig: Rig, server: FakeServer) -> None:
    server.command(m.CommandKind.REMOTE_UNLOCK, slot=2, expires_in=-1, cid="old-command")
    assert server.acks.get(timeout=5).outcome is m.CommandOutcome.EXPIRED
    server.command(m.CommandKind.SET_MODE, mode="maintenance", cid="mode-0001")
    assert server.acks.get(timeout=5).outcome is m.CommandOutcome.DONE
    server.command(m.CommandKind.SET_MODE, mode="maintenance", cid="mode-0001")
    assert server.acks.get(timeout=5).outcome is m.CommandOutcome.DUPLICATE
    assert rig.tap("04000001").outcome is O.KIOSK_CLOSED
    assert rig.controller.hardware.bank.relays.energised == []


def test_emergency_open_releases_every_slot_within_the_coil_limit(rig: Rig,
                                                                  server: FakeServer) -> None:
    deposit(rig, "04000001")
    wait_until(lambda: not rig.controller.hardware.bank.relays.energised)
    server.command(m.CommandKind.EMERGENCY_OPEN, purpose="fire_alarm", cid="fire-0001")
    seen_max = 0
    bank = rig.controller.hardware.bank.relays
    deadline_slots = set(range(1, 9))
    while deadline_slots:
        on = set(bank.energised)
        seen_max = max(seen_max, len(on))
        for s in on & deadline_slots:
            rig.world.open_door(s)
        deadline_slots -= on
        wait_until(lambda left=deadline_slots: bank.energised or not left, timeout=3)
    ack = server.acks.get(timeout=5)
    assert ack.outcome is m.CommandOutcome.DONE and len(ack.slots) == 8
    assert all(s.outcome is m.CommandOutcome.DOOR_OPENED for s in ack.slots)
    assert seen_max <= 4


def test_malformed_policy_and_commands_are_ignored_and_counted(rig: Rig,
                                                               server: FakeServer) -> None:
    server.publish(t.POLICY, b"{not json")
    server.publish(t.COMMANDS, b'{"v": 1, "id": "x"}')
    server.publish(t.POLICY_UPDATES, b"\xff")
    wait_until(lambda: rig.controller.view().messages_refused == 3)
    assert rig.controller.view().policy_version == 1
    assert rig.tap("04000001").outcome is O.DEPOSIT_OPENED


def test_staff_card_and_pin_enrol_a_new_card_and_open_a_slot(rig: Rig,
                                                             server: FakeServer) -> None:
    assert rig.tap(STAFF_UID).outcome is O.STAFF_CARD
    rig.controller.staff_login("0000")
    assert rig.staff.get(timeout=5).ok is False
    rig.controller.staff_login(STAFF_PIN)
    assert rig.staff.get(timeout=5).ok is True
    rig.controller.staff_enrol("P9")
    assert rig.staff.get(timeout=5).ok
    rig.controller.deliver(__import__("firmware_py.interfaces").interfaces.CardTapped(
        "arrival", "0E0E0E0E", 0.0))
    assert "enrolled" in rig.staff.get(timeout=5).message
    rig.controller.staff_open_slot(7, "pupil left a coat in it")
    assert rig.staff.get(timeout=5).ok
    assert rig.relay(7)
    actions = [e.action for e in server.of_type(m.StaffActionEvent)]
    wait_until(lambda: len(server.of_type(m.StaffActionEvent)) >= 4)
    actions = [e.action for e in server.of_type(m.StaffActionEvent)]
    assert actions == ["pin_refused", "staff_mode_entered", "enrol_card", "open_slot"]
    rig.controller.staff_logout()
    rig.staff.get(timeout=5)
    result = rig.tap("0E0E0E0E")  # the new card works at once
    assert result.outcome is O.DEPOSIT_OPENED


def test_sequence_numbers_continue_after_a_restart_and_the_restart_is_reported(
        tmp_path: Path, mock_pins: MockFactory, broker: Broker, server: FakeServer,
        readers: list[ReaderSpec]) -> None:
    server.publish(t.POLICY, snapshot(PUPILS))
    r = make_rig(tmp_path, mock_pins, broker, readers=readers)
    wait_until(lambda: r.controller.view().policy_version == 1)
    deposit(r, "04000001")
    r.controller.stop()
    mock_pins.reset()
    r2 = make_rig(tmp_path, mock_pins, broker, readers=readers, clock=r.clock)
    try:
        assert r2.state(1) is S.OCCUPIED  # the replica and slots came back from disk
        def restarts() -> list[m.KioskRestartedEvent]:
            return sorted({e.seq: e for e in server.of_type(m.KioskRestartedEvent)}.values(),
                          key=lambda e: e.seq)

        wait_until(lambda: len(restarts()) == 2, what="the second restart event")
        assert restarts()[1].clean_shutdown is True
        wait_until(lambda: r2.controller.view().outbox_pending == 0,
                   what=f"acks {r2.controller.view().outbox_pending} {len(server.events)}")
        seqs = sorted({e.seq for e in server.events})
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        r2.controller.stop()


def test_nothing_is_lost_when_the_view_subscriber_raises(rig: Rig) -> None:
    rig.controller.subscribe(lambda _: 1 / 0)
    assert rig.tap("04000001").outcome is O.DEPOSIT_OPENED




def test_the_fire_alarm_input_opens_every_slot_keeps_custody_and_flags_changed_contents(
        rig: Rig, server: FakeServer) -> None:
    slot = deposit(rig, "04000001")
    wait_until(lambda: not rig.controller.hardware.bank.relays.energised)
    rig.world.fire_alarm(True)
    alarm = server.wait_event(lambda e: isinstance(e, m.AlarmEvent)
                              and e.alarm is m.AlarmKind.FIRE_ALARM)
    assert alarm.state == "raised"
    pulsed: set[int] = set()
    bank = rig.controller.hardware.bank.relays
    while len(pulsed) < 8:  # every slot's lock is released, a few coils at a time
        on = set(bank.energised)
        assert len(on) <= 4
        pulsed |= on
        wait_until(lambda done=frozenset(pulsed): set(bank.energised) - done
                   or len(done) == 8, timeout=3)
    assert rig.controller.view().fire_alarm
    assert rig.state(slot) is S.OCCUPIED  # an emergency leaves the custody record as it was
    rig.world.open_door(slot)
    rig.world.take_item(slot)  # a pupil grabbed the phone on the way out
    rig.world.close_door(slot)
    changed = server.wait_event(lambda e: isinstance(e, m.AlarmEvent)
                                and e.alarm is m.AlarmKind.CONTENTS_CHANGED)
    assert (changed.slot, changed.state) == (slot, "raised")
    assert rig.state(slot) is S.OCCUPIED and not server.of_type(m.CollectionEvent)
    forced = [e for e in server.of_type(m.AlarmEvent) if e.alarm is m.AlarmKind.FORCED_OPEN]
    assert not forced  # every door was expected to open


def test_staff_clear_a_relay_fault_at_the_kiosk(rig: Rig, server: FakeServer) -> None:
    bank = rig.controller.hardware.bank.relays
    bank._lines[5].set(True)  # a relay stuck on  # noqa: SLF001
    wait_until(lambda: rig.state(5) is S.FAULT, what="the watchdog to fault the slot")
    assert rig.tap("04000001").slot != 5  # a faulty slot is never given out
    rig.tap(STAFF_UID)
    rig.controller.staff_login(STAFF_PIN)
    assert rig.staff.get(timeout=5).ok
    rig.controller.staff_clear_fault(5)
    assert rig.staff.get(timeout=5).ok
    assert rig.state(5) is S.FREE
    cleared = server.wait_event(lambda e: isinstance(e, m.AlarmEvent) and e.state == "cleared"
                                and e.alarm is m.AlarmKind.RELAY_WATCHDOG)
    assert cleared.slot == 5


def _crash_with_a_door_open(tmp_path: Path, mock_pins: MockFactory, broker: Broker,
                            server: FakeServer, readers: list[ReaderSpec], pinmap: str
                            ) -> tuple[Rig, int]:
    """Amira's locker opens, she pulls the door and puts her phone in; the kiosk crashes
    (power cut) before she shuts it. Returns the crashed rig and her slot."""
    server.publish(t.POLICY, snapshot(PUPILS))
    r = make_rig(tmp_path, mock_pins, broker, readers=readers, pinmap=pinmap)
    wait_until(lambda: r.controller.view().policy_version == 1, what="the policy snapshot")
    result = r.tap("04000001")
    assert result.outcome is O.DEPOSIT_OPENED
    r.world.open_door(result.slot)
    wait_until(lambda: r.slot(result.slot).door_open, what="her door open")
    r.world.put_item(result.slot)
    r.controller.halt()
    mock_pins.reset()
    return r, result.slot


def _deposit_counted(r: Rig, server: FakeServer, slot: int) -> None:
    """The rebooted kiosk counts her deposit and tells the server; then it is stopped."""
    try:
        _wait_deposit(r, server, slot)
    finally:
        r.controller.stop()


def _wait_deposit(r: Rig, server: FakeServer, slot: int) -> None:
    wait_until(lambda: r.state(slot) is S.OCCUPIED and not r.slot(slot).door_open,
               what=f"slot {slot} occupied and shut, not {r.slot(slot)}")
    server.wait_event(lambda e: isinstance(e, m.DepositEvent) and e.slot == slot
                      and e.pupil_ref == "P1", timeout=10)


@pytest.mark.parametrize("pinmap", ["sim8.toml", "sim60.toml"])  # GPIO doors, expander doors
def test_a_door_shut_while_the_kiosk_was_down_counts_the_deposit_when_it_boots(
        tmp_path: Path, mock_pins: MockFactory, broker: Broker, server: FakeServer,
        readers: list[ReaderSpec], pinmap: str) -> None:
    crashed, slot = _crash_with_a_door_open(tmp_path, mock_pins, broker, server, readers, pinmap)
    # She shuts the door while the kiosk is down: the rebooted kiosk's doors are all shut.
    # (The simulator's day once ended with such a door believed open for ever: the kiosk's
    # boot read its expander's first reading, from before the door was shut.)
    def as_she_left_it(hardware: Any, world: SimWorld) -> None:
        world.put_item(slot)  # her phone is inside (where the slot has a sensor to say so)
        _read_now(hardware, slot)

    r = make_rig(tmp_path, mock_pins, broker, readers=readers, pinmap=pinmap,
                 clock=crashed.clock, before_start=as_she_left_it)
    _deposit_counted(r, server, slot)


@pytest.mark.parametrize("pinmap", ["sim8.toml", "sim60.toml"])
def test_a_door_shut_while_the_kiosk_boots_is_heard(
        tmp_path: Path, mock_pins: MockFactory, broker: Broker, server: FakeServer,
        readers: list[ReaderSpec], pinmap: str) -> None:
    crashed, slot = _crash_with_a_door_open(tmp_path, mock_pins, broker, server, readers, pinmap)

    def shut_as_it_boots(hardware: Any, world: SimWorld) -> None:
        world.open_door(slot)  # still open when the kiosk comes back, her phone inside
        world.put_item(slot)
        _read_now(hardware, slot)
        listen = hardware.bank.start

        def late_listen(events: Any) -> None:
            # She pushes it shut after the boot read her door, before the kiosk listens to
            # the switches: no change is heard, the kiosk must look again.
            world.close_door(slot)
            _read_now(hardware, slot)
            listen(events)

        hardware.bank.start = late_listen

    r = make_rig(tmp_path, mock_pins, broker, readers=readers, pinmap=pinmap,
                 clock=crashed.clock, before_start=shut_as_it_boots)
    _deposit_counted(r, server, slot)


def _read_now(hardware: Any, slot: int) -> None:
    """The slot's switches' new levels have been read (an expander is polled; GPIO reads
    directly)."""
    for line in (hardware.bank.door_line(slot), hardware.bank.presence_line(slot)):
        if isinstance(line, ExpanderInput):
            line.chip.poll_now()
