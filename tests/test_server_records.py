"""The server's records without the broker: schema, audit chain, roster, calendar, retention,
subject-access export, the CLI and the card API."""

from __future__ import annotations

import json
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from launcher.cli import main as lockers_cli
from server import audit
from server.migrate import upgrade
from server.models import AuditEntry, Base
from server.services import Services
from server.store import Store
from tests.server_kit import database_url, make_clock, seed

# Each test runs on SQLite and on a real PostgreSQL (tests/fixtures/postgres.py).
pytestmark = pytest.mark.usefixtures("each_database")


@pytest.fixture
def services(tmp_path: Path) -> Any:
    url = database_url(tmp_path)
    upgrade(url)
    store = Store(url)
    svc = Services(store, make_clock())
    svc.test_cards = seed(svc)
    yield svc
    store.dispose()


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "server.toml"
    path.write_text(f'[database]\nurl = "{url}"\n')
    return path


def test_migration_creates_exactly_the_models_schema(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = database_url(tmp_path)
    upgrade(url)
    store = Store(url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    store.dispose()
    assert diff == []


def test_tampered_audit_row_is_detected_and_named(services: Services, tmp_path: Path) -> None:
    services.confiscations.confiscate("office1", "A001", "phone out in class")
    with services.store.read() as s:
        assert audit.verify(s) == []
        row_id = s.scalar(select(AuditEntry.id).where(
            AuditEntry.action == "confiscation.create"))
    with services.store.write() as s:  # behind the application's back
        s.execute(text("UPDATE audit_log SET reason = 'nothing happened' WHERE id = :i"),
                  {"i": row_id})
    result = CliRunner().invoke(lockers_cli, ["audit", "verify", "--config",
                                              str(_config(tmp_path, services.store.url))])
    assert result.exit_code == 1
    assert f"audit row {row_id}: row edited" in result.output


def test_deleted_audit_rows_are_detected(services: Services) -> None:
    with services.store.write() as s:
        # A row from the middle of the installation's chain, and the newest row of all
        # (each chain's rows take ids from one sequence, so a chain's ids have gaps).
        ids = list(s.scalars(select(AuditEntry.id).where(AuditEntry.chain == "")
                             .order_by(AuditEntry.id)))
        assert len(ids) >= 3
        third = ids[1]  # one with rows of its chain after it
        last = s.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()))
        chain = s.scalar(select(AuditEntry.chain).where(AuditEntry.id == last))
        before_last = s.scalar(select(func.max(AuditEntry.id)).where(
            AuditEntry.chain == chain, AuditEntry.id < last))
        s.execute(text("DELETE FROM audit_log WHERE id IN (:third, :last)"),
                  {"third": third, "last": last})
    with services.store.read() as s:
        problems = [str(p) for p in audit.verify(s)]
    # The gap is named by the chain's own rows on either side (the ids between may belong
    # to other chains, which are intact).
    assert any(f"deleted after row {ids[0]} and before row " in p for p in problems), problems
    assert any(f"rows after {before_last} deleted" in p for p in problems), problems


def test_retention_purge_blanks_old_detail_and_keeps_the_chain_verifiable(
        services: Services) -> None:
    from server.retention import purge

    services.confiscations.confiscate("office1", "A002", "phone out")
    services.clock.advance(timedelta(days=401).total_seconds())
    services.confiscations.confiscate("office1", "A003", "phone out")
    result = purge(services.store, services.clock)
    assert result["audit_rows"] > 0
    with services.store.read() as s:
        assert audit.verify(s) == []
        old = s.scalar(select(AuditEntry).where(AuditEntry.action == "confiscation.create")
                       .order_by(AuditEntry.id))
        assert (old.purged, old.pupil_ref, old.detail) == (True, None, None)
        recent = s.scalar(select(AuditEntry.id).where(AuditEntry.pupil_ref == "A003"))
    with services.store.write() as s:  # hiding a recent record is not a purge
        s.execute(text("UPDATE audit_log SET detail = NULL, pupil_ref = NULL, purged = :t "
                       "WHERE id = :i"), {"i": recent, "t": True})
    with services.store.read() as s:
        assert [p.row_id for p in audit.verify(s)] == [recent]


def test_subject_access_export_lists_the_pupils_records(services: Services,
                                                        tmp_path: Path) -> None:
    services.confiscations.confiscate("office1", "A002", "phone out")
    out = tmp_path / "a002.json"
    result = CliRunner().invoke(lockers_cli, [
        "export-pupil", "A002", "--config", str(_config(tmp_path, services.store.url)),
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    record = data["records"][0]
    assert record["pupil"]["last_name"] == "Šimek"
    assert len(record["cards"]) == 1 and len(record["confiscations"]) == 1
    assert any(a["action"] == "confiscation.create" for a in data["audit"])


ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//School//Term Dates//EN
BEGIN:VEVENT
UID:autumn-2026@school
SUMMARY:Autumn Term 2026
DTSTART;VALUE=DATE:20260902
DTEND;VALUE=DATE:20261219
END:VEVENT
BEGIN:VEVENT
UID:inset-1@school
SUMMARY:INSET Day - school closed to pupils
DTSTART;VALUE=DATE:20261124
DTEND;VALUE=DATE:20261125
END:VEVENT
BEGIN:VEVENT
UID:early-1@school
SUMMARY:Early closing - Christmas
DTSTART:20261218T123000
DTEND:20261218T133000
END:VEVENT
BEGIN:VEVENT
UID:party@school
SUMMARY:Year 7 disco
DTSTART;VALUE=DATE:20261127
END:VEVENT
END:VCALENDAR
"""


def test_ics_import_sets_terms_inset_and_early_closing(services: Services) -> None:
    cal = services.calendar
    result = cal.import_ics("head", ICS)
    assert (len(result.terms), result.days, result.skipped) == (1, 2, ["Year 7 disco"])
    cal.import_ics("head", ICS)  # re-import: no duplicates
    assert len(cal.school_year(2026).terms) == 1
    assert not cal.release_window(date(2026, 11, 24)).school_day
    assert cal.release_window(date(2026, 11, 23)).school_day
    early = cal.release_window(date(2026, 12, 18))
    assert (early.release_opens, early.release_closes) == (time(12, 30), time(13, 30))
    assert not cal.release_window(date(2026, 12, 21)).school_day  # after term ends


def test_init_creates_database_and_first_admin(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    cfg = _config(tmp_path, url)
    result = CliRunner().invoke(lockers_cli, ["init", "--config", str(cfg), "--password",
                                              "a long secret", "--site", "main"])
    assert result.exit_code == 0, result.output
    store = Store(url)
    svc = Services(store, make_clock())
    assert svc.admin.authenticate("admin", "a long secret").role == "admin"
    assert svc.admin.authenticate("admin", "wrong") is None
    again = CliRunner().invoke(lockers_cli, ["init", "--config", str(cfg), "--password", "x" * 9])
    assert again.exit_code == 1 and "exist already" in again.output
    store.dispose()


def test_card_api_enrols_and_replaces_a_lost_card(services: Services) -> None:
    from server.web.app import create_app

    client = TestClient(create_app(services))
    assert client.get("/healthz").json()["status"] == "ok"
    office = ("office1", "office pass")
    assert client.post("/api/pupils/A003/cards", json={"uid": "04BB"}).status_code == 401
    r = client.post("/api/pupils/A003/cards", json={"uid": "04:BB:CC"}, auth=office)
    assert r.status_code == 201 and r.json()["uid"] == "04BBCC"
    taken = client.post("/api/pupils/A002/cards", json={"uid": "04BBCC"}, auth=office)
    assert taken.status_code == 409
    assert client.post("/api/pupils/A003/cards", json={"uid": "zz"},
                       auth=office).status_code == 422
    r = client.post("/api/pupils/A003/cards/replace", json={"uid": "04DDEE"}, auth=office)
    assert r.status_code == 201
    cards = client.get("/api/pupils/A003/cards", auth=office).json()
    assert [(c["uid"], c["active"]) for c in cards][0] == ("04DDEE", True)
    assert all(not c["active"] for c in cards[1:])
    assert client.get("/api/pupils/NOPE/cards", auth=office).status_code == 404


def test_reports_count_todays_compliance_breaches_and_the_morning_queue(
        services: Services) -> None:
    import queue as q

    from lockers.wire import messages as m
    from lockers.wire import topics as t
    from lockers.wire.codec import encode
    from server.ingest.worker import IngestWorker
    from server.mqtt_receiver import Inbound
    from tests.server_kit import MORNING

    services.admin.update_settings("admin", "late after 08:45", late_after=time(8, 45))
    services.exceptions.grant_exception(
        "office1", "A003", category="medical", reason="glucose monitor", approved_by="Head",
        agreement_date=date(2026, 11, 1), starts=date(2026, 11, 1), review_date=date(2027, 1, 1))
    services.confiscations.confiscate("office1", "A002", "second phone", second_device=True)
    worker = IngestWorker(services.store, services.clock, q.Queue(), lambda *a: None, None, None)
    seen: list[object] = []
    worker.listeners.append(seen.extend)
    events = [m.DepositEvent(kiosk="k1", site="north", seq=1, at=MORNING + timedelta(minutes=20),
                             pupil_ref="A001", slot=1),
              m.DepositEvent(kiosk="k1", site="north", seq=2, at=MORNING + timedelta(minutes=50),
                             pupil_ref="A002", slot=2),
              m.CollectionEvent(kiosk="k1", site="north", seq=3, slot=1, pupil_ref="A001",
                                at=MORNING + timedelta(hours=7, minutes=15), via="pupil")]
    worker.handle([Inbound(t.topic(t.EVENTS, "north", "k1"), encode(e), 0.0) for e in events])
    assert len(seen) == 3  # the live dashboard hears of the committed batch

    counts = services.reports.today()
    assert (counts.on_roll, counts.handed_in, counts.late, counts.exempt, counts.held,
            counts.not_handed_in, counts.collected, counts.uncollected) == (3, 2, 1, 1, 1, 0, 1, 1)
    assert [r["reference"] for r in services.reports.uncollected()] == ["A002"]
    queue_chart = dict(services.reports.hand_ins_per_minute())
    assert queue_chart["08:20"] == 1 and queue_chart["08:50"] == 1 and queue_chart["08:21"] == 0
    assert services.reports.breaches()[0]["reference"] == "A002"
    assert services.reports.breaches()[0]["second_devices"] == 1
    found = services.reports.audit_search(pupil_ref="A002", action="confiscation")
    assert [a["action"] for a in found] == ["confiscation.create"]


def test_office_finds_a_pupil_and_where_their_phone_is(services: Services) -> None:
    import queue as q

    from lockers.wire import messages as m
    from lockers.wire import topics as t
    from lockers.wire.codec import encode
    from server.ingest.worker import IngestWorker
    from server.mqtt_receiver import Inbound
    from tests.server_kit import MORNING, UIDS

    assert [p.reference for p in services.queries.find_pupils("o'neil")] == ["A001"]
    assert [p.reference for p in services.queries.find_pupils(UIDS["A002"])] == ["A002"]
    assert services.queries.where_is_phone("A001").status == "not_handed_in"
    worker = IngestWorker(services.store, services.clock, q.Queue(), lambda *a: None, None, None)
    dep = m.DepositEvent(kiosk="k1", site="north", seq=1, at=MORNING, pupil_ref="A001", slot=7)
    worker.handle([Inbound(t.topic(t.EVENTS, "north", "k1"), encode(dep), 0.0)])
    where = services.queries.where_is_phone("A001")
    assert (where.status, where.kiosk, where.slot) == ("in_locker", "k1", 7)
    assert [h["type"] for h in where.history] == ["deposit"]
    # A confiscation names a device the school holds: A002's phone went into slot 9 first.
    dep2 = m.DepositEvent(kiosk="k1", site="north", seq=2, at=MORNING, pupil_ref="A002", slot=9)
    worker.handle([Inbound(t.topic(t.EVENTS, "north", "k1"), encode(dep2), 0.0)])
    services.confiscations.confiscate("office1", "A002", "phone out", kiosk="k1", slot=9)
    assert services.queries.where_is_phone("A002").status == "held"
