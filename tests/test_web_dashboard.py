"""The web pages in headless Chromium (the system browser) against a running server, the real
broker and a kiosk speaking the wire: sign-in, a slot changing colour live, roles, CSRF."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from lockers.broker import free_port
from lockers.wire import messages as m
from server.web.app import create_app
from tests.server_kit import MORNING, server_and_kiosk, wait_until

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "web"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def site(tmp_path: Path, broker_factory: Any) -> Iterator[tuple[str, Any, Any]]:
    """A running server with its web app on a free port, and a kiosk north/k1."""
    with server_and_kiosk(tmp_path, broker_factory) as (rt, kiosk):
        port = free_port()
        web = WebServer(rt, port)
        web.start()
        rt.web = web
        try:
            yield f"http://127.0.0.1:{port}", rt, kiosk
        finally:
            web.stop()


class WebServer:
    """The web app under uvicorn in a thread; restartable on the same port."""

    KEY = "test-session-key-kept-across-restarts"

    def __init__(self, rt: Any, port: int) -> None:
        self.rt, self.port = rt, port

    def start(self) -> None:
        """Serve the web app and wait until uvicorn has started."""
        app = create_app(self.rt.services, session_key=self.KEY)
        self.listener = app.state.broadcaster.on_commit
        self.rt.ingest.listeners.append(self.listener)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "the web server")

    def stop(self) -> None:
        """Stop serving and unhook the live updates from ingest."""
        self.server.should_exit = True
        self.thread.join(10)
        if self.listener in self.rt.ingest.listeners:
            self.rt.ingest.listeners.remove(self.listener)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = Path("/usr/bin/chromium")
    assert executable.exists(), "Chromium is missing: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield b
        b.close()


def sign_in(page: Any, base: str, user: str, password: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Sign in')")


def test_a_slot_changes_colour_live_when_the_kiosk_reports_it(site: Any,
                                                               browser: Browser) -> None:
    base, rt, kiosk = site
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, base, "head", "leader pass")
    page.wait_for_selector("#live:has-text('live')")
    slot = page.locator("#slot-k1-3")
    assert slot.get_attribute("data-state") == "free"
    kiosk.publish(m.SlotStateEvent(kiosk="k1", site="north", seq=1,
                                   at=MORNING + timedelta(minutes=1), slot=3,
                                   state=m.SlotState.OCCUPIED,
                                   previous=m.SlotState.FREE, pupil_ref="A001"))
    page.wait_for_selector("#slot-k1-3[data-state=occupied]", timeout=3000)
    assert "phone in" in (slot.get_attribute("title") or "")
    assert slot.locator(".letter").inner_text() == "P"  # a letter, not only a colour
    assert slot.locator(".sr-only").inner_text() == "Locker 3, phone in"  # read out in words
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, base, "head", "leader pass")
    phone.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)


def test_office_staff_find_a_pupil_and_are_refused_the_dashboard(site: Any,
                                                                 browser: Browser) -> None:
    base, _rt, _kiosk = site
    page = browser.new_page()
    sign_in(page, base, "office1", "office pass")
    assert page.url.endswith("/console")
    page.fill("input[name=q]", "Amira")
    page.click("button:has-text('Find')")
    assert page.inner_text("tr[data-pupil=A001] .phone-where") == "Not handed in today"
    page.click("a:has-text('Amira')")
    assert "Not handed in today" in page.inner_text(".where")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-pupil.png"), full_page=True)
    response = page.goto(f"{base}/dashboard")
    assert response is not None and response.status == 403


def test_wrong_password_unsigned_requests_and_forged_forms_are_refused(site: Any,
                                                                      browser: Browser
                                                                      ) -> None:
    base, _rt, _kiosk = site
    page = browser.new_page()
    sign_in(page, base, "head", "wrong")
    assert "Wrong user name or password" in page.inner_text(".error")
    with httpx.Client(base_url=base, follow_redirects=False) as http:
        assert http.get("/dashboard").status_code == 303
        assert http.get("/events").status_code == 401
        forged = http.post("/signin", data={"username": "head", "password": "leader pass"})
        assert forged.status_code == 403


def test_parent_collection_end_to_end_shows_the_kiosks_physical_answer(
        site: Any, browser: Browser) -> None:
    base, _rt, kiosk = site
    kiosk.publish(m.DepositEvent(kiosk="k1", site="north", seq=1, at=MORNING, slot=3,
                                 pupil_ref="A001"))
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    sign_in(page, base, "office1", "office pass")
    page.goto(f"{base}/console/pupil/A001")
    page.wait_for_selector(".where:has-text('In locker 3 at k1 kiosk')")
    page.fill("form[action$='/confiscate'] input[name=reason]", "filming in a lesson")
    page.check("input[name=serious]")
    page.click("button:has-text('Record confiscation')")
    assert "Saved: the confiscation is recorded" in page.inner_text(".done")
    page.goto(f"{base}/console/held")
    page.fill("input[name=collector]", "Mrs Jane O'Neil")
    page.fill("input[name=relationship]", "mother")
    page.fill("input[name=identity_check]", "photo ID checked by office")

    def kiosk_answers() -> None:  # the kiosk opens the slot and says so
        cmd = kiosk.wait_for(lambda k: k.commands and k.commands[-1], 10, "the unlock")
        assert (cmd.kind, cmd.slot, cmd.purpose) == (m.CommandKind.REMOTE_UNLOCK, 3,
                                                     "parent_collection")
        kiosk.publish(m.CommandAck(command_id=cmd.id, kiosk="k1", at=MORNING,
                                   outcome=m.CommandOutcome.DOOR_OPENED,
                                   detail="door switch opened"))

    answer = threading.Thread(target=kiosk_answers)
    answer.start()
    page.click("button:has-text('Record collection')")
    page.wait_for_selector("#outcome")
    answer.join(10)
    assert "The locker opened" in page.inner_text("#outcome")
    assert page.inner_text("#physical") == "door opened"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "parent-collection.png"), full_page=True)


def test_a_parent_collection_the_kiosk_never_answers_says_so(site: Any,
                                                             browser: Browser) -> None:
    base, rt, kiosk = site
    kiosk.publish(m.DepositEvent(kiosk="k1", site="north", seq=1, at=MORNING, slot=4,
                                 pupil_ref="A002"))
    wait_until(lambda: rt.services.queries.where_is_phone("A002").slot == 4, 5, "the deposit")
    rt.services.confiscations.confiscate("office1", "A002", "second phone", kiosk="k1",
                                         slot=4, serious=True)
    page = browser.new_page()
    sign_in(page, base, "office1", "office pass")
    page.goto(f"{base}/console/held")
    page.fill("input[name=collector]", "Mr Šimek")
    page.fill("input[name=relationship]", "father")
    page.fill("input[name=identity_check]", "known to staff")
    page.click("button:has-text('Record collection')")  # nobody answers at the kiosk
    page.wait_for_selector("#outcome", timeout=20000)
    assert "has not answered" in page.inner_text("#outcome")


def test_office_records_an_exception_and_a_card_and_review_due_is_highlighted(
        site: Any, browser: Browser) -> None:
    base, rt, _kiosk = site
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, base, "office1", "office pass")
    page.goto(f"{base}/console/exceptions")
    page.fill("input[name=pupil]", "A003")
    page.fill("input[name=reason]", "glucose monitoring")
    page.fill("input[name=approved_by]", "Headteacher")
    today = rt.clock.now().date()
    page.fill("input[name=agreement_date]", str(today))
    page.fill("input[name=starts]", str(today))
    page.fill("input[name=review_date]", str(today + timedelta(days=3)))
    page.click("button:has-text('Record exception')")
    row = page.locator("tr.due", has_text="Cara Lee (9X)")
    assert "Review due" in row.inner_text() and "Headteacher" in row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "exceptions.png"), full_page=True)
    page.goto(f"{base}/console/pupil/A003")
    page.fill("form[action$='/cards'] input[name=uid]", "04:AA:BB:CC:DD:EE:01")
    page.click("form[action$='/cards'] button")
    assert "the card is enrolled" in page.inner_text(".done")
    assert any(c.uid == "04AABBCCDDEE01" for c in rt.services.cards.cards_of("A003"))
    page.goto(f"{base}/reports")  # the office's own lists; the rest are for leadership
    assert page.locator("a:has-text('Still here at close')").count() == 1
    assert page.locator("a:has-text('Audit trail')").count() == 0
    response = page.goto(f"{base}/reports/audit")
    assert response is not None and response.status == 403
    assert "is for leadership staff" in page.inner_text("h1")


def test_leadership_emergency_open_needs_a_second_confirmation(site: Any,
                                                               browser: Browser) -> None:
    base, _rt, kiosk = site
    page = browser.new_page()
    sign_in(page, base, "head", "leader pass")
    page.goto(f"{base}/emergency")
    page.fill("input[name=confirm]", "yes")
    page.click("button:has-text('Open every locker')")
    assert "Nothing was opened" in page.inner_text(".error")
    assert not kiosk.commands
    page.fill("input[name=confirm]", "OPEN ALL")
    page.check("input[name=drill]")
    page.click("button:has-text('Open every locker')")
    assert "Sent to 1 kiosk" in page.inner_text("[role=status]")
    cmd = kiosk.wait_for(lambda k: k.commands and k.commands[-1], 5, "the emergency command")
    assert (cmd.kind, cmd.purpose, cmd.actor) == (m.CommandKind.EMERGENCY_OPEN, "drill", "head")


def test_reports_download_as_csv_and_show_the_morning_queue(site: Any,
                                                            browser: Browser) -> None:
    base, _rt, kiosk = site
    kiosk.publish(m.DepositEvent(kiosk="k1", site="north", seq=1,
                                 at=MORNING + timedelta(minutes=20), slot=2, pupil_ref="A001"))
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, base, "head", "leader pass")
    page.goto(f"{base}/reports/compliance")
    page.wait_for_selector("table")
    with page.expect_download() as download:
        page.click("a:has-text('Download CSV')")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")  # Excel's BOM
    header = text.splitlines()[0]
    assert header.startswith("Pupil,Reference,Status") and "A001" in text and "A002" in text
    # The morning queue: the dashboard's chart, once the server has the 08:20 hand-in.
    def charted() -> bool:
        page.goto(f"{base}/reports")
        return page.locator("img.chart").count() == 1

    wait_until(charted, what="the morning's hand-in on the reports page's chart")
    page.screenshot(path=str(ARTIFACTS / "reports.png"), full_page=True)
    alt = page.locator("img.chart").get_attribute("alt") or ""
    assert "from 08:20" in alt and "1 in all" in alt


def test_admin_adds_and_provisions_a_kiosk_and_changes_settings(site: Any,
                                                                browser: Browser) -> None:
    base, rt, _kiosk = site
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    sign_in(page, base, "admin", "correct horse")
    page.goto(f"{base}/admin")
    page.fill("input[name=code]", "k2")
    page.fill("input[name=slots]", "16")
    page.click("button:has-text('Add kiosk')")
    page.click("button:has-text('Provision k2')")
    config = page.inner_text("#config")
    assert 'kiosk = "k2"' in config and 'username = "kiosk-north-k2"' in config
    assert "card_key" in config and "mosquitto_passwd -b" in page.inner_text("#server-script")
    page.screenshot(path=str(ARTIFACTS / "provisioned.png"), full_page=True)
    page.goto(f"{base}/admin")
    page.select_option("select[name=assignment_mode]", "fixed")
    page.fill("input[name=breaches]", "2")
    page.click("button:has-text('Save settings')")
    assert first_site(rt)["assignment_mode"] == "fixed"
    office = browser.new_page()
    sign_in(office, base, "office1", "office pass")
    response = office.goto(f"{base}/admin")
    assert response is not None and response.status == 403


def first_site(rt: Any) -> dict[str, Any]:
    from server.services.web_admin import WebAdmin

    return WebAdmin(rt.services.ctx).sites()[0]


def test_the_api_description_is_for_signed_in_staff(site: Any) -> None:
    base, _rt, _kiosk = site
    with httpx.Client(base_url=base, follow_redirects=False) as http:
        assert http.get("/openapi.json").status_code == 303
        assert http.get("/docs").status_code == 303
        assert http.get("/healthz").json()["status"] == "ok"  # liveness for monitoring only


def test_held_devices_show_how_many_breaches_the_pupil_has_had_this_term(site: Any) -> None:
    _base, rt, _kiosk = site
    c = rt.services.confiscations
    c.confiscate("office1", "A002", "phone out in a lesson")
    c.confiscate("office1", "A002", "second phone found")
    held = {v.reason: v for v in c.held_devices()}
    assert held["phone out in a lesson"].breaches_this_term == 1
    assert held["second phone found"].breaches_this_term == 2
    assert held["second phone found"].release_mode == "parent_only"  # north: after 2 breaches


def test_an_open_dashboard_recovers_by_itself_after_a_server_restart(site: Any,
                                                                     browser: Browser) -> None:
    base, rt, kiosk = site
    page = browser.new_page()
    sign_in(page, base, "head", "leader pass")
    page.wait_for_selector("#live:has-text('live')")
    rt.web.stop()
    page.wait_for_selector("#live:has-text('reconnecting')", timeout=10000)
    rt.web.start()  # same port, same session key: nobody has to sign in again
    page.wait_for_selector("#live:has-text('live')", timeout=15000)
    kiosk.publish(m.SlotStateEvent(kiosk="k1", site="north", seq=1,
                                   at=MORNING + timedelta(minutes=1), slot=5,
                                   state=m.SlotState.OCCUPIED,
                                   previous=m.SlotState.FREE, pupil_ref="A002"))
    page.wait_for_selector("#slot-k1-5[data-state=occupied]", timeout=5000)
