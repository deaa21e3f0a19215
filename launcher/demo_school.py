"""A made-up school for the demo: pupils with invented names, forms, cards, a few medical
exceptions and phone agreements, and a calendar whose release window opens a few minutes
after the demo starts so collection can be watched too.

The school comes in as a real one does, through the same import paths: an MIS export
(``launcher/demo_data/roster.csv``, Arbor's layout with parent/carer contacts) through the
roster import, and the school's published term dates (``term-dates-2026-27.ics``) through the
calendar import. A demo asking for more pupils than the file has gets invented extras, written
into the same file layout before it is imported."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

DEMO_DATA = Path(__file__).resolve().parents[1] / "launcher" / "demo_data"
ROSTER = DEMO_DATA / "roster.csv"
TERM_DATES = DEMO_DATA / "term-dates-2026-27.ics"

FIRST = ["Amira", "Tom", "Zoë", "Kai", "Ola", "Niamh", "Rhys", "Priya", "Jakub", "Chloé",
         "Idris", "Maya", "Oisín", "Leah", "Yusuf", "Freya", "Mateo", "Aoife", "Ravi", "Sian",
         "Elif", "Noah", "Ffion", "Kofi", "Lena", "Arjun", "Isla", "Dmitri", "Grace", "Tariq"]
LAST = ["O'Brien", "Okafor", "Nguyen", "Smith", "Kowalski", "Jones", "Müller", "Patel",
        "Williams", "D'Souza", "Evans", "García", "Murphy", "Ahmed", "Taylor", "Hughes",
        "Mensah", "Byrne", "Novak", "Davies", "Lefèvre", "Khan", "Roberts", "Silva"]
FORMS = [f"{year}{house}" for year in range(7, 12) for house in "ABCD"]


@dataclass(frozen=True)
class DemoPupil:
    """One invented pupil."""

    reference: str
    first_name: str
    last_name: str
    year: int
    form: str
    card_uid: str
    source_line: str = ""  # the pupil's line in the shipped export, contacts and all


def shipped_pupils() -> list[DemoPupil]:
    """The pupils of the shipped MIS export, read by the roster import's own reader."""
    from lockers.cardhash import normalise_uid
    from server.roster_read import read_roster

    data = ROSTER.read_bytes()
    lines = data.decode("utf-8-sig").splitlines()
    out = []
    for row in read_roster(data).rows:
        v = row.values
        year = int("".join(ch for ch in v["year_group"] if ch.isdigit()))
        out.append(DemoPupil(v["reference"], v["first_name"], v["last_name"], year, v["form"],
                             normalise_uid(v["card_uid"]), lines[row.line - 1]))
    return out


def make_pupils(count: int, seed: int) -> list[DemoPupil]:
    """The first ``count`` pupils of the shipped export, then invented ones (the same for
    the same seed) if the demo wants more."""
    shipped = shipped_pupils()
    if count <= len(shipped):
        return shipped[:count]
    rng = random.Random(seed)
    pupils, uids = list(shipped), {p.card_uid for p in shipped}
    for i in range(len(shipped), count):
        form = rng.choice(FORMS)
        uid = ""
        while not uid or uid in uids:
            uid = "04" + "".join(rng.choice("0123456789ABCDEF") for _ in range(12))
        uids.add(uid)
        pupils.append(DemoPupil(f"D{1000 + i}", rng.choice(FIRST), rng.choice(LAST),
                                int(form[:-1]), form, uid))
    return pupils


def write_roster(pupils: list[DemoPupil], path: Path) -> Path:
    """The MIS export the demo imports: the shipped file's header and lines, invented pupils
    written in the same (Arbor) layout, with a BOM and CRLF as the MIS writes it."""
    header = ROSTER.read_bytes().decode("utf-8-sig").splitlines()[0]
    width = header.count(",") + 1
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        fh.write(header + "\r\n")
        writer = csv.writer(fh, lineterminator="\r\n")
        for p in pupils:
            if p.source_line:
                fh.write(p.source_line + "\r\n")
            else:
                writer.writerow(["", p.reference, p.first_name, p.last_name, "",
                                 f"Year {p.year}", p.form, "", p.card_uid]
                                + [""] * (width - 9))
    return path


def release_window(now: datetime, zone: str, opens_in_min: int, open_for_min: int = 45
                   ) -> tuple[date, time, time]:
    """Today (school time) and a window opening ``opens_in_min`` minutes from now."""
    local = now.astimezone(ZoneInfo(zone))
    opens = (local + timedelta(minutes=opens_in_min)).replace(second=0, microsecond=0)
    closes = min(opens + timedelta(minutes=open_for_min),
                 local.replace(hour=23, minute=59, second=0))
    return local.date(), opens.time(), closes.time()


def seed_school(url: str, pupils: list[DemoPupil], kiosk_ids: list[str], slots: int,
                today: date, opens: time, closes: time, roster_dir: Path,
                site: str = "demo", password: str = "demo-password-1",
                exempt: int = 3, eligible: int = 37) -> tuple[object, str]:
    """Create the database and the school; returns (services, the site's card hash key)."""
    from lockers.clock import SystemClock
    from server.migrate import upgrade
    from server.roster import import_roster
    from server.services import Services
    from server.store import Store

    upgrade(url)
    services = Services(Store(url), SystemClock())
    admin = "admin"
    services.admin.create_staff(None, admin, "Demo Admin", "admin", password)
    services.admin.create_staff(admin, "office", "Demo Office", "office", password)
    services.admin.create_staff(admin, "head", "Demo Headteacher", "leadership", password)
    services.admin.create_site(admin, site, "Demo Academy")
    for kiosk in kiosk_ids:
        services.admin.add_kiosk(admin, kiosk, f"Entrance {kiosk}", slots=slots)
    services.calendar.import_ics(admin, TERM_DATES.read_bytes())
    if not any(t.starts <= today <= t.ends
               for t in services.calendar.school_year(today.year - (today.month < 9)).terms):
        # The shipped term dates are for 2026-27; a demo run on another date gets a term.
        services.calendar.add_term(admin, "Demo term", today - timedelta(days=60),
                                   today + timedelta(days=60))
    services.calendar.set_day(admin, today, "school_day", opens=opens, closes=closes,
                              note="demo day")
    report = import_roster(services, admin, write_roster(pupils, roster_dir / "roster.csv"),
                           progress=False)
    if report.problems:
        raise RuntimeError(f"demo roster did not import: {report.problems[:3]}")
    for p in pupils[:exempt]:
        services.exceptions.grant_exception(
            admin, p.reference, category="medical", reason="glucose monitoring",
            approved_by="Headteacher", agreement_date=today - timedelta(days=20),
            starts=today - timedelta(days=20), review_date=today + timedelta(days=5))
    for p in pupils[exempt:exempt + eligible]:
        services.exceptions.record_eligibility(admin, p.reference, today - timedelta(90),
                                               "Parent/carer")
    from sqlalchemy import text

    with services.store.read() as s:
        key = s.execute(text("SELECT card_hash_key FROM sites WHERE code = :c"),
                        {"c": site}).scalar_one()
    return services, key
