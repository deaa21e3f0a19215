"""The kiosk's durable state: the outbox of sequenced events, slot states, the policy replica,
command ids already carried out. One SQLite file in WAL mode.

Every decision is one transaction: its events (with their sequence numbers) and the slots'
new states are committed together *before* a relay is pulsed. So a crash at any moment leaves
either the whole decision or none of it, and sequence numbers never repeat.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from lockers.wire import encode
from lockers.wire.messages import EventBase, SlotState

if TYPE_CHECKING:
    from locker_controller.slots import Slot

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS slots (number INTEGER PRIMARY KEY, state TEXT NOT NULL,
    pupil_ref TEXT, via TEXT, command_id TEXT, custody_id TEXT, staff_ref TEXT);
CREATE TABLE IF NOT EXISTS commands_seen (id TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS early_releases_used (id TEXT PRIMARY KEY);
"""


class SavedSlot(NamedTuple):
    """A slot as last committed to the store."""

    state: SlotState
    pupil_ref: str | None
    via: str | None
    command_id: str | None
    custody_id: str | None
    staff_ref: str | None


class KioskStore:
    """The kiosk's SQLite file. Used from the dispatcher thread (a lock guards the rest)."""

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed decision survives a power cut, not just a crash.
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(slots)")}
        for column in ("custody_id", "staff_ref"):  # a store made before custody records
            if column not in columns:
                self._db.execute(f"ALTER TABLE slots ADD COLUMN {column} TEXT")
        self._lock = threading.RLock()
        self._in_tx = False
        # The epoch names this store: a new (or lost and remade) file starts a new one, so
        # the server can tell a restarted sequence from duplicates.
        self.created = self.get_meta("epoch") is None
        if self.created:
            self.set_meta("epoch", secrets.token_hex(8))
        self.epoch: str = self.get_meta("epoch")  # type: ignore[assignment]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""
        with self._lock:
            if self._in_tx:  # nested: part of the outer transaction
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._in_tx = True
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._in_tx = False

    # --- events -----------------------------------------------------------------------

    def append_event(self, build: Callable[[int], EventBase]) -> EventBase:
        """Give the next sequence number to ``build`` and store the event it returns."""
        with self.transaction():
            seq = int(self.get_meta("next_seq", "1"))
            event = build(seq)
            self._db.execute("INSERT INTO outbox (seq, payload) VALUES (?, ?)",
                             (seq, encode(event)))
            self.set_meta("next_seq", str(seq + 1))
            self.set_meta("last_event_at", event.at.isoformat())
        return event

    def pending(self, after: int = 0, limit: int = 500) -> list[tuple[int, bytes]]:
        """Unacknowledged events in sequence order."""
        with self._lock:
            return self._db.execute(
                "SELECT seq, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit)).fetchall()

    def oldest_pending(self) -> int | None:
        """The sequence number of the oldest event not yet acknowledged (None: none)."""
        with self._lock:
            row = self._db.execute("SELECT min(seq) FROM outbox").fetchone()
        return row[0] if row else None

    def pending_count(self) -> int:
        """How many events wait for the server's acknowledgement."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def acknowledge(self, seqs: list[int]) -> int:
        """Forget events the server has committed; returns how many were still here."""
        with self.transaction():
            cur = self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            return cur.rowcount

    @property
    def next_seq(self) -> int:
        """The sequence number the next event will get."""
        return int(self.get_meta("next_seq", "1"))

    # --- slots, policy, commands ------------------------------------------------------------

    def save_slot(self, slot: Slot) -> None:
        """Persist one slot's state."""
        with self._lock:
            self._db.execute(
                "INSERT INTO slots (number, state, pupil_ref, via, command_id, custody_id, "
                "staff_ref) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE SET "
                "state=excluded.state, pupil_ref=excluded.pupil_ref, via=excluded.via, "
                "command_id=excluded.command_id, custody_id=excluded.custody_id, "
                "staff_ref=excluded.staff_ref",
                (slot.number, slot.state.value, slot.pupil_ref, slot.via, slot.command_id,
                 slot.custody_id, slot.staff_ref))

    def load_slots(self) -> dict[int, SavedSlot]:
        """Slot number -> the slot as last committed."""
        with self._lock:
            rows = self._db.execute("SELECT number, state, pupil_ref, via, command_id, "
                                    "custody_id, staff_ref FROM slots").fetchall()
        return {r[0]: SavedSlot(SlotState(r[1]), *r[2:]) for r in rows}

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A stored setting."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        with self._lock:
            self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                             "DO UPDATE SET value = excluded.value", (key, value))

    def remember_command(self, command_id: str, expires_at: str, forget_before: str) -> bool:
        """Record a command id until well after it expires; False when it was already
        carried out (a replay). Ids of commands that expired before ``forget_before`` are
        forgotten (a replay of one of those is refused as expired), so the table stays small.
        Times are ISO 8601 UTC text, which sorts as time does."""
        with self._lock:
            self._db.execute("DELETE FROM commands_seen WHERE at < ?", (forget_before,))
            cur = self._db.execute("INSERT OR IGNORE INTO commands_seen (id, at) VALUES (?, ?)",
                                   (command_id, expires_at))
            return cur.rowcount == 1

    def use_early_release(self, release_id: str) -> bool:
        """Mark an early-release approval used; False when it already was."""
        with self._lock:
            cur = self._db.execute("INSERT OR IGNORE INTO early_releases_used (id) VALUES (?)",
                                   (release_id,))
            return cur.rowcount == 1

    def early_release_used(self, release_id: str) -> bool:
        """Whether an early-release approval has been used here."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM early_releases_used WHERE id = ?",
                                    (release_id,)).fetchone() is not None

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
