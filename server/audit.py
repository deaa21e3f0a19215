"""The tamper-evident audit log: append entries, verify the chain.

Chain rule: ``row_hash = sha256(prev_hash + canonical_json(row))`` where the row's JSON holds
its position, time, actor, action, entity, reason and ``detail_hash``; ``detail_hash`` is the
sha256 of the canonical JSON of the row's personal part ``{"detail": ..., "pupil_ref": ...}``.

Retention (docs/adr/0001-audit-chain-and-retention.md) blanks only the personal part of old
rows, sets ``purged`` and appends a ``retention.purge`` row naming the last row it purged; the
chain of hashes stays verifiable forever. ``verify`` flags a blanked row newer than the last
purge as tampering.

There is a chain per school (``chain`` = its site code: what its kiosks did) beside the
installation's chain ("": staff and system actions). Appending locks that chain's
``audit_head`` row only, so concurrent writers of one chain queue instead of forking it while
two server processes committing different schools' events do not wait for each other. Each
chain is verified on its own. A row's hash covers its chain's name (rows of the installation's
chain hash exactly as before chains existed, so older databases verify unchanged). Row ids
are unique across chains (a PostgreSQL sequence; on SQLite the single writer counts) and
rise within each chain, because they are taken under that chain's head lock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
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
    if row.get("chain"):
        fields["chain"] = row["chain"]
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


def append(session: Session, at: datetime, entries: list[Entry], plain: bool = False,
           chain: str = "") -> int:
    """Append ``entries`` (in order) to ``chain`` ("": the installation's; a site's code:
    that school's) inside the caller's transaction; return the last id.

    ``plain``: the details are already plain JSON values (as ingest's are), skip normalising.
    """
    head = _locked_head(session, chain)
    prev = head.last_hash
    if not entries:
        return head.last_id
    ids = _new_ids(session, len(entries))
    rows = []
    at_text = _naive_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%f")  # one time for the whole batch
    for e, row_id in zip(entries, ids, strict=True):
        # Store exactly what is hashed: dates and times become ISO strings.
        detail = e.detail if plain or e.detail is None else json.loads(canonical(e.detail))
        row = {"id": row_id, "chain": chain, "at": at, "actor": e.actor, "action": e.action,
               "entity": e.entity, "entity_id": e.entity_id, "pupil_ref": e.pupil_ref,
               "reason": e.reason, "detail": detail,
               "detail_hash": personal_hash(detail, e.pupil_ref), "prev_hash": prev,
               "purged": False}
        row["row_hash"] = prev = row_hash(prev, {**row, "at": at_text})
        rows.append(row)
    insert_rows(session, AuditEntry.__table__, rows)
    session.execute(update(AuditHead).where(AuditHead.id == head.id)
                    .values(last_id=ids[-1], last_hash=prev))
    session.expire(head)
    return ids[-1]


def append_by_chain(session: Session, at: datetime, by_chain: dict[str, list[Entry]],
                    plain: bool = False) -> None:
    """Append to several chains in one transaction, locking their heads in name order (so
    two writers sharing chains never wait for each other in a circle)."""
    for chain in sorted(by_chain):
        append(session, at, by_chain[chain], plain=plain, chain=chain)


def _locked_head(session: Session, chain: str) -> AuditHead:
    """``chain``'s head row, locked until the transaction ends (made on its first use)."""
    query = select(AuditHead).where(AuditHead.chain == chain).with_for_update()
    head = session.execute(query).scalar_one_or_none()
    if head is not None:
        return head
    try:
        with session.begin_nested():  # another process may be making it at this moment
            next_head = (session.scalar(select(func.max(AuditHead.id))) or 0) + 1
            session.add(AuditHead(id=next_head, chain=chain, last_id=0, last_hash=GENESIS))
    except IntegrityError:
        pass  # it made it first: use that one
    return session.execute(query).scalar_one()


def _new_ids(session: Session, count: int) -> list[int]:
    """``count`` fresh row ids: from the sequence on PostgreSQL (never a lock), counted on
    from the largest on SQLite (whose write transaction already excludes other writers)."""
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(text("SELECT nextval('audit_log_ids') "
                                         "FROM generate_series(1, :n)"), {"n": count}))
    first = (session.scalar(select(func.max(AuditEntry.id))) or 0) + 1
    return list(range(first, first + count))


@dataclass(frozen=True)
class Problem:
    """Where the chain is broken and how."""

    row_id: int
    what: str

    def __str__(self) -> str:
        return f"audit row {self.row_id}: {self.what}"


def verify(session: Session, batch: int = 5000) -> list[Problem]:
    """Walk every chain (the installation's and each school's), each on its own; return
    every problem found (empty list: intact)."""
    purged_through = _purged_through(session)
    chains = set(session.scalars(select(AuditHead.chain))) | set(
        session.scalars(select(AuditEntry.chain).distinct()))
    problems: list[Problem] = []
    for chain in sorted(chains | {""}):
        problems += verify_chain(session, chain, purged_through, batch)
    return problems


def verify_chain(session: Session, chain: str, purged_through: int | None = None,
                 batch: int = 5000) -> list[Problem]:
    """Walk one chain from its first row to its head; return every problem found."""
    if purged_through is None:
        purged_through = _purged_through(session)
    problems: list[Problem] = []
    prev, last_id = GENESIS, 0
    while True:
        rows = session.execute(select(AuditEntry).where(
            AuditEntry.chain == chain, AuditEntry.id > last_id)
            .order_by(AuditEntry.id).limit(batch)).scalars().all()
        if not rows:
            break
        for r in rows:
            problems += _row_problems(r, last_id + 1, prev, purged_through)
            prev, last_id = r.row_hash, r.id
        session.expunge_all()
    problems += _head_problems(session, chain, last_id, prev)
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
    # Ids skipped are another chain's unless the link to the row before is broken too.
    if r.id != expected_id and r.prev_hash != prev:
        # Named by this chain's own rows: the ids between may be other chains' rows.
        after = f" after row {expected_id - 1} and" if expected_id > 1 else ""
        problems.append(Problem(r.id, f"rows{_of(r.chain)} deleted{after} before row {r.id}"))
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
    if row_hash(r.prev_hash, {"chain": r.chain, **{c: getattr(r, c) for c in HASHED}}
                ) != r.row_hash:
        problems.append(Problem(r.id, "row edited (row_hash mismatch)"))
    return problems


def _head_problems(session: Session, chain: str, last_id: int, prev: str) -> list[Problem]:
    """Whether the chain's head still names the last row walked (newest rows deleted
    otherwise)."""
    head = session.scalar(select(AuditHead).where(AuditHead.chain == chain))
    if head is None:
        if chain and last_id == 0:
            return []
        return [Problem(last_id + 1, f"the audit_head row{_of(chain)} is gone (deleted with "
                                     "the newest rows?)")]
    if head.last_id != last_id or head.last_hash != prev:
        return [Problem(last_id + 1, f"rows after {last_id} deleted (the head{_of(chain)} "
                                     f"names row {head.last_id})")]
    return []


def _of(chain: str) -> str:
    """" of school X" for a school's chain, nothing for the installation's."""
    return f" of school {chain}" if chain else ""
