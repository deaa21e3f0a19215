"""Which server process receives which schools' kiosks (``[mqtt] affinity = true``).

One shared subscription over every kiosk spreads each kiosk's events over all processes, and
since a kiosk's events are applied in its order (under its row lock, ADR 0009/0010) the
processes then take turns on the same kiosks instead of working side by side. With affinity
each process owns some schools, holding a PostgreSQL advisory lock per school on a
connection of its own, and subscribes to those schools' kiosks only. Every ``every_s`` a
process counts the live processes (each holds a membership lock too), aims for its share of
the schools, takes unowned ones up to that share and lets go of those beyond it. A process
that dies loses its locks with its connection, and the others take its schools on their next
round; messages sent to a school while nobody subscribes to it are offered again by the
kiosks when the new owner, once subscribed, asks them (server/kiosk_resend.py), so none is
lost.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from server.store import Store, make_engine

log = logging.getLogger("lockers.server.affinity")

MEMBER_SPACE = 0x6C6B7201  # advisory locks (MEMBER_SPACE, slot): one per live process
SITE_SPACE = 0x6C6B7202  # advisory locks (SITE_SPACE, site id): one per owned school
MAX_PROCESSES = 64
# Two-key advisory locks take int4 keys (a bare parameter could arrive as int8).
TRY_LOCK = text("SELECT pg_try_advisory_lock(CAST(:a AS integer), CAST(:b AS integer))")
UNLOCK = text("SELECT pg_advisory_unlock(CAST(:a AS integer), CAST(:b AS integer))")


class SchoolOwnership:
    """Keeps this process's share of the schools; ``on_change(site codes)`` hears changes."""

    def __init__(self, store: Store, on_change: Callable[[list[str]], None],
                 every_s: float = 1.0) -> None:
        self.store, self.on_change, self.every_s = store, on_change, every_s
        self.owned: dict[int, str] = {}  # site id -> code
        self._conn: Connection | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start balancing from a thread."""
        self._engine = make_engine(self.store.url)
        self._thread = threading.Thread(target=self._run, name="affinity", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop; the locks go with the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._drop()
            self._engine.dispose()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._balance()
            except (SQLAlchemyError, OSError) as exc:  # database away: own nothing till back
                log.warning("event=affinity_failed error=%r", str(exc)[:200])
                self._drop()
            self._stop.wait(self.every_s)

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            for slot in range(MAX_PROCESSES):  # a membership slot: counts this process live
                if self._conn.execute(TRY_LOCK,
                                      {"a": MEMBER_SPACE, "b": slot}).scalar():
                    break
        return self._conn

    def _balance(self) -> None:
        conn = self._connection()
        live = conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = CAST(:a AS oid)"), {"a": MEMBER_SPACE}).scalar() or 1
        sites = dict(conn.execute(text("SELECT id, code FROM sites ORDER BY id")).all())
        share = math.ceil(len(sites) / live)
        before = dict(self.owned)
        for site_id in sorted(self.owned, reverse=True)[:max(0, len(self.owned) - share)]:
            conn.execute(UNLOCK,
                         {"a": SITE_SPACE, "b": site_id})
            del self.owned[site_id]
        for site_id, code in sites.items():
            if len(self.owned) >= share:
                break
            if site_id not in self.owned and conn.execute(
                    TRY_LOCK,
                    {"a": SITE_SPACE, "b": site_id}).scalar():
                self.owned[site_id] = code
        if self.owned != before:
            log.info("event=schools_owned live=%s schools=%s", live,
                     ",".join(sorted(self.owned.values())) or "-")
            self.on_change(sorted(self.owned.values()))

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # never back to the pool: closing it frees the locks
                conn.close()
            except Exception:  # a broken connection is what we are dropping
                log.debug("event=affinity_connection_close_failed", exc_info=True)
        if self.owned:
            self.owned = {}
            self.on_change([])
