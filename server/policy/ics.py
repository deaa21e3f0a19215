"""Reading a school's published iCalendar (.ics) of term dates into calendar records.

Schools publish term dates as all-day events with free-text titles, so the title decides:

- "... term ..." spanning days (not "half term") -> a term;
- "INSET" / "training day" / "staff development" -> INSET day(s), no pupils;
- "holiday", "half term", "bank holiday", "closed" -> holiday(s);
- "early closing" / "finish early" / "early finish" -> an early-closing day; a timed event
  gives the release window (its start and end), otherwise the site's window.

Events are keyed by their UID, so importing the same file again updates instead of
duplicating. Anything unrecognised is reported back, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import icalendar

from server.errors import ServerError
from server.models.calendar import EARLY_CLOSING, HOLIDAY, INSET


@dataclass
class IcsItem:
    """One thing read from the file: a term span or a special day."""

    kind: str  # "term" or a calendar day kind
    name: str
    first: date
    last: date
    uid: str
    opens: time | None = None
    closes: time | None = None


@dataclass
class IcsRead:
    """What the file contained."""

    items: list[IcsItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _kind(summary: str) -> str | None:
    s = summary.lower()
    if "inset" in s or "training day" in s or "staff development" in s:
        return INSET
    if "early clos" in s or "finish early" in s or "early finish" in s:
        return EARLY_CLOSING
    if "half term" in s or "half-term" in s or "holiday" in s or "closed" in s:
        return HOLIDAY
    if "term" in s:
        return "term"
    return None


def read_ics(data: bytes) -> IcsRead:
    """Parse ``data``; raise :class:`ServerError` if it is not an iCalendar file."""
    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise ServerError(f"not an iCalendar file: {exc}") from None
    out = IcsRead()
    for ev in cal.walk("VEVENT"):
        summary = str(ev.get("SUMMARY", "")).strip()
        kind = _kind(summary)
        start = ev.decoded("DTSTART") if ev.get("DTSTART") else None
        if kind is None or start is None:
            out.skipped.append(summary or "(untitled event)")
            continue
        end = ev.decoded("DTEND") if ev.get("DTEND") else None
        uid = str(ev.get("UID", f"{summary}-{start}"))
        opens = closes = None
        if isinstance(start, datetime):
            opens = start.time().replace(tzinfo=None)
            closes = end.time().replace(tzinfo=None) if isinstance(end, datetime) else None
            first = last = start.date()
        else:
            first = start
            # All-day DTEND is exclusive in iCalendar.
            last = (end - timedelta(days=1)) if isinstance(end, date) and end > start else start
        out.items.append(IcsItem(kind, summary, first, last, uid, opens, closes))
    return out
