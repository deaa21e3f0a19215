"""Two schools of one trust on one installation, for the tenancy tests.

North (school A) and South (school B) each have a kiosk called k1 and a pupil A001 (the same
reference at both schools: references are unique per school only). South also has things
North must never see: a pupil only it has, a confiscated device, a device handed in at the
office, an exception, a group, a term, an alarm, a command and a parent letter. Every one of
them carries words that appear nowhere at North (:data:`SOUTH_WORDS`).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from lockers.broker import free_port
from server.models import Alarm, Kiosk, Notification, Pupil
from tests.server_kit import MORNING, wait_until

PASSWORD = "school pass 123"
# Words that are South's alone: none may appear in any answer North's staff get.
SOUTH_WORDS = ("South School", "Zebedee", "Quartermain", "Ysolde", "Vantongeren",
               "South safe", "Southerners", "Southgate", "south door jam", "Spring South",
               "04B0B0B0B0B001", "Glucose monitor for Ysolde", "Dear Mr Vantongeren")


@dataclass
class Trust:
    """What the two schools hold: South's ids to aim at, and the accounts."""

    south: dict[str, Any] = field(default_factory=dict)
    north: dict[str, Any] = field(default_factory=dict)


def _pupil(s: Any, site_id: int, ref: str, first: str, last: str) -> None:
    s.add(Pupil(site_id=site_id, reference=ref, first_name=first, last_name=last,
                year_group="9", form="9X"))


def two_schools(services: Any) -> Trust:
    """Seed North and South (see the module doc); returns South's and North's ids."""
    admin = services.admin
    admin.create_staff(None, "admin", "Trust Admin", "admin", PASSWORD)
    admin.create_site("admin", "north", "North Academy")
    admin.create_site("admin", "south", "South School")
    admin.add_kiosk("admin", "k1", name="North hall", slots=4, site="north")
    admin.add_kiosk("admin", "k1", name="Southgate", slots=4, site="south")
    for school in ("north", "south"):
        for role, who in (("office", "office"), ("leadership", "head"), ("admin", "admin"),
                          ("dsl", "dsl")):
            admin.create_staff("admin", f"{school}_{who}", f"{school.title()} {who}", role,
                               PASSWORD, site=school)
    admin.create_staff("admin", "trustlead", "Trust Lead", "trust", PASSWORD)
    with services.store.write() as s:
        north, south = services.ctx.site(s, "north").id, services.ctx.site(s, "south").id
        _pupil(s, north, "A001", "Amira", "Olsen")
        _pupil(s, north, "N100", "Nadia", "Northcott")
        _pupil(s, south, "A001", "Zebedee", "Quartermain")
        _pupil(s, south, "S900", "Ysolde", "Vantongeren")
        south_kiosk = services.ctx.kiosk(s, services.ctx.site(s, "south"), "k1").id
        alarm = Alarm(kiosk_id=south_kiosk, kind="door_open", slot=2, detail="south door jam",
                      raised_at=MORNING)
        s.add(alarm)
        s.flush()
        alarm_id = alarm.id
    services.cards.enrol_card("north_office", "A001", "04A0A0A0A0A001", site="north")
    services.cards.enrol_card("south_office", "A001", "04B0B0B0B0B001", site="south")
    conf = services.confiscations.confiscate("south_office", "S900", "phone out in class",
                                             place="South safe", site="south")
    handed = services.custody.hand_in_at_office("south_office", "A001", "South safe",
                                                site="south")
    exception = services.exceptions.grant_exception(
        "south_head", "S900", category="medical", reason="Glucose monitor for Ysolde",
        approved_by="Head", agreement_date=date(2026, 9, 1), starts=date(2026, 9, 1),
        review_date=date(2027, 3, 1),
        site="south")
    services.groups.create_group("south_admin", "Southerners", site="south")
    services.calendar.add_term("south_admin", "Spring South", date(2026, 9, 1),
                               date(2026, 12, 18), site="south")
    command = services.releases.remote_unlock("south_head", "k1", 3, "stuck door",
                                              site="south")
    with services.store.write() as s:
        s.add(Notification(site_id=south, kind="held_for_parent", audience="parent",
                           channel="letter", recipient="post", recipient_name="Mr Vantongeren",
                           subject="Ysolde's phone", body_text="Dear Mr Vantongeren",
                           dedupe_key="tenancy-test", created_at=MORNING))
        s.flush()
        letter = s.scalars(select(Notification.id).where(
            Notification.site_id == south)).all()
        kiosk_ids = s.scalars(select(Kiosk.id)).all()
    return Trust(south={"ref": "S900", "shared_ref": "A001", "custody_id": conf.custody_id,
                        "custody_in_office": handed.custody_id,
                        "conf_id": conf.id, "command_id": command,
                        "exception_id": exception.id, "alarm_id": alarm_id,
                        "notification_id": letter[-1], "site": "south", "code": "k1",
                        "uid": "04B0B0B0B0B001", "kiosks": kiosk_ids},
                 north={"ref": "N100", "shared_ref": "A001", "site": "north"})


class WebServer:
    """The web app under uvicorn in a thread (no broker needed for these pages)."""

    def __init__(self, services: Any) -> None:
        from server.web.app import create_app

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.app = create_app(services, session_key="tenancy-test-key")
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1",
                                                    port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> WebServer:
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "the web server")
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Browser:
    """A signed-in staff member's browser session: the client and its CSRF token."""

    client: httpx.Client
    csrf: str
    username: str


def signed_in(base: str, username: str) -> Browser:
    """A browser-like client signed in as ``username``."""
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    form = client.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf, "the sign-in form has no CSRF token"
    answer = client.post("/signin", data={"username": username, "password": PASSWORD,
                                          "csrf": csrf.group(1)})
    assert answer.status_code == 303, f"{username} could not sign in: {answer.text[:200]}"
    page = client.get("/account/password").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token, "the password page has no CSRF token"
    return Browser(client, token.group(1), username)
