"""The tamper-evident audit log: append entries, verify the chain.

Chain rule: ``row_hash = sha256(prev_hash + canonical_json(row))`` where the row's JSON holds
its position, time, actor, action, entity, pupil reference, reason and ``detail_hash`` (the
sha256 of the detail's canonical JSON). Retention purges blank ``detail`` only, so the chain
stays verifiable forever (docs/adr/0001-audit-chain-and-retention.md). Appending locks the
single ``audit_head`` row, so concurrent writers (several server processes on PostgreSQL)
queue instead of forking the chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from server.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text; datetimes as ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def detail_hash(detail: dict[str, Any] | None) -> str:
    """sha256 of a detail's canonical JSON."""
    return hashlib.sha256(canonical(detail).encode()).hexdigest()


def row_hash(prev: str, row: dict[str, Any]) -> str:
    """The chained hash of one row (``row`` holds the hashed fields, see module doc)."""
    fields = {k: row.get(k) for k in ("id", "at", "actor", "action", "entity", "entity_id",
                                      "pupil_ref", "reason", "detail_hash")}
    at = fields["at"]
    if isinstance(at, datetime):
        fields["at"] = at.strftime("%Y-%m-%dT%H:%M:%S.%f")  # naive UTC, as stored
    return hashlib.sha256((prev + canonical(fields)).encode()).hexdigest()


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


def append(session: Session, at: datetime, entries: list[Entry]) -> None:
    """Append ``entries`` (in order) to the chain inside the caller's transaction."""
    if not entries:
        return
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                           ).scalar_one()
    prev, next_id = head.last_hash, head.last_id + 1
    rows = []
    for e in entries:
        # Store exactly what is hashed: dates and times become ISO strings.
        detail = None if e.detail is None else json.loads(canonical(e.detail))
        row = {"id": next_id, "at": at, "actor": e.actor, "action": e.action,
               "entity": e.entity, "entity_id": e.entity_id, "pupil_ref": e.pupil_ref,
               "reason": e.reason, "detail": detail, "detail_hash": detail_hash(detail),
               "prev_hash": prev}
        row["row_hash"] = prev = row_hash(prev, {**row, "at": _naive_utc(at)})
        rows.append(row)
        next_id += 1
    session.execute(insert(AuditEntry), rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1)
                    .values(last_id=next_id - 1, last_hash=prev))
    session.expire(head)


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Problem:
    """Where the chain is broken and how."""

    row_id: int
    what: str


def verify(session: Session, batch: int = 5000) -> list[Problem]:
    """Walk the whole chain; return every problem found (empty list: intact)."""
    problems: list[Problem] = []
    prev, expected_id = GENESIS, 1
    last_id = 0
    while True:
        rows = session.execute(select(AuditEntry).where(AuditEntry.id >= expected_id)
                               .order_by(AuditEntry.id).limit(batch)).scalars().all()
        if not rows:
            break
        for r in rows:
            if r.id != expected_id:
                problems.append(Problem(expected_id, f"rows {expected_id}..{r.id - 1} deleted"))
                prev = r.prev_hash  # resynchronise to report later problems separately
            if r.prev_hash != prev:
                problems.append(Problem(r.id, "prev_hash does not match the row before"))
            if r.detail is not None and detail_hash(r.detail) != r.detail_hash:
                problems.append(Problem(r.id, "detail edited (detail_hash mismatch)"))
            fields = {c: getattr(r, c) for c in ("id", "actor", "action", "entity", "entity_id",
                                                 "pupil_ref", "reason", "detail_hash")}
            fields["at"] = _naive_utc(r.at)
            if row_hash(r.prev_hash, fields) != r.row_hash:
                problems.append(Problem(r.id, "row edited (row_hash mismatch)"))
            prev, expected_id, last_id = r.row_hash, r.id + 1, r.id
        session.expunge_all()
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != last_id or head.last_hash != prev):
        problems.append(Problem(head.last_id, f"rows after {last_id} deleted (head names "
                                              f"row {head.last_id})"))
    return problems
