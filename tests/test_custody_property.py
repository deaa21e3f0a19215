"""Random school days against the server's custody (hypothesis stateful testing): deposits,
pupils collecting, confiscations in a slot and from a pupil, office hand-ins, parent
collections, returns, refused unlocks and a kiosk losing its state file, in any order.

The kiosk is a model that does exactly what a correct kiosk does with what the server sends.
After every step: the server's custody picture of the kiosk matches the model slot by slot
(record by record), every device is in exactly one place, and every door the server asked to
open was the slot of the record it named, for that record's pupil. Events go through the
real ingest worker and commands through the real command center (no broker: the broker's
part is covered by the other custody tests)."""

from __future__ import annotations

import queue
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.codec import encode
from server.commands import CommandCenter
from server.custody.compare import compare_with_kiosk
from server.custody.states import OPEN
from server.errors import NotAllowed
from server.ingest.worker import IngestWorker
from server.migrate import upgrade
from server.models import CustodyRecord
from server.mqtt_receiver import Inbound
from server.services import Services
from server.store import Store
from tests.server_kit import MORNING, database_url, make_clock, seed

PUPILS = ("A001", "A002", "A003")
SLOTS = tuple(range(1, 5))


class SchoolDay(RuleBasedStateMachine):
    """One kiosk (k1, slots 1-4), the office, and the server between them."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="custody-prop-"))
        url = database_url(self.dir)
        upgrade(url)
        self.store = Store(url)
        self.clock = make_clock()
        self.sent: list[m.Command] = []
        center = CommandCenter(self.store, self.clock, lambda msg, _s, _k: self.sent.append(msg))
        self.services = Services(self.store, self.clock, commands=center)
        seed(self.services)
        self.worker = IngestWorker(self.store, self.clock, queue.Queue(), lambda *a: None,
                                   None, center)
        self.epoch, self.seq, self.epochs = "0000000000000001", 0, 1
        self.slots: dict[int, tuple[str, str]] = {}  # the kiosk's own records
        self.office: dict[str, str] = {}  # custody id -> pupil, devices kept in the office

    def teardown(self) -> None:
        """Teardown."""
        self.store.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- the wire -------------------------------------------------------------------------

    def _event(self, kind: type[m.EventBase], **fields: Any) -> None:
        self.seq += 1
        ev = kind(kiosk="k1", site="north", seq=self.seq, at=self.clock.now(),
                  epoch=self.epoch, **fields)
        self.worker.handle([Inbound(t.topic(t.EVENTS, "north", "k1"), encode(ev), 0.0)])

    def _ack(self, cmd: m.Command, outcome: m.CommandOutcome, detail: str | None = None
             ) -> None:
        ack = m.CommandAck(command_id=cmd.id, kiosk="k1", at=self.clock.now(), outcome=outcome,
                           detail=detail)
        self.worker.handle([Inbound(t.topic(t.COMMAND_ACKS, "north", "k1"), encode(ack), 0.0)])

    def _held(self, custody_id: str) -> bool:
        return self.services.custody.get(custody_id, "north").held

    def _door(self, before: int, custody_id: str, refuse: bool) -> None:
        """What a correct kiosk does with the command the last office action sent."""
        new = self.sent[before:]
        if custody_id in self.office:
            assert new == [], "a device in the office needs no door"
            return
        slot = next(n for n, (c, _) in self.slots.items() if c == custody_id)
        [cmd] = new
        assert (cmd.slot, cmd.custody_id, cmd.expected_pupil_ref) == (
            slot, custody_id, self.slots[slot][1]), "the door must be the record's own"
        if refuse:
            self._ack(cmd, m.CommandOutcome.REFUSED, "slot holds another device")
            return
        self._ack(cmd, m.CommandOutcome.DOOR_OPENED)
        del self.slots[slot]
        self._event(m.CollectionEvent, slot=slot, via="remote_unlock", command_id=cmd.id,
                    custody_id=custody_id)

    def _open_ids(self) -> list[str]:
        return sorted([c for c, _ in self.slots.values()] + list(self.office))

    # --- rules ----------------------------------------------------------------------------

    @rule(pupil=st.sampled_from(PUPILS), slot=st.sampled_from(SLOTS),
          via=st.sampled_from(["pupil", "staff_assisted", "staff_confiscated"]))
    def hand_in_at_the_kiosk(self, pupil: str, slot: int, via: str) -> None:
        """Hand in at the kiosk."""
        if slot in self.slots:
            return  # the kiosk gives only a free slot
        custody_id = f"k1.{self.epoch}.{self.seq + 1}"
        self._event(m.DepositEvent, slot=slot, pupil_ref=pupil, custody_id=custody_id, via=via,
                    staff_ref=None if via == "pupil" else "office1")
        self.slots[slot] = (custody_id, pupil)

    @rule(slot=st.sampled_from(SLOTS))
    def pupil_taps_to_collect(self, slot: int) -> None:
        """Pupil taps to collect."""
        if slot not in self.slots or self._held(self.slots[slot][0]):
            return  # a held device never opens for the pupil's tap
        custody_id, pupil = self.slots.pop(slot)
        self._event(m.CollectionEvent, slot=slot, via="pupil", pupil_ref=pupil,
                    custody_id=custody_id)

    @rule(slot=st.sampled_from(SLOTS), serious=st.booleans())
    def confiscate_a_device_in_a_slot(self, slot: int, serious: bool) -> None:
        """Confiscate a device in a slot."""
        if slot not in self.slots:
            return
        custody_id, pupil = self.slots[slot]
        try:
            self.services.confiscations.confiscate("office1", pupil, "phone out",
                                                   custody_id=custody_id, serious=serious)
        except NotAllowed:  # only an already confiscated device cannot be confiscated
            assert self.services.custody.get(custody_id).state == "held_in_slot"

    @rule(pupil=st.sampled_from(PUPILS), taken=st.booleans())
    def the_office_takes_a_device_in(self, pupil: str, taken: bool) -> None:
        """The office takes a device in."""
        if taken:
            view = self.services.confiscations.confiscate("office1", pupil, "second phone",
                                                          place="office safe",
                                                          second_device=True)
        else:
            view = self.services.custody.hand_in_at_office("office1", pupil, "reception")
        assert view.custody_id is not None
        self.office[view.custody_id] = pupil

    @precondition(lambda self: self._open_ids())
    @rule(data=st.data(), refuse=st.booleans())
    def a_parent_collects(self, data: st.DataObject, refuse: bool) -> None:
        """A parent collects."""
        custody_id = data.draw(st.sampled_from(self._open_ids()))
        before = len(self.sent)
        self.services.custody.parent_collection("office1", custody_id, "Mrs P", "mother",
                                                "photo ID")
        self._door(before, custody_id, refuse)
        self.office.pop(custody_id, None)  # from the office it is handed over by hand

    @precondition(lambda self: self._open_ids())
    @rule(data=st.data())
    def the_office_returns_a_device(self, data: st.DataObject) -> None:
        """The office returns a device."""
        custody_id = data.draw(st.sampled_from(self._open_ids()))
        before = len(self.sent)
        try:
            self.services.custody.return_to_pupil("office1", custody_id, "returned")
        except NotAllowed:
            assert self.services.custody.get(custody_id).release_mode == "parent_only"
            return
        self._door(before, custody_id, refuse=False)
        self.office.pop(custody_id, None)

    @rule()
    def the_kiosk_loses_its_state_file(self) -> None:
        """The kiosk loses its state file."""
        self.epochs += 1
        self.epoch, self.seq = f"{self.epochs:016x}", 0

    @rule()
    def time_passes(self) -> None:
        """Time passes."""
        self.clock.set(self.clock.now() + (MORNING.replace(hour=15, minute=30) - MORNING) / 4)

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def the_server_and_the_kiosk_agree_on_every_slot(self) -> None:
        """The server and the kiosk agree on every slot."""
        views = [m.SlotView(slot=n, state=m.SlotState.HELD if self._held(c)
                            else m.SlotState.OCCUPIED, pupil_ref=p, custody_id=c)
                 for n, (c, p) in self.slots.items()]
        with self.store.read() as s:
            assert compare_with_kiosk(s, "north", "k1", views, self.clock.now()) == []

    @invariant()
    def every_device_is_in_exactly_one_place(self) -> None:
        """Every device is in exactly one place."""
        with self.store.read() as s:
            rows = s.execute(select(CustodyRecord.custody_id, CustodyRecord.kiosk_id,
                                    CustodyRecord.slot).where(
                CustodyRecord.state.in_(OPEN))).all()
        assert sorted(r[0] for r in rows) == self._open_ids()
        in_slots = [r[2] for r in rows if r[1] is not None]
        assert len(in_slots) == len(set(in_slots)), "two devices recorded in one slot"


SchoolDay.TestCase.settings = settings(
    max_examples=12, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
# Hundreds of random steps against the real server: minutes on a busy machine.
pytestmark = pytest.mark.timeout(900)
test_random_school_days_keep_custody_exact = SchoolDay.TestCase

