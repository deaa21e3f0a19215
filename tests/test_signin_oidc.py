"""Staff sign in with the trust's accounts: a real OpenID provider on loopback
(tools/oidc, panva/node-oidc-provider), the lockers' web app, and headless Chromium going
through the provider's own sign-in page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select

from lockers.broker import free_port
from server.models import AuditEntry, Site, Staff, StaffIdentity
from server.services import Services
from tests.oidc_kit import FAULTS, Provider, lockers_web, oidc_provider, school_services

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "web"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = Path("/usr/bin/chromium")
    assert executable.exists(), "Chromium is missing: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def trust(tmp_path: Path) -> Iterator[tuple[Provider, Services, int]]:
    """The trust's provider, the school's database, and the port the lockers will use."""
    port = free_port()
    services = school_services(tmp_path)
    with oidc_provider(tmp_path, port) as provider:
        yield provider, services, port
    services.store.dispose()


def sign_in_with_trust(page: Page, base: str, login: str, password: str,
                       shot: str | None = None) -> None:
    """From the lockers' sign-in page through the provider's sign-in page and back
    (``shot``: a screenshot of the provider's page under test-artifacts/web)."""
    page.goto(f"{base}/signin")
    page.click("a:has-text('Sign in with Trust 365')")
    page.wait_for_selector("text=Sign in to your account")
    assert page.url.startswith("http://localhost:")  # the provider's own page, another site
    if shot:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / shot))
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/**")
    page.wait_for_load_state("networkidle")


def audit_actions(services: Services) -> list[str]:
    with services.store.read() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_teacher_signs_in_through_the_trusts_page_and_lands_on_the_console_as_office(
        trust: Any, browser: Browser) -> None:
    provider, services, port = trust
    with lockers_web(services, port, provider.settings()) as base:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(f"{base}/signin")
        page.screenshot(path=str(ARTIFACTS / "web-signin-oidc.png"))
        sign_in_with_trust(page, base, "tess", "Tess at North 1", "oidc-provider-page.png")
        page.wait_for_url(f"{base}/console")
        assert "Tess Teacher (office)" in page.inner_text("header")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "oidc-console.png"), full_page=True)
        with services.store.read() as s:
            staff = s.scalars(select(Staff).where(Staff.username == "tess@north.example")).one()
            north = s.scalars(select(Site).where(Site.code == "north")).one()
            link = s.scalars(select(StaffIdentity)).one()
            assert (staff.role, staff.site_id) == ("office", north.id)
            assert (link.staff_id, link.subject, link.issuer) == (staff.id, "00u-tess",
                                                                  provider.issuer)
        assert {"staff.identity_linked", "auth.oidc_signed_in"} <= set(audit_actions(services))
        page.click("button:has-text('Sign out')")
        page.wait_for_url(f"{base}/signin")
        page.goto(f"{base}/console")
        assert page.url == f"{base}/signin"  # the session ended with the sign-out


def test_a_renamed_teacher_stays_linked_and_loses_access_when_removed_from_the_group(
        trust: Any, browser: Browser) -> None:
    provider, services, port = trust
    with lockers_web(services, port, provider.settings()) as base:
        first = browser.new_context().new_page()
        sign_in_with_trust(first, base, "dee", "Dee at North 1")
        # In both the DSL and the office group: the first matching rule (dsl) decides.
        assert "Dee Safeguarding (dsl)" in first.inner_text("header")
        provider.set_account("dee", email="dee.married@north.example", name="Dee Newname")
        second = browser.new_context().new_page()
        sign_in_with_trust(second, base, "dee", "Dee at North 1")
        assert "Dee Newname (dsl)" in second.inner_text("header")
        with services.store.read() as s:
            assert len(s.scalars(select(Staff).where(Staff.role == "dsl")).all()) == 1
            assert s.scalars(select(StaffIdentity)).one().email == "dee.married@north.example"
        provider.set_account("dee", groups=[])  # IT takes her out of the school's groups
        third = browser.new_context().new_page()
        sign_in_with_trust(third, base, "dee", "Dee at North 1")
        assert "not given access to the phone lockers" in third.inner_text("[role=alert]")
        first.goto(f"{base}/console")  # her open sessions ended with the refusal
        assert first.url == f"{base}/signin"


def test_a_pupil_in_no_mapped_group_is_refused_with_a_clear_page_and_audit_logged(
        trust: Any, browser: Browser) -> None:
    provider, services, port = trust
    with lockers_web(services, port, provider.settings()) as base:
        page = browser.new_page()
        sign_in_with_trust(page, base, "pat", "Pat the pupil 1")
        assert page.url == f"{base}/signin/oidc/callback?" + page.url.split("?", 1)[1]
        assert "Not signed in" in page.inner_text("h1")
        assert "Ask the trust's IT to add you" in page.inner_text("[role=alert]")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "oidc-refused.png"), full_page=True)
        page.goto(f"{base}/console")
        assert page.url == f"{base}/signin"
    with services.store.read() as s:
        assert s.scalar(select(Staff).where(Staff.username == "pat@pupils.example")) is None
        refusal = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "auth.oidc_refused")).one()
        assert refusal.entity_id == "pat@pupils.example"


def test_an_account_disabled_at_the_trust_cannot_sign_in(trust: Any, browser: Browser
                                                         ) -> None:
    provider, services, port = trust
    provider.set_account("tess", disabled=True)
    with lockers_web(services, port, provider.settings()) as base:
        page = browser.new_page()
        sign_in_with_trust(page, base, "tess", "Tess at North 1")
        assert "refused" in page.inner_text("[role=alert]")
        assert "auth.oidc_failed" in audit_actions(services)
    with services.store.read() as s:
        assert s.scalar(select(Staff).where(Staff.username == "tess@north.example")) is None


@pytest.mark.parametrize("fault", FAULTS)
def test_an_expired_forged_or_another_apps_id_token_is_refused(
        trust: Any, browser: Browser, fault: str) -> None:
    provider, services, port = trust
    with lockers_web(services, port, provider.settings(client_id=f"lockers-{fault}")) as base:
        page = browser.new_page()
        sign_in_with_trust(page, base, "tess", "Tess at North 1")
        assert "could not be verified" in page.inner_text("[role=alert]")
        page.goto(f"{base}/console")
        assert page.url == f"{base}/signin"
    with services.store.read() as s:
        failure = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "auth.oidc_failed")).one()
        assert s.scalar(select(Staff).where(Staff.username == "tess@north.example")) is None
    # The log and the audit name the check that failed (Authlib checks azp when the audience
    # is not this application).
    expected = {"expired": ("ExpiredTokenError",), "wrong_audience": ("'aud'", "'azp'"),
                "bad_signature": ("BadSignatureError",)}
    assert any(word in (failure.reason or "") for word in expected[fault])


def test_an_answer_without_this_browsers_sign_in_is_refused(trust: Any) -> None:
    provider, services, port = trust
    with lockers_web(services, port, provider.settings()) as base, \
            httpx.Client(base_url=base) as http:
        forged = http.get("/signin/oidc/callback", params={"code": "x", "state": "y"})
        assert forged.status_code == 403
        assert "start again" in forged.text
        started = http.get("/signin/oidc")  # a flow of our own, then someone else's state
        assert started.status_code == 302 and started.headers["location"].startswith(
            provider.issuer)
        wrong_state = http.get("/signin/oidc/callback", params={"code": "x", "state": "y"})
        assert wrong_state.status_code == 403
        assert "does not belong to this browser" in wrong_state.text


def test_break_glass_admin_signs_in_with_a_password_when_staff_passwords_are_off(
        trust: Any, browser: Browser) -> None:
    provider, services, port = trust
    settings = provider.settings(local_passwords="admins_only")
    with lockers_web(services, port, settings) as base:
        page = browser.new_page()
        for user, password in (("office1", "office pass"), ("admin", "correct horse")):
            page.goto(f"{base}/signin")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", password)
            page.click("button:has-text('Sign in'):not(a)")
            page.wait_for_load_state("networkidle")
            if user == "office1":
                assert "Local passwords are switched off for your role" in page.inner_text(
                    ".error")
        assert page.url == f"{base}/dashboard"
        assert "Ada Admin (admin)" in page.inner_text("header")
        with httpx.Client(base_url=base) as api:  # the HTTP Basic API follows the same rule
            cards = "/api/pupils/A001/cards"
            assert api.get(cards, auth=("office1", "office pass")).status_code == 403
            assert api.get(cards, auth=("admin", "correct horse")).status_code == 200
    assert "auth.local_password_off" in audit_actions(services)


def test_a_trust_executive_gets_the_trust_role_for_every_school_by_her_address(
        trust: Any, browser: Browser) -> None:
    provider, services, port = trust
    with lockers_web(services, port, provider.settings()) as base:
        sign_in_with_trust(browser.new_page(), base, "tru", "Trust exec 1")
    with services.store.read() as s:
        staff = s.scalars(select(Staff).where(Staff.username == "ceo@trust.example")).one()
        assert (staff.role, staff.site_id) == ("trust", None)  # None: all of the trust's schools
