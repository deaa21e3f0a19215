"""Where a pupil's phone is, said as the office would say it on the phone to a parent:
"In locker 12 at Main entrance kiosk since 08:31", "Held at the office for parent
collection", "Not handed in today" (DOMAIN rule 9)."""

from __future__ import annotations

from datetime import datetime

from server.custody.held import PARENT_ONLY, PUPIL_END_OF_DAY

# What a kiosk's tap outcome means, in words (the pupil page's "Today").
TAP_WORDS = {
    "deposit_opened": "tapped in: a locker opened for the phone",
    "release_opened": "tapped out: the locker opened to collect",
    "early_release_opened": "tapped out early (approved): the locker opened",
    "not_release_time": "tapped before home time: nothing opened",
    "held": "tapped, but the phone is held: nothing opened",
    "exempt": "tapped: exempt, nothing opened",
    "unknown_card": "tapped an unknown card",
    "already_deposited": "tapped again: already handed in",
    "nothing_to_collect": "tapped out: nothing to collect",
    "no_free_slot": "tapped: no free locker",
    "slot_unavailable": "tapped: the locker could not be used",
    "staff_card": "staff card",
    "kiosk_closed": "tapped: the kiosk was closed",
    "clock_unsure": "tapped: the kiosk was unsure of the time, nothing opened",
}
EVENT_WORDS = {"deposit": "Phone put in", "collected": "Phone taken out",
               "door": "Door", "alarm": "Alarm", "staff_action": "Staff action at the kiosk"}


def event_words(kind: str, outcome: str | None, slot: int | None) -> str:
    """One of today's kiosk events in words ("Phone put in locker 3")."""
    if kind == "tap":
        words = TAP_WORDS.get(outcome or "", "tapped")
        words = words[0].upper() + words[1:]
    else:
        words = EVENT_WORDS.get(kind, kind.replace("_", " ").capitalize())
        if outcome:
            words += f" ({outcome.replace('_', ' ')})"
    return f"{words}, locker {slot}" if slot is not None else words


def _held_where(kiosk: str | None, slot: int | None, place: str | None) -> str:
    if kiosk is not None and slot is not None:
        return f"in locker {slot} at {kiosk} kiosk"
    if not place or place.strip().lower() in ("office", "the office"):
        return "at the office"
    return f"at the office ({place})"


def phone_words(status: str, *, kiosk: str | None = None, slot: int | None = None,
                since: datetime | None = None, collected: datetime | None = None,
                place: str | None = None, release_mode: str | None = None) -> str:
    """The answer to "where is this pupil's phone" in one sentence (times already local)."""
    at = f" since {since:%H:%M}" if since else ""
    if status == "held":
        back = {PARENT_ONLY: " for parent collection",
                PUPIL_END_OF_DAY: " until the end of the day"}.get(release_mode or "", "")
        return f"Held {_held_where(kiosk, slot, place)}{back}"
    if status == "in_office":
        return f"Handed in at the office ({place or 'office'}){at}"
    if status == "in_locker":
        return f"In locker {slot} at {kiosk} kiosk{at}"
    if status == "collected":
        return f"Collected from locker {slot} at {kiosk} kiosk" + (
            f" at {collected:%H:%M}" if collected else "")
    if status == "exempt":
        return "Exempt today (agreed exception): keeps the phone"
    return "Not handed in today"
