"""Attacks on the web console and API: replayed cookies, sessions of disabled accounts,
password guessing on every credential path (in parallel, and across server processes),
weak passwords and PINs, and the security headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from locker_controller.staff import pin_matches
from server.errors import NotAllowed
from server.models import AuditEntry
from server.passwords import check_password_rule, hash_pin
from server.services.signin import USER_LIMIT
from tests.server_kit import database_url, make_clock, seed


@pytest.fixture
def school(tmp_path: Path, each_database: str) -> Iterator[tuple[Any, str]]:
    """The seeded school's services on a migrated database (SQLite, then PostgreSQL), and
    its URL."""
    from server.migrate import upgrade
    from server.services import Services
    from server.store import Store

    url = database_url(tmp_path)
    upgrade(url)
    store = Store(url)
    services = Services(store, make_clock())
    seed(services)
    yield services, url
    store.dispose()


def _web(services: Any, base_url: str = "http://testserver", **kw: Any) -> TestClient:
    from server.web.app import create_app

    return TestClient(create_app(services, session_key="k" * 64, **kw), base_url=base_url,
                      follow_redirects=False)


def _sign_in(web: TestClient, user: str, password: str) -> Any:
    form = web.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    return web.post("/signin", data={"username": user, "password": password, "csrf": csrf})


def _csrf(web: TestClient, path: str = "/console") -> str:
    return re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                     web.get(path).text).group(1)


def _audit(services: Any, action: str) -> int:
    with services.store.read() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == action)) or 0


def test_a_cookie_replayed_after_sign_out_is_refused(school: tuple[Any, str]) -> None:
    services, _ = school
    web = _web(services)
    assert _sign_in(web, "head", "leader pass").status_code == 303
    stolen = dict(web.cookies)
    assert web.get("/dashboard").status_code == 200
    web.post("/signout", data={"csrf": _csrf(web)})
    replay = _web(services)
    replay.cookies.update(stolen)
    assert replay.get("/dashboard").status_code == 303  # back to the sign-in form
    assert replay.get("/events").status_code == 401


def test_a_disabled_admins_open_session_fails_at_once(school: tuple[Any, str]) -> None:
    services, _ = school
    services.admin.create_staff("admin", "admin2", "Second Admin", "admin",
                                "tangerine bicycle lamp")
    web = _web(services)
    _sign_in(web, "admin2", "tangerine bicycle lamp")
    assert web.get("/admin").status_code == 200
    services.admin.set_active("admin", "admin2", False, "left the school")
    assert web.get("/admin").status_code == 303
    assert web.get("/console").status_code == 303


def test_changing_a_password_ends_every_session_of_the_account(
        school: tuple[Any, str]) -> None:
    services, _ = school
    laptop, phone = _web(services), _web(services)
    _sign_in(laptop, "office1", "office pass")
    _sign_in(phone, "office1", "office pass")
    changed = laptop.post("/account/password", data={
        "current": "office pass", "new": "quiet harbour lantern", "csrf": _csrf(laptop)})
    assert changed.status_code == 303
    assert phone.get("/console").status_code == 303
    assert laptop.get("/console").status_code == 303
    assert _sign_in(phone, "office1", "quiet harbour lantern").status_code == 303


def test_guessing_on_the_sign_in_form_is_locked_after_five_and_audited(
        school: tuple[Any, str]) -> None:
    services, _ = school
    web = _web(services)
    answers = [_sign_in(web, "head", f"guess {i}").status_code for i in range(USER_LIMIT + 3)]
    assert answers == [200] * USER_LIMIT + [429] * 3
    assert _sign_in(web, "head", "leader pass").status_code == 429  # even the right one
    assert _audit(services, "auth.failed") == USER_LIMIT
    assert _audit(services, "auth.locked") == 4


def test_guessing_on_the_api_is_locked_after_five_even_in_parallel(
        school: tuple[Any, str]) -> None:
    services, _ = school
    web = _web(services)

    def guess(i: int) -> int:
        return web.get("/api/pupils/A001/cards", auth=("admin", f"guess {i}")).status_code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(guess, range(40)))
    assert answers.count(401) == USER_LIMIT and answers.count(429) == 40 - USER_LIMIT
    assert web.get("/api/pupils/A001/cards", auth=("admin", "correct horse")).status_code == 429
    assert _audit(services, "auth.failed") == USER_LIMIT


def test_a_lockout_holds_across_server_processes(school: tuple[Any, str]) -> None:
    from server.services import Services
    from server.store import Store

    services, url = school
    first = _web(services)
    other_store = Store(url)  # a second server process: its own engine, the same database
    second = _web(Services(other_store, make_clock()))
    for i in range(USER_LIMIT):
        assert first.get("/api/pupils/A001/cards", auth=("office1", f"g{i}")).status_code == 401
    assert _sign_in(second, "office1", "office pass").status_code == 429
    other_store.dispose()


def test_unknown_and_known_users_are_answered_alike(school: tuple[Any, str]) -> None:
    services, _ = school
    web = _web(services)
    unknown = _sign_in(web, "nobody-here", "some guess")
    known = _sign_in(web, "head", "some guess")
    assert unknown.status_code == known.status_code == 200
    assert "Wrong user name or password" in unknown.text and "Wrong user name" in known.text


@pytest.mark.parametrize("weak", ["password", "password123", "short", "qwertyuiop",
                                  "headteacher1"])
def test_short_and_common_passwords_are_refused(weak: str) -> None:
    with pytest.raises(NotAllowed):
        check_password_rule(weak, "headteacher")


def test_pages_carry_security_headers_and_hsts_behind_tls(school: tuple[Any, str]) -> None:
    services, _ = school
    plain = _web(services).get("/signin")
    csp = plain.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self' 'nonce-" in csp
    assert plain.headers["x-frame-options"] == "DENY"
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert plain.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in plain.headers
    tls = _web(services, base_url="https://lockers.school.example", behind_tls=True)
    assert "max-age" in tls.get("/signin").headers["strict-transport-security"]
    assert "secure" in _sign_in(tls, "head", "leader pass").headers["set-cookie"].lower()


def test_kiosk_pins_need_six_digits_and_the_kiosk_checks_the_costly_hash(
        school: tuple[Any, str]) -> None:
    services, _ = school
    for weak in ("4821", "111111", "123456"):
        with pytest.raises(NotAllowed):
            services.admin.set_staff_card("admin", "office1", "04C0FFEE", weak, site="north")
    stored = hash_pin("482193")
    assert stored.startswith("scrypt$32768$8$1$")
    assert pin_matches("482193", stored) and not pin_matches("482194", stored)
    assert not pin_matches("482193", stored.replace("32768", "1048576"))  # cost too high


def test_a_lockout_ends_after_fifteen_minutes_and_old_sessions_are_purged(
        school: tuple[Any, str]) -> None:
    from server.models import CredentialGuard, WebSession
    from server.retention import purge

    services, _ = school
    web = _web(services)
    for i in range(USER_LIMIT + 1):
        _sign_in(web, "head", f"guess {i}")
    assert _sign_in(web, "head", "leader pass").status_code == 429
    services.clock.advance(16 * 60)
    assert _sign_in(web, "head", "leader pass").status_code == 303
    web.post("/signout", data={"csrf": _csrf(web)})
    services.clock.advance(2 * 24 * 3600)
    assert purge(services.store, services.clock)["sessions"] == 1
    with services.store.read() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0
        assert s.scalar(select(func.count()).select_from(CredentialGuard)) == 0
