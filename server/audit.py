"""The tamper-evident audit log: append entries, verify the chain.

Chain rule: ``row_hash = sha256(prev_hash + canonical_json(row))`` where the row's JSON holds
its position, time, actor, action, entity, reason and ``detail_hash``; ``detail_hash`` is the
sha256 of the canonical JSON of the row's personal part ``{"detail": ..., "pupil_ref": ...}``.

Retention (docs/adr/0001-audit-chain-and-retention.md) blanks only the personal part of old
rows, sets ``purged`` and appends a ``retention.purge`` row naming the last row it purged; the
chain of hashes stays verifiable forever. ``verify`` flags a blanked row newer than the last
purge as tampering. Appending locks the single ``audit_head`` row, so concurrent writers
(several server processes on PostgreSQL) queue instead of forking the chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.bulk import insert_rows
from server.models import AuditEntry, AuditHead

GENESIS = "0" * 64
HASHED = ("id", "at", "actor", "action", "entity", "entity_id", "reason", "detail_hash")


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text; dates and times as ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))


def personal_hash(detail: dict[str, Any] | None, pupil_ref: str | None) -> str:
    """sha256 of a row's personal part."""
    return hashlib.sha256(canonical({"detail": detail, "pupil_ref": pupil_ref}).encode()
                          ).hexdigest()


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def row_hash(prev: str, row: dict[str, Any]) -> str:
    """The chained hash of one row (``row`` holds at least the :data:`HASHED` fields; its
    ``at`` may be given pre-formatted as text)."""
    fields = {k: row.get(k) for k in HASHED}
    if isinstance(fields["at"], datetime):
        fields["at"] = _naive_utc(fields["at"]).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return hashlib.sha256((prev + canonical(fields)).encode()).hexdigest()


def staff_actor(username: str) -> str:
    """The audit actor of a staff member: ``staff:<username>``."""
    return f"staff:{username}"


def kiosk_actor(site: str, kiosk: str) -> str:
    """The audit actor of a kiosk: ``kiosk:<site>/<kiosk>`` (a kiosk id is unique per site)."""
    return f"kiosk:{site}/{kiosk}"


SYSTEM = "system"


@dataclass(frozen=True)
class Entry:
    """An audit entry to append: who did what to which record, and why."""

    actor: str
    action: str
    entity: str
    entity_id: str | None = None
    pupil_ref: str | None = None
    reason: str | None = None
    detail: dict[str, Any] | None = None


def append(session: Session, at: datetime, entries: list[Entry], plain: bool = False) -> int:
    """Append ``entries`` (in order) inside the caller's transaction; return the last id.

    ``plain``: the details are already plain JSON values (as ingest's are), skip normalising.
    """
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                           ).scalar_one()
    prev, next_id = head.last_hash, head.last_id + 1
    if not entries:
        return head.last_id
    rows = []
    at_text = _naive_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%f")  # one time for the whole batch
    for e in entries:
        # Store exactly what is hashed: dates and times become ISO strings.
        detail = e.detail if plain or e.detail is None else json.loads(canonical(e.detail))
        row = {"id": next_id, "at": at, "actor": e.actor, "action": e.action,
               "entity": e.entity, "entity_id": e.entity_id, "pupil_ref": e.pupil_ref,
               "reason": e.reason, "detail": detail,
               "detail_hash": personal_hash(detail, e.pupil_ref), "prev_hash": prev,
               "purged": False}
        row["row_hash"] = prev = row_hash(prev, {**row, "at": at_text})
        rows.append(row)
        next_id += 1
    insert_rows(session, AuditEntry.__table__, rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1)
                    .values(last_id=next_id - 1, last_hash=prev))
    session.expire(head)
    return next_id - 1


@dataclass(frozen=True)
class Problem:
    """Where the chain is broken and how."""

    row_id: int
    what: str

    def __str__(self) -> str:
        return f"audit row {self.row_id}: {self.what}"


def verify(session: Session, batch: int = 5000) -> list[Problem]:
    """Walk the whole chain; return every problem found (empty list: intact)."""
    problems: list[Problem] = []
    prev, expected_id, last_id = GENESIS, 1, 0
    purged_through = _purged_through(session)
    while True:
        rows = session.execute(select(AuditEntry).where(AuditEntry.id >= expected_id)
                               .order_by(AuditEntry.id).limit(batch)).scalars().all()
        if not rows:
            break
        for r in rows:
            problems += _row_problems(r, expected_id, prev, purged_through)
            prev, expected_id, last_id = r.row_hash, r.id + 1, r.id
        session.expunge_all()
    problems += _head_problems(session, last_id, prev)
    return problems


def _purged_through(session: Session) -> int:
    """The newest row any retention purge blanked (0: none). Purge rows come after the rows
    they blanked; they are themselves chained and checked."""
    return max((int((d or {}).get("through_id", 0)) for d in session.scalars(
        select(AuditEntry.detail).where(AuditEntry.action == "retention.purge"))), default=0)


def _row_problems(r: AuditEntry, expected_id: int, prev: str,
                  purged_through: int) -> list[Problem]:
    """What is wrong with row ``r`` when row ``expected_id`` with ``prev`` before it was due."""
    problems: list[Problem] = []
    if r.id != expected_id:
        problems.append(Problem(expected_id, f"rows {expected_id}..{r.id - 1} deleted"))
        prev = r.prev_hash  # resynchronise so later problems are reported separately
    if r.prev_hash != prev:
        problems.append(Problem(r.id, "prev_hash does not match the row before "
                                      "(a row was deleted or replaced)"))
    if r.purged:
        if r.id > purged_through:
            problems.append(Problem(r.id, "personal detail blanked outside a "
                                          "retention purge"))
    elif personal_hash(r.detail, r.pupil_ref) != r.detail_hash:
        problems.append(Problem(r.id, "detail or pupil edited (detail_hash mismatch)"))
    if row_hash(r.prev_hash, {c: getattr(r, c) for c in HASHED}) != r.row_hash:
        problems.append(Problem(r.id, "row edited (row_hash mismatch)"))
    return problems


def _head_problems(session: Session, last_id: int, prev: str) -> list[Problem]:
    """Whether the head still names the last row walked (newest rows deleted otherwise)."""
    head = session.get(AuditHead, 1)
    if head is None:
        return [Problem(last_id + 1, "the audit_head row is gone (deleted with the "
                                     "newest rows?)")]
    if head.last_id != last_id or head.last_hash != prev:
        return [Problem(last_id + 1, f"rows after {last_id} deleted (the head names "
                                     f"row {head.last_id})")]
    return []
