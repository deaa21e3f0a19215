"""The policy replica a kiosk receives, and the commands it is sent (DOMAIN rules 2-8)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest

from lockers.wire import messages as m
from lockers.wire.messages import PupilStatus
from server.errors import NotAllowed
from server.models import Confiscation
from tests.server_kit import MORNING, FakeKiosk, deposit, server_and_kiosk, tap

pytestmark = pytest.mark.usefixtures("each_database")


@pytest.fixture
def env(tmp_path: Path, broker_factory: Any) -> Iterator[tuple[Any, FakeKiosk]]:
    with server_and_kiosk(tmp_path, broker_factory) as (rt, kiosk):
        kiosk.wait_for(lambda k: k.snapshots, what="first snapshot")
        yield rt, kiosk


def _in_slot(rt: Any, kiosk: FakeKiosk, pupil_ref: str, slot: int, seq: int) -> None:
    """The pupil's phone goes into ``slot`` at the kiosk (a confiscation names a device the
    school already holds)."""
    kiosk.publish(deposit(kiosk, seq, MORNING, pupil_ref, slot))
    kiosk.wait_for(lambda k: seq in k.acked, what=f"deposit {seq} acknowledged")


def _status(kiosk: FakeKiosk, card: str, status: PupilStatus, timeout: float = 2.0) -> Any:
    return kiosk.wait_for(lambda k: (e := k.card(card)) is not None and e.status == status and e,
                          timeout, f"card status {status}")


def test_confiscated_phone_is_held_in_the_kiosk_replica_within_a_second(
        env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    card = rt.cards["A001"]
    assert kiosk.card(card).status == PupilStatus.NORMAL
    _in_slot(rt, kiosk, "A001", 4, 1)
    _status(kiosk, card, PupilStatus.NORMAL)
    started = time.monotonic()
    rt.services.confiscations.confiscate("office1", "A001", "phone out in maths", kiosk="k1",
                                         slot=4)
    entry = _status(kiosk, card, PupilStatus.HELD, timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert entry.slot == 4  # a pupil tap on this card finds a held slot: it never opens
    assert kiosk.updates and kiosk.updates[-1].upsert_cards[0].card == card


def test_parent_collection_is_recorded_commanded_and_its_ack_tracked(
        env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    svc = rt.services
    _in_slot(rt, kiosk, "A002", 7, 1)
    conf = svc.confiscations.confiscate("office1", "A002", "serious misuse", kiosk="k1", slot=7,
                                        serious=True)
    assert conf.release_mode == "parent_only"
    done = svc.confiscations.record_parent_collection(
        "office1", conf.id, "Mrs Šimek", "mother", "photo ID checked")
    cmd = kiosk.wait_for(lambda k: k.commands and k.commands[-1], what="remote unlock")
    assert (cmd.kind, cmd.slot, cmd.purpose, cmd.id) == (
        m.CommandKind.REMOTE_UNLOCK, 7, "parent_collection", done.command_id)
    kiosk.publish(m.CommandAck(command_id=cmd.id, kiosk="k1", at=MORNING,
                               outcome=m.CommandOutcome.DOOR_OPENED))
    result = svc.commands.wait(cmd.id, timeout=5)
    assert (result.status, result.outcome) == ("success", "door_opened")
    with rt.store.read() as s:
        row = s.get(Confiscation, conf.id)
        assert (row.state, row.collector_name, row.identity_check) == (
            "collected_by_parent", "Mrs Šimek", "photo ID checked")
    _status(kiosk, rt.cards["A002"], PupilStatus.NORMAL)


def test_command_timeout_is_reported_to_the_caller(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    cid = rt.services.releases.remote_unlock("office1", "k1", 2, "door stuck", site="north")
    kiosk.wait_for(lambda k: k.commands, what="command")  # the kiosk says nothing back
    result = rt.services.releases.wait(cid, timeout=0.3)
    assert result.status == "timeout"
    assert rt.services.commands.result(cid).status == "timeout"


def test_refused_command_is_reported_as_refused(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    cid = rt.services.releases.remote_unlock("office1", "k1", 2, "staff", site="north")
    kiosk.wait_for(lambda k: k.commands, what="command")
    kiosk.publish(m.CommandAck(command_id=cid, kiosk="k1", at=MORNING,
                               outcome=m.CommandOutcome.REFUSED, detail="slot in fault"))
    result = rt.services.releases.wait(cid, timeout=5)
    assert (result.status, result.detail) == ("refused", "slot in fault")


def test_emergency_open_needs_leadership_and_reaches_every_kiosk(
        env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    with pytest.raises(NotAllowed):
        rt.services.releases.emergency_open("office1", "fire", site="north")
    ids = rt.services.releases.emergency_open("head", "fire alarm sounding", site="north")
    cmd = kiosk.wait_for(lambda k: k.commands and k.commands[-1], what="emergency open")
    assert cmd.kind == m.CommandKind.EMERGENCY_OPEN and [cmd.id] == ids


def test_second_breach_in_a_term_requires_parent_collection(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    first = rt.services.confiscations.confiscate("office1", "A003", "phone in corridor")
    assert first.release_mode == "pupil_end_of_day"
    rt.services.confiscations.release_to_pupil("office1", first.id, "returned at 15:10")
    _in_slot(rt, kiosk, "A003", 9, 1)
    second = rt.services.confiscations.confiscate("office1", "A003", "second device found",
                                                  second_device=True, kiosk="k1", slot=9)
    assert (second.release_mode, second.breaches_this_term) == ("parent_only", 2)
    with pytest.raises(NotAllowed):
        rt.services.confiscations.release_to_pupil("office1", second.id, "pupil asked")


def test_end_of_day_confiscation_stops_being_held_when_the_window_opens(
        env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    _in_slot(rt, kiosk, "A001", 4, 1)
    rt.services.confiscations.confiscate("office1", "A001", "phone out", kiosk="k1", slot=4)
    _status(kiosk, rt.cards["A001"], PupilStatus.HELD)
    rt.clock.set(MORNING.replace(hour=15, minute=9))
    rt.replica.publish_now()
    assert kiosk.card(rt.cards["A001"]).status == PupilStatus.HELD
    rt.clock.set(MORNING.replace(hour=15, minute=10))
    rt.replica.publish_now()
    _status(kiosk, rt.cards["A001"], PupilStatus.NORMAL)


def test_handover_to_police_is_final(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    _in_slot(rt, kiosk, "A002", 5, 1)
    conf = rt.services.confiscations.confiscate("office1", "A002", "safeguarding", kiosk="k1",
                                                slot=5, serious=True)
    done = rt.services.confiscations.hand_over("head", conf.id, "police", "PC 123 collected")
    assert done.state == "handed_to_police"
    with pytest.raises(NotAllowed, match="already closed"):
        rt.services.confiscations.record_parent_collection("office1", conf.id, "Mr S", "father",
                                                           "passport")


def test_exception_makes_the_card_exempt_and_needs_its_paperwork(
        env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    with pytest.raises(NotAllowed, match="end date or a review date"):
        rt.services.exceptions.grant_exception(
            "office1", "A003", category="medical", reason="glucose monitor",
            approved_by="Headteacher", agreement_date=date(2026, 11, 1),
            starts=date(2026, 11, 2))
    ex = rt.services.exceptions.grant_exception(
        "office1", "A003", category="medical", reason="glucose monitor",
        approved_by="Headteacher", agreement_date=date(2026, 11, 1), starts=date(2026, 11, 2),
        review_date=date(2026, 12, 1))
    _status(kiosk, rt.cards["A003"], PupilStatus.EXEMPT)
    assert [e.id for e in rt.services.exceptions.exceptions(due_within_days=10)] == [ex.id]
    rt.services.exceptions.revoke_exception("office1", ex.id, "no longer needed")
    _status(kiosk, rt.cards["A003"], PupilStatus.NORMAL)


def test_eligibility_flag_follows_signed_agreements(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    rt.services.admin.update_settings("admin", "Y5/6 walkers only", eligibility_required=True)
    kiosk.wait_for(lambda k: k.card(rt.cards["A001"]).eligible is False, what="not eligible")
    rt.services.exceptions.record_eligibility("office1", "A001", date(2026, 9, 1), "Mr O'Neil")
    kiosk.wait_for(lambda k: k.card(rt.cards["A001"]).eligible is True, what="eligible")
    assert kiosk.card(rt.cards["A002"]).eligible is False


def test_early_release_token_reaches_the_kiosk_and_is_spent_by_the_tap(
        env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    er = rt.services.releases.approve_early_release("office1", "A002", "dentist at 11:00")
    kiosk.wait_for(lambda k: k.card(rt.cards["A002"]).early_release == er.token,
                   what="early release token")
    kiosk.publish(tap(kiosk, 1, rt.cards["A002"], MORNING + timedelta(hours=2),
                      m.TapOutcome.EARLY_RELEASE_OPENED, "A002", 1))
    kiosk.wait_for(lambda k: k.card(rt.cards["A002"]).early_release is None,
                   what="token spent")


def test_calendar_days_cover_a_week_ahead_and_follow_edits(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    days = kiosk.snapshots[-1].days
    assert [d.day for d in days] == [date(2026, 11, 23) + timedelta(days=i) for i in range(8)]
    assert days[0].school_day and days[0].release_opens == dtime(15, 10)
    assert not days[5].school_day  # Saturday
    rt.services.calendar.set_day("head", date(2026, 11, 24), "inset", note="INSET")
    rt.services.calendar.set_day("head", date(2026, 11, 25), "early_closing",
                                 opens=dtime(12, 30), closes=dtime(13, 30))
    up = kiosk.wait_for(lambda k: k.updates and k.updates[-1].days
                        and k.updates[-1].days[2].release_opens == dtime(12, 30)
                        and k.updates[-1], what="days update with early closing")
    assert not up.days[1].school_day
    assert up.days[2].release_closes == dtime(13, 30)


def test_lost_card_replaced_swaps_cards_in_the_replica(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    old = rt.cards["A001"]
    new = rt.services.cards.replace_lost_card("office1", "A001", "04:AA:BB:CC:DD:EE:01")
    kiosk.wait_for(lambda k: k.card(old) is None and k.card(new.card_hash), what="card swap")
    assert [c.active for c in rt.services.cards.cards_of("A001")] == [True, False]


def test_kiosk_with_older_policy_gets_the_snapshot_again(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    n = len(kiosk.snapshots)
    kiosk.publish(m.KioskStatus(kiosk="k1", site="north", state="online", reason="birth",
                                at=MORNING, policy_version=0))
    kiosk.wait_for(lambda k: len(k.snapshots) > n, what="snapshot republished")


def test_staff_card_and_pin_reach_the_kiosk_as_a_hash_only(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    rt.services.admin.set_staff_card("admin", "office1", "04C0FFEE", "482193", site="north")
    entry = kiosk.wait_for(lambda k: k.updates and k.updates[-1].upsert_staff
                           and k.updates[-1].upsert_staff[0], what="staff entry")
    from server.passwords import check_pin

    assert entry.staff_ref == "office1" and "482193" not in entry.pin_hash
    assert check_pin(entry.pin_hash, "482193") and not check_pin(entry.pin_hash, "123456")


def test_fixed_assignment_gives_each_card_its_slot(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    rt.services.admin.update_settings("admin", "fixed slots this year",
                                      assignment_mode="fixed")
    rt.services.admin.assign_slot("admin", "k1", 6, "A003", site="north")
    kiosk.wait_for(lambda k: k.card(rt.cards["A003"]).slot == 6, what="fixed slot 6")
    # The update comes first; the retained snapshot that follows must agree.
    kiosk.wait_for(lambda k: k.snapshots and k.snapshots[-1].settings.assignment == "fixed",
                   what="the snapshot to say fixed")


def test_resync_is_commanded_and_the_snapshot_sent_again(env: tuple[Any, FakeKiosk]) -> None:
    rt, kiosk = env
    n = len(kiosk.snapshots)
    cid = rt.services.releases.resync("office1", "k1", site="north")
    cmd = kiosk.wait_for(lambda k: k.commands and k.commands[-1], what="resync command")
    assert (cmd.id, cmd.kind) == (cid, m.CommandKind.RESYNC) and cmd.expires_at > cmd.issued_at
    kiosk.wait_for(lambda k: len(k.snapshots) > n, what="snapshot sent again")
    kiosk.publish(m.CommandAck(command_id=cid, kiosk="k1", at=MORNING,
                               outcome=m.CommandOutcome.DONE))
    assert rt.services.releases.wait(cid, timeout=5).status == "success"
