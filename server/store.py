"""The database: engines and sessions, SQLite (WAL) by default, PostgreSQL by URL.

Two kinds of session: ``read()`` for queries and ``write()`` for changes. On SQLite a write
transaction starts with ``BEGIN IMMEDIATE`` so the ingest thread and office actions queue for
the write lock instead of failing with "database is locked" half way through.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("lockers.server.store")


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL mode
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if immediate:
            # Writers never checkpoint (that fsyncs and stalls a commit for a long moment);
            # Store.start_checkpoints() does it beside them.
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engine(url: str, *, for_writes: bool = True) -> Engine:
    """An engine for ``url``; SQLite parent folders are created."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return _sqlite_engine(url, immediate=for_writes)
    return create_engine(url, pool_pre_ping=True, pool_size=10)


class Store:
    """Sessions on one database: ``with store.write() as s: ...`` commits on success."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url, for_writes=True)
        self.read_engine = make_engine(url, for_writes=False) if url.startswith("sqlite") \
            else self.engine
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        self._checkpointer: threading.Thread | None = None
        # server.audit_anchor.AuditAnchor when the head is anchored (the server and the CLI).
        self.anchor: Any = None
        self._stop_checkpoints = threading.Event()

    @property
    def is_sqlite(self) -> bool:
        """True on SQLite (a single writer at a time)."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose changes are committed when the block ends without error."""
        with self._write() as session, session.begin():
            yield session
        if self.anchor is not None:  # the commit is done: anchor the audit head outside
            self.anchor.committed(self)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries only (rolled back at the end)."""
        with self._read() as session:
            yield session

    def start_checkpoints(self, every_s: float = 1.0) -> None:
        """SQLite only: copy the WAL into the database from a background thread (PASSIVE,
        so writers never wait), keeping the WAL short and commits quick."""
        if not self.is_sqlite or self._checkpointer is not None:
            return

        def run() -> None:
            while not self._stop_checkpoints.wait(every_s):
                try:
                    with self.read_engine.connect() as conn:
                        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                except Exception:  # a busy moment; the next round catches up
                    log.debug("event=wal_checkpoint_skipped", exc_info=True)

        self._checkpointer = threading.Thread(target=run, name="wal-checkpoint", daemon=True)
        self._checkpointer.start()

    def checkpoint(self) -> None:
        """Copy the whole WAL into the database now (SQLite; nothing elsewhere)."""
        if self.is_sqlite:
            with self.read_engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        """Close every pooled connection (and stop the checkpoint thread)."""
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join(5)
            self._checkpointer = None
            self.checkpoint()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
