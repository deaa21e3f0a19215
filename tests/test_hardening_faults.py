"""Faults at the server's edges: a huge upload, and a database that is empty, missing or
corrupt at start-up (one clear message and exit code, no tracebacks)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from launcher.cli import main as lockers_cli
from tests.server_kit import database_url, make_clock, seed
from tests.test_server_records import ICS


@pytest.fixture
def admin_web(tmp_path: Path, each_database: str) -> Iterator[TestClient]:
    """The web console signed in as the school's admin (on SQLite, then PostgreSQL)."""
    from server.migrate import upgrade
    from server.services import Services
    from server.store import Store
    from server.web.app import create_app

    url = database_url(tmp_path)
    upgrade(url)
    store = Store(url)
    services = Services(store, make_clock())
    seed(services)
    web = TestClient(create_app(services, session_key="k" * 64), follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/signin").text).group(1)  # type: ignore[union-attr]
    web.post("/signin", data={"username": "admin", "password": "correct horse", "csrf": csrf})
    yield web
    store.dispose()


def _csrf(web: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', web.get("/admin").text).group(1)  # type: ignore[union-attr]


def test_a_30_mb_calendar_upload_is_refused_before_it_is_parsed(admin_web: TestClient) -> None:
    big = b"BEGIN:VCALENDAR\r\n" + b"X-JUNK:" + b"x" * 30_000_000 + b"\r\nEND:VCALENDAR\r\n"
    refused = admin_web.post("/admin/calendar/ics", data={"csrf": _csrf(admin_web)},
                             files={"ics": ("term.ics", big, "text/calendar")})
    assert refused.status_code == 413
    assert admin_web.get("/healthz").status_code == 200
    ok = admin_web.post("/admin/calendar/ics", data={"csrf": _csrf(admin_web)},
                        files={"ics": ("term.ics", ICS, "text/calendar")})
    assert ok.status_code == 200 and "imported" in ok.text.lower()


def test_a_streamed_upload_without_a_length_is_cut_off_at_the_cap(admin_web: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield (b'--b\r\nContent-Disposition: form-data; name="ics"; filename="t.ics"\r\n'
               b"Content-Type: text/calendar\r\n\r\n")
        for _ in range(40):
            yield b"x" * 1_000_000

    refused = admin_web.post("/admin/calendar/ics", content=chunks(),
                             headers={"content-type": "multipart/form-data; boundary=b"})
    assert refused.status_code == 413


def _server(tmp_path: Path, db: Path) -> Any:
    cfg = tmp_path / "server.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{db}"\n')
    return CliRunner().invoke(lockers_cli, ["server", "--config", str(cfg)])


@pytest.mark.parametrize(("contents", "says"), [
    (None, "lockers init"),  # no file at all
    (b"", "lockers init"),  # an empty file: never initialised
    (b"this is not a database, it was overwritten" * 100, "lockers restore"),
])
def test_a_missing_empty_or_corrupt_database_stops_start_up_with_one_clear_message(
        tmp_path: Path, contents: bytes | None, says: str) -> None:
    db = tmp_path / "var" / "lockers.db"
    if contents is not None:
        db.parent.mkdir()
        db.write_bytes(contents)
    result = _server(tmp_path, db)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and says in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1
