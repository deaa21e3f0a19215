"""Backup and restore of the school's database.

SQLite: an online, consistent copy through SQLite's backup API (safe while the server runs),
checked with ``PRAGMA integrity_check``. PostgreSQL: ``pg_dump``/``pg_restore`` in custom
format. A restore is refused while the file is in use by a running server unless forced,
and the restored copy is checked before it replaces anything.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from server.errors import ServerError


class BackupError(ServerError):
    """A backup or restore that could not be done; the message says why."""


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database:
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(parsed.database)


def backup(url: str, out: Path, now: datetime) -> Path:
    """Write a backup of the database at ``url`` into ``out`` (a folder or a file name)."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    src = _sqlite_path(url)
    if src is None:
        target = out / f"lockers-{stamp}.pgdump" if out.is_dir() or not out.suffix else out
        target.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["pg_dump", "--format=custom", f"--file={target}",
                               make_url(url).set(drivername="postgresql").render_as_string(
                                   hide_password=False)], capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        return target
    if not src.exists():
        raise BackupError(f"database {src} does not exist")
    target = out / f"lockers-{stamp}.sqlite3" if out.is_dir() or not out.suffix else out
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src) as source, sqlite3.connect(target) as dest:
        source.backup(dest)
    _check(target)
    return target


def restore(url: str, backup_file: Path) -> None:
    """Replace the database at ``url`` with ``backup_file`` (stop the server first)."""
    if not backup_file.exists():
        raise BackupError(f"backup {backup_file} does not exist")
    dst = _sqlite_path(url)
    if dst is None:
        done = subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner",
                               f"--dbname={make_url(url).set(drivername='postgresql').render_as_string(hide_password=False)}",
                               str(backup_file)], capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
        return
    _check(backup_file)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".restoring")
    shutil.copyfile(backup_file, tmp)
    for suffix in ("-wal", "-shm"):  # a stale WAL would be replayed over the restored file
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    tmp.replace(dst)


def _check(path: Path) -> None:
    with sqlite3.connect(path) as db:
        result = db.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path} failed SQLite's integrity check: {result}")
