"""Data protection: purge old personal detail (keeping the audit chain verifiable) and the
subject-access export of everything held about one pupil."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from lockers.clock import Clock
from server import audit
from server.models import (
    AuditEntry,
    Card,
    Confiscation,
    CredentialGuard,
    CustodyMove,
    CustodyRecord,
    Deposit,
    EarlyRelease,
    EligibilityAgreement,
    Event,
    Kiosk,
    Pupil,
    PupilException,
    Site,
    WebSession,
)
from server.store import Store

log = logging.getLogger("lockers.server.retention")


def purge(store: Store, clock: Clock, actor: str = audit.SYSTEM) -> dict[str, int]:
    """Blank event payloads and audit personal detail older than each site's retention days.

    Events keep their type, time, outcome and slot (term reports still count them) but lose
    the payload and pupil reference. Audit rows keep every hash (see server/audit.py).
    """
    now = clock.now()
    events = 0
    with store.write() as s:
        sites = s.scalars(select(Site)).all()
        for site in sites:
            cutoff = now - timedelta(days=site.retention_days)
            kiosk_ids = select(Kiosk.id).where(Kiosk.site_id == site.id)
            events += s.execute(update(Event).where(
                Event.kiosk_id.in_(kiosk_ids), Event.at < cutoff,
                Event.payload.is_not(None) | Event.pupil_ref.is_not(None))
                .values(payload=None, pupil_ref=None)).rowcount or 0
        # The audit log is one chain for all sites: the longest retention wins.
        days = max((site.retention_days for site in sites), default=400)
        through = s.scalar(select(func.max(AuditEntry.id)).where(
            AuditEntry.at < now - timedelta(days=days))) or 0
        rows = 0
        if through:
            rows = s.execute(update(AuditEntry).where(
                AuditEntry.id <= through, AuditEntry.purged.is_(False))
                .values(detail=None, pupil_ref=None, purged=True)).rowcount or 0
        audit.append(s, now, [audit.Entry(
            actor=actor, action="retention.purge", entity="audit_log",
            reason=f"retention: personal detail older than {days} days",
            detail={"through_id": through, "events": events, "audit_rows": rows})])
        # Ended sessions and old counts of wrong passwords are no longer needed (a day on,
        # so a revoked cookie's row is still there to refuse it while it could be replayed).
        day_ago = now - timedelta(days=1)
        sessions = s.execute(delete(WebSession).where(
            (WebSession.expires_at < day_ago) | (WebSession.revoked_at < day_ago))
            ).rowcount or 0
        s.execute(delete(CredentialGuard).where(
            CredentialGuard.window_start < day_ago,
            CredentialGuard.locked_until.is_(None) | (CredentialGuard.locked_until < now)))
    log.info("event=retention_purge events=%s audit_rows=%s through_id=%s sessions=%s",
             events, rows, through, sessions)
    return {"events": events, "audit_rows": rows, "through_id": through,
            "sessions": sessions}


def _row(obj: Any) -> dict[str, Any]:
    out = {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in out.items()}


def export_pupil(store: Store, clock: Clock, reference: str, actor: str = audit.SYSTEM,
                 site: str | None = None) -> dict[str, Any]:
    """Everything held about one pupil (a subject-access request), as JSON-ready data.
    The export itself is recorded in the audit log. A reference is unique per school only,
    so with the same reference at several schools the school must be named."""
    from server.errors import NotFound

    with store.write() as s:
        q = select(Pupil).where(Pupil.reference == reference)
        if site is not None:
            q = q.where(Pupil.site_id.in_(select(Site.id).where(Site.code == site)))
        pupils = s.scalars(q).all()
        if not pupils:
            raise NotFound(f"no pupil with reference {reference!r}")
        if len({p.site_id for p in pupils}) > 1:
            # Two schools' children in one export would hand one family another's data.
            raise NotFound(f"pupil reference {reference!r} exists at several schools: "
                           "name one (--site CODE)")
        out: dict[str, Any] = {"reference": reference, "generated_at": clock.now().isoformat(),
                               "records": []}
        for p in pupils:
            def rows(model: Any, *where: Any) -> list[dict[str, Any]]:
                return [_row(r) for r in s.scalars(select(model).where(*where))]

            out["records"].append({
                "pupil": _row(p),
                "cards": rows(Card, Card.pupil_id == p.id),
                "deposits": rows(Deposit, Deposit.pupil_id == p.id),
                "confiscations": rows(Confiscation, Confiscation.pupil_id == p.id),
                "exceptions": rows(PupilException, PupilException.pupil_id == p.id),
                "eligibility_agreements": rows(EligibilityAgreement,
                                               EligibilityAgreement.pupil_id == p.id),
                "early_releases": rows(EarlyRelease, EarlyRelease.pupil_id == p.id),
                "custody_records": rows(CustodyRecord, CustodyRecord.pupil_id == p.id),
                "custody_moves": rows(CustodyMove, CustodyMove.record_id.in_(
                    select(CustodyRecord.id).where(CustodyRecord.pupil_id == p.id))),
            })
        out["events"] = [_row(e) for e in s.scalars(select(Event).where(
            Event.pupil_ref == reference).order_by(Event.at))]
        out["audit"] = [{k: v for k, v in _row(a).items() if k not in ("prev_hash", "row_hash")}
                        for a in s.scalars(select(AuditEntry).where(
                            AuditEntry.pupil_ref == reference).order_by(AuditEntry.id))]
        audit.append(s, clock.now(), [audit.Entry(
            actor=actor, action="pupil.subject_access_export", entity="pupil",
            entity_id=reference, reason="subject access request")])
    return out
