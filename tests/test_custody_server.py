"""Custody on the server, with a kiosk played on the real broker: every device has one record,
every door opens for one record, and the server never loses track of a device."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lockers.wire import messages as m
from server.errors import Forbidden, NotAllowed
from server.models import Alarm, Confiscation, CustodyMove, CustodyRecord
from tests.custody_kit import EPOCH_1, EPOCH_2, CustodyKiosk, server_and_custody_kiosk
from tests.server_kit import MORNING, wait_until

pytestmark = pytest.mark.usefixtures("each_database")


@pytest.fixture
def env(tmp_path: Path, broker_factory: Any) -> Iterator[tuple[Any, CustodyKiosk]]:
    with server_and_custody_kiosk(tmp_path, broker_factory) as pair:
        yield pair


def _record(rt: Any, custody_id: str) -> CustodyRecord:
    with rt.store.read() as s:
        rec = s.scalar(select(CustodyRecord).where(CustodyRecord.custody_id == custody_id))
        s.expunge(rec)
        return rec


def _alarms(rt: Any, kind: str) -> list[Alarm]:
    with rt.store.read() as s:
        rows = s.scalars(select(Alarm).where(Alarm.kind == kind)).all()
        for r in rows:
            s.expunge(r)
        return list(rows)


def _mirrored(rt: Any, slot: int) -> tuple[str, str | None]:
    from server.models import Slot

    with rt.store.read() as s:
        row = s.scalar(select(Slot).where(Slot.number == slot, Slot.kiosk_id == 1))
        return row.state, row.custody_id


def test_a_parent_collecting_a_phone_held_in_the_office_never_opens_another_pupils_locker(
        env: tuple[Any, CustodyKiosk]) -> None:
    # The exact sequence of issue 18: A collects early, B uses the same slot, A's (other)
    # phone is confiscated later and kept in the office, A's parent collects it.
    rt, kiosk = env
    a_phone = kiosk.deposit("A001", 3)
    rt.services.releases.approve_early_release("office1", "A001", "dentist at 11:00")
    kiosk.collect(3, a_phone, via="early_release", pupil_ref="A001",
                  at=MORNING + timedelta(hours=3))
    b_phone = kiosk.deposit("A002", 3, at=MORNING + timedelta(hours=3, minutes=5))
    conf = rt.services.confiscations.confiscate(
        "office1", "A001", "phone out in the corridor", place="office safe", serious=True)
    assert (conf.kiosk, conf.slot, conf.place) == (None, None, "office safe")
    commands_before = len(kiosk.commands)
    done = rt.services.confiscations.record_parent_collection(
        "office1", conf.id, "Mrs O'Neil", "mother", "photo ID checked")
    assert done.command_id is None  # the device is in the office: no door at all
    assert done.state == "collected_by_parent"
    assert _record(rt, b_phone).state == "in_slot"
    pictures = kiosk.wait_picture(lambda p: any(c.custody_id == b_phone for c in p),
                                  "B's phone in the custody picture")
    assert [(c.slot, c.custody_id, c.pupil_ref, c.held) for c in pictures] == [
        (3, b_phone, "A002", False)]
    assert len(kiosk.commands) == commands_before
    assert _record(rt, a_phone).state == "returned_to_pupil"


def test_a_parent_collection_opens_the_slot_named_by_the_record_and_names_its_occupant(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    phone = kiosk.deposit("A002", 7)
    rt.services.confiscations.confiscate("office1", "A002", "filming a lesson",
                                         custody_id=phone, serious=True)
    kiosk.wait_picture(lambda p: [(c.slot, c.held) for c in p] == [(7, True)],
                       "slot 7 held in the picture")
    assert kiosk.card(rt.cards["A002"]).status == m.PupilStatus.HELD
    view = rt.services.custody.parent_collection("office1", phone, "Mr Šimek", "father",
                                                 "known to staff")
    cmd = kiosk.wait_for(lambda k: k.commands and k.commands[-1], what="remote unlock")
    assert (cmd.slot, cmd.custody_id, cmd.expected_pupil_ref, cmd.purpose, cmd.id) == (
        7, phone, "A002", "parent_collection", view.command_id)
    kiosk.wait_picture(lambda p: p == [], "slot 7 leaves the custody picture")


def test_a_refused_remote_unlock_is_recorded_alarmed_and_the_device_stays_held(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    phone = kiosk.deposit("A002", 5)
    conf = rt.services.confiscations.confiscate("office1", "A002", "serious misuse",
                                                custody_id=phone, serious=True)
    view = rt.services.custody.parent_collection("office1", phone, "Mrs Šimek", "mother",
                                                 "photo ID")
    cmd = kiosk.wait_for(lambda k: k.commands and k.commands[-1], what="remote unlock")
    kiosk.publish(m.CommandAck(command_id=cmd.id, kiosk="k1", at=MORNING,
                               outcome=m.CommandOutcome.REFUSED,
                               detail="slot holds another device"))
    result = rt.services.commands.wait(view.command_id, timeout=5)
    assert (result.status, result.detail) == ("refused", "slot holds another device")
    assert _record(rt, phone).state == "held_in_slot"
    with rt.store.read() as s:
        assert s.get(Confiscation, conf.id).state == "held"
    [alarm] = _alarms(rt, "unlock_refused")
    assert alarm.slot == 5 and "slot holds another device" in alarm.detail
    [line] = [tl for tl in rt.services.timelines.of_pupil("A002") if tl.custody_id == phone]
    assert "did not open North entrance, locker 5" in line.lines[-1].words
    kiosk.wait_picture(lambda p: [(c.slot, c.held) for c in p] == [(5, True)],
                       "the device back in the picture, held")


def test_a_second_device_keeps_its_own_record_when_the_pupil_collects_their_phone(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    phone = kiosk.deposit("A003", 2)
    second = rt.services.confiscations.confiscate(
        "office1", "A003", "second phone in the bag", second_device=True, place="office safe")
    entry = kiosk.wait_for(lambda k: (e := k.card(rt.cards["A003"])) and e.elsewhere and e,
                           what="the second device on the card")
    assert entry.status == m.PupilStatus.NORMAL  # held is per record: the phone still comes
    assert [(w.kiosk, w.held) for w in entry.elsewhere] == [(None, True)]
    kiosk.collect(2, phone, via="pupil", pupil_ref="A003", at=MORNING.replace(hour=15, minute=20))
    assert _record(rt, phone).state == "returned_to_pupil"
    assert _record(rt, second.custody_id).state == "held_in_office"
    assert rt.services.confiscations.get(second.id).state == "held"


def test_office_hand_in_is_kept_at_its_place_and_returned_by_hand(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    view = rt.services.custody.hand_in_at_office("office1", "A001", "reception drawer",
                                                 "handed to the class teacher")
    assert (view.state, view.where, view.kiosk) == ("in_office", "reception drawer", None)
    entry = kiosk.wait_for(lambda k: (e := k.card(rt.cards["A001"])) and e.elsewhere and e,
                           what="the office hand-in on the card")
    assert [(w.kiosk, w.held, w.back) for w in entry.elsewhere] == [(None, False, "office")]
    back = rt.services.custody.return_to_pupil("office1", view.custody_id, "end of day")
    assert (back.state, back.command_id) == ("returned_to_pupil", None)
    with pytest.raises(NotAllowed, match="already closed"):
        rt.services.custody.return_to_pupil("office1", view.custody_id, "again")


def test_staff_hand_ins_at_the_kiosk_are_recorded_for_the_named_pupil(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    helped = kiosk.deposit("A001", 1, via="staff_assisted", staff_ref="office1")
    taken = kiosk.deposit("A002", 2, via="staff_confiscated", staff_ref="office1")
    assert _record(rt, helped).state == "in_slot"
    rec = _record(rt, taken)
    assert rec.state == "held_in_slot" and rec.confiscation_id is not None
    kiosk.wait_picture(lambda p: [(c.slot, c.pupil_ref, c.held) for c in p] == [
        (1, "A001", False), (2, "A002", True)], "both slots in the picture")
    words = [ln.words for tl in rt.services.timelines.of_pupil("A001") for ln in tl.lines]
    assert words == ["Handed in at North entrance, locker 1 with office1's help"]


def test_a_device_already_in_a_slot_is_confiscated_where_it_is(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    phone = kiosk.deposit("A001", 4)
    with pytest.raises(NotAllowed, match="holds no device of A002"):
        rt.services.confiscations.confiscate("office1", "A002", "wrong pupil", kiosk="k1",
                                             slot=4)
    rt.services.confiscations.confiscate("office1", "A001", "phone out", custody_id=phone)
    assert _record(rt, phone).state == "held_in_slot"
    with rt.store.read() as s:
        moves = s.scalars(select(CustodyMove.move).join(CustodyRecord).where(
            CustodyRecord.custody_id == phone).order_by(CustodyMove.id)).all()
    assert moves == ["deposit_at_kiosk", "confiscate_in_slot"]


def test_an_emergency_opening_leaves_the_record_and_flags_the_slot_for_a_check(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    phone = kiosk.deposit("A001", 6)
    rt.services.confiscations.confiscate("office1", "A001", "phone out", custody_id=phone)
    kiosk.collect(6, phone, via="emergency")
    rec = _record(rt, phone)
    assert rec.state == "held_in_slot" and "emergency" in rec.check_needed
    [view] = rt.services.custody.current("A001")
    assert view.check_needed and view.held
    rt.services.custody.checked("office1", phone, "phone is in slot 6")
    assert _record(rt, phone).check_needed is None


def test_devices_not_collected_by_close_are_left_overnight_and_collectable_next_window(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    phone = kiosk.deposit("A001", 8)
    kept = kiosk.deposit("A003", 9)
    rt.services.confiscations.confiscate("office1", "A003", "phone out", custody_id=kept)
    assert rt.services.custody.left_overnight() == []
    rt.clock.set(MORNING + timedelta(days=1))  # Tuesday 08:00: nobody came back for them
    overnight = {v.custody_id: v for v in rt.services.custody.left_overnight()}
    assert set(overnight) == {phone, kept}
    assert overnight[kept].overnight == timedelta(hours=24)
    assert not overnight[kept].held  # end-of-day release: the pupil collects at the window
    rt.replica.publish_now()
    kiosk.wait_picture(lambda p: [(c.slot, c.held) for c in p] == [(8, False), (9, False)],
                       "yesterday's confiscation no longer held")


def test_a_kiosk_that_lost_its_state_is_heard_with_an_alarm_and_sent_its_custody_picture(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    first = kiosk.deposit("A001", 1)
    kiosk.deposit("A002", 2)
    assert kiosk.acks[-1].epoch == EPOCH_1
    snapshots = len(kiosk.snapshots)
    kiosk.lose_state()
    third = kiosk.deposit("A003", 3)  # seq 1 again, in a new epoch
    assert kiosk.acks[-1].epoch == EPOCH_2 and kiosk.acks[-1].seqs == [1]
    assert _record(rt, third).state == "in_slot"  # applied, not dropped as a duplicate
    assert rt.ingest.stats.duplicates == 0
    [alarm] = _alarms(rt, "kiosk_state_lost")
    assert alarm.cleared_at is None and EPOCH_2 in alarm.detail
    snap = kiosk.wait_for(lambda k: len(k.snapshots) > snapshots and k.snapshots[-1],
                          what="the custody picture sent again")
    assert {(c.slot, c.custody_id) for c in snap.custody} >= {(1, first)}
    kiosk.send(m.TapEvent, reader="r1", card=rt.cards["A001"], pupil_ref="A001",
               outcome=m.TapOutcome.NOT_RELEASE_TIME)  # seq 2 of the new store
    with rt.store.read() as s:
        from server.models import Kiosk

        k1 = s.scalar(select(Kiosk).where(Kiosk.code == "k1"))
        assert (k1.epoch, k1.last_seq) == (EPOCH_2, 2)
    assert len(_alarms(rt, "kiosk_state_lost")) == 1


def test_handing_a_device_to_the_police_is_for_the_dsl_and_leadership_not_the_office(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    rt.services.admin.create_staff("admin", "dsl1", "Dee Safeguarding", "dsl", "dsl safeguard pass")
    phone = kiosk.deposit("A002", 4)
    rt.services.confiscations.confiscate("office1", "A002", "safeguarding concern",
                                         custody_id=phone, serious=True)
    with pytest.raises(Forbidden):
        rt.services.custody.hand_over("office1", phone, "police", "PC 123")
    view = rt.services.custody.hand_over("dsl1", phone, "police", "PC 123, ref 55/26")
    cmd = kiosk.wait_for(lambda k: k.commands and k.commands[-1], what="remote unlock")
    assert (cmd.purpose, cmd.custody_id, view.state) == ("police_handover", phone,
                                                         "handed_to_police")
    with pytest.raises(NotAllowed):
        rt.services.custody.parent_collection("office1", phone, "Mr S", "father", "passport")


def test_the_servers_picture_is_compared_with_a_kiosks_slots_record_by_record(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    phone = kiosk.deposit("A001", 1)
    held = kiosk.deposit("A002", 2)
    rt.services.confiscations.confiscate("office1", "A002", "phone out", custody_id=held)
    S = m.SlotState
    agree = [m.SlotView(slot=1, state=S.OCCUPIED, pupil_ref="A001", custody_id=phone),
             m.SlotView(slot=2, state=S.HELD, pupil_ref="A002", custody_id=held),
             m.SlotView(slot=3, state=S.FREE)]
    assert rt.services.custody.compare_with_kiosk("north", "k1", agree) == []
    disagree = [m.SlotView(slot=1, state=S.FREE),
                m.SlotView(slot=2, state=S.OCCUPIED, pupil_ref="A002", custody_id=held),
                m.SlotView(slot=3, state=S.OCCUPIED, pupil_ref="A003", custody_id="k1.x.9")]
    found = rt.services.custody.compare_with_kiosk("north", "k1", disagree)
    assert [(d.slot, d.problem) for d in found] == [
        (1, "missing_at_kiosk"), (2, "held"), (3, "unknown_to_server")]


def test_an_end_of_day_confiscation_is_collected_by_the_pupil_at_the_window(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    phone = kiosk.deposit("A001", 4)
    conf = rt.services.confiscations.confiscate("office1", "A001", "phone out",
                                                custody_id=phone)
    assert conf.release_mode == "pupil_end_of_day"
    kiosk.wait_picture(lambda p: [(c.slot, c.held) for c in p] == [(4, True)], "held")
    rt.clock.set(MORNING.replace(hour=15, minute=10))  # the window opens
    rt.replica.publish_now()
    kiosk.wait_picture(lambda p: [(c.slot, c.held) for c in p] == [(4, False)],
                       "no longer held in the window")
    kiosk.collect(4, phone, via="pupil", pupil_ref="A001",
                  at=MORNING.replace(hour=15, minute=12))
    assert _record(rt, phone).state == "returned_to_pupil"
    assert rt.services.confiscations.get(conf.id).state == "released_to_pupil"


def test_a_pupil_at_the_wrong_kiosk_is_told_where_their_phone_is(
        env: tuple[Any, CustodyKiosk]) -> None:
    from server.models import Kiosk, Site
    from server.policy.cards import card_entries

    rt, kiosk = env
    kiosk.deposit("A002", 8)
    with rt.store.read() as s:
        site = s.scalar(select(Site))
        k2 = s.scalar(select(Kiosk).where(Kiosk.code == "k2"))
        at_k2 = {c.pupil_ref: c for c in card_entries(s, site, k2.id, rt.clock.now())}
    [where] = at_k2["A002"].elsewhere
    assert (where.kiosk, where.kiosk_name, where.slot, where.held, where.back) == (
        "k1", "North entrance", 8, False, "at_window")
    assert at_k2["A001"].elsewhere == []  # nothing about other pupils' devices
    here = kiosk.card(rt.cards["A002"])
    assert here.elsewhere == []  # at its own kiosk the pupil just collects it


def test_staff_put_a_device_held_in_the_office_into_a_free_slot_and_it_stays_held(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    conf = rt.services.confiscations.confiscate("office1", "A003", "phone in the corridor",
                                                place="staff room", serious=True)
    kiosk.deposit("A003", 9, via="staff_confiscated", staff_ref="office1",
                  custody_id=conf.custody_id)  # the server's own id: the same record
    rec = _record(rt, conf.custody_id)
    assert (rec.state, rec.slot, rec.place) == ("held_in_slot", 9, None)
    with rt.store.read() as s:
        assert s.scalar(select(func.count()).select_from(Confiscation)) == 1
        assert s.scalar(select(func.count()).select_from(CustodyRecord)) == 1
    kiosk.wait_picture(lambda p: [(c.slot, c.custody_id, c.held) for c in p] == [
        (9, conf.custody_id, True)], "the office device now held in slot 9")


def test_a_staff_remote_unlock_of_an_occupied_slot_names_its_device(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    phone = kiosk.deposit("A001", 2)
    cid = rt.services.releases.remote_unlock("office1", "k1", 2, "door sticks", site="north")
    cmd = kiosk.wait_for(lambda k: k.commands and k.commands[-1], what="remote unlock")
    assert (cmd.id, cmd.custody_id, cmd.expected_pupil_ref) == (cid, phone, "A001")


def test_a_kiosk_older_than_custody_is_still_followed_by_slot(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    kiosk.epoch = None  # type: ignore[assignment]  # it names no store and mints no ids
    kiosk.send(m.DepositEvent, pupil_ref="A001", slot=6)
    [view] = rt.services.custody.current("A001")
    assert (view.custody_id, view.slot) == ("k1.legacy.1", 6)
    kiosk.send(m.SlotStateEvent, slot=6, state=m.SlotState.OCCUPIED,
               previous=m.SlotState.OPEN_FOR_DEPOSIT, pupil_ref="A001")
    assert rt.services.custody.compare_with_mirror("north", "k1") == []
    kiosk.send(m.CollectionEvent, slot=6, via="pupil", pupil_ref="A001")
    assert rt.services.custody.current("A001") == []
    assert [d.problem for d in rt.services.custody.compare_with_mirror("north", "k1")] == [
        "unknown_to_server"]  # the mirror still says occupied until the kiosk says free


def test_the_state_lost_alarm_clears_once_the_kiosks_slots_match_custody_again(
        env: tuple[Any, CustodyKiosk]) -> None:
    rt, kiosk = env
    phone = kiosk.deposit("A001", 1)
    kiosk.lose_state()
    kiosk.send(m.KioskRestartedEvent, clean_shutdown=False, slots_recovered=0,
               outbox_pending=0)
    late = m.TapEvent(kiosk="k1", site="north", seq=2, at=MORNING, epoch=EPOCH_1, reader="r1",
                      card=rt.cards["A002"], pupil_ref="A002",
                      outcome=m.TapOutcome.NOTHING_TO_COLLECT)
    kiosk.publish(late)  # the old store's last event, arriving late: applied, not a restart
    kiosk.wait_for(lambda k: any(a.epoch == EPOCH_1 and a.seqs == [2] for a in k.acks),
                   what="the late event acknowledged in its own epoch")
    assert len(_alarms(rt, "kiosk_state_lost")) == 1

    def snapshot(slots: list[m.SlotView]) -> None:
        kiosk.publish(m.SlotSnapshot(kiosk="k1", site="north", at=MORNING, slots=slots))

    snapshot([m.SlotView(slot=1, state=m.SlotState.FREE)])  # every slot looks free
    wait_until(lambda: _mirrored(rt, 1) == ("free", None), what="the free-looking snapshot")
    assert _alarms(rt, "kiosk_state_lost")[0].cleared_at is None
    snapshot([m.SlotView(slot=1, state=m.SlotState.OCCUPIED, pupil_ref="A001",
                         custody_id=phone)])  # rebuilt from the custody picture
    wait_until(lambda: _alarms(rt, "kiosk_state_lost")[0].cleared_at is not None,
               what="the state-lost alarm cleared")
    assert _mirrored(rt, 1) == ("occupied", phone)
    kiosk.send(m.TapEvent, reader="r1", card=rt.cards["A003"], pupil_ref="A003",
               outcome=m.TapOutcome.NOTHING_TO_COLLECT)
    with rt.store.read() as s:
        from server.models import Kiosk

        k1 = s.scalar(select(Kiosk).where(Kiosk.code == "k1"))
        assert (k1.epoch, k1.last_seq) == (EPOCH_2, 2)  # the late event moved nothing
