"""The column layouts of the MIS exports schools use, and how a file's layout is recognised.

A mapping is ``{field: column heading}``. The fields are the roster's own words
(:data:`PUPIL_FIELDS`, plus up to :data:`MAX_CONTACTS` parent/carer contacts, each
``contact1_name``, ``contact1_email``, ...). The layouts below are the headings each MIS's
standard pupil export (or report template) writes; a school whose export differs saves its own
mapping (``lockers import-roster --map FIELD=Column --save-mapping``, or the web preview).
"""

from __future__ import annotations

from dataclasses import dataclass

PUPIL_FIELDS = ("reference", "first_name", "last_name", "year_group", "form", "leaving_date",
                "card_uid", "preferred_name")
CONTACT_FIELDS = ("name", "relationship", "email", "phone", "priority", "do_not_contact",
                  "opt_out")
MAX_CONTACTS = 3
REQUIRED = ("reference", "first_name", "last_name")


def contact_field(n: int, part: str) -> str:
    """The mapping key of contact ``n``'s ``part`` (e.g. ``contact1_email``)."""
    return f"contact{n}_{part}"


ALL_FIELDS = PUPIL_FIELDS + tuple(contact_field(n, p) for n in range(1, MAX_CONTACTS + 1)
                                  for p in CONTACT_FIELDS)


def _contacts(pattern: str, parts: dict[str, str], count: int = 2) -> dict[str, str]:
    """Contact columns named like ``pattern.format(n=1, part='Email')``."""
    return {contact_field(n, key): pattern.format(n=n, part=heading)
            for n in range(1, count + 1) for key, heading in parts.items()}


@dataclass(frozen=True)
class Layout:
    """One MIS's export: its name as the office knows it, and its mapping."""

    name: str
    mapping: dict[str, str]


LAYOUTS = (
    # SIMS: a "Student List" report with the contact columns of its Contacts sub-report.
    Layout("SIMS", {
        "reference": "UPN", "first_name": "Legal Forename", "last_name": "Legal Surname",
        "year_group": "Year Group", "form": "Reg Group", "leaving_date": "Date of Leaving",
        "card_uid": "Card Number", "preferred_name": "Preferred Forename",
        **_contacts("Contact {n} {part}", {
            "name": "Name", "relationship": "Relationship", "email": "Email",
            "phone": "Mobile", "priority": "Priority", "do_not_contact": "No Contact",
            "opt_out": "Opt Out"})}),
    # Arbor: the Students export with guardians, sentence-case headings.
    Layout("Arbor", {
        "reference": "UPN", "first_name": "First name", "last_name": "Last name",
        "year_group": "Year", "form": "Registration form", "leaving_date": "Leaving date",
        "card_uid": "ID card number", "preferred_name": "Preferred first name",
        **_contacts("Guardian {n} {part}", {
            "name": "name", "relationship": "relationship", "email": "email",
            "phone": "mobile", "priority": "priority", "do_not_contact": "do not contact",
            "opt_out": "opted out of"})}),
    # Bromcom: the Student Details export (NC Year, Tutor Group, Contact1... without a space).
    Layout("Bromcom", {
        "reference": "UPN", "first_name": "Forename", "last_name": "Surname",
        "year_group": "NC Year", "form": "Tutor Group", "leaving_date": "Leave Date",
        "card_uid": "MIFARE UID", "preferred_name": "Preferred Name",
        **_contacts("Contact{n} {part}", {
            "name": "Name", "relationship": "Relation", "email": "Email", "phone": "Phone",
            "priority": "Priority", "do_not_contact": "Do Not Contact",
            "opt_out": "Opt Out"})}),
    # A Wonde-style feed flattened to CSV: snake_case keys.
    Layout("Wonde feed", {
        "reference": "upn", "first_name": "forename", "last_name": "surname",
        "year_group": "year_group", "form": "registration_group",
        "leaving_date": "leaving_date", "card_uid": "card_uid",
        "preferred_name": "preferred_forename",
        **_contacts("contact_{n}_{part}", {
            "name": "name", "relationship": "relationship", "email": "email",
            "phone": "phone", "priority": "priority", "do_not_contact": "do_not_contact",
            "opt_out": "opt_out"})}),
    # The product's own simple layout (and what older versions documented).
    Layout("Simple", {
        "reference": "UPN", "first_name": "Forename", "last_name": "Surname",
        "year_group": "Year", "form": "Reg Group", "leaving_date": "Leaving Date",
        "card_uid": "Card ID"}),
)


# Other headings schools' exports use for the pupil fields (a primary's "Class", a custom
# report's "Card UID"), tried for any field the chosen layout does not find.
ALIASES = {
    "year_group": ("Year", "Year Group", "NC Year", "Yr"),
    "form": ("Class", "Form", "Reg Group", "Registration Group", "Registration form",
             "Tutor Group", "Form Group"),
    "leaving_date": ("Leaving Date", "Date of Leaving", "Leave Date", "Left"),
    "card_uid": ("Card ID", "Card UID", "Card Number", "Card No", "MIFARE UID", "Card"),
}


def with_aliases(found: dict[str, str], header: list[str]) -> dict[str, str]:
    """``found`` plus the pupil fields it lacks that ``header`` has under another name."""
    out = dict(found)
    used = set(found.values())
    for field, names in ALIASES.items():
        if field in out:
            continue
        match = None
        for name in names:
            hit = resolve({field: name}, header)
            if hit and hit[field] not in used:
                match = hit
                break
        if match:
            out.update(match)
            used.add(match[field])
    return out


def _key(heading: str) -> str:
    """A heading as compared: case, spaces and punctuation do not matter."""
    return "".join(ch for ch in heading.casefold() if ch.isalnum())


def resolve(mapping: dict[str, str], header: list[str]) -> dict[str, str]:
    """``mapping`` with each heading replaced by the file's own spelling of it; fields whose
    column the file does not have are left out."""
    by_key = {_key(h): h for h in header}
    return {field: by_key[_key(col)] for field, col in mapping.items() if _key(col) in by_key}


def fits(mapping: dict[str, str], header: list[str]) -> bool:
    """Whether ``header`` has every required column of ``mapping``."""
    found = resolve(mapping, header)
    return all(f in found for f in REQUIRED)


def detect(header: list[str]) -> Layout | None:
    """The known layout whose columns ``header`` matches best (None if none fits)."""
    exact = set(header)
    scored = [(sum(1 for col in layout.mapping.values() if col in exact),
               len(resolve(layout.mapping, header)) / len(layout.mapping), -i, layout)
              for i, layout in enumerate(LAYOUTS) if fits(layout.mapping, header)]
    if not scored:
        return None
    # Headings spelt exactly as a MIS writes them decide first, then the share of the
    # layout's columns the file has (a plain file is "Simple", not a MIS missing columns).
    return max(scored, key=lambda s: s[:3])[3]
