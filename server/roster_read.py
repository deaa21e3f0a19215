"""Reading an MIS export's bytes into rows of roster fields, whatever the file's habits.

What real exports do, and what this does about it:
- UTF-8 with or without a byte-order mark, Windows-1252 from older MIS versions and Excel's
  "CSV" save, UTF-16 from Excel's "Unicode text": the encoding is recognised, not assumed;
- CRLF or LF line ends, blank lines, rows of empty cells: blank rows are not pupils;
- commas or semicolons (Excel in some locales) or tabs between cells: the header decides;
- quoted cells with commas, apostrophes and accents in any script: kept as written, with the
  Unicode composed (NFC) so "Zoë" typed on a Mac and on Windows is the same name;
- padded or doubled whitespace and non-breaking spaces: trimmed; Excel's ``="0412"`` text
  guard: unwrapped.
Every row keeps the line it started on, so the office can find it in the file.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from server.errors import ServerError
from server.roster_layouts import (
    ALL_FIELDS,
    LAYOUTS,
    REQUIRED,
    detect,
    fits,
    resolve,
    with_aliases,
)

_SPACES = re.compile(r"\s+")
_EXCEL_TEXT = re.compile(r'^="(.*)"$')


class RosterFileError(ServerError):
    """A roster file that cannot be read at all (not a CSV, no recognisable header)."""


@dataclass
class RosterRow:
    """One pupil line: the line it starts on, its fields, and how many cells it had."""

    line: int
    values: dict[str, str]
    cells: int


@dataclass
class RosterFile:
    """A decoded export: how it was read, which layout it is, and its pupil rows."""

    encoding: str
    delimiter: str
    header: list[str]
    layout: str
    mapping: dict[str, str]  # field -> the file's own column heading
    rows: list[RosterRow] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # columns this import does not read


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the name of its encoding."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        text = data.decode("utf-8-sig")
        return text, "UTF-8 with BOM" if data.startswith(b"\xef\xbb\xbf") else "UTF-8"
    except UnicodeDecodeError:
        # Not UTF-8: Windows-1252 is what UK Windows software writes (é as one byte 0xE9).
        return data.decode("cp1252", errors="replace"), "Windows-1252"


def clean(cell: str) -> str:
    """A cell as the school meant it: composed Unicode, trimmed, single spaces."""
    cell = unicodedata.normalize("NFC", cell)
    cell = _SPACES.sub(" ", cell).strip()
    match = _EXCEL_TEXT.match(cell)
    return match.group(1).strip() if match else cell


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read_roster(data: bytes, mapping: dict[str, str] | None = None,
                saved: dict[str, str] | None = None) -> RosterFile:
    """Read ``data``. The columns come from ``mapping`` (given for this import, laid over the
    recognised layout), else the school's ``saved`` mapping if the header has its columns,
    else the recognised MIS layout. Raises :class:`RosterFileError` if no header fits."""
    text, encoding = decode(data)
    if "\x00" in text:
        raise RosterFileError("this is not a CSV file (it has binary content): export the "
                              "pupil list from the MIS as CSV, or save it from Excel as "
                              "'CSV UTF-8'")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delim = _delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    header: list[str] = []
    start = 1
    rows: list[RosterRow] = []
    resolved: dict[str, str] = {}
    layout_name = ""
    for cells in reader:
        line, start = start, reader.line_num + 1  # a quoted cell may span lines
        values = [clean(c) for c in cells]
        if not any(values):
            continue  # a blank line, or a row of empty cells
        if not header:
            header = values
            layout_name, resolved = _choose(header, mapping, saved)
            continue
        index = {h: i for i, h in enumerate(header)}
        rows.append(RosterRow(line, {f: (values[index[col]] if index[col] < len(values)
                                         else "") for f, col in resolved.items()},
                              len(values)))
    if not header:
        raise RosterFileError("the file is empty: export the pupil list again from the MIS")
    used = set(resolved.values())
    return RosterFile(encoding, {"\t": "tab"}.get(delim, delim), header, layout_name,
                      resolved, rows, [h for h in header if h and h not in used])


def _choose(header: list[str], mapping: dict[str, str] | None,
            saved: dict[str, str] | None) -> tuple[str, dict[str, str]]:
    detected = detect(header)
    if mapping:
        unknown = sorted(set(mapping) - set(ALL_FIELDS))
        if unknown:
            raise RosterFileError(f"unknown roster field(s) {unknown}: the fields are "
                                  f"{', '.join(ALL_FIELDS[:7])} and contactN_name, _email...")
        base = detected.mapping if detected else {}
        chosen = {**base, **mapping}
        name = f"{detected.name} with your columns" if detected else "your columns"
    elif saved and fits(saved, header):
        chosen, name = saved, "this school's saved mapping"
    elif detected:
        chosen, name = detected.mapping, detected.name
    else:
        raise RosterFileError(
            f"the columns {header[:12]} are not a layout this product knows "
            f"({', '.join(lay.name for lay in LAYOUTS)}): map them, e.g. --map "
            "reference=UPN --map first_name=Forename --map last_name=Surname, and save the "
            "mapping for next time")
    resolved = with_aliases(resolve(chosen, header), header)
    missing = [f"{f} (column {chosen.get(f, '?')!r})" for f in REQUIRED if f not in resolved]
    if missing:
        raise RosterFileError(f"line 1: the header has no column for {', '.join(missing)}; "
                              f"the columns are {header}: set the mapping (--map field=Column)")
    return name, resolved
