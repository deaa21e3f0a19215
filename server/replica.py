"""The policy replica publisher: each kiosk's versioned snapshot and the deltas between them.

A service function that changes policy calls :meth:`ReplicaPublisher.changed` after its commit;
a worker thread rebuilds the affected site's replica, diffs it against what each kiosk last
got, and publishes a :class:`PolicyUpdate` (the fast path for an online kiosk) followed by
the new retained :class:`PolicySnapshot` (so a reconnecting kiosk catches up). A periodic tick
rebuilds every site too, so time-driven changes (midnight, a release window opening for a
pupil-end-of-day confiscation) reach kiosks without anyone clicking.

In a morning rush every hand-in moves a custody record and asks for a rebuild: builds go out
at most once per ``min_interval_s``, and the changes asked for meanwhile gather into the next
one. A build always reads the database as it is when it runs, so gathering never sends
anything stale; it only holds a change back by up to the interval.

What a kiosk's own events change (its custody picture after a hand-in or a collection: the
kiosk already knows, the others need it only to tell a pupil where their phone is) gathers
for ``kiosk_gather_s`` (2 s) instead, or goes with the next build for staff. A trust's fifty
schools in a rush would otherwise each be rebuilt four times a second (ADR 0014, addendum).

With several server processes (ADR 0010) only the elected one publishes (``leading``): the
others' ``changed()`` calls are relayed to it (``relay``, over server.bus), and a process that
becomes leader starts by publishing every kiosk's snapshot afresh. Versions are raised in the
database in one statement, so two publishers could never hand out the same number.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy import case, select, update

from lockers.clock import Clock
from lockers.wire.messages import (
    CardEntry,
    KioskSettings,
    PolicySnapshot,
    PolicyUpdate,
    ReleaseDay,
    SlotCustody,
    StaffEntry,
)
from server.custody.picture import SitePicture
from server.models import Kiosk, Site
from server.policy.calendar import kiosk_days
from server.policy.cards import card_entries, staff_entries
from server.store import Store

log = logging.getLogger("lockers.server.replica")

Publish = Callable[[BaseModel, str, str], object]


@dataclass
class _Published:
    """What one kiosk was last sent."""

    version: int
    settings: KioskSettings
    days: list[ReleaseDay]
    cards: dict[str, CardEntry] = field(default_factory=dict)
    staff: dict[str, StaffEntry] = field(default_factory=dict)
    custody: list[SlotCustody] = field(default_factory=list)


class ReplicaPublisher:
    """Keeps every kiosk's replica current; thread-safe ``changed()`` wakes it."""

    def __init__(self, store: Store, clock: Clock, publish: Publish,
                 tick_s: float = 30.0, min_interval_s: float = 0.25,
                 monotonic: Callable[[], float] = time.monotonic,
                 leading: threading.Event | None = None,
                 relay: Callable[[int | None, int | None, bool], None] | None = None,
                 kiosk_gather_s: float = 2.0) -> None:
        self.store, self.clock, self.publish, self.tick_s = store, clock, publish, tick_s
        # Real time, not the school clock: it paces the broker's and the kiosks' load.
        self.min_interval_s, self._monotonic = min_interval_s, monotonic
        self._last_build = float("-inf")
        self.deferred = 0  # wake-ups that waited for the interval (changes gathered)
        self.gathered = 0  # wake-ups that found only kiosks' changes, not yet due
        # Set while this process is the elected publisher (None: always, a single process).
        self.leading = leading
        # Sends (site, kiosk) changes to every process (server.bus); None: mark them here.
        self.relay = relay
        self._sent: dict[int, _Published] = {}
        self._dirty: set[int | None] = set()
        self.kiosk_gather_s = kiosk_gather_s
        self._later: dict[int, float] = {}  # site -> when (monotonic) its gathered change is due
        self._force: set[int] = set()
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._build_lock = threading.Lock()  # one build at a time: versions stay in order
        self.publishes = 0

    # --- requests (any thread) ----------------------------------------------------------

    def changed(self, site_id: int | None = None, by_kiosk: bool = False) -> None:
        """Policy of ``site_id`` (None: every site) changed; publish within the second, or
        within ``kiosk_gather_s`` when a kiosk's own events changed it (``by_kiosk``)."""
        if self.relay is not None:
            self.relay(site_id, None, by_kiosk)
        else:
            self.mark(site_id, None, by_kiosk)

    def resend_snapshot(self, kiosk_id: int) -> None:
        """Republish a kiosk's full snapshot (it reported an older policy version)."""
        if self.relay is not None:
            self.relay(None, kiosk_id, False)
        else:
            self.mark(None, kiosk_id)

    def mark(self, site_id: int | None, kiosk_id: int | None, by_kiosk: bool = False) -> None:
        """Note a change here (what a relayed change arrives as): a site's policy
        (``kiosk_id`` None) or a kiosk owed its full snapshot."""
        with self._cond:
            if kiosk_id is not None:
                self._force.add(kiosk_id)
                self._dirty.add(None)
            elif by_kiosk and site_id is not None:
                self._later.setdefault(site_id, self._monotonic() + self.kiosk_gather_s)
            else:
                self._dirty.add(site_id)
            self._cond.notify()

    def on_leadership(self, leading: bool) -> None:
        """This process became (or stopped being) the publisher: a new leader knows nothing
        of what its predecessor sent, so it sends every kiosk its full snapshot."""
        with self._cond:
            self._sent.clear()
        if leading:
            self.mark(None, None)

    # --- worker -------------------------------------------------------------------------

    def start(self) -> None:
        """Publish every kiosk's replica now, then keep them current in a thread."""
        self._thread = threading.Thread(target=self._run, name="replica", daemon=True)
        self.mark(None, None)
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread:
            self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._dirty and not self._stop:
                    self._cond.wait(self._idle_wait())
                if self._stop:
                    return
                self._later_due()
                if self._gathering():
                    continue
                if not self._dirty and self._later:
                    self.gathered += 1
                    continue  # woken early: gathered changes are not due yet
                # Changes gathered from kiosks go with any build (it reads them anyway).
                dirty = (self._dirty | set(self._later)) or {None}
                self._dirty, self._later = set(), {}
                force, self._force = self._force, set()
            if self.leading is not None and not self.leading.is_set():
                continue  # the leader publishes; on_leadership starts afresh if we become it
            self._last_build = self._monotonic()
            try:
                self.publish_now(None if None in dirty else dirty, force)
            except Exception:  # never let one bad build stop replication
                log.exception("event=replica_build_failed")

    def _idle_wait(self) -> float:
        """With the condition held: how long to sleep when nothing is due now (until the
        first gathered change is, or the periodic tick)."""
        if not self._later:
            return self.tick_s
        return max(0.0, min(min(self._later.values()) - self._monotonic(), self.tick_s))

    def _later_due(self) -> None:
        """With the condition held: gathered changes whose time has come become due now."""
        now = self._monotonic()
        due = [site for site, when in self._later.items() if when <= now]
        if due:
            self._dirty.update(due)
            for site in due:
                del self._later[site]

    def _gathering(self) -> bool:
        """With the condition held: if the last build was under ``min_interval_s`` ago, wait
        out the rest (changes keep gathering) and say so; the caller looks again."""
        wait = self._last_build + self.min_interval_s - self._monotonic()
        if not self._dirty or wait <= 0:
            return False
        self.deferred += 1
        self._cond.wait(wait)
        return True

    def publish_now(self, site_ids: set[int] | None = None,
                    force: set[int] | frozenset[int] = frozenset()) -> int:
        """Rebuild the replicas of ``site_ids`` (None: all) and publish what changed."""
        sent = 0
        with self._build_lock, self.store.read() as s:
            q = select(Kiosk, Site).join(Site, Kiosk.site_id == Site.id)
            if site_ids is not None:
                q = q.where(Kiosk.site_id.in_(site_ids))
            pairs = s.execute(q).all()
            pictures: dict[int, SitePicture] = {}
            for kiosk, site in pairs:
                now = self.clock.now()
                if site.id not in pictures:
                    pictures[site.id] = SitePicture.of(s, site, now)
                picture = pictures[site.id]
                cur = _Published(
                    version=0,
                    settings=KioskSettings(assignment=site.assignment_mode, timezone=site.timezone,
                                           door_open_alarm_s=site.door_open_alarm_s,
                                           late_after=site.late_after),
                    days=kiosk_days(s, site, now),
                    cards={c.card: c for c in card_entries(s, site, kiosk.id, now, picture)},
                    staff={e.card: e for e in staff_entries(s, site)},
                    custody=picture.slots(kiosk.id))
                sent += self._send(kiosk, site, cur, kiosk.id in force)
        return sent

    def _send(self, kiosk: Kiosk, site: Site, cur: _Published, force: bool) -> int:
        prev = self._sent.get(kiosk.id)
        delta = _diff(prev, cur) if prev else None
        if prev is not None and delta is None and not force:
            return 0
        version = self._next_version(kiosk.id, prev.version if prev else kiosk.policy_version)
        cur.version = version
        now = self.clock.now()
        if prev is not None and delta is not None and prev.version == version - 1:
            self.publish(PolicyUpdate(kiosk=kiosk.code, site=site.code, version=version,
                                      base_version=prev.version, generated_at=now, **delta),
                         site.code, kiosk.code)
        self.publish(PolicySnapshot(kiosk=kiosk.code, site=site.code, version=version,
                                    generated_at=now, settings=cur.settings, days=cur.days,
                                    cards=list(cur.cards.values()),
                                    staff=list(cur.staff.values()), custody=cur.custody),
                     site.code, kiosk.code)
        self._sent[kiosk.id] = cur
        self.publishes += 1
        log.info("event=replica_published site=%s kiosk=%s version=%s cards=%s delta=%s",
                 site.code, kiosk.code, version, len(cur.cards), delta is not None)
        return 1

    def _next_version(self, kiosk_id: int, known: int) -> int:
        # The version lives in the database so it keeps rising across restarts and processes;
        # raised in one UPDATE (the row's lock), never read and then written.
        with self.store.write() as s:
            return s.execute(update(Kiosk).where(Kiosk.id == kiosk_id).values(
                policy_version=case((Kiosk.policy_version >= known, Kiosk.policy_version),
                                    else_=known) + 1).returning(Kiosk.policy_version)
            ).scalar_one()


def _diff(prev: _Published, cur: _Published) -> dict[str, object] | None:
    """The PolicyUpdate fields that turn ``prev`` into ``cur`` (None: nothing changed)."""
    delta: dict[str, object] = {}
    upsert = [c for k, c in cur.cards.items() if prev.cards.get(k) != c]
    removed = [k for k in prev.cards if k not in cur.cards]
    if upsert:
        delta["upsert_cards"] = upsert
    if removed:
        delta["remove_cards"] = removed
    s_up = [e for k, e in cur.staff.items() if prev.staff.get(k) != e]
    s_rm = [k for k in prev.staff if k not in cur.staff]
    if s_up:
        delta["upsert_staff"] = s_up
    if s_rm:
        delta["remove_staff"] = s_rm
    if cur.days != prev.days:
        delta["days"] = cur.days
    if cur.settings != prev.settings:
        delta["settings"] = cur.settings
    if cur.custody != prev.custody:
        delta["custody"] = cur.custody  # the whole picture again
    return delta or None
