"""Who hears what is the school's own setting: leadership change it in a form in the browser
(headless Chromium), get a clear answer, and the next messages follow it; a value that cannot
be used is refused with the reason, and nothing is half saved."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from server.errors import NotAllowed, NotFound
from server.models import AuditEntry, Notification
from server.services import Services
from tests.notify_child import PARENT
from tests.notify_kit import Web, put_contact, school, sign_in
from tests.test_web_dashboard import browser  # noqa: F401 - the shared Chromium

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "notify"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with school(tmp_path) as svc:
        put_contact(svc, "A001", PARENT)
        yield svc


@pytest.fixture
def head(services: Services, browser: Browser) -> Iterator[Page]:  # noqa: F811
    """The headteacher signed in, on the who-hears-what form (reached from Messages)."""
    with Web(services) as base:
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        sign_in(page, base, "head", "leader pass")
        page.goto(f"{base}/console/notifications")
        page.click("text=Who hears what")
        page.wait_for_selector("form#notify-settings")
        yield page
        page.close()


def queued(services: Services, kind: str) -> list[Notification]:
    with services.store.read() as s:
        return list(s.scalars(select(Notification).where(Notification.kind == kind)))


def test_leadership_set_the_schools_words_and_who_hears_and_the_next_messages_follow(
        services: Services, head: Page) -> None:
    head.fill("textarea[name=held_wording]",
              "was taken during a lesson and will be kept safe until a parent or carer "
              "collects it.")
    head.fill("input[name=collection_place]", "Reception, Main Building")
    head.fill("input[name=collection_hours]", "from 15:30 to 17:00, Monday to Friday")
    head.uncheck("input[name=dsl_when_handed_over]")
    head.fill("input[name=office_when_held_days]", "5")
    head.fill("input[name=office_email]", "reception@north.example")
    head.click("button:has-text('Save who hears what')")
    saved = head.locator("#settings-saved").inner_text()
    assert saved.startswith("Saved. Changed:")
    for label in ("Why it was held", "Where to collect it", "The DSL, at once",
                  "Office's mailbox"):
        assert label in saved
    # The form shows what is now saved.
    assert head.input_value("input[name=collection_place]") == "Reception, Main Building"
    assert not head.is_checked("input[name=dsl_when_handed_over]")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    head.screenshot(path=str(ARTIFACTS / "settings.png"), full_page=True)
    shutil.copy(ARTIFACTS / "settings.png", REPO / "docs" / "screens" / "web-notify-settings.png")

    held = services.confiscations.confiscate("office1", "A001", "filming", serious=True)
    services.confiscations.hand_over("head", held.id, "dsl", "concern")
    [letter] = queued(services, "held_for_parent")
    assert "Amira's mobile phone was taken during a lesson and will be kept safe until a " \
           "parent or carer collects it." in letter.body_text  # one full stop, not two
    assert "Reception, Main Building, from 15:30 to 17:00, Monday to Friday" in \
        letter.body_text
    assert queued(services, "handed_to_dsl") == []  # the school switched it off
    assert services.notifications.settings()["office_when_held_days"] == 5


def test_a_mailbox_that_is_not_an_address_is_refused_and_nothing_is_saved(
        services: Services, head: Page) -> None:
    head.fill("input[name=collection_place]", "Reception")
    head.fill("input[name=dsl_email]", "dsl at north")
    # The browser's own check is not the guard: the server must refuse it too.
    head.eval_on_selector("form#notify-settings", "f => f.noValidate = true")
    head.click("button:has-text('Save who hears what')")
    error = head.locator("#settings-error").inner_text()
    assert "DSL's mailbox" in error and "not an e-mail address" in error
    assert head.input_value("input[name=dsl_email]") == "dsl at north"  # as typed
    settings = services.notifications.settings()
    assert settings["collection_place"] == "the school office"  # nothing half saved
    assert settings["dsl_email"] == "dsl@north.example"


def test_parents_always_get_somewhere_and_some_time_to_collect(services: Services) -> None:
    with pytest.raises(NotAllowed, match="Where to collect it cannot be empty"):
        services.notifications.change_settings("head", collection_place="  ")
    with pytest.raises(NotAllowed, match="between 0 \\(never\\) and 60"):
        services.notifications.change_settings("head", office_when_held_days=-1)


def test_the_office_cannot_change_who_hears_what_and_the_audit_keeps_no_addresses(
        services: Services) -> None:
    with pytest.raises(NotAllowed):
        services.notifications.change_settings("office1", office_email="me@north.example")
    services.notifications.change_settings("head", office_email="front@north.example")
    with services.store.read() as s:
        entry = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "notification.settings").order_by(AuditEntry.id.desc())
        ).first()
    assert entry is not None and entry.detail == {"changed": ["office_email"]}


def test_another_schools_leadership_cannot_read_or_change_norths_settings(
        services: Services) -> None:
    services.admin.create_site("admin", "south", "South School")
    services.admin.create_staff("admin", "southhead", "Sam South", "leadership",
                                "south leader pass", site="south")
    with pytest.raises(NotFound):
        services.notifications.settings("north", actor="southhead")
    with pytest.raises(NotFound):
        services.notifications.change_settings("southhead", "north", signed="South")
