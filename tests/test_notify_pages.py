"""What people see: every kind of e-mail rendered, received by a real SMTP server, saved as
.eml and photographed in headless Chromium; the office's messages page with Resend (CSRF),
and the printable collection letter for a parent without e-mail."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from sqlalchemy import select

from server.models import Notification
from server.notify.sender import Sender
from server.notify.watch import Watch
from server.services import Services
from tests.notify_child import PARENT
from tests.notify_kit import SmtpServer, Web, notify_config, put_contact, school, sign_in
from tests.test_web_dashboard import browser  # noqa: F401 - the shared Chromium

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "notify"


# The week's staff notes and reasons: none of them may leave the server in a message.
NOTES = ("filming in the corridor", "third breach", "messages of concern", "evidence requested",
         "out in class", "out again", "glucose")
SURNAMES = ("O'Neil", "O&#39;Neil", "Šimek", "Lee")
KINDS = {"held_for_parent", "handed_to_dsl", "handed_to_police", "left_overnight",
         "held_too_long", "daily_digest", "termly_summary"}


@pytest.fixture
def week(tmp_path: Path) -> Iterator[tuple[Services,
                                                                            SmtpServer]]:
    """The last week of North School's autumn term (it ends on Thursday 26 November), which
    produces one message of every kind, all sent."""
    smtp = SmtpServer().start()
    with school(tmp_path) as services:
        put_contact(services, "A001", PARENT)  # Ben (A002) has nobody on file
        clock: Any = services.clock
        services.calendar.add_term("admin", "Autumn term", date(2026, 9, 2),
                                   date(2026, 11, 26))
        services.exceptions.grant_exception(
            "admin", "A002", category="medical", reason="glucose monitoring",
            approved_by="Headteacher", agreement_date=date(2026, 10, 1),
            starts=date(2026, 10, 1), review_date=date(2027, 1, 11))
        sender = Sender(services.store, clock, notify_config(smtp.port),
                        Watch(services.store, clock))
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


def text_of(mail: EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_each_kind_of_message_reaches_the_right_people_once(
        week: tuple[Services, SmtpServer]) -> None:
    _services, smtp = week
    mails = by_kind(smtp)
    counted = Counter(m["X-Lockers-Kind"] for m in smtp.inbox.messages)
    # Two devices wait for parents (A001, A002): the office hears of each, once per kind.
    assert counted == {"held_for_parent": 1, "handed_to_dsl": 1, "handed_to_police": 1,
                       "left_overnight": 2, "held_too_long": 2, "daily_digest": 1,
                       "termly_summary": 1}
    assert mails["held_for_parent"]["To"].endswith("<parent.oneil@example.org>")
    assert mails["handed_to_dsl"]["To"] == "dsl@north.example"
    assert mails["handed_to_police"]["To"] == "head@north.example"
    assert mails["daily_digest"]["To"] == mails["termly_summary"]["To"] == "head@north.example"
    assert mails["left_overnight"]["To"] == mails["held_too_long"]["To"] == \
        "office@north.example"
    assert "Held 3 school days" in mails["held_too_long"]["Subject"]  # Tue, Wed, Thu


def test_no_message_carries_a_surname_or_a_staff_note(
        week: tuple[Services, SmtpServer]) -> None:
    _services, smtp = week
    for mail in smtp.inbox.messages:
        html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
        for part in (mail["Subject"], text_of(mail), html.replace("Mrs O&#39;Neil", "")):
            for private in SURNAMES + NOTES:
                assert private not in part.replace("Mrs O'Neil", ""), \
                    f"{mail['X-Lockers-Kind']} carries {private!r}"
    staff = [m for m in smtp.inbox.messages if m["X-Lockers-Kind"] != "held_for_parent"]
    assert all("parent.oneil" not in text_of(m) for m in staff)  # parents' addresses stay


def test_leadership_digest_and_term_summary_count_the_week(
        week: tuple[Services, SmtpServer]) -> None:
    _services, smtp = week
    mails = by_kind(smtp)
    digest = text_of(mails["daily_digest"])
    assert "Thursday 26 November 2026" in digest
    assert "Devices held now:           2" in digest  # A001 and A002 wait for parents
    assert "Kiosks offline:             1 of 1 (k1)" in digest
    assert mails["termly_summary"]["Subject"] == "Phone lockers: summary of Autumn term"
    summary = text_of(mails["termly_summary"])
    for line in ("Pupils on roll:                       3",
                 "Confiscations:                        4",
                 # A001 and A002 (serious), A003 at its second breach (North's number)
                 "Held for parent collection:           3",
                 "Pupils with 2 or more breaches:       1",
                 "Handed to the DSL:                    1",
                 "Handed to the police:                 1",
                 "Medical:                              1"):
        assert line in summary, line


def test_every_kind_of_email_is_saved_and_photographed(
        week: tuple[Services, SmtpServer], browser: Browser) -> None:  # noqa: F811
    _services, smtp = week
    mails = by_kind(smtp)
    assert set(mails) == KINDS
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 700, "height": 600})
    for kind, mail in mails.items():
        (ARTIFACTS / f"mail-{kind}.eml").write_bytes(mail.as_bytes())
        page.set_content(mail.get_body(("html",)).get_content())  # type: ignore[union-attr]
        # The school's name heads every message, and nothing is left unrendered.
        assert page.locator("td.school").inner_text() == "North School"
        assert "{{" not in page.content() and "{%" not in page.content()
        shot = ARTIFACTS / f"mail-{kind}.png"
        page.screenshot(path=str(shot), full_page=True)
    page.close()


def test_office_sees_what_was_sent_and_what_was_not_and_resends(
        week: tuple[Services, SmtpServer], browser: Browser) -> None:  # noqa: F811
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
        assert "Ben Šimek (" in row.inner_text()  # the pupil by name and form, not "A002"
        assert row.locator("button:has-text('Resend')").count() == 0  # nothing to resend
        sent = page.locator(f"#notification-{dsl.id}")
        assert sent.get_attribute("data-status") == "sent"
        assert "dsl@north.example" in sent.inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "messages.png"), full_page=True)
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
        week: tuple[Services, SmtpServer], browser: Browser, tmp_path: Path) -> None:  # noqa: F811
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
        page.set_viewport_size({"width": 390, "height": 844})  # read on the office's phone
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(ARTIFACTS / "letter-phone.png"), full_page=True)
        page.emulate_media(media="print")
        assert not page.locator(".tools").is_visible()  # the print button is not printed
        pdf = tmp_path / "letter.pdf"
        page.pdf(path=str(pdf), format="A4")
        assert pdf.read_bytes().startswith(b"%PDF")
        page.close()
