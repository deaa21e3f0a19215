"""Each report's rows in the school's words, built once for the page and its CSV alike:
a pupil as "Amira Khan (8B)", states in words, times in the site's time zone, a locker as
"Locker 12, Main entrance", audit actions and details in words.

Keys are snake_case words ("phone_now"): the CSV writer turns them into headings ("Phone
now") and the page does the same, so both always show the same columns.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from server.services import Services
from server.services.custody import CustodyView
from server.services.pupil_names import pupil_label
from server.web.words import action_words, detail_words, local_time

# Compliance statuses in words. Only "Not handed in" is a concern.
STATUS_WORDS = {"handed_in": "Handed in", "late": "Handed in late", "exempt": "Exempt",
                "no_phone": "Does not bring a phone", "absent": "Absent",
                "off_site": "Off site", "not_handed_in": "Not handed in"}


def locker_words(kiosk: str | None, slot: int | None, place: str | None = None) -> str:
    """"Locker 12, Main entrance"; a device kept by hand: "Office (office safe)"."""
    if kiosk and slot is not None:
        return f"Locker {slot}, {kiosk}"
    if place:
        return "Office" if place.strip().lower() in ("office", "the office") \
            else f"Office ({place})"
    return ""


def _phone_now(row: dict[str, Any], held: dict[str, str]) -> str:
    # A confiscated phone says so, whether or not it was handed in this morning.
    if row["reference"] in held:
        return held[row["reference"]]
    if row["collected_at"]:
        return "Collected"
    if row["deposited_at"]:
        return "Still in locker"
    return ""


def compliance_rows(services: Services, day: date | None) -> list[dict[str, Any]]:
    """Today's (or ``day``'s) compliance: one row per pupil on roll."""
    tz = services.reports.timezone()
    held = {v.pupil_ref: v.state_words for v in services.custody.held()}
    return [{"pupil": pupil_label(r["first_name"], r["last_name"], r["form"]),
             "reference": r["reference"], "status": STATUS_WORDS.get(r["status"], r["status"]),
             "phone_now": _phone_now(r, held), "locker": locker_words(r["kiosk"], r["slot"]),
             "handed_in_at": local_time(r["deposited_at"], tz),
             "collected_at": local_time(r["collected_at"], tz), "why": r["why"]}
            for r in services.reports.compliance(day=day)]


def custody_rows(services: Services, views: list[CustodyView]) -> list[dict[str, Any]]:
    """Devices in the school's charge (the end-of-day and overnight lists)."""
    tz = services.reports.timezone()
    return [{"pupil": v.pupil_label, "reference": v.pupil_ref, "phone_now": v.state_words,
             "where": locker_words(v.kiosk_name, v.slot, v.place),
             "since": local_time(v.came_in_at, tz),
             "left_overnight": "Yes" if v.overnight is not None else "No",
             "goes_back": v.release_words or "To the pupil at home time"} for v in views]


def breach_rows(services: Services, day: date | None) -> list[dict[str, Any]]:
    """Confiscations per pupil this term."""
    return [{"pupil": pupil_label(r["first_name"], r["last_name"], r["form"]),
             "reference": r["reference"], "breaches": r["breaches"],
             "second_devices": r["second_devices"], "term_from": r["term_start"],
             "term_to": r["term_end"]} for r in services.reports.breaches(day_in_term=day)]


def exception_rows(services: Services) -> list[dict[str, Any]]:
    """Every current exception, those due for review first."""
    views = sorted(services.exceptions.exceptions(current_only=True),
                   key=lambda e: (not e.review_due, e.pupil_label))
    return [{"pupil": e.pupil_label, "reference": e.pupil_ref,
             "category": e.category.capitalize(), "reason": e.reason,
             "allows": e.allows.replace("_", " ").capitalize()
             + (f" ({e.access_times})" if e.access_times else ""),
             "approved_by": e.approved_by, "agreed_on": e.agreement_date, "from": e.starts,
             "until": e.ends, "review_on": e.review_date,
             "review_due": "Yes" if e.review_due else "No"} for e in views]


def audit_rows(entries: list[dict[str, Any]], zone: str) -> list[dict[str, Any]]:
    """Audit entries in words (no raw actions, no hashes)."""
    return [{"when": local_time(a["at"], zone), "who": a["actor_name"],
             "action": action_words(a["action"]),
             "pupil": a["pupil_name"] or "", "reason": a["reason"] or "",
             "details": detail_words(a["detail"])} for a in entries]
