"""Schools as tenants: one school's staff reach nothing of another school's, through every
route of the web app (enumerated from the app, so a new route cannot be missed), while each
school's own staff and the trust's staff still reach what is theirs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import inspect, select

from server import tenancy
from server.migrate import upgrade
from server.models import Base, Site, Staff
from server.services import Services
from server.store import Store
from server.web.reports import REPORTS
from tests.server_kit import database_url, make_clock
from tests.tenancy_kit import (
    PASSWORD,
    SOUTH_WORDS,
    Browser,
    Trust,
    WebServer,
    signed_in,
    two_schools,
)

pytestmark = pytest.mark.usefixtures("each_database")

# Routes not requested, and why (each is still listed, so the choice is deliberate).
NOT_REQUESTED = {("POST", "/signout"): "ends the session the rest of the test uses"}
# What a form field gets when North's staff post at South's records: plausible values, so a
# request gets past validation to the records it aims at (a card UID that is nobody's: North's
# own A001 may be given a card).
FORM = {"reason": "checking", "place": "office safe", "collector": "Pat Parent",
        "relationship": "mother", "identity_check": "passport seen", "to": "police",
        "note": "PC Smith 123", "what": "absent", "pupil_ref": "S900", "category": "medical",
        "approved_by": "Head", "agreement_date": "2026-11-01", "starts": "2026-11-01",
        "review_date": "2027-01-01",
        "allows": "keep_on_person", "uid": "04C0C0C0C0C0C1", "action": "replace",
        "name": "Southerners", "refs": "S900", "site": "south", "code": "k9", "slots": "2",
        "username": "sneaky", "role": "office", "password": "a long password 1",
        "marks": "S900,absent", "current": "wrong", "new": "another long pass 2",
        "day": "2026-11-24", "kind": "closed", "ends": "2026-12-01", "school": "south",
        "confirm": "OPEN", "breaches": "5", "retention_days": "30", "ics": "x", "data": "x",
        "mapping": "{}", "roster": "x", "year_group": "9", "weekdays": "1", "opens": "15:00",
        "closes": "16:00", "custody_id": "", "serious": "false", "second_device": "false"}


@pytest.fixture
def trust(tmp_path: Path) -> Iterator[tuple[Services, Trust, WebServer]]:
    """North and South on one installation, and the web app serving them."""
    url = database_url(tmp_path)
    upgrade(url)
    services = Services(Store(url), make_clock())
    seeded = two_schools(services)
    with WebServer(services) as web:
        yield services, seeded, web
    services.store.dispose()


def _routes(web: WebServer) -> list[APIRoute]:
    return [r for r in web.app.routes if isinstance(r, APIRoute)]


def _aims(route: APIRoute, south: dict[str, Any]) -> list[str]:
    """Every path of ``route`` with its parameters filled with South's real ids."""
    values = {"ref": [south["ref"], south["shared_ref"]],
              "pupil_ref": [south["ref"], south["shared_ref"]],
              "custody_id": [south["custody_id"], south["custody_in_office"]],
              "conf_id": [str(south["conf_id"])], "ident": [str(south["exception_id"])],
              "command_id": [south["command_id"]],
              "notification_id": [str(south["notification_id"])], "site": ["south"],
              "code": ["k1"], "name": sorted(REPORTS), "username": ["south_office"],
              "alarm_id": [str(south["alarm_id"])]}
    paths = [route.path]
    for param in route.dependant.path_params:
        assert param.name in values, (
            f"{route.path}: new path parameter {param.name!r}; say which of South's ids "
            "it should be aimed at in _aims")
        paths = [p.replace("{" + param.name + "}", v) for p in paths
                 for v in values[param.name]]
    return paths


def _request(who: Browser, method: str, path: str, route: APIRoute) -> httpx.Response:
    client = who.client
    if path.startswith("/api/"):  # the card API signs in with HTTP Basic on every call
        # South's card to mark lost; a new card (not South's) to enrol on a pupil: North's
        # own A001 may take a new card, which is no leak.
        uid = "04B0B0B0B0B001" if path == "/api/cards/lost" else FORM["uid"]
        body = {"uid": uid, "reason": "card lost"}
        return client.request(method, path, json=body if method == "POST" else None,
                              auth=(who.username, PASSWORD))
    if path == "/events":  # a live stream: its first words are enough
        with client.stream("GET", path) as answer:
            first = next(answer.iter_text(), "")
            return httpx.Response(answer.status_code, text=first, request=answer.request)
    if method == "GET":
        return client.get(path, params={"format": "csv"} if "/reports/" in path else None)
    form = {p.name: FORM.get(p.name, "x") for p in route.dependant.body_params}
    if path == "/signin":  # not the account /admin/staff made: stay who we are
        form["username"] = "nobody"
    return client.post(path, data={**FORM, **form, "csrf": who.csrf})


def _south_rows(services: Services) -> str:
    """Everything South owns, as text (read through South's own scope, plus its site row
    and its staff), to show that nothing of it changed."""
    with services.store.read() as s:
        south = s.scalar(select(Site).where(Site.code == "south"))
        assert south is not None
        school = tenancy.School(south.id, south.code, south.name)
        rows = [repr(_row(south))]
        rows += [repr(_row(r)) for r in s.scalars(select(Staff).where(
            Staff.site_id == south.id).order_by(Staff.id))]
        with tenancy.scoped(tenancy.Scope((school,), school)):
            for mapper in sorted(Base.registry.mappers, key=lambda m: m.class_.__name__):
                if mapper.class_ in tenancy.NOT_SCHOOL_OWNED:
                    continue
                key = mapper.primary_key[0]
                rows += [repr(_row(r)) for r in s.scalars(select(mapper.class_).order_by(key))]
        return "\n".join(rows)


def _row(obj: Any) -> dict[str, Any]:
    return {a.key: getattr(obj, a.key) for a in inspect(obj).mapper.column_attrs}


def test_every_table_is_either_a_schools_or_named_as_belonging_to_none() -> None:
    owned = {m for models in tenancy.SCHOOL_OWNED.values() for m in models}
    for mapper in Base.registry.mappers:
        assert mapper.class_ in owned or mapper.class_ in tenancy.NOT_SCHOOL_OWNED, (
            f"table {mapper.class_.__tablename__}: say in server/tenancy.py how it belongs "
            "to a school (or why it belongs to none)")


@pytest.mark.parametrize("staff", ["north_office", "north_dsl", "north_head", "north_admin"])
def test_one_schools_staff_reach_nothing_of_another_school_through_any_route(
        trust: tuple[Services, Trust, WebServer], staff: str) -> None:
    services, seeded, web = trust
    before = _south_rows(services)
    who = signed_in(web.base, staff)
    asked = 0
    for route in _routes(web):
        for method in sorted(route.methods):
            if (method, route.path) in NOT_REQUESTED:
                continue
            for path in _aims(route, seeded.south):
                answer = _request(who, method, path, route)
                asked += 1
                assert answer.status_code < 500, f"{method} {path}: {answer.status_code}"
                # Words the request itself sent may be echoed ("no card X"): no leak.
                sent = path + answer.request.content.decode(errors="replace")
                leaked = [w for w in SOUTH_WORDS if w in answer.text and w not in sent]
                assert not leaked, f"{staff} {method} {path} shows South's {leaked}"
                if answer.status_code in (301, 302, 303, 307):
                    follow = who.client.get(answer.headers["location"])
                    leaked = [w for w in SOUTH_WORDS if w in follow.text and w not in sent]
                    assert not leaked, f"{staff} {method} {path} -> shows South's {leaked}"
    assert asked > len(_routes(web))  # every route, several aims each
    assert _south_rows(services) == before, f"{staff} changed something of South's"


def test_a_schools_own_staff_reach_their_school_on_every_page(
        trust: tuple[Services, Trust, WebServer]) -> None:
    _services, _seeded, web = trust
    admin = signed_in(web.base, "south_admin")
    for route in _routes(web):
        if "GET" not in route.methods or route.dependant.path_params \
                or route.path in ("/events", "/trust", "/"):
            continue
        answer = admin.client.get(route.path)
        assert answer.status_code == 200, f"GET {route.path}: {answer.status_code}"
        assert "several" not in answer.text, f"GET {route.path} asks to name the site"


def test_a_schools_own_staff_open_each_of_their_records_by_its_id(
        trust: tuple[Services, Trust, WebServer]) -> None:
    _services, seeded, web = trust
    admin = signed_in(web.base, "south_admin")
    opened = 0
    for route in _routes(web):
        if "GET" not in route.methods or not route.dependant.path_params:
            continue
        if route.path == "/console/commands/{command_id}":
            continue  # waits for the kiosk's answer; North's 404 is checked above
        for path in _aims(route, seeded.south):
            answer = _request(admin, "GET", path, route)
            assert answer.status_code == 200, f"GET {path}: {answer.status_code}"
            opened += 1
    assert opened >= 8


def test_a_school_sees_its_own_pupil_where_another_school_has_the_same_reference(
        trust: tuple[Services, Trust, WebServer]) -> None:
    _services, _seeded, web = trust
    south, north = signed_in(web.base, "south_office"), signed_in(web.base, "north_office")
    south_page = south.client.get("/console/pupil/A001").text
    north_page = north.client.get("/console/pupil/A001").text
    assert "Zebedee" in south_page and "Amira" not in south_page
    assert "Amira" in north_page and "Zebedee" not in north_page
    assert "Ysolde" in south.client.get("/console/pupil/S900").text
    assert north.client.get("/console/pupil/S900").status_code == 404
    assert "S900" in south.client.get("/console/held").text
    head = signed_in(web.base, "south_head")
    assert "Quartermain" in head.client.get("/reports/compliance",
                                            params={"format": "csv"}).text


def test_the_card_api_answers_for_the_callers_school_only(
        trust: tuple[Services, Trust, WebServer]) -> None:
    _services, _seeded, web = trust
    with httpx.Client(base_url=web.base, timeout=30) as client:
        south = client.get("/api/pupils/A001/cards", auth=("south_office", PASSWORD))
        north = client.get("/api/pupils/A001/cards", auth=("north_office", PASSWORD))
        aimed = client.get("/api/pupils/S900/cards", auth=("north_office", PASSWORD))
    assert [c["uid"] for c in south.json()] == ["04B0B0B0B0B001"]
    assert [c["uid"] for c in north.json()] == ["04A0A0A0A0A001"]
    assert aimed.status_code == 404


def test_audit_search_shows_a_school_its_own_entries_only(
        trust: tuple[Services, Trust, WebServer]) -> None:
    _services, _seeded, web = trust
    south = signed_in(web.base, "south_head").client.get(
        "/reports/audit", params={"format": "csv"}).text
    north = signed_in(web.base, "north_head").client.get(
        "/reports/audit", params={"format": "csv"}).text
    # The export speaks in names and words: South's confiscation of Ysolde's phone by its
    # office is South's, and none of it reaches North's leadership.
    assert "Ysolde Vantongeren" in south and "Phone confiscated" in south
    assert "South office" in south
    assert "Ysolde" not in north and "South office" not in north
    assert "Phone confiscated" not in north


def test_a_trust_leads_action_on_one_schools_pupil_stays_out_of_a_namesakes_school_audit(
        trust: tuple[Services, Trust, WebServer]) -> None:
    services, _seeded, web = trust
    # Both schools have a pupil A001 (references are unique per school only). The trust's
    # lead, working on South, records a confiscation of South's A001.
    services.confiscations.confiscate("trustlead", "A001", "filming in the corridor",
                                      place="South safe", site="south")
    north = signed_in(web.base, "north_head").client.get(
        "/reports/audit", params={"format": "csv"}).text
    south = signed_in(web.base, "south_head").client.get(
        "/reports/audit", params={"format": "csv"}).text
    assert "filming in the corridor" in south and "Trust Lead" in south
    # North's A001 is Amira; none of this is hers, and none of it is North's.
    assert "filming in the corridor" not in north
    assert "Trust Lead" not in north


def test_trust_staff_switch_school_and_see_every_school_side_by_side(
        trust: tuple[Services, Trust, WebServer]) -> None:
    _services, _seeded, web = trust
    lead = signed_in(web.base, "trustlead")
    first = lead.client.get("/console/pupil/A001").text
    assert "Amira" in first  # North Academy sorts first: the school until one is chosen
    chosen = lead.client.post("/school", data={"school": "south", "csrf": lead.csrf},
                              headers={"referer": f"{web.base}/console/pupil/A001"})
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/console/pupil/A001"
    assert "Zebedee" in lead.client.get("/console/pupil/A001").text
    overview = lead.client.get("/trust").text
    assert "North Academy" in overview and "South School" in overview
    # A school's own staff have no switcher and cannot choose another school.
    office = signed_in(web.base, "north_office")
    assert 'action="/school"' not in office.client.get("/console").text
    refused = office.client.post("/school", data={"school": "south", "csrf": office.csrf})
    assert refused.status_code == 404
    assert office.client.get("/trust").status_code == 403


def test_the_live_dashboard_hears_only_its_own_schools_kiosks() -> None:
    import asyncio

    from lockers.wire import messages as m
    from lockers.wire.topics import STATUS, parse, topic
    from server.web.live import Broadcaster

    north = tenancy.School(1, "north", "North")
    broadcaster = Broadcaster()

    async def hear() -> list[str]:
        with tenancy.scoped(tenancy.Scope((north,), north)):
            client = broadcaster.subscribe()
        for site in ("south", "north"):
            status = m.KioskStatus(kiosk="k1", site=site, state="online", reason="birth")
            broadcaster.on_commit([(parse(topic(STATUS, site, "k1")), status)])
        await asyncio.sleep(0)  # let the loop run the queued puts (no wall-clock wait)
        heard = []
        while not client[1].empty():
            heard.append(client[1].get_nowait())
        return heard

    heard = asyncio.run(hear())
    assert len(heard) == 1 and json.loads(heard[0])[0]["kind"] == "kiosk"


def test_trust_overview_counts_each_school_on_its_own_row(
        trust: tuple[Services, Trust, WebServer]) -> None:
    from server.models import CustodyRecord, Deposit, Kiosk, Pupil
    from tests.server_kit import MORNING

    services, _seeded, _web = trust
    with services.store.write() as s:  # North's A001 hands in at k1, slot 2, this morning
        north = s.scalar(select(Site).where(Site.code == "north"))
        assert north is not None
        kiosk = s.scalar(select(Kiosk).where(Kiosk.site_id == north.id))
        pupil = s.scalar(select(Pupil).where(Pupil.site_id == north.id,
                                             Pupil.reference == "A001"))
        assert kiosk is not None and pupil is not None
        kiosk.online = True
        s.add(Deposit(site_id=north.id, kiosk_id=kiosk.id, pupil_id=pupil.id,
                      pupil_ref="A001", slot=2, day=MORNING.date(), deposited_at=MORNING,
                      custody_id="k1.e.1"))
        s.add(CustodyRecord(custody_id="k1.e.1", site_id=north.id, pupil_id=pupil.id,
                            pupil_ref="A001", state="in_slot", kiosk_id=kiosk.id, slot=2,
                            came_in_at=MORNING, came_in_day=MORNING.date()))
    rows = {r.code: r for r in services.trust.schools()}
    assert [r.name for r in services.trust.schools()] == ["North Academy", "South School"]
    north_row, south_row = rows["north"], rows["south"]
    assert (north_row.in_lockers, north_row.handed_in_today, north_row.on_roll) == (1, 1, 2)
    assert north_row.handed_in_percent == 50
    assert (north_row.held, north_row.breaches_this_term) == (0, 0)
    assert (north_row.kiosks, north_row.kiosks_offline) == (1, 0)
    # South: S900's phone confiscated into the office safe (held, not in a slot), A001's
    # handed in at the office; one breach this term; its kiosk has never been online.
    assert (south_row.in_lockers, south_row.handed_in_today, south_row.on_roll) == (0, 0, 2)
    assert (south_row.held, south_row.breaches_this_term) == (1, 1)
    assert (south_row.kiosks, south_row.kiosks_offline) == (1, 1)


def test_an_office_account_of_no_school_sees_no_school_and_is_told_why(
        trust: tuple[Services, Trust, WebServer]) -> None:
    services, _seeded, web = trust
    services.admin.create_staff("admin", "drifter", "Dee Drifter", "office", PASSWORD)
    who = signed_in(web.base, "drifter")
    assert who.client.get("/console/pupil/A001").status_code == 404
    held = who.client.get("/console/held")
    assert "belongs to no school" in held.text
    assert not [w for w in SOUTH_WORDS if w in held.text]


def test_a_bulk_change_made_for_one_school_leaves_another_schools_rows_alone(
        trust: tuple[Services, Trust, WebServer]) -> None:
    from sqlalchemy import update

    from server.models import Pupil

    services, _seeded, _web = trust
    with services.store.read() as s:
        north = s.scalar(select(Site).where(Site.code == "north"))
        assert north is not None
        school = tenancy.School(north.id, north.code, north.name)
    with tenancy.scoped(tenancy.Scope((school,), school)), services.store.write() as s:
        s.execute(update(Pupil).values(form="10Z"))  # a careless "every pupil" change
    with services.store.read() as s:
        forms = {first: form for first, form in s.execute(select(Pupil.first_name, Pupil.form))}
    assert forms == {"Amira": "10Z", "Nadia": "10Z", "Zebedee": "9X", "Ysolde": "9X"}


def test_a_small_school_alone_on_its_installation_sees_no_switcher_and_no_naming(
        tmp_path: Path) -> None:
    from tests.server_kit import seed

    url = database_url(tmp_path)
    upgrade(url)
    services = Services(Store(url), make_clock())
    seed(services)  # one school; its accounts name no school, as before tenancy
    try:
        with WebServer(services) as web, httpx.Client(base_url=web.base) as client:
            token = client.get("/signin").text.split('name="csrf" value="')[1].split('"')[0]
            client.post("/signin", data={"username": "head", "password": "leader pass",
                                         "csrf": token})
            for path in ("/console/pupil/A001", "/dashboard", "/console/held",
                         "/reports/compliance"):
                page = client.get(path)
                assert page.status_code == 200, f"{path}: {page.text[:200]}"
                assert 'action="/school"' not in page.text
            assert "Amira" in client.get("/console/pupil/A001").text
            assert client.get("/trust").status_code == 403
    finally:
        services.store.dispose()


def test_an_office_account_a_trust_admin_adds_joins_the_school_the_page_is_about(
        trust: tuple[Services, Trust, WebServer]) -> None:
    _services, _seeded, web = trust
    admin = signed_in(web.base, "admin")
    admin.client.post("/school", data={"school": "south", "csrf": admin.csrf})
    made = admin.client.post("/admin/staff", data={
        "username": "new_office", "name": "Nell New", "role": "office",
        "password": PASSWORD, "csrf": admin.csrf})
    assert made.status_code in (200, 303), made.text[:300]
    office = signed_in(web.base, "new_office")
    page = office.client.get("/console/pupil/A001").text
    assert "Zebedee" in page and "Amira" not in page
