"""A trust's two server processes as it deploys them (``lockers server``: runtime and web app
each), on one PostgreSQL database and one broker, seen from the schools' side (#17).

North's kiosk is received by one process alone (affinity: each process owns some schools);
North's head watches the live dashboard on the other. Staff signed in on one process are
signed in on the other, and wrong passwords count across both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import func, select

from lockers.clock import SystemClock
from lockers.wire import messages as m
from server.models import Event, Kiosk, Pupil, Site, Slot
from server.services import Services
from server.store import Store
from tests.serve_kit import PASSWORD, ServeProcess, sign_in
from tests.server_kit import wait_until
from tests.test_web_dashboard import (
    ARTIFACTS,
    browser,  # noqa: F401  # the suite's one Chromium
)
from tests.trust_kit import ResendingKiosk

START_S = 120  # two processes migrating and starting on a busy machine


@dataclass
class Trust:
    """The running trust: its processes, broker and database."""

    processes: list[ServeProcess]
    broker: Any
    store: Store

    def owner_of(self, school: str) -> ServeProcess:
        """The process that receives ``school``'s kiosks."""
        return next(p for p in self.processes if p.schools() == school)

    def other_than(self, proc: ServeProcess) -> ServeProcess:
        """The other process."""
        return next(p for p in self.processes if p is not proc)


def _seed(store: Store) -> None:
    """Two schools of the trust, a kiosk k1 at each (the same code at both), a head, a
    deputy and an office account at each, a pupil at each."""
    services = Services(store, SystemClock())
    admin = services.admin
    admin.create_staff(None, "admin", "Trust Admin", "admin", PASSWORD)
    admin.create_site("admin", "north", "North Academy")
    admin.create_site("admin", "south", "South School")
    admin.add_kiosk("admin", "k1", name="North hall", slots=6, site="north")
    admin.add_kiosk("admin", "k1", name="Southgate", slots=6, site="south")
    for school in ("north", "south"):
        admin.create_staff("admin", f"{school}_head", f"{school.title()} Head", "leadership",
                           PASSWORD, site=school)
        admin.create_staff("admin", f"{school}_deputy", f"{school.title()} Deputy",
                           "leadership", PASSWORD, site=school)
        admin.create_staff("admin", f"{school}_office", f"{school.title()} Office", "office",
                           PASSWORD, site=school)
    with store.write() as s:
        for school, ref, first, last in (("north", "A001", "Amira", "Olsen"),
                                         ("south", "S900", "Ysolde", "Vantongeren")):
            s.add(Pupil(site_id=services.ctx.site(s, school).id, reference=ref,
                        first_name=first, last_name=last, year_group="9", form="9X"))


@pytest.fixture
def trust(tmp_path: Path, broker_factory: Any, postgres_url: str) -> Iterator[Trust]:
    """Two ``lockers server`` processes started together on an empty database (each
    migrates at start), each from its own folder as on its own host, with the trust's one
    session key deployed to both; then the two schools, split between them by affinity."""
    broker = broker_factory(kiosks=[("north", "k1"), ("south", "k1")])
    key = tmp_path / "trust-secrets" / "web-session.key"
    key.parent.mkdir()
    key.write_text("the-trusts-session-key-deployed-to-every-host")
    processes = [ServeProcess(postgres_url, broker, n, tmp_path / f"host{n}", key)
                 for n in (1, 2)]
    store: Store | None = None
    try:
        for proc in processes:
            proc.start()
        for proc in processes:
            wait_until(proc.ready, START_S, f"server process {proc.number} to serve")
        store = Store(postgres_url)
        _seed(store)
        # Each process takes its share of the schools: one each.
        wait_until(lambda: sorted(str(p.schools()) for p in processes) == ["north", "south"],
                   60, "the two schools to be split between the two processes")
        yield Trust(processes, broker, store)
    finally:
        for proc in processes:
            proc.stop()
        if store is not None:
            store.dispose()


def _kiosk(trust: Trust, school: str) -> ResendingKiosk:
    account = trust.broker.kiosk(school, "k1")
    return ResendingKiosk(trust.broker.host, trust.broker.port, school, "k1",
                          account.username, account.password)


def _hand_in(kiosk: ResendingKiosk, slot: int, pupil: str) -> None:
    """A pupil's hand-in as the kiosk reports it: the slot fills, the deposit is recorded."""
    now = datetime.now(UTC)
    kiosk.send([m.SlotStateEvent(kiosk="k1", site=kiosk.site, seq=1, at=now, slot=slot,
                                 state=m.SlotState.OCCUPIED, previous=m.SlotState.FREE,
                                 pupil_ref=pupil),
                m.DepositEvent(kiosk="k1", site=kiosk.site, seq=2, at=now, pupil_ref=pupil,
                               slot=slot)])
    kiosk.wait_for(lambda k: k.all_acked(), timeout=60, what="the hand-in acknowledged")


def _stored(trust: Trust, school: str) -> int:
    """How many of ``school``'s kiosk events the database holds."""
    with trust.store.read() as s:
        return s.scalar(select(func.count()).select_from(Event)
                        .join(Kiosk, Kiosk.id == Event.kiosk_id)
                        .join(Site, Site.id == Kiosk.site_id).where(Site.code == school)) or 0


def test_processes_starting_together_migrate_the_trusts_database_once(trust: Trust) -> None:
    migrated = [p.number for p in trust.processes if "Running upgrade" in p.log()]
    assert len(migrated) == 1, f"processes {migrated} each migrated the schema"
    from server.migrate import check_ready

    check_ready(trust.store.url)  # at the newest schema, and both processes serve on it


def test_the_head_sees_a_hand_in_received_by_the_other_process_live_and_only_her_school(
        trust: Trust, browser: Browser) -> None:  # noqa: F811
    receiver = trust.owner_of("north")
    web = trust.other_than(receiver)  # receives South only
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(f"{web.base}/signin")
    page.fill("input[name=username]", "north_head")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("#live:has-text('live')")
    assert "North hall" in page.inner_text("main")
    assert "Southgate" not in page.inner_text("main")
    assert page.locator("#slot-k1-4").get_attribute("data-state") == "free"
    # South's head on the same process: once her dashboard shows South's hand-in, the
    # process has fanned it out to every open dashboard, North's included.
    south_page = browser.new_page()
    south_page.goto(f"{web.base}/signin")
    south_page.fill("input[name=username]", "south_head")
    south_page.fill("input[name=password]", PASSWORD)
    south_page.click("button:has-text('Sign in')")
    south_page.wait_for_selector("#live:has-text('live')")
    south = _kiosk(trust, "south")
    north = _kiosk(trust, "north")
    try:
        _hand_in(south, 4, "S900")
        south_page.wait_for_selector("#slot-k1-4[data-state=occupied]", timeout=30_000)
        applied_before = web.health()["events_applied"]
        _hand_in(north, 3, "A001")
        page.wait_for_selector("#slot-k1-3[data-state=occupied]", timeout=30_000)
    finally:
        north.close()
        south.close()
    # North's hand-in was received and stored by the other process only.
    assert web.health()["events_applied"] == applied_before
    assert receiver.health()["events_applied"] >= 2
    assert _stored(trust, "north") == 2
    slot = page.locator("#slot-k1-3")
    assert slot.get_attribute("title") == "Locker 3: phone in"
    assert slot.locator(".sr-only").inner_text() == "Locker 3, phone in"
    page.wait_for_selector("#in-lockers-now:has-text('1')", timeout=30_000)
    # South's locker 4 (same kiosk code, k1) never showed on North's dashboard.
    assert page.locator("#slot-k1-4").get_attribute("data-state") == "free"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "trust-dashboard-other-process.png"), full_page=True)


def test_a_staff_member_signed_in_on_one_process_is_signed_in_on_the_other(
        trust: Trust) -> None:
    first, second = trust.processes
    with httpx.Client(base_url=first.base) as on_first:
        answer = sign_in(on_first, "north_office", PASSWORD)
        assert answer.status_code == 303
        cookies = on_first.cookies
        assert "North" in on_first.get("/console").text
    # The same browser's next request goes to the other process (a load balancer's choice).
    with httpx.Client(base_url=second.base, cookies=cookies) as on_second:
        page = on_second.get("/console")
        assert page.status_code == 200 and "North Office" in page.text
        # Signing out there ends the session everywhere: the first process refuses it too.
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        assert on_second.post("/signout", data={"csrf": token.group(1)}).status_code == 303
    with httpx.Client(base_url=first.base, cookies=cookies) as again:
        assert again.get("/console").status_code == 303  # to the sign-in form


def test_five_wrong_passwords_split_over_both_processes_lock_the_account(
        trust: Trust) -> None:
    first, second = trust.processes
    cards = "/api/pupils/A001/cards"  # the HTTP Basic API shares the sign-in form's guard
    # The guard's rule: five wrong passwords for one user name, on any process, any path.
    for proc, path in ((first, "form"), (second, "api"), (first, "form"), (second, "form"),
                       (first, "api")):
        with httpx.Client(base_url=proc.base) as http:
            if path == "form":
                answer = sign_in(http, "north_head", "not the password")
                assert answer.status_code == 200
                assert "Wrong user name or password." in answer.text
            else:
                assert http.get(cards, auth=("north_head", "not the password")
                                ).status_code == 401
    for proc in (first, second):  # now refused on both, the right password too
        with httpx.Client(base_url=proc.base) as http:
            answer = sign_in(http, "north_head", PASSWORD)
            assert answer.status_code == 429
            assert "Too many wrong attempts" in answer.text
            assert http.get(cards, auth=("north_head", PASSWORD)).status_code == 429
    # Another account is not locked by it.
    with httpx.Client(base_url=second.base) as http:
        assert sign_in(http, "south_head", PASSWORD).status_code == 303

def test_an_alarm_acknowledged_on_one_process_shows_acknowledged_on_the_others_dashboard(
        trust: Trust, browser: Browser) -> None:  # noqa: F811
    receiver = trust.owner_of("north")
    web = trust.other_than(receiver)
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(f"{web.base}/signin")
    page.fill("input[name=username]", "north_head")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("#live:has-text('live')")
    north = _kiosk(trust, "north")
    try:
        north.send([m.AlarmEvent(kiosk="k1", site="north", seq=1, at=datetime.now(UTC),
                                 alarm=m.AlarmKind.DOOR_LEFT_OPEN, state="raised", slot=2)])
        north.wait_for(lambda k: k.all_acked(), timeout=60, what="the alarm acknowledged")
    finally:
        north.close()
    alarm = page.wait_for_selector("li.alarm.new", timeout=30_000)
    assert "locker 2" in alarm.inner_text()
    # The deputy head acknowledges it on the other process (another office PC).
    with httpx.Client(base_url=receiver.base) as deputy:
        assert sign_in(deputy, "north_deputy", PASSWORD).status_code == 303
        form = deputy.get("/dashboard").text
        action = re.search(r'action="(/alarms/\d+/acknowledge)"', form)
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert action and token
        done = deputy.post(action.group(1), data={"note": "going to look now",
                                                  "csrf": token.group(1)})
        assert done.status_code == 303
    # The head's dashboard says so without a reload.
    page.wait_for_selector("li.alarm.acknowledged", timeout=30_000)
    assert "Acknowledged by North Deputy" in page.inner_text("li.alarm.acknowledged")
    assert "going to look now" in page.inner_text("li.alarm.acknowledged")


def test_an_open_dashboard_catches_up_on_hand_ins_made_while_its_process_restarted(
        trust: Trust, browser: Browser) -> None:  # noqa: F811
    receiver = trust.owner_of("north")
    web = trust.other_than(receiver)
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(f"{web.base}/signin")
    page.fill("input[name=username]", "north_head")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("#live:has-text('live')")
    web.stop()  # restarted for an upgrade, say; the other process carries on
    page.wait_for_selector("#live:has-text('reconnecting')", timeout=30_000)
    north = _kiosk(trust, "north")
    try:
        _hand_in(north, 5, "A001")  # while nobody could tell the head's dashboard
    finally:
        north.close()
    web.start()  # same port and key: the open page reconnects by itself
    wait_until(web.ready, START_S, "the restarted process to serve")
    page.wait_for_selector("#live:has-text('live')", timeout=30_000)
    page.wait_for_selector("#slot-k1-5[data-state=occupied]", timeout=30_000)
    assert page.locator("#slot-k1-5 .sr-only").inner_text() == "Locker 5, phone in"
    page.wait_for_selector("#in-lockers-now:has-text('1')", timeout=30_000)


def _cut_live_update_connections(store: Store) -> int:
    """End every server process's listening connection to the database (as a database
    restart or failover does); returns how many were ended."""
    from sqlalchemy import text

    with store.write() as s:
        return len(s.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
            "datname = current_database() AND query LIKE 'LISTEN %'")).all())


def test_an_open_dashboard_rereads_the_lockers_when_its_live_updates_were_cut_off(
        trust: Trust, browser: Browser) -> None:  # noqa: F811
    web = trust.other_than(trust.owner_of("north"))
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(f"{web.base}/signin")
    page.fill("input[name=username]", "north_head")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("#live:has-text('live')")
    assert page.locator("#slot-k1-6").get_attribute("data-state") == "free"
    # A change whose notification this process never hears: it is in the database only.
    with trust.store.write() as s:
        slot = s.scalars(select(Slot).join(Kiosk, Kiosk.id == Slot.kiosk_id)
                         .join(Site, Site.id == Kiosk.site_id)
                         .where(Site.code == "north", Slot.number == 6)).one()
        slot.state = "occupied"
    assert _cut_live_update_connections(trust.store) >= 2  # both processes'
    # Listening again, the process has its dashboards re-read what they may have missed.
    page.wait_for_selector("#slot-k1-6[data-state=occupied]", timeout=60_000)
    assert page.locator("#slot-k1-6 .sr-only").inner_text() == "Locker 6, phone in"
