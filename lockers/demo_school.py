"""A made-up school for the demo: pupils with invented names, forms, cards, a few medical
exceptions and phone agreements, and a calendar whose release window opens a few minutes
after the demo starts so collection can be watched too."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

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


def make_pupils(count: int, seed: int) -> list[DemoPupil]:
    """``count`` invented pupils, the same for the same seed."""
    rng = random.Random(seed)
    pupils, uids = [], set()
    for i in range(count):
        form = rng.choice(FORMS)
        uid = ""
        while not uid or uid in uids:
            uid = "04" + "".join(rng.choice("0123456789ABCDEF") for _ in range(12))
        uids.add(uid)
        pupils.append(DemoPupil(f"D{1000 + i}", rng.choice(FIRST), rng.choice(LAST),
                                int(form[:-1]), form, uid))
    return pupils


def write_roster(pupils: list[DemoPupil], path: Path) -> Path:
    """An MIS-style CSV export (with a BOM, as MIS exports often have)."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["UPN", "Forename", "Surname", "Year", "Reg Group", "Card ID"])
        for p in pupils:
            writer.writerow([p.reference, p.first_name, p.last_name, p.year, p.form,
                             p.card_uid])
    return path


def release_window(now: datetime, zone: str, opens_in_min: int) -> tuple[date, time, time]:
    """Today (school time) and a window opening ``opens_in_min`` minutes from now."""
    local = now.astimezone(ZoneInfo(zone))
    opens = (local + timedelta(minutes=opens_in_min)).replace(second=0, microsecond=0)
    closes = min(opens + timedelta(minutes=45), local.replace(hour=23, minute=59, second=0))
    return local.date(), opens.time(), closes.time()
