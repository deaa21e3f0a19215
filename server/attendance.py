"""Reading the MIS's attendance export for a day into absences and off-site pupils.

The export is a CSV with a pupil reference, a date and the morning's attendance mark (the DfE
codes every English MIS uses). Phones are handed in in the morning, so the AM mark decides:
``/``, ``\\`` and ``L`` are present; ``B``, ``J``, ``K``, ``P``, ``V``, ``W`` and ``D`` are
educational activity off site (a trip, a work placement, an interview, alternative
provision); any other mark is an absence. The file is read as the roster is (any encoding,
BOM, CRLF, blank lines), and every line that cannot be used is reported with what to do.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from server.roster_fields import CellError, leaving_date
from server.roster_read import RosterFileError, clean, decode

PRESENT = {"/", "\\", "L"}
OFF_SITE = {"B": "off-site educational activity", "D": "dual registered elsewhere",
            "J": "interview", "K": "alternative provision", "P": "approved sporting activity",
            "V": "educational visit or trip", "W": "work experience"}
REFERENCE = ("upn", "reference", "admission no", "adno", "pupil id", "mis id")
DATE = ("date", "session date", "attendance date")
MARK = ("am", "am mark", "mark", "code", "attendance code", "session mark")


@dataclass
class AttendanceLine:
    """One usable line: who, which day, the mark, and what it means."""

    line: int
    reference: str
    day: date
    mark: str
    meaning: str  # present | absent | off_site


@dataclass
class AttendanceFile:
    """The usable lines and the problems, each ``line N: what; what to do``."""

    lines: list[AttendanceLine] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.casefold() for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def read_attendance(data: bytes) -> AttendanceFile:
    """Read an attendance export; raises :class:`RosterFileError` if it has no usable header."""
    text, _encoding = decode(data)
    rows = csv.reader(io.StringIO(text, newline=""),
                      delimiter=";" if text.split("\n", 1)[0].count(";") > 1 else ",")
    out = AttendanceFile()
    header: list[str] = []
    cols: tuple[int, int, int] | None = None
    start = 1
    for cells in rows:
        line, start = start, rows.line_num + 1
        values = [clean(c) for c in cells]
        if not any(values):
            continue
        if not header:
            header = values
            found = (_column(header, REFERENCE), _column(header, DATE), _column(header, MARK))
            if None in found:
                raise RosterFileError(
                    f"the attendance file needs a pupil reference (UPN), a Date and the AM "
                    f"mark column; its columns are {header}: export the session marks again")
            cols = found  # type: ignore[assignment]
            continue
        assert cols is not None
        ref, when, mark = (values[i] if i < len(values) else "" for i in cols)
        if not ref:
            out.problems.append(f"line {line}: no pupil reference; line skipped")
            continue
        try:
            day = leaving_date(when)
        except CellError:
            day = None
        if day is None:
            out.problems.append(f"line {line}: {ref}: date {when!r} is not a date; line "
                                "skipped (write it as 23/11/2026)")
            continue
        code = mark[:1].upper() if mark else ""
        if not code:
            out.problems.append(f"line {line}: {ref}: no mark; line skipped (take the "
                                "register, then export again)")
            continue
        meaning = ("present" if code in PRESENT else "off_site" if code in OFF_SITE
                   else "absent")
        out.lines.append(AttendanceLine(line, ref, day, code, meaning))
    if not header:
        raise RosterFileError("the attendance file is empty: export it again from the MIS")
    return out
