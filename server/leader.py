"""Which server process does the work that must happen once: an elected leader.

Publishing the kiosks' policy, expiring commands and retention must be done by one process
of a trust's installation, not by each. On PostgreSQL the leader is the process holding a
session advisory lock (``pg_try_advisory_lock``) on a connection of its own: PostgreSQL
releases the lock when that connection ends, so when the leader dies (even by SIGKILL: the
kernel closes its socket) another process takes the lock on its next try, within
``retry_s``. On SQLite there is one process, and it always leads.

Every process also holds a membership lock on the same connection, so the leader can count
the live processes; when one is lost (its locks go with its connection) the leader tells
``on_member_lost``: the kiosks' events that process held unacknowledged must be offered again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from server.store import Store, make_engine

log = logging.getLogger("lockers.server.leader")

# The advisory lock's key: any 64-bit number every process agrees on ("lockers" in ASCII).
LEADER_LOCK_KEY = 0x6C6F636B657273
PROCESS_SPACE = 0x6C6B7203  # two-key advisory locks (PROCESS_SPACE, slot): one per process
MAX_PROCESSES = 64


class Leadership:
    """Elects this process leader or not; ``is_leader`` says which, ``on_change`` hears it."""

    def __init__(self, store: Store, retry_s: float = 1.0, key: int = LEADER_LOCK_KEY) -> None:
        self.store, self.retry_s, self.key = store, retry_s, key
        self.is_leader = threading.Event()
        # Called with True when this process becomes leader, False when it stops being one
        # (on the election thread; listeners must be quick).
        self.on_change: list[Callable[[bool], None]] = []
        # Called (on the election thread, by the leader) when the count of live processes
        # drops: a process died or stopped.
        self.on_member_lost: list[Callable[[], None]] = []
        self.members: int | None = None  # live processes, as the leader last counted them
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None

    def start(self) -> None:
        """Lead at once on SQLite; on PostgreSQL, try for the lock from a thread."""
        if self.store.is_sqlite:
            self._set(True)
            return
        self._engine = make_engine(self.store.url)
        try:  # a member before the caller starts receiving: a process is counted as it works
            self._join()
        except (SQLAlchemyError, OSError) as exc:  # the thread tries again
            log.warning("event=leader_check_failed error=%r", str(exc)[:200])
            self._drop_connection()
        self._thread = threading.Thread(target=self._run, name="leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop trying; a leader lets the lock go (its connection closes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._drop_connection()
        if self._thread is not None:
            self._engine.dispose()
        self._set(False)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._set(self._hold_or_try())
            except (SQLAlchemyError, OSError) as exc:  # the database went away: not leader
                log.warning("event=leader_check_failed error=%r", str(exc)[:200])
                self._drop_connection()
                self._set(False)
            self._stop.wait(self.retry_s)

    def _hold_or_try(self) -> bool:
        """True while this process holds the lock (checked on its own connection)."""
        if self._conn is None:
            self._join()
        assert self._conn is not None
        if self.is_leader.is_set():
            self._count_members()  # a query on our connection: still connected, still leader
            return True
        won = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                      {"k": self.key}).scalar())
        if won:
            # Count at once, before the listeners hear of the election: a process lost
            # after this count is seen lost at the next; one lost before it is covered by
            # what a new leader does on election (the kiosks are asked then).
            self.members = None
            self._count_members()
        return won

    def _join(self) -> None:
        """Connect, and take a membership slot: the leader counts this process live."""
        self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        for slot in range(MAX_PROCESSES):
            if self._conn.execute(text(
                    "SELECT pg_try_advisory_lock(CAST(:a AS integer), CAST(:b AS integer))"),
                    {"a": PROCESS_SPACE, "b": slot}).scalar():
                return
        log.warning("event=server_process_slots_full max=%s", MAX_PROCESSES)

    def _count_members(self) -> None:
        """Count the live processes; tell ``on_member_lost`` when there are fewer."""
        assert self._conn is not None
        live = int(self._conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = CAST(:a AS oid) AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())"), {"a": PROCESS_SPACE}).scalar() or 0)
        lost = self.members is not None and live < self.members
        if live != self.members:
            log.info("event=server_processes_counted live=%s before=%s", live, self.members)
        self.members = live
        if lost:
            log.warning("event=server_process_lost live=%s", live)
            for listener in list(self.on_member_lost):
                try:
                    listener()
                except Exception:  # one listener's bug must not stop the election
                    log.exception("event=member_lost_listener_failed")

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # never back to the pool: closing it frees the lock
                conn.close()
            except Exception:  # a broken connection is what we are dropping
                log.debug("event=leader_connection_close_failed", exc_info=True)

    def _set(self, leading: bool) -> None:
        if leading == self.is_leader.is_set():
            return
        if not leading:
            self.members = None  # counted afresh when elected again
        (self.is_leader.set if leading else self.is_leader.clear)()
        log.info("event=leader_%s", "elected" if leading else "stepped_down")
        for listener in list(self.on_change):
            try:
                listener(leading)
            except Exception:  # one listener's bug must not stop the election
                log.exception("event=leader_listener_failed")
