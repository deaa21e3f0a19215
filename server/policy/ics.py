"""Reading a school's published iCalendar (.ics) of term dates into terms and special days.

Schools publish term dates as events with free-text titles, in two styles, often mixed:
a whole-term event ("Spring Term 2027", 4 Jan to 25 Mar), or a PAIR of one-day events
("Autumn Term starts" ... "Autumn Term ends"). A pair is one term from the start to the end,
never two one-day terms. The title decides what the rest is:

- "INSET", "training day", "staff development" -> INSET day(s), no pupils;
- "half term", "holiday", "bank holiday", "closed", Good Friday... -> closure;
- "early closing", "early finish", "closes at 1.30pm" -> an early-closing day. A timed event
  gives the release window (its start and end, in the school's time zone whatever zone the
  file wrote); an all-day one takes the time from its title, or the usual window;
- "Last day of term – school closes at 1.30pm" is both the end of a term and an early close.

Folded lines, escaped commas and semicolons, VTIMEZONE blocks and UTC times are the
icalendar library's job. Events are keyed by UID, so importing the same file again updates
instead of duplicating. Anything not understood is reported back, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

from server.errors import ServerError
from server.models.calendar import EARLY_CLOSING, HOLIDAY, INSET

_INSET = re.compile(r"\binset\b|training day|staff (development|training)|teacher day|"
                    r"professional development|\bpd day", re.I)
_EARLY = re.compile(r"early (clos|finish|dismissal)|finish(es)? early|\bclos(es|ing) at\b|"
                    r"\bfinish(es)? at\b", re.I)
_HOLIDAY = re.compile(r"half[ -]?term|holiday|\bclosed\b|good friday|easter monday|"
                      r"christmas day|boxing day|new year'?s day|polling day", re.I)
_HALF_TERM = re.compile(r"half[ -]?term", re.I)
_TERM = re.compile(r"\bterm\b", re.I)
_TERM_START = re.compile(r"\bterm\b.*\b(starts?|begins?|commences?|opens?)\b|"
                         r"\b(start|first day|beginning) of\b.*\bterm\b|pupils return", re.I)
_TERM_END = re.compile(r"\bterm\b.*\b(ends?|finishes)\b|\b(end|last day) of\b.*\bterm\b|"
                       r"\bbreaks? up\b", re.I)
_SEASON = re.compile(r"autumn|spring|summer|michaelmas|lent|trinity|easter|christmas", re.I)
_CLOCK = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)\b|\b(\d{1,2})[:.](\d{2})\b", re.I)


@dataclass(frozen=True)
class IcsTerm:
    """A term read from the file: a whole-term event, or a start/end pair."""

    name: str
    first: date
    last: date
    uid: str


@dataclass(frozen=True)
class IcsDay:
    """Days that differ from a normal school day (one event, one or more days)."""

    kind: str
    name: str
    first: date
    last: date
    uid: str
    opens: time | None = None
    closes: time | None = None


@dataclass
class IcsRead:
    """What the file contained, and what it could not make sense of."""

    terms: list[IcsTerm] = field(default_factory=list)
    days: list[IcsDay] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Event:
    summary: str
    first: date
    last: date
    uid: str
    opens: time | None
    closes: time | None


def clock_in(text: str) -> time | None:
    """The first time of day written in ``text`` ("1.30pm", "13:30", "2 pm")."""
    m = _CLOCK.search(text)
    if not m:
        return None
    if m.group(3):
        hour = int(m.group(1)) % 12 + (12 if m.group(3).lower() == "pm" else 0)
        minute = int(m.group(2) or 0)
    else:
        hour, minute = int(m.group(4)), int(m.group(5))
    return time(hour, minute) if hour < 24 and minute < 60 else None


def _events(data: bytes, zone: ZoneInfo) -> list[_Event]:
    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise ServerError(f"this is not an iCalendar (.ics) file ({exc}): download the term "
                          "dates again from the school's calendar as .ics") from None
    out = []
    for ev in cal.walk("VEVENT"):
        summary = " ".join(str(ev.get("SUMMARY", "")).split())
        if ev.get("DTSTART") is None:
            continue
        start = ev.decoded("DTSTART")
        end = ev.decoded("DTEND") if ev.get("DTEND") is not None else None
        if end is None and ev.get("DURATION") is not None:
            end = start + ev.decoded("DURATION")
        uid = str(ev.get("UID", f"{summary}-{start}"))
        if isinstance(start, datetime):
            # A time written in UTC or another zone means the school's local time of it.
            local = start.astimezone(zone) if start.tzinfo else start
            local_end = (end.astimezone(zone) if isinstance(end, datetime) and end.tzinfo
                         else end)
            closes = local_end.time() if isinstance(local_end, datetime) and \
                local_end > local else None
            out.append(_Event(summary, local.date(), local.date(), uid,
                              local.time().replace(tzinfo=None), closes))
        else:
            # All-day DTEND is exclusive in iCalendar.
            last = end - timedelta(days=1) if isinstance(end, date) and end > start else start
            out.append(_Event(summary, start, last, uid, None, None))
    return out


def _term_name(summary: str) -> str:
    season = _SEASON.search(summary)
    return f"{season.group(0).capitalize()} term" if season else "Term"


def read_ics(data: bytes, zone: str = "Europe/London") -> IcsRead:
    """Parse ``data`` for a school in time zone ``zone``; raise :class:`ServerError` if it
    is not an iCalendar file."""
    out = IcsRead()
    starts: list[_Event] = []
    ends: list[_Event] = []
    for ev in sorted(_events(data, ZoneInfo(zone)), key=lambda e: (e.first, e.summary)):
        s, used = ev.summary, False
        if not _HALF_TERM.search(s) and _TERM.search(s) and not _INSET.search(s):
            if _TERM_START.search(s):
                starts.append(ev)
                used = True
            elif _TERM_END.search(s):
                ends.append(ev)
                used = True
            elif not _EARLY.search(s) and not _HOLIDAY.search(s):
                out.terms.append(IcsTerm(s, ev.first, ev.last, ev.uid))
                continue
        kind = (INSET if _INSET.search(s) else EARLY_CLOSING if _EARLY.search(s)
                else HOLIDAY if _HOLIDAY.search(s) else None)
        if kind == EARLY_CLOSING:
            opens = ev.opens or clock_in(s)
            out.days.append(IcsDay(kind, s, ev.first, ev.last, ev.uid, opens,
                                   ev.closes if ev.opens else None))
        elif kind is not None and (ev.opens is None or kind != HOLIDAY):
            out.days.append(IcsDay(kind, s, ev.first, ev.last, ev.uid))
        elif not used:
            out.skipped.append(s or "(untitled event)")
    _pair(out, starts, ends)
    return out


def _pair(out: IcsRead, starts: list[_Event], ends: list[_Event]) -> None:
    """Each "term starts" with the first "term ends" after it and before the next start."""
    unused = list(ends)
    for i, start in enumerate(starts):
        limit = starts[i + 1].first if i + 1 < len(starts) else date.max
        end = next((e for e in unused if start.first <= e.last < limit), None)
        if end is None:
            out.flags.append(f"'{start.summary}' on {start.first:%a %d %b %Y} has no matching "
                             "end of term in the file: add the term by hand")
            continue
        unused.remove(end)
        out.terms.append(IcsTerm(_term_name(start.summary), start.first, end.last,
                                 f"{start.uid}|{end.uid}"))
    spans = {t.last for t in out.terms}
    for end in unused:
        if end.last not in spans:
            out.flags.append(f"'{end.summary}' on {end.last:%a %d %b %Y} has no start of "
                             "term before it in the file: add the term by hand")
