"""The one CSV writer every export uses, so what a school downloads opens right in Excel.

- UTF-8 with a byte-order mark: without it Excel reads "Zoë" as "ZoÃ«";
- CRLF line ends, every cell quoted when it needs to be (commas, quotes, line breaks);
- times in the school's local time, written ``2026-11-23 08:15`` (Excel reads it as a date
  and time in any locale), dates as ``2026-11-23``;
- headings in words ("First name"), and values such as statuses in words;
- a cell that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return: OWASP's "CSV injection") is neutralised with a leading
  apostrophe, which Excel and LibreOffice show as text and do not display. A pupil called
  ``=HYPERLINK(...)`` stays a name. Numbers are numbers, so ``-3`` stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPE = "text/csv; charset=utf-8"


def cell(value: Any, zone: ZoneInfo) -> str | int | float:
    """One value as a spreadsheet should see it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        local = value.astimezone(zone) if value.tzinfo else value
        return local.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    text = str(value) if not isinstance(value, dict | list) else repr(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def heading(key: str) -> str:
    """``first_name`` -> ``First name``."""
    return key.replace("_", " ").capitalize()


def to_csv(rows: Iterable[Mapping[str, Any]], zone: ZoneInfo | str = "Europe/London", *,
           columns: list[str] | None = None,
           words: Mapping[str, Mapping[Any, str]] | None = None) -> bytes:
    """``rows`` as the bytes of a CSV file Excel opens correctly (see the module doc).
    ``columns`` picks and orders the keys (default: the first row's); ``words`` maps a
    column's values to words (e.g. ``{"status": {"not_handed_in": "not handed in"}}``)."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    rows = list(rows)
    keys = columns or (list(rows[0]) if rows else [])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(heading(k), tz) for k in keys])
    for row in rows:
        values = []
        for k in keys:
            v = row.get(k)
            if words and k in words and v in words[k]:
                v = words[k][v]
            values.append(cell(v, tz))
        writer.writerow(values)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
