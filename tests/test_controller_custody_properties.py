"""Custody invariants at a real kiosk controller over random days (hypothesis stateful).

Random sequences of pupils' taps in the morning and at home time, doors opened and shut,
confiscations the server marks held, parent collections by remote unlock (and stale unlocks
naming a record the slot no longer holds), staff hand-ins for a pupil, kiosk restarts and a
lost state file. After every step:
- no door opens for anyone but the holder of the record in that slot, or someone acting on
  that record (a remote unlock naming it, staff handing in);
- every device is in exactly one place (a slot here, or gone home), and no slot holds two;
- once the kiosk's outbox is drained, the server's picture built from the events it received
  (deposits open a record, collections close it) matches the kiosk's slots record by record.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from lockers.wire import messages as m
from lockers.wire import topics as t
from tests.controller_kit import (
    STAFF_PIN,
    STAFF_UID,
    FakeServer,
    card,
    make_rig,
    snapshot,
    wait_until,
)
from tests.fixtures.broker import Broker

O, S = m.TapOutcome, m.SlotState  # noqa: E741
PUPILS = {f"P{i}": f"0400000{i}" for i in range(1, 6)}
NAMES = {"P1": "Amira", "P2": "Tom", "P3": "Zoë", "P4": "Kai", "P5": "Ola"}
pupils = st.sampled_from(sorted(PUPILS))
STEPS: dict[str, int] = {"steps": 0, "examples": 0}


class KioskDay(RuleBasedStateMachine):
    """One kiosk's days, with the server's side played on the real broker."""

    broker: Broker
    server: FakeServer
    mock_pins: Any

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="custody-prop-"))
        self.versions = itertools.count(1)
        self.cids = itertools.count(1)
        self.held: set[str] = set()  # custody records the server holds (confiscated)
        self.records: dict[str, tuple[str, int]] = {}  # open record -> (pupil, slot)
        self.retired: list[tuple[str, int, str]] = []  # (record, slot, pupil) closed since
        self.home_time = False
        STEPS["examples"] += 1
        self.server.events.clear()
        self._publish_policy()
        self.rig = make_rig(self.dir, self.mock_pins, self.broker, readers=[])
        self._wait_policy()

    # --- the server's side ------------------------------------------------------------

    def _policy(self) -> m.PolicySnapshot:
        cards = [card(uid, ref, NAMES[ref]) for ref, uid in PUPILS.items()]
        custody = [m.SlotCustody(slot=slot, custody_id=cid, pupil_ref=ref, held=cid in self.held)
                   for cid, (ref, slot) in self.records.items()]
        base = snapshot(cards, version=next(self.versions))
        return base.model_copy(update={"custody": custody})

    def _publish_policy(self) -> None:
        self.policy = self._policy()
        self.server.publish(t.POLICY, self.policy)

    def _wait_policy(self) -> None:
        wait_until(lambda: self.rig.controller.view().policy_version == self.policy.version,
                   what="the kiosk to apply the policy")

    def _drain(self) -> None:
        wait_until(lambda: self.rig.controller.view().outbox_pending == 0,
                   what="the outbox to drain")

    def _server_picture(self) -> dict[str, int]:
        """Open records by what the server received, in arrival order and each event once
        (by epoch and sequence): deposits open a record, collections close it."""
        open_: dict[str, int] = {}
        with self.server.cond:
            received = list(self.server.events)
        seen: set[tuple[str | None, int]] = set()
        for e in received:
            if (e.epoch, e.seq) in seen:
                continue
            seen.add((e.epoch, e.seq))
            if isinstance(e, m.DepositEvent) and e.custody_id:
                open_[e.custody_id] = e.slot
            elif isinstance(e, m.CollectionEvent) and e.custody_id:
                open_.pop(e.custody_id, None)
        return open_

    # --- what people do ---------------------------------------------------------------

    def _slot_of(self, ref: str) -> tuple[str, int] | None:
        return next(((c, s) for c, (r, s) in self.records.items() if r == ref), None)

    @initialize()
    def start(self) -> None:
        """The day starts at 08:20."""

    @rule(ref=pupils)
    def tap(self, ref: str) -> None:
        """A pupil taps: at most their own locker opens, and only when the rules allow."""
        STEPS["tap"] = STEPS.get("tap", 0) + 1
        before = set(self.rig.controller.hardware.bank.relays.energised)
        result = self.rig.tap(PUPILS[ref], reader="departure" if self.home_time else "arrival")
        mine = self._slot_of(ref)
        if result.outcome is O.RELEASE_OPENED:
            mine = next(((c, s) for c, (r, s) in self.records.items()
                         if r == ref and s == result.slot), None)
        if result.outcome is O.DEPOSIT_OPENED:
            assert mine is None and not self.home_time
            assert result.slot not in {s for _, s in self.records.values()}, "slot in use"
            self.rig.open_and_close(result.slot, item="put")
            cid = next(s.custody_id for s in self.rig.controller.view().slots
                       if s.number == result.slot)
            assert cid is not None
            self.records[cid] = (ref, result.slot)
        elif result.outcome is O.RELEASE_OPENED:
            assert mine is not None and result.slot == mine[1] and self.home_time
            assert mine[0] not in self.held, "a held device opened for its pupil"
            self.rig.open_and_close(result.slot, item="take")
            self._close(mine[0])
        else:
            opened = set(self.rig.controller.hardware.bank.relays.energised) - before
            assert not opened, f"{result.outcome} pulsed {opened}"
            if mine is not None and mine[0] in self.held:
                assert result.outcome in (O.HELD, O.NOT_RELEASE_TIME, O.ALREADY_DEPOSITED,
                                          O.KIOSK_CLOSED), result

    @rule(ref=pupils)
    def another_pupil_taps(self, ref: str) -> None:
        """Taps are most of a kiosk's day: a second rule for them keeps them most steps."""
        self.tap(ref)

    def _close(self, cid: str) -> None:
        ref, slot = self.records.pop(cid)
        self.held.discard(cid)
        self.retired.append((cid, slot, ref))

    @precondition(lambda self: self.records)
    @rule(data=st.data())
    def confiscate(self, data: st.DataObject) -> None:
        """The office confiscates a device already in a locker: the server marks it held."""
        STEPS["confiscate"] = STEPS.get("confiscate", 0) + 1
        cid = data.draw(st.sampled_from(sorted(self.records)))
        self.held.add(cid)
        self._publish_policy()
        self._wait_policy()
        slot = self.records[cid][1]
        assert self.rig.state(slot) is S.HELD

    @precondition(lambda self: self.records)
    @rule(data=st.data())
    def parent_collection(self, data: st.DataObject) -> None:
        """The office opens a locker for the record it names: it opens, and it is closed."""
        STEPS["parent_collection"] = STEPS.get("parent_collection", 0) + 1
        cid = data.draw(st.sampled_from(sorted(self.records)))
        ref, slot = self.records[cid]
        wait_until(lambda: not self.rig.relay(slot), what="an earlier pulse to end")
        self.server.command(m.CommandKind.REMOTE_UNLOCK, slot=slot, purpose="parent_collection",
                            custody_id=cid, expected_pupil_ref=ref,
                            cid=f"cmd-{next(self.cids):06d}", now=self.rig.clock.now())
        wait_until(lambda: self.rig.state(slot) is S.OPENING_FOR_RELEASE, what="the unlock")
        self.rig.open_and_close(slot, item="take")
        ack = self.server.acks.get(timeout=5)
        assert ack.outcome is m.CommandOutcome.DOOR_OPENED, ack
        self._close(cid)

    @precondition(lambda self: self.retired)
    @rule(data=st.data())
    def stale_unlock(self, data: st.DataObject) -> None:
        """A remote unlock naming a record that has left its slot never opens the slot."""
        STEPS["stale_unlock"] = STEPS.get("stale_unlock", 0) + 1
        cid, slot, ref = data.draw(st.sampled_from(self.retired))
        wait_until(lambda: not self.rig.relay(slot), what="an earlier pulse to end")
        now_in = next(((c, r) for c, (r, s) in self.records.items() if s == slot), None)
        self.server.command(m.CommandKind.REMOTE_UNLOCK, slot=slot, purpose="parent_collection",
                            custody_id=cid, expected_pupil_ref=ref,
                            cid=f"cmd-{next(self.cids):06d}", now=self.rig.clock.now())
        ack = self.server.acks.get(timeout=5)
        assert ack.outcome is m.CommandOutcome.REFUSED, (ack, now_in)
        assert not self.rig.relay(slot)

    @precondition(lambda self: not self.home_time)
    @rule(ref=pupils, confiscated=st.booleans())
    def staff_hand_in(self, ref: str, confiscated: bool) -> None:
        """Staff hand a device in for a pupil (a forgotten card, or a confiscated device)."""
        STEPS["staff_hand_in"] = STEPS.get("staff_hand_in", 0) + 1
        if self._slot_of(ref) is not None and not confiscated:
            return
        assert self.rig.tap(STAFF_UID).outcome is O.STAFF_CARD
        self.rig.controller.staff_login(STAFF_PIN)
        assert self.rig.staff.get(timeout=5).ok
        self.rig.controller.staff_hand_in(ref, confiscated=confiscated)
        result = self.rig.staff.get(timeout=5)
        self.rig.controller.staff_logout()
        self.rig.staff.get(timeout=5)
        if not result.ok:
            assert "no free locker" in result.message or "already" in result.message
            return
        assert result.slot not in {s for _, s in self.records.values()}
        self.rig.open_and_close(result.slot, item="put")
        cid = next(s.custody_id for s in self.rig.controller.view().slots
                   if s.number == result.slot)
        assert cid is not None
        self.records[cid] = (ref, result.slot)
        if confiscated:
            self.held.add(cid)

    @rule()
    def time_passes(self) -> None:
        """Morning to home time, or home time to the next morning."""
        STEPS["time_passes"] = STEPS.get("time_passes", 0) + 1
        self.rig.clock.advance(7 * 3600 if not self.home_time else 17 * 3600)
        self.home_time = not self.home_time
        wait_until(lambda: not self.rig.controller.hardware.bank.relays.energised)
        self.rig.controller.tick_now()

    @rule(lose_state=st.booleans())
    def restart(self, lose_state: bool) -> None:
        """The kiosk restarts; sometimes its state file is gone and the server's picture
        (published from what the server knows) puts its records back."""
        STEPS["restart"] = STEPS.get("restart", 0) + 1
        self._drain()
        clock = self.rig.clock
        self.rig.controller.stop()
        if lose_state:
            STEPS["state_lost"] = STEPS.get("state_lost", 0) + 1
            shutil.rmtree(self.dir / "kiosk")
            self._publish_policy()
        self.rig = make_rig(self.dir, self.mock_pins, self.broker, readers=[], clock=clock)
        if lose_state:
            self._wait_policy()
            wait_until(lambda: not self.rig.controller.view().awaiting_picture)

    # --- invariants -------------------------------------------------------------------

    @invariant()
    def every_device_is_in_exactly_one_place(self) -> None:
        """Each open record is in its slot, in the state its hold says; no other slot is
        occupied; no slot holds two."""
        STEPS["steps"] += 1
        slots = [s for _, s in self.records.values()]
        assert len(slots) == len(set(slots)), "two devices in one slot"
        view = {s.number: s for s in self.rig.controller.view().slots}
        for cid, (ref, slot) in self.records.items():
            assert view[slot].custody_id == cid and view[slot].pupil_ref == ref, view[slot]
            expected = S.HELD if cid in self.held else S.OCCUPIED
            assert view[slot].state is expected, (cid, view[slot])
        occupied = {n for n, s in view.items() if s.state in (S.OCCUPIED, S.HELD)}
        assert occupied == set(slots)

    @invariant()
    def the_servers_picture_matches_the_kiosk_once_online(self) -> None:
        """What the server heard (deposits open a record, collections close it) is the
        kiosk's picture, record by record, once the outbox is drained."""
        self._drain()
        picture = self._server_picture()
        assert picture == {cid: slot for cid, (_, slot) in self.records.items()}

    def teardown(self) -> None:
        """Nothing of this day left in flight; the kiosk stopped; its folder removed."""
        self._drain()
        self.rig.controller.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.mark.timeout(900)  # a few hundred real steps; under a CPU hog several minutes
def test_custody_invariants_hold_over_random_days_at_a_real_kiosk(
        broker: Broker, mock_pins: Any) -> None:
    KioskDay.broker, KioskDay.mock_pins = broker, mock_pins
    KioskDay.server = FakeServer(broker)
    run = KioskDay.TestCase
    # No shrinking: against real components it is slow and the kiosk's answers steer the
    # rules (a failing run prints its whole sequence of steps instead).
    run.settings = settings(max_examples=15, stateful_step_count=30, deadline=None,
                            derandomize=True, database=None,
                            phases=[Phase.explicit, Phase.reuse, Phase.generate],
                            suppress_health_check=list(HealthCheck))
    run().runTest()
    print(f"custody property test: {STEPS}")
    assert STEPS["steps"] > 100
