"""The admin pages in headless Chromium, as the school's admin uses them: staff accounts
(create, deactivate and reactivate, reset a password, a kiosk staff card and PIN) and kiosks
with a name and a place. Every save answers with a message; each task is also looked at on a
phone (390 px) and must not scroll sideways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page
from sqlalchemy import select

from lockers.cardhash import card_hash
from server.models import AuditEntry, Kiosk, Staff
from tests.test_web_dashboard import ARTIFACTS, browser, sign_in, site  # noqa: F401

SHOTS = ARTIFACTS / "admin"
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}
PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "en-GB"}


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot in test-artifacts/web/admin/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_no_sideways_scrolling(page: Page) -> None:
    """The page fits its width (a phone must never scroll sideways)."""
    # Measured once the page has loaded: on a busy machine a page just navigated to may
    # have no document element yet.
    page.wait_for_load_state("load")
    page.wait_for_function("document.documentElement !== null && document.body !== null")
    wide = page.evaluate("document.documentElement.scrollWidth")
    # Name the elements that stick out, so a failure says what to fix.
    over = page.evaluate("""w => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > w + 1)
        .slice(-5).map(e => e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 40))
        """, page.viewport_size["width"])
    assert wide <= page.viewport_size["width"], f"{page.url} is {wide} px wide: {over}"


def flash(page: Page) -> str:
    """The message the last save answered with."""
    return page.inner_text(".flash")


def staff_row(rt: Any, username: str) -> Staff | None:
    """The staff account as stored now (None if there is none)."""
    with rt.services.store.read() as s:
        row = s.scalar(select(Staff).where(Staff.username == username))
        if row is not None:
            s.expunge(row)
        return row


def add_teacher(page: Page, base: str, username: str = "tpatel") -> None:
    """Fill in and send the add-a-staff-account form."""
    page.goto(f"{base}/admin")
    form = page.locator("form[action='/admin/staff']")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=name]").fill("Tara Patel")
    form.locator("select[name=role]").select_option("office")
    form.locator("input[name=password]").fill("violet kettle orbit 42")
    form.locator("button").click()


def test_admin_adds_a_staff_member_and_is_told_they_can_sign_in(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, _kiosk = site
    page = browser.new_page(**DESKTOP)
    sign_in(page, base, "admin", "correct horse")
    add_teacher(page, base)
    assert "Saved: Tara Patel can now sign in as tpatel" in flash(page)
    assert page.url.endswith("/admin/staff/tpatel")
    shot(page, "staff-saved")
    page.goto(f"{base}/admin")
    assert page.locator(".flash").count() == 0  # the message is shown once
    page.locator("form[action='/admin/staff'] input[name=username]").fill("tpatel2")
    page.locator("form[action='/admin/staff'] input[name=name]").fill("Tom Page")
    page.locator("form[action='/admin/staff'] input[name=password]").fill("password12")
    page.locator("form[action='/admin/staff'] button").click()
    assert "Not saved" in flash(page) and staff_row(rt, "tpatel2") is None
    teacher = browser.new_page(**PHONE)
    sign_in(teacher, base, "tpatel", "violet kettle orbit 42")
    assert teacher.url.endswith("/console")


def test_a_deactivated_teacher_cannot_sign_in_until_reactivated(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, _kiosk = site
    page = browser.new_page(**DESKTOP)
    sign_in(page, base, "admin", "correct horse")
    page.goto(f"{base}/admin/staff/office1")
    page.fill("input[name=reason]", "left the school")
    page.click("button:has-text('Deactivate office1')")
    assert "office1 is deactivated" in flash(page)
    assert "deactivated" in page.inner_text("#account + p")
    shot(page, "staff-deactivated")
    teacher = browser.new_page(**PHONE)
    sign_in(teacher, base, "office1", "office pass")
    assert "Wrong user name or password" in teacher.inner_text(".error")
    page.fill("input[name=reason]", "back from leave")
    page.click("button:has-text('Reactivate office1')")
    assert "office1 can sign in again" in flash(page)
    sign_in(teacher, base, "office1", "office pass")
    assert teacher.url.endswith("/console")
    with rt.services.store.read() as s:
        reasons = s.scalars(select(AuditEntry.reason).where(
            AuditEntry.action == "staff.active")).all()
    assert reasons == ["left the school", "back from leave"]
    page.goto(f"{base}/admin/staff/admin")  # an admin cannot lock themselves out
    assert "You cannot deactivate your own account" in page.inner_text("main")
    assert page.locator("button:has-text('Deactivate')").count() == 0


def test_a_reset_password_must_pass_the_strength_rules_and_then_works(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, _rt, _kiosk = site
    page = browser.new_page(**PHONE)
    sign_in(page, base, "admin", "correct horse")
    page.goto(f"{base}/admin/staff/office1")
    for weak, why in (("short", "at least 10 characters"), ("password123", "")):
        page.fill("input[name=new]", weak)
        page.fill("input[name=again]", weak)
        page.evaluate("document.querySelectorAll('input[minlength]')"
                      ".forEach(i => i.removeAttribute('minlength'))")  # the server decides
        page.click("button:has-text('Reset password')")
        assert "Not saved" in flash(page) and why in flash(page)
    page.fill("input[name=new]", "harbour lantern meadow")
    page.fill("input[name=again]", "harbour lantern meadow")
    page.click("button:has-text('Reset password')")
    assert "office1's password is reset" in flash(page)
    assert_no_sideways_scrolling(page)
    shot(page, "staff-password-reset-phone")
    teacher = browser.new_page(**PHONE)
    sign_in(teacher, base, "office1", "office pass")
    assert "Wrong user name or password" in teacher.inner_text(".error")
    sign_in(teacher, base, "office1", "harbour lantern meadow")
    assert teacher.url.endswith("/console")


def test_admin_gives_a_staff_card_typed_with_colons_and_a_pin_then_takes_it_away(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, _kiosk = site
    page = browser.new_page(**DESKTOP)
    sign_in(page, base, "admin", "correct horse")
    page.goto(f"{base}/admin/staff/head")
    page.fill("input[name=uid]", "04:a1:b2:c3:d4:e5:99")
    page.fill("input[name=pin]", "123456")
    page.click("button:has-text('Set card and PIN')")
    assert "Not saved" in flash(page) and "123456" in flash(page)
    page.fill("input[name=uid]", "04:a1:b2:c3:d4:e5:99")
    page.fill("input[name=pin]", "482913")
    page.click("button:has-text('Set card and PIN')")
    assert "head's staff card and PIN work at every kiosk" in flash(page)
    with rt.services.store.read() as s:
        from server.models import Site

        key = s.scalar(select(Site.card_hash_key))
    head = staff_row(rt, "head")
    assert head is not None and head.card_hash == card_hash(key, "04A1B2C3D4E599")
    assert head.pin_hash
    shot(page, "staff-card")
    page.click("button:has-text('Remove staff card')")
    assert "head has no kiosk staff card now" in flash(page)
    head = staff_row(rt, "head")
    assert head is not None and head.card_hash is None and head.pin_hash is None


def test_admin_names_a_kiosk_and_says_where_it_stands(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, _kiosk = site
    for size, name in ((DESKTOP, "admin"), (PHONE, "admin-phone")):
        page = browser.new_page(**size)
        sign_in(page, base, "admin", "correct horse")
        page.goto(f"{base}/admin")
        form = page.locator("form[action='/admin/kiosks/north/k1']")
        form.locator("input[name=name]").fill("Main entrance")
        form.locator("input[name=place]").fill("by the front office")
        form.locator("button").click()
        assert "kiosk k1 is now Main entrance at by the front office" in flash(page)
        assert page.locator("h4:has-text('Main entrance')").count() == 1
        assert_no_sideways_scrolling(page)
        shot(page, name)
    page.fill("input[name=breaches]", "4")
    page.click("button:has-text('Save settings')")
    assert "Saved: the school settings are changed" in flash(page)
    with rt.services.store.read() as s:
        k1 = s.scalar(select(Kiosk).where(Kiosk.code == "k1"))
        assert (k1.name, k1.place) == ("Main entrance", "by the front office")
