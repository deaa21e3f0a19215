"""What a roster import would change, worked out before anything is written.

The web preview shows a plan; applying the import works the plan out again inside the write
and carries it out, so what the office saw is what happens (unless someone changed the records
in between, in which case the result page says what really happened).

Rules (issue #12):
- a pupil is matched by reference (UPN or MIS id) and never duplicated; a returning pupil is
  taken back on roll;
- a leaver is archived (never deleted: the records stay for the term reports) and their cards
  revoked, so the kiosks drop them at once: a leaving date on or before today, or, in a full
  export, absence from the file. A future leaving date is kept, and the kiosks drop the card
  the day after it;
- a card UID on two lines goes to NEITHER pupil, and both lines are reported; a card enrolled
  to a pupil who is staying is not moved;
- every problem names its line, what is wrong, and what the office should do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.cardhash import card_hash
from server.models import Card, Pupil, PupilContact, Site
from server.roster_fields import CellError, ContactRow, card_uid, contacts, leaving_date
from server.roster_fields import year_group as parse_year
from server.roster_layouts import contact_field
from server.roster_read import RosterFile, RosterRow

MASS_LEAVING_SHARE = 0.25  # more leavers than this share of the roll: probably the wrong file


@dataclass(frozen=True)
class Problem:
    """A line the import could not take as it was."""

    line: int
    reference: str
    what: str
    do: str

    def __str__(self) -> str:
        who = f"{self.reference}: " if self.reference else ""
        return f"line {self.line}: {who}{self.what}; {self.do}"


@dataclass
class PupilPlan:
    """What happens to one pupil line."""

    line: int
    reference: str
    first_name: str
    last_name: str
    values: dict[str, object]
    action: str  # new | update | unchanged | rejoin | leave | skip
    changes: list[str] = field(default_factory=list)
    card: str | None = None  # UID to enrol (None: leave the pupil's cards as they are)
    revoke_cards: bool = False  # the pupil's active cards stop working (leaver)
    contacts: list[ContactRow] | None = None  # None: the file has no contact columns


@dataclass
class RosterPlan:
    """Everything an import would do, and everything it could not."""

    site: str
    file: RosterFile
    full_export: bool
    today: date
    pupils: list[PupilPlan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    withheld_cards: list[str] = field(default_factory=list)  # disputed UIDs: revoke if active

    def count(self, action: str) -> int:
        """How many pupils get ``action``."""
        return sum(1 for p in self.pupils if p.action == action)

    @property
    def cards_new(self) -> int:
        """Cards the import enrols."""
        return sum(1 for p in self.pupils if p.card)

    def summary(self) -> dict[str, int]:
        """The counts the result page and the CLI print."""
        return {"new": self.count("new"), "updated": self.count("update"),
                "unchanged": self.count("unchanged"), "rejoining": self.count("rejoin"),
                "leaving": self.count("leave"), "cards_new": self.cards_new,
                "problems": len(self.problems)}


def plan_roster(s: Session, site: Site, roster: RosterFile, today: date, *,
                full_export: bool = True) -> RosterPlan:
    """The plan for importing ``roster`` at ``site`` on ``today`` (reads, never writes)."""
    plan = RosterPlan(site.code, roster, full_export, today)
    existing = {p.reference: p for p in s.scalars(select(Pupil).where(Pupil.site_id == site.id))}
    active = {c.uid: c for c in s.scalars(select(Card).where(Card.site_id == site.id,
                                                             Card.active.is_(True)))}
    owner_ref = {p.id: ref for ref, p in existing.items()}
    has_contacts = contact_field(1, "name") in roster.mapping
    width = len(roster.header)
    seen: dict[str, int] = {}
    uid_lines: dict[str, list[tuple[int, str]]] = {}
    for row in roster.rows:
        v = row.values
        ref = v.get("reference", "")
        problem = _unusable_row(row, ref, width, seen)
        if problem is not None:
            plan.problems.append(problem)
            continue
        plan.pupils.append(_pupil(plan, row.line, ref, v, existing.get(ref), has_contacts, s))
        cell = v.get("card_uid", "")
        if cell and plan.pupils[-1].action not in ("leave", "skip"):
            _note_card(plan, uid_lines, row.line, ref, cell)
    _cards(plan, uid_lines, active, owner_ref, {p.reference: p for p in plan.pupils})
    if full_export:
        _leavers(plan, existing, seen)
    plan.problems.sort(key=lambda p: p.line)
    _warn_mass_leaving(plan, existing)
    return plan


def _unusable_row(row: RosterRow, ref: str, width: int, seen: dict[str, int]) -> Problem | None:
    """Why ``row`` is skipped, or None to plan it. A row with a new reference is noted in
    ``seen`` (a later line with the same reference is the duplicate)."""
    if row.cells > width:
        return Problem(row.line, ref, f"the line has {row.cells} cells but the header has {width}",
                       "row skipped; a name with a comma must be in quotes: export again from "
                       "the MIS, or put quotes around it")
    if not ref:
        return Problem(row.line, "", "no pupil reference (UPN)",
                       "row skipped; add the UPN in the MIS")
    if ref in seen:
        return Problem(row.line, ref, f"also on line {seen[ref]}",
                       "second line skipped; remove the duplicate")
    seen[ref] = row.line
    if not row.values.get("first_name") or not row.values.get("last_name"):
        return Problem(row.line, ref, "no first name or no surname",
                       "row skipped; complete the pupil's name in the MIS")
    return None


def _note_card(plan: RosterPlan, uid_lines: dict[str, list[tuple[int, str]]], line: int,
               ref: str, cell: str) -> None:
    """Note the lines that give card ``cell`` (a card on two lines goes to neither)."""
    try:
        uid_lines.setdefault(card_uid(cell), []).append((line, ref))
    except CellError as exc:
        plan.problems.append(Problem(line, ref, exc.what, exc.do))


def _leavers(plan: RosterPlan, existing: dict[str, Pupil], seen: dict[str, int]) -> None:
    """A full export leaves out pupils who have left: each on roll and not in it leaves."""
    for ref, pupil in existing.items():
        if ref not in seen and not pupil.archived:
            plan.pupils.append(PupilPlan(
                0, ref, pupil.first_name, pupil.last_name,
                {"year_group": pupil.year_group, "form": pupil.form}, "leave",
                ["not in this full export"], revoke_cards=True))


def _warn_mass_leaving(plan: RosterPlan, existing: dict[str, Pupil]) -> None:
    """Warn when most of the school would leave: likely a partial file imported as full."""
    on_roll = sum(1 for p in existing.values() if not p.archived)
    leaving = plan.count("leave")
    if on_roll >= 8 and leaving > MASS_LEAVING_SHARE * on_roll:
        plan.warnings.append(
            f"{leaving} of the {on_roll} pupils on roll would leave: is this the whole "
            "school's export? If it lists only some pupils, import it as a partial file")


def _pupil(plan: RosterPlan, line: int, ref: str, v: dict[str, str], pupil: Pupil | None,
           has_contacts: bool, s: Session) -> PupilPlan:
    leaves: date | None = None
    try:
        leaves = leaving_date(v.get("leaving_date", ""))
    except CellError as exc:
        plan.problems.append(Problem(line, ref, exc.what, exc.do))
    # The name the pupil goes by (the kiosk greets them with it), else the legal one.
    first = v.get("preferred_name") or v["first_name"]
    values: dict[str, object] = {
        "first_name": first[:100], "last_name": v["last_name"][:100],
        "year_group": parse_year(v.get("year_group", "")),
        "form": (v.get("form") or None) and v["form"][:32], "leaving_date": leaves}
    found, errors = contacts(v) if has_contacts else ([], [])
    for err in errors:
        plan.problems.append(Problem(line, ref, err.what, err.do))
    item = PupilPlan(line, ref, first, v["last_name"], values, "new",
                     contacts=found if has_contacts else None)
    left = leaves is not None and leaves < plan.today
    if pupil is None:
        _plan_new(plan, item, leaves if left else None, bool(v.get("card_uid")))
        return item
    _plan_known(item, pupil, values, leaves if left else None)
    if item.contacts is not None and item.action not in ("leave", "skip"):
        _plan_contacts(s, item, item.contacts, pupil)
    return item


def _plan_new(plan: RosterPlan, item: PupilPlan, left_on: date | None, has_card: bool) -> None:
    """A pupil not yet on the server: added, unless they have already left."""
    if left_on is not None:
        item.action = "skip"
        item.changes = [f"left on {left_on:%d/%m/%Y}, not added"]
    if not has_card and left_on is None:
        plan.problems.append(Problem(item.line, item.reference, "no card id", "pupil added "
                                     "without a card; enrol one in the office console"))


def _plan_known(item: PupilPlan, pupil: Pupil, values: dict[str, object],
                left_on: date | None) -> None:
    """A pupil on the server: what changes, and whether they leave, rejoin or update."""
    item.changes = [f"{k.replace('_', ' ')} {_show(getattr(pupil, k))} → {_show(val)}"
                    for k, val in values.items() if getattr(pupil, k) != val]
    if left_on is not None:
        item.action = "leave" if not pupil.archived else "skip"
        item.changes = [f"left on {left_on:%d/%m/%Y}"]
        item.revoke_cards = True
    elif pupil.archived:
        item.action = "rejoin"
    else:
        item.action = "update" if item.changes else "unchanged"


def _plan_contacts(s: Session, item: PupilPlan, found: list[ContactRow], pupil: Pupil) -> None:
    """The file's contacts differ from those an earlier roster gave: an update."""
    old = sorted(_contact_key(c) for c in s.scalars(select(PupilContact).where(
        PupilContact.pupil_id == pupil.id, PupilContact.source == "roster")))
    if old != sorted(_row_key(c) for c in found):
        item.changes.append(f"contacts: {len(found)} from the file")
        if item.action == "unchanged":
            item.action = "update"


def _cards(plan: RosterPlan, uid_lines: dict[str, list[tuple[int, str]]],
           active: dict[str, Card], owner_ref: dict[int, str],
           by_ref: dict[str, PupilPlan]) -> None:
    leaving = {p.reference for p in plan.pupils if p.action == "leave"}
    for uid, lines in uid_lines.items():
        if len(lines) > 1:
            others = ", ".join(f"line {n} ({r})" for n, r in lines)
            for line, ref in lines:
                plan.problems.append(Problem(
                    line, ref, f"card id {uid} is on {others}",
                    "given to neither pupil; find who holds the card and correct the other "
                    "line in the MIS"))
            plan.withheld_cards.append(uid)
            continue
        line, ref = lines[0]
        card = active.get(uid)
        holder = owner_ref.get(card.pupil_id) if card else None
        if holder == ref:
            continue  # already theirs
        if card is not None and holder not in leaving and holder not in by_ref:
            plan.problems.append(Problem(
                line, ref, f"card id {uid} is enrolled to pupil {holder}",
                f"card not given; if it was reissued, mark it lost for {holder} in the office "
                "console, then import again"))
            continue
        by_ref[ref].card = uid
        by_ref[ref].changes.append(f"card {uid}")
        if by_ref[ref].action == "unchanged":
            by_ref[ref].action = "update"


def _show(value: object) -> str:
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return "(none)" if value in (None, "") else str(value)


def _contact_key(c: PupilContact) -> tuple[object, ...]:
    return (c.name, c.relationship, c.email, c.phone, c.priority, c.do_not_contact,
            c.opt_out_email, c.opt_out_sms)


def _row_key(c: ContactRow) -> tuple[object, ...]:
    return (c.name, c.relationship, c.email, c.phone, c.priority, c.do_not_contact,
            c.opt_out_email, c.opt_out_sms)


def card_hash_of(site: Site, uid: str) -> str:
    """The site's keyed hash of ``uid`` (how the kiosk knows the card)."""
    return card_hash(site.card_hash_key, uid)


__all__ = ["Problem", "PupilPlan", "RosterPlan", "card_hash_of", "plan_roster"]
