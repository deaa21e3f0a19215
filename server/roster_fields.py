"""Turning an export's cells into the roster's values: dates, year groups, yes/no flags,
card UIDs and parent/carer contacts, each with the words the office needs when a cell is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from lockers.cardhash import CardUidError, normalise_uid
from server.roster_layouts import MAX_CONTACTS, contact_field

_YEAR = re.compile(r"^(?:nc\s*)?(?:year|yr|y)?\s*0*(\d{1,2})$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Excel's display of a long number: "4.12E+13". The "+" tells it from a hex UID like 04E0...
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?E\+\d+$", re.IGNORECASE)
_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d %b %Y", "%d-%b-%Y",
                 "%d %B %Y", "%d/%m/%y")
UID_LENGTHS = (8, 14, 20)  # 4-, 7- and 10-byte card UIDs, in hex digits
_YES = {"y", "yes", "true", "1", "x", "t"}


class CellError(ValueError):
    """A cell the import cannot take: ``what`` went wrong and what the office should ``do``."""

    def __init__(self, what: str, do: str) -> None:
        super().__init__(what)
        self.what, self.do = what, do


def leaving_date(cell: str) -> date | None:
    """A leaving date written the UK way (31/07/2026), ISO, or with a month name."""
    if not cell:
        return None
    text = cell[:10] if re.match(r"^\d{4}-\d\d-\d\d[T ]", cell) else cell
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise CellError(f"leaving date {cell!r} is not a date",
                    "pupil kept on roll; write it as 31/07/2026 in the MIS and import again")


def year_group(cell: str) -> str | None:
    """"Year 9", "Y09", "NC Year 9" and "9" are all year group "9"; Reception is "R"."""
    if not cell:
        return None
    match = _YEAR.match(cell)
    if match:
        return str(int(match.group(1)))
    if cell.casefold() in ("r", "rec", "reception"):
        return "R"
    return cell[:16]


def yes(cell: str) -> bool:
    """A yes/no cell (Y, Yes, True, 1, X are yes)."""
    return cell.strip().casefold() in _YES


def card_uid(cell: str) -> str:
    """The card's UID as upper-case hex, or :class:`CellError` saying how to fix the cell."""
    if _SCIENTIFIC.match(cell):
        raise CellError(f"card id {cell!r} was turned into a number by a spreadsheet",
                        "card not given; export straight from the MIS, or format the card "
                        "column as Text in Excel before saving")
    try:
        uid = normalise_uid(cell)
    except CardUidError:
        raise CellError(f"card id {cell!r} is not a card number",
                        "card not given; copy the card number from the card printer or a "
                        "reader (hex, e.g. 04A1B2C3D4E5F6) into the MIS") from None
    if len(uid) not in UID_LENGTHS:
        raise CellError(f"card id {cell!r} has {len(uid)} hex digits (cards have 8, 14 or 20)",
                        "card not given; check the number in the MIS (a decimal card number "
                        "must be converted to hex), or enrol the card at the office")
    return uid


@dataclass(frozen=True)
class ContactRow:
    """One parent/carer contact as the file gives it."""

    name: str
    relationship: str
    email: str | None
    phone: str | None
    priority: int
    do_not_contact: bool
    opt_out_email: bool
    opt_out_sms: bool


def contacts(values: dict[str, str]) -> tuple[list[ContactRow], list[CellError]]:
    """The contacts on a row (those with a name), and what was wrong with any of them."""
    out: list[ContactRow] = []
    errors: list[CellError] = []
    for n in range(1, MAX_CONTACTS + 1):
        name = values.get(contact_field(n, "name"), "")
        if not name:
            continue
        email = values.get(contact_field(n, "email"), "") or None
        if email and not _EMAIL.match(email):
            errors.append(CellError(f"contact {name!r} has e-mail {email!r}, not an address",
                                    "contact kept without an e-mail; correct it in the MIS"))
            email = None
        priority_cell = values.get(contact_field(n, "priority"), "")
        priority = int(priority_cell) if priority_cell.isdigit() else n
        opt = values.get(contact_field(n, "opt_out"), "").casefold()
        everything = yes(opt) or "all" in opt
        out.append(ContactRow(
            name[:200], values.get(contact_field(n, "relationship"), "")[:64],
            email, (values.get(contact_field(n, "phone"), "") or None),
            priority, yes(values.get(contact_field(n, "do_not_contact"), "")),
            everything or "email" in opt or "e-mail" in opt,
            everything or "sms" in opt or "text" in opt))
    return sorted(out, key=lambda c: c.priority), errors
