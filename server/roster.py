"""Importing pupils from an MIS export (CSV), with a configurable column mapping.

Handles what real exports contain: a UTF-8 byte-order mark, names with apostrophes, accents
and commas (quoted), blank or duplicated card ids. Re-importing updates pupils by reference
and never duplicates them; pupils missing from the new file are archived, never deleted (their
records stay for the term reports). Problems are reported line by line, not guessed away.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from lockers.cardhash import CardUidError, card_hash, normalise_uid
from server.models import Card, Pupil, Site
from server.services import Services
from server.services.context import Action

DEFAULT_MAPPING = {"reference": "UPN", "first_name": "Forename", "last_name": "Surname",
                   "year_group": "Year", "form": "Reg Group", "card_uid": "Card ID"}
REQUIRED = ("reference", "first_name", "last_name")


@dataclass
class RosterReport:
    """What an import did, and every line it could not take as it was."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    cards_enrolled: int = 0
    problems: list[str] = field(default_factory=list)


def read_rows(path: Path, mapping: dict[str, str]) -> tuple[list[tuple[int, dict[str, str]]],
                                                              list[str]]:
    """The file's rows as (line number, {field: value}), and header problems."""
    text = path.read_bytes().decode("utf-8-sig")  # strips the BOM Excel puts first
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [f"{f} (column {mapping[f]!r})" for f in REQUIRED if mapping[f] not in header]
    if missing:
        return [], [f"line 1: the header has no column for {', '.join(missing)}; columns are "
                    f"{header}: set the mapping (--map field=Column)"]
    rows = []
    for record in reader:
        rows.append((reader.line_num, {f: (record.get(col) or "").strip()
                                       for f, col in mapping.items()}))
    return rows, []


def import_roster(services: Services, actor: str, path: Path, *, site: str | None = None,
                  mapping: dict[str, str] | None = None, progress: bool = True) -> RosterReport:
    """Import ``path``; see the module doc for the rules."""
    from tqdm import tqdm

    mapping = {**DEFAULT_MAPPING, **(mapping or {})}
    rows, problems = read_rows(path, mapping)
    report = RosterReport(problems=problems)
    if problems:
        return report
    seen_refs: dict[str, int] = {}
    seen_cards: dict[str, int] = {}
    with services.ctx.action(actor, "roster.import") as act:
        s = act.session
        st = services.ctx.site(s, site)
        existing = {p.reference: p for p in s.scalars(select(Pupil).where(
            Pupil.site_id == st.id))}
        cards = {c.card_hash: c for c in s.scalars(select(Card).where(Card.site_id == st.id))}
        now = services.clock.now()
        bar: Iterable[tuple[int, dict[str, str]]] = tqdm(
            rows, desc="pupils", unit="row", disable=not progress)
        for line, row in bar:
            ref = row["reference"]
            if not ref:
                report.problems.append(f"line {line}: no pupil reference; row skipped")
                continue
            if ref in seen_refs:
                report.problems.append(f"line {line}: reference {ref} already on line "
                                       f"{seen_refs[ref]}; row skipped")
                continue
            seen_refs[ref] = line
            pupil = existing.get(ref)
            values = {"first_name": row["first_name"], "last_name": row["last_name"],
                      "year_group": row.get("year_group") or None,
                      "form": row.get("form") or None}
            if pupil is None:
                pupil = Pupil(site_id=st.id, reference=ref, **values)
                s.add(pupil)
                s.flush()
                existing[ref] = pupil
                report.created += 1
                act.audit("pupil", ref, pupil_ref=ref, action="pupil.create")
            else:
                changed = {k: v for k, v in values.items() if getattr(pupil, k) != v}
                if pupil.archived:
                    changed["archived"] = False
                    pupil.archived_at = None
                for k, v in changed.items():
                    setattr(pupil, k, v)
                if changed:
                    report.updated += 1
                    act.audit("pupil", ref, pupil_ref=ref, action="pupil.update",
                              detail={"changed": sorted(changed)})
                else:
                    report.unchanged += 1
            _card(act, st, pupil, row.get("card_uid", ""), line, cards, seen_cards, report, now)
        for ref, pupil in existing.items():
            if ref not in seen_refs and not pupil.archived:
                pupil.archived, pupil.archived_at = True, now
                report.archived += 1
                act.audit("pupil", ref, pupil_ref=ref, action="pupil.archive",
                          reason="not in the new roster (left the school)")
        act.audit("roster", path.name, detail={
            "created": report.created, "updated": report.updated, "archived": report.archived,
            "cards_enrolled": report.cards_enrolled, "problems": len(report.problems)})
        act.touch(st.id)
    return report


def _card(act: Action, st: Site, pupil: Pupil, uid: str, line: int, cards: dict[str, Card],
          seen: dict[str, int], report: RosterReport, now: datetime) -> None:
    if not uid:
        report.problems.append(f"line {line}: {pupil.reference} has no card id; pupil imported "
                               "without a card (enrol one in the office console)")
        return
    try:
        uid_hex = normalise_uid(uid)
    except CardUidError as exc:
        report.problems.append(f"line {line}: {exc}; card skipped")
        return
    if uid_hex in seen:
        report.problems.append(f"line {line}: card id {uid_hex} also on line {seen[uid_hex]}; "
                               "card skipped")
        return
    seen[uid_hex] = line
    h = card_hash(st.card_hash_key, uid_hex)
    card = cards.get(h)
    if card is not None:
        if card.pupil_id != pupil.id and card.active:
            report.problems.append(f"line {line}: card id {uid_hex} belongs to another pupil; "
                                   "card skipped")
        return
    card = Card(site_id=pupil.site_id, pupil_id=pupil.id, uid=uid_hex, card_hash=h,
                enrolled_at=now)
    act.session.add(card)
    cards[h] = card
    report.cards_enrolled += 1
    act.audit("card", h, pupil_ref=pupil.reference, action="card.enrol",
              reason="roster import")
