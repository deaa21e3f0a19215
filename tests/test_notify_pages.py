"""What people see: every kind of e-mail rendered, received by a real SMTP server, saved as
.eml and photographed in headless Chromium; the office's messages page with Resend (CSRF),
and the printable collection letter for a parent without e-mail."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import select

from lockers.broker import free_port
from server.models import Notification
from server.notify import triggers
from server.notify.sender import Sender
from server.notify.watch import Watch
from server.services import Services
from server.web.app import create_app
from tests.notify_child import PARENT
from tests.notify_kit import SmtpServer, notify_config, school
from tests.server_kit import wait_until

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "notify"
SCREENS = REPO / "docs" / "screens"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def week(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services,
                                                                            SmtpServer]]:
    """A week at North School that produces one message of every kind, all sent."""
    monkeypatch.setattr(triggers, "recipients_for_pupil",
                        lambda s, p: [PARENT] if p.reference == "A001" else [])
    smtp = SmtpServer().start()
    with school(tmp_path) as services:
        clock: Any = services.clock
        sender = Sender(services.store, clock, notify_config(smtp.port), Watch(services.store))
        c = services.confiscations
        c.confiscate("office1", "A001", "filming in the corridor", serious=True)
        c.confiscate("office1", "A002", "third breach", serious=True)  # nobody on file
        c.hand_over("head", c.confiscate("office1", "A003", "out in class").id, "dsl",
                    "messages of concern")
        c.hand_over("head", c.confiscate("office1", "A003", "out again").id, "police",
                    "evidence requested")
        sender.run_once()
        clock.advance(timedelta(days=3, hours=9, minutes=5).total_seconds())  # Thu 17:05
        sender.run_once()
        try:
            yield services, smtp
        finally:
            smtp.stop()


def by_kind(smtp: SmtpServer) -> dict[str, EmailMessage]:
    return {m["X-Lockers-Kind"]: m for m in smtp.inbox.messages}


def test_every_kind_of_email_arrives_once_and_is_photographed(
        week: tuple[Services, SmtpServer], browser: Browser) -> None:
    services, smtp = week
    mails = by_kind(smtp)
    counted = Counter(m["X-Lockers-Kind"] for m in smtp.inbox.messages)
    # Two devices wait for parents (A001, A002): the office hears of each, once per kind.
    assert counted == {"held_for_parent": 1, "handed_to_dsl": 1, "handed_to_police": 1,
                       "left_overnight": 2, "held_too_long": 2, "daily_digest": 1}
    assert mails["held_for_parent"]["To"].endswith("<parent.oneil@example.org>")
    assert mails["handed_to_dsl"]["To"] == "dsl@north.example"
    assert mails["handed_to_police"]["To"] == "head@north.example"
    assert mails["daily_digest"]["To"] == "head@north.example"
    assert mails["left_overnight"]["To"] == mails["held_too_long"]["To"] == \
        "office@north.example"
    digest = mails["daily_digest"].get_body(("plain",)).get_content()
    assert "Devices held (all days):    2" in digest  # A001 and A002 wait for parents
    assert "Thursday 26 November 2026" in digest
    assert "Held 3 days" in mails["held_too_long"]["Subject"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 700, "height": 600})
    for kind, mail in mails.items():
        (ARTIFACTS / f"email-{kind}.eml").write_bytes(mail.as_bytes())
        html = mail.get_body(("html",)).get_content()
        for surname in ("O'Neil", "O&#39;Neil", "Šimek", " Lee"):
            assert surname not in html.replace("Mrs O&#39;Neil", "")
        page.set_content(html)
        shot = ARTIFACTS / f"email-{kind}.png"
        page.screenshot(path=str(shot), full_page=True)
        shutil.copy(shot, SCREENS / f"email-{kind}.png")
    page.close()


class Web:
    """The web app under uvicorn in a thread."""

    def __init__(self, services: Services) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(
            create_app(services, session_key="test-key"), host="127.0.0.1", port=self.port,
            log_level="warning", timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "the web server")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("input[name=username]", "office1")
    page.fill("input[name=password]", "office pass")
    page.click("button:has-text('Sign in')")


def test_office_sees_what_was_sent_and_what_was_not_and_resends(
        week: tuple[Services, SmtpServer], browser: Browser) -> None:
    services, smtp = week
    with services.store.read() as s:
        no_contact = s.scalar(select(Notification).where(Notification.status == "no_contact"))
        dsl = s.scalar(select(Notification).where(Notification.kind == "handed_to_dsl"))
    assert no_contact is not None and dsl is not None
    with Web(services) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base)
        page.goto(f"{base}/console/notifications")
        row = page.locator(f"#notification-{no_contact.id}")
        assert "no contact on file" in row.inner_text()
        assert row.locator("button:has-text('Resend')").count() == 0  # nothing to resend
        sent = page.locator(f"#notification-{dsl.id}")
        assert sent.get_attribute("data-status") == "sent"
        assert "dsl@north.example" in sent.inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "messages.png"), full_page=True)
        shutil.copy(ARTIFACTS / "messages.png", SCREENS / "web-messages.png")
        sent.locator("button:has-text('Resend')").click()
        page.wait_for_selector("text=Queued again as message")
        Sender(services.store, services.clock, notify_config(smtp.port)).run_once()
        assert [m["X-Lockers-Kind"] for m in smtp.inbox.messages].count("handed_to_dsl") == 2
        # A forged form (no CSRF token) resends nothing.
        forged = page.request.post(f"{base}/console/notifications/{dsl.id}/resend",
                                   form={"csrf": "wrong"})
        assert forged.status >= 400
        page.close()


def test_office_prints_a_collection_letter_for_a_parent_without_email(
        week: tuple[Services, SmtpServer], browser: Browser, tmp_path: Path) -> None:
    services, _smtp = week
    with services.store.read() as s:
        no_contact = s.scalar(select(Notification).where(Notification.status == "no_contact"))
    assert no_contact is not None
    with Web(services) as base:
        page = browser.new_page(viewport={"width": 900, "height": 1200})
        sign_in(page, base)
        page.goto(f"{base}/console/notifications/{no_contact.id}/letter")
        text = page.locator("article").inner_text()
        assert "Ben's mobile phone is waiting for you at North School" in text
        assert "the school office" in text and "Šimek" not in text
        page.screenshot(path=str(ARTIFACTS / "letter.png"), full_page=True)
        shutil.copy(ARTIFACTS / "letter.png", SCREENS / "web-collection-letter.png")
        page.emulate_media(media="print")
        assert not page.locator(".tools").is_visible()  # the print button is not printed
        pdf = tmp_path / "letter.pdf"
        page.pdf(path=str(pdf), format="A4")
        assert pdf.read_bytes().startswith(b"%PDF")
        page.close()
