"""The policy replica in a rush: changes that come faster than ``min_interval_s`` gather into
one publish, and that publish carries the latest of them (never a stale picture)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from lockers.wire import messages as m
from server.migrate import upgrade
from server.replica import ReplicaPublisher
from server.services import Services
from server.store import Store
from tests.server_kit import database_url, make_clock, seed, wait_until

pytestmark = pytest.mark.usefixtures("each_database")


class Rig:
    """A seeded school, a replica publisher on a hand-moved monotonic clock, and what it sent."""

    def __init__(self, tmp_path: Path) -> None:
        url = database_url(tmp_path)
        upgrade(url)
        self.clock = make_clock()
        self.store = Store(url)
        # No publisher behind the services: the test says when policy changed.
        self.services = Services(self.store, self.clock)
        self.cards = seed(self.services)
        self.now = 1000.0
        self.sent: queue.Queue[BaseModel] = queue.Queue()
        self.replica = ReplicaPublisher(self.store, self.clock,
                                        lambda msg, _site, _kiosk: self.sent.put(msg),
                                        tick_s=3600, min_interval_s=0.5,
                                        monotonic=lambda: self.now)

    def exempt(self, pupil_ref: str) -> None:
        """The head grants ``pupil_ref`` a medical exception (their card becomes exempt)."""
        today = self.clock.now().date()
        self.services.exceptions.grant_exception(
            "admin", pupil_ref, category="medical", reason="glucose monitoring",
            approved_by="Headteacher", agreement_date=today, starts=today,
            review_date=today + timedelta(days=30))
        self.replica.changed(None)

    def next_sent(self) -> Any:
        """The next message the publisher sent (waits for it)."""
        return self.sent.get(timeout=10)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.replica.stop()


def test_changes_within_the_interval_go_out_as_one_publish_with_the_latest_state(
        rig: Rig) -> None:
    rig.replica.start()
    first = rig.next_sent()
    assert isinstance(first, m.PolicySnapshot)
    # Two changes a moment after that build: the worker waits for the interval each time.
    rig.exempt("A001")
    wait_until(lambda: rig.replica.deferred >= 1, what="the first change to be held back")
    rig.exempt("A002")
    wait_until(lambda: rig.replica.deferred >= 2, what="the second change to be held back")
    assert rig.sent.empty(), "a change went out inside the interval"
    rig.now += 0.5  # the interval is over: the gathered changes go out together
    update, snapshot = rig.next_sent(), rig.next_sent()
    assert isinstance(update, m.PolicyUpdate) and isinstance(snapshot, m.PolicySnapshot)
    assert update.base_version == first.version and update.version == first.version + 1
    exempt = {c.card for c in update.upsert_cards if c.status == m.PupilStatus.EXEMPT}
    assert exempt == {rig.cards["A001"], rig.cards["A002"]}  # the latest, not the first
    assert {c.card for c in snapshot.cards if c.status == m.PupilStatus.EXEMPT} == exempt
    assert rig.replica.publishes == 2


def test_a_change_after_a_quiet_interval_goes_out_at_once(rig: Rig) -> None:
    rig.replica.start()
    first = rig.next_sent()
    rig.now += 5.0  # nothing built for a while: no reason to wait
    deferred = rig.replica.deferred
    rig.exempt("A003")
    update = rig.next_sent()
    assert isinstance(update, m.PolicyUpdate) and update.version == first.version + 1
    assert [c.card for c in update.upsert_cards] == [rig.cards["A003"]]
    assert rig.replica.deferred == deferred


def _grant(rig: Rig, pupil_ref: str) -> None:
    today = rig.clock.now().date()
    rig.services.exceptions.grant_exception(
        "admin", pupil_ref, category="medical", reason="glucose monitoring",
        approved_by="Headteacher", agreement_date=today, starts=today,
        review_date=today + timedelta(days=30))


def _site_id(rig: Rig) -> int:
    from server.models import Site

    with rig.store.read() as s:
        return s.query(Site).one().id


def test_what_a_kiosks_own_events_change_gathers_for_two_seconds_in_a_rush(rig: Rig) -> None:
    rig.replica.start()
    first = rig.next_sent()
    rig.now += 10  # long after that build: a staff change would go out at once
    _grant(rig, "A001")  # stands in for a hand-in moving the kiosks' custody picture
    rig.replica.changed(_site_id(rig), by_kiosk=True)
    wait_until(lambda: rig.replica.gathered >= 1, what="the kiosk's change to be gathered")
    assert rig.sent.empty(), "a kiosk's own change went out before its two seconds"
    rig.now += 2.0
    update = rig.next_sent()
    assert isinstance(update, m.PolicyUpdate) and update.base_version == first.version
    assert {c.card for c in update.upsert_cards} == {rig.cards["A001"]}


def test_a_staff_change_takes_the_gathered_kiosk_changes_along_at_once(rig: Rig) -> None:
    rig.replica.start()
    first = rig.next_sent()
    rig.now += 10
    _grant(rig, "A001")
    rig.replica.changed(_site_id(rig), by_kiosk=True)
    wait_until(lambda: rig.replica.gathered >= 1, what="the kiosk's change to be gathered")
    rig.exempt("A002")  # the office, a second later: not held back for the kiosk's two
    update = rig.next_sent()
    assert isinstance(update, m.PolicyUpdate) and update.base_version == first.version
    assert {c.card for c in update.upsert_cards} == {rig.cards["A001"], rig.cards["A002"]}
