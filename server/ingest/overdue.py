"""Parked events whose wait is over, applied even when their kiosk has gone quiet.

An event that arrives before an earlier one of its kiosk is parked (server.ingest.pending)
and applied by whichever batch commits the missing one; after ``GAP_WAIT_S`` a batch of the
kiosk applies it anyway, leaving the sequence_gap alarm for staff (ADR 0009). Both need the
kiosk to send again. A kiosk that went quiet, or died with the missing event, would leave a
pupil's hand-in or collection parked for ever, so the elected process (server.elected) looks
every few seconds for kiosks whose oldest parked event has waited ``GAP_WAIT_S`` and applies
their parked events exactly as ingest would: under the kiosks' row lock, through
:func:`server.ingest.events.apply_events` (ADR 0010).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lockers.clock import Clock
from lockers.wire import topics as t
from server.ingest import pending
from server.ingest.batch import BatchResult
from server.ingest.events import GAP_WAIT_S, apply_events
from server.ingest.kiosks import KnownKiosk, lock_kiosks
from server.models import Kiosk, PendingEvent, Site
from server.replica import ReplicaPublisher
from server.store import Store

log = logging.getLogger("lockers.server.ingest")

SWEEP_EVERY_S = 5.0  # how soon after its wait a quiet kiosk's parked event is applied
KIOSKS_PER_ROUND = 100  # one transaction's share: a long backlog goes over several rounds


class OverdueParked:
    """The elected job that applies parked events whose wait for a missing one is over."""

    def __init__(self, store: Store, clock: Clock, replica: ReplicaPublisher | None = None,
                 tell_dashboards: Callable[[list[tuple[t.ParsedTopic, BaseModel]]], None]
                 | None = None, per_round: int = KIOSKS_PER_ROUND) -> None:
        self.store, self.clock, self.replica = store, clock, replica
        # Called after the commit with the applied events as (topic, message), as the ingest
        # worker's listeners are: the live dashboards of every process hear them.
        self.tell_dashboards = tell_dashboards
        self.per_round = per_round

    def run(self) -> int:
        """One round: apply what is overdue; return how many events were applied."""
        now = self.clock.now()
        result = BatchResult()
        # Looked for outside a write: most rounds find nothing, and on SQLite a write
        # transaction would hold up ingest (and anchor the audit head) every few seconds.
        with self.store.read() as s:
            due = self._due_kiosks(s, now - timedelta(seconds=GAP_WAIT_S))
        if not due:
            return 0
        with self.store.write() as s:
            # The same lock ingest takes: a process committing a missing event right now
            # either finishes first (its batch applied and unparked the successors, so the
            # re-read below finds them gone) or waits for this transaction to end.
            lock_kiosks(s, set(due))
            items = pending.parked_of(s, self._kiosks(s, due))
            if not items:
                return 0
            apply_events(s, now, items, result)
        # Nothing to acknowledge: parked events were acknowledged to the kiosk when parked.
        applied = [(k, ev) for k, ev, _ in items
                   if pending.key_of(k, ev) not in result.held]
        log.info("event=parked_events_applied kiosks=%s applied=%s still_waiting=%s "
                 "duplicates=%s", len({k.id for k, _ in applied}), result.applied,
                 len(result.held), result.duplicates)
        self._after_commit(applied, result)
        return result.applied

    def _due_kiosks(self, s: Session, cutoff: Any) -> list[int]:
        """Kiosks whose oldest parked event arrived before ``cutoff``, oldest first."""
        oldest = func.min(PendingEvent.received_at)
        return list(s.scalars(select(PendingEvent.kiosk_id).group_by(PendingEvent.kiosk_id)
                              .having(oldest <= cutoff).order_by(oldest, PendingEvent.kiosk_id)
                              .limit(self.per_round)))

    @staticmethod
    def _kiosks(s: Session, ids: list[int]) -> dict[int, KnownKiosk]:
        """The kiosks as ingest knows them (ids and codes)."""
        return {kid: KnownKiosk(kid, site_id, site_code, code)
                for kid, site_id, site_code, code in s.execute(
                    select(Kiosk.id, Kiosk.site_id, Site.code, Kiosk.code)
                    .join(Site, Site.id == Kiosk.site_id).where(Kiosk.id.in_(ids)))}

    def _after_commit(self, applied: list[tuple[KnownKiosk, Any]], result: BatchResult) -> None:
        """What a normal batch does after its commit: the replica and the dashboards hear."""
        if self.replica is not None:
            for kiosk_id in sorted(result.state_lost):
                self.replica.resend_snapshot(kiosk_id)
            for site_id in sorted(result.policy_sites):
                self.replica.changed(site_id)
        if self.tell_dashboards is not None and applied:
            try:
                self.tell_dashboards([(t.ParsedTopic(k.site_code, k.code, t.EVENTS), ev)
                                      for k, ev in applied])
            except Exception:  # a dashboard's trouble must not undo or repeat the sweep
                log.exception("event=parked_sweep_dashboard_failed")
