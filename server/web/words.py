"""The records in the school's words, for pages and CSVs alike: audit actions ("Phone
confiscated", not ``confiscation.create``), an entry's details without raw dicts or hashes,
and times as "Mon 23 Nov 2026 08:31" in the site's time zone."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

ACTION_WORDS = {
    "confiscation.create": "Phone confiscated",
    "early_release.approve": "Early release approved",
    "exception.grant": "Exception recorded",
    "exception.revoke": "Exception revoked",
    "eligibility.record": "Phone agreement recorded",
    "eligibility.revoke": "Phone agreement withdrawn",
    "card.enrol": "Card enrolled",
    "card.replace": "Lost card replaced",
    "card.lost": "Card marked lost",
    "card.revoke": "Card withdrawn",
    "register.absent": "Marked absent",
    "register.off_site": "Marked off site",
    "register.phone": "Phone register changed",
    "register.attendance_import": "Attendance imported",
    "custody.deposit_at_kiosk": "Phone handed in at a kiosk",
    "custody.confiscated_into_slot": "Phone confiscated into a locker",
    "custody.hand_in_at_office": "Phone handed in at the office",
    "custody.confiscate_taken": "Phone confiscated (kept at the office)",
    "custody.confiscate_in_slot": "Phone confiscated in its locker",
    "custody.confiscate_in_office": "Phone confiscated at the office",
    "custody.put_in_slot": "Held phone put in a locker",
    "custody.collected_at_kiosk": "Phone collected by the pupil",
    "custody.returned_by_office": "Phone returned by the office",
    "custody.parent_collection": "Phone collected by a parent or carer",
    "custody.handed_to_dsl": "Phone handed to the DSL",
    "custody.handed_to_police": "Phone handed to the police",
    "custody.door_refused": "Kiosk refused to open a locker",
    "custody.door_refused_unheld": "Kiosk refused to open a locker",
    "custody.check_needed": "Locker needs checking",
    "custody.checked": "Locker checked",
    "command.remote_unlock": "Locker opened from the office",
    "command.emergency_open": "Emergency open of every locker",
    "command.ack": "Kiosk answered a command",
    "command.timeout": "Kiosk did not answer in time",
    "command.resync": "Kiosk asked to resend its records",
    "event.tap": "Card tapped",
    "event.deposit": "Phone put in a locker",
    "event.collected": "Phone taken out of a locker",
    "event.door": "Locker door opened or closed",
    "event.alarm": "Kiosk alarm",
    "event.restarted": "Kiosk restarted",
    "event.staff_action": "Staff action at a kiosk",
    "auth.failed": "Wrong password",
    "auth.locked": "Sign-in locked after wrong passwords",
    "pupil.create": "Pupil added",
    "pupil.update": "Pupil details changed",
    "pupil.archive": "Pupil archived",
    "pupil.subject_access_export": "Pupil's records exported (subject access)",
    "roster.import": "Roster imported",
    "staff.create": "Staff account created",
    "staff.password": "Staff password changed",
    "staff.active": "Staff account enabled or disabled",
    "staff.card": "Staff kiosk card set",
    "site.create": "School added",
    "site.settings": "School settings changed",
    "kiosk.create": "Kiosk added",
    "kiosk.provision": "Kiosk provisioned",
    "slot.assign": "Locker assigned",
    "calendar.day": "Calendar day changed",
    "calendar.clear_day": "Calendar day reset",
    "calendar.term": "Term dates changed",
    "calendar.import_ics": "Term dates imported",
    "group.create": "Group created",
    "group.members": "Group members changed",
    "group.window": "Group's collection time changed",
    "notification.queued": "Message queued",
    "notification.sent": "Message sent",
    "notification.failed": "Message failed",
    "notification.in_doubt": "Message may not have been sent",
    "notification.resend": "Message resent",
    "notification.settings": "Message settings changed",
    "retention.purge": "Old records removed (retention)",
}
# Detail keys people do not read: integrity hashes, card secrets, internal ids.
HIDDEN_DETAIL = ("sha256", "hash", "uid", "epoch", "seq", "command_id", "custody_id")


def action_words(action: str) -> str:
    """An audit action in words; an unknown one is at least made readable."""
    if action in ACTION_WORDS:
        return ACTION_WORDS[action]
    area, _, what = action.partition(".")
    return f"{area.replace('_', ' ').capitalize()}: {what.replace('_', ' ')}".rstrip(": ")


def _value_words(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%d %b %Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d %b %Y")
    if isinstance(value, str):
        try:  # stored details keep dates as ISO text
            return date.fromisoformat(value).strftime("%d %b %Y")
        except ValueError:
            return value.replace("_", " ") if value.isidentifier() else value
    if isinstance(value, list | tuple):
        return ", ".join(_value_words(v) for v in value)
    if isinstance(value, dict):
        return detail_words(value)
    return str(value)


def detail_words(detail: Any) -> str:
    """An audit entry's details as "Category: medical; Approved by: Mrs Head", leaving out
    hashes and internal ids, and empty values."""
    if not detail:
        return ""
    if not isinstance(detail, dict):
        return _value_words(detail)
    parts = []
    for key, value in detail.items():
        hidden = any(h in key.lower() for h in HIDDEN_DETAIL) or key == "id" \
            or key.endswith("_id")
        if value in (None, "", [], {}) or hidden:
            continue
        parts.append(f"{key.replace('_', ' ').capitalize()}: {_value_words(value)}")
    return "; ".join(parts)


def local_time(value: datetime | None, zone: str | ZoneInfo) -> datetime | None:
    """``value`` in the site's time zone (naive values are UTC, as the database keeps)."""
    if value is None:
        return None
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(tz)


def when_words(value: datetime | date | None) -> str:
    """The page's way of writing a time ("Mon 23 Nov 2026 08:31") or a day."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%a %d %b %Y %H:%M")
    return value.strftime("%a %d %b %Y")


def cell_words(value: Any) -> str:
    """One report cell on the page: times and days in words, nothing for an empty value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime | date):
        return when_words(value)
    return str(value)
