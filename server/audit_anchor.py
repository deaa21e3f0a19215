"""The audit chain's head, anchored outside the database (docs/adr/0005-audit-anchor.md).

After commits, the server appends a signed checkpoint of the chain's head to a file outside
the database: one JSON line ``{"id", "hash", "at", "mac"}`` where ``mac`` is an HMAC-SHA256
under a key kept in a file beside server.toml (never in the database). Each checkpoint is
also logged (``event=audit_checkpoint``), so the system journal is a second witness.

``verify`` then holds the database to every checkpoint: a row a checkpoint names must still
be there with the same hash. Deleting the newest rows (and the head row), deleting every row,
restoring an older copy, or rewriting the chain from some row onwards all break that, and
editing the checkpoint file breaks its MACs. What the anchor cannot see is what happened
after its last checkpoint: checkpoints follow commits within about a second.

Each chain (the installation's, and each school's: server/audit.py) is anchored on its own:
a school's checkpoint line also names its ``chain`` (and its MAC covers it); the
installation's lines are as they always were.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.audit import Problem
from server.models import AuditEntry, AuditHead

log = logging.getLogger("lockers.server.audit")

KEY_NAME, LOG_NAME = "audit-anchor.key", "audit-anchor.jsonl"


class AuditAnchor:
    """Signs checkpoints of the audit head into ``log_path`` with the key in ``key_path``."""

    def __init__(self, key_path: Path, log_path: Path, min_interval_s: float = 1.0) -> None:
        self.key_path, self.log_path = Path(key_path), Path(log_path)
        self.min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._last_ids: dict[str, int] = {}  # each chain's last anchored row
        self._last_write = 0.0
        self._pending: Any = None  # the store whose head moved since the last checkpoint
        atexit.register(self._flush_at_exit)  # a CLI command's last write is anchored too

    def start(self) -> None:
        """Flush pending checkpoints every ``min_interval_s`` from a background thread (the
        running server), so a quiet moment after a busy one is anchored too."""
        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(self.min_interval_s):
                self.flush()

        threading.Thread(target=loop, name="audit-anchor", daemon=True).start()

    def stop(self) -> None:
        """Stop the thread and write the last checkpoint."""
        if hasattr(self, "_stop"):
            self._stop.set()
        self.flush()
        atexit.unregister(self._flush_at_exit)

    def key(self, create: bool = True) -> bytes | None:
        """The HMAC key (made on first use, readable only by the server's user)."""
        if not self.key_path.exists():
            if not create:
                return None
            self.key_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return bytes.fromhex(self.key_path.read_text().strip())

    def mac(self, key: bytes, last_id: int, last_hash: str, at: str, chain: str = "") -> str:
        """The signature of one checkpoint (a school's chain named in it; the installation's
        chain signs as it did before there were others)."""
        text = f"{last_id}:{last_hash}:{at}" + (f":{chain}" if chain else "")
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()

    def committed(self, store: Any) -> None:
        """Called after a write commits: checkpoint now, or within ``min_interval_s``."""
        self._pending = store
        if time.monotonic() - self._last_write >= self.min_interval_s:
            self.flush()

    def _flush_at_exit(self) -> None:
        self.flush(at_exit=True)

    def flush(self, at_exit: bool = False) -> None:
        """Write a checkpoint for each chain whose head moved since its last one."""
        store, self._pending = self._pending, None
        if store is None:
            return
        try:
            with store.read() as s:
                heads = s.execute(select(AuditHead.chain, AuditHead.last_id,
                                         AuditHead.last_hash)).all()
            for chain, last_id, last_hash in sorted(heads):
                self.checkpoint(last_id, last_hash, chain)
        except OperationalError as exc:
            if not at_exit:
                log.exception("event=audit_checkpoint_failed")
            else:  # ending without its database: the next checkpoint covers these entries
                log.warning("event=audit_checkpoint_skipped_at_exit error=%r",
                            str(exc).splitlines()[0][:160])
        except Exception:  # the anchor must never fail a commit that already happened
            log.exception("event=audit_checkpoint_failed")

    def checkpoint(self, last_id: int, last_hash: str, chain: str = "") -> None:
        """Append one signed checkpoint of ``chain``'s head (fsynced) unless it is already
        anchored."""
        with self._lock:
            if last_id <= self._last_ids.get(chain, -1):
                return
            key = self.key()
            assert key is not None
            at = datetime.now(UTC).isoformat(timespec="seconds")
            point = {"id": last_id, "hash": last_hash, "at": at,
                     "mac": self.mac(key, last_id, last_hash, at, chain)}
            line = json.dumps({**point, "chain": chain} if chain else point)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self._last_ids[chain], self._last_write = last_id, time.monotonic()
        log.info("event=audit_checkpoint chain=%s id=%s hash=%s", chain or "-", last_id,
                 last_hash)

    def verify(self, session: Session) -> list[Problem]:
        """Hold the database to every checkpoint; return what does not match."""
        key = self.key(create=False)
        if key is None or not self.log_path.exists():
            return [Problem(0, f"no audit anchor ({self.key_path if key is None else self.log_path}"
                               " is missing): the head of the chain cannot be checked")]
        named, problems = self._signed_checkpoints(key)
        ids = sorted(named)
        stored = _stored_hashes(session, ids)
        last_of: dict[str, int] = {}  # each chain's newest checkpoint
        for row_id in ids:
            chain, anchored = named[row_id]
            last_of[chain] = row_id
            if row_id != 0:
                problems += _checkpoint_problems(row_id, anchored, stored.get(row_id))
        heads = dict(session.execute(select(AuditHead.chain, AuditHead.last_id)).all())
        for chain, last in sorted(last_of.items()):
            if heads.get(chain) is None or heads[chain] < last:
                of = f" of school {chain}" if chain else ""
                problems.append(Problem(last, f"the head{of} is behind the anchor's last "
                                              f"checkpoint (row {last})"))
        return problems

    def _signed_checkpoints(self, key: bytes
                            ) -> tuple[dict[int, tuple[str, str]], list[Problem]]:
        """Each checkpoint the key signed (row id -> (chain, hash)), and a problem for each
        line it did not."""
        problems: list[Problem] = []
        named: dict[int, tuple[str, str]] = {}
        for n, text in enumerate(self.log_path.read_text().splitlines(), 1):
            try:
                cp = json.loads(text)
                good = hmac.compare_digest(cp["mac"], self.mac(
                    key, int(cp["id"]), cp["hash"], cp["at"], cp.get("chain", "")))
            except (ValueError, KeyError, TypeError):
                good = False
            if not good:
                problems.append(Problem(0, f"anchor line {n} is not signed by this server's "
                                           "key (the checkpoint file was edited)"))
                continue
            named[int(cp["id"])] = (cp.get("chain", ""), cp["hash"])
        return named, problems


def _stored_hashes(session: Session, ids: list[int]) -> dict[int, str]:
    """The row hashes the database holds for ``ids`` (500 per query)."""
    stored: dict[int, str] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        stored.update({row_id: row_hash for row_id, row_hash in session.execute(
            select(AuditEntry.id, AuditEntry.row_hash).where(AuditEntry.id.in_(chunk)))})
    return stored


def _checkpoint_problems(row_id: int, anchored: str, stored: str | None) -> list[Problem]:
    """Whether the database still holds the anchored row with the anchored hash."""
    if stored is None:
        return [Problem(row_id, "the anchor saw this row but it is gone (rows "
                                "deleted, or the database rolled back)")]
    if stored != anchored:
        return [Problem(row_id, "this row's hash differs from the anchored "
                                "one (the chain was rewritten)")]
    return []


def anchor_for(config: Any) -> AuditAnchor:
    """The anchor of a server configuration (files beside server.toml unless set)."""
    from sqlalchemy.engine import make_url

    folder = Path(config.config_dir) if getattr(config, "config_dir", None) else None
    if folder is None:
        url = make_url(config.database_url)
        folder = Path(url.database).parent if url.get_backend_name() == "sqlite" and \
            url.database else Path("var/server")
    key = Path(config.audit_key_file) if config.audit_key_file else folder / KEY_NAME
    log_file = Path(config.audit_anchor_file) if config.audit_anchor_file else folder / LOG_NAME
    return AuditAnchor(key, log_file)
