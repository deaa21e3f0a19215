"""Schema migrations: ``upgrade(url)`` brings a database to the newest schema."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.pool import NullPool

log = logging.getLogger("lockers.server.migrate")

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str) -> Config:
    """The packaged Alembic configuration pointed at ``url``."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(ALEMBIC_INI.parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# The advisory lock key migrations run under on PostgreSQL ("migrate" in ASCII).
MIGRATION_LOCK_KEY = 0x6D696772617465


def upgrade(url: str) -> None:
    """Run every migration not yet applied (``alembic upgrade head``), once however many
    processes ask at the same moment: the first takes the migration lock and migrates, the
    others wait for it and then find nothing left to do."""
    with migration_lock(url):
        command.upgrade(alembic_config(url), "head")


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Hold the installation's migration lock: a PostgreSQL advisory lock (held on a
    connection of its own, released when it closes, so a migrating process that dies frees
    it), or on SQLite an exclusive lock on a file beside the database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:":
            yield
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.migrate-lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
            yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            log.info("event=migration_lock_taken")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
    finally:
        engine.dispose()


def check_ready(url: str) -> None:
    """Refuse to start on a database that is corrupt, empty (never ``lockers init``-ed) or
    behind this version's schema: one clear :class:`DatabaseNotReady` instead of tracebacks
    from every thread later."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from server.errors import DatabaseNotReady

    where = make_url(url).render_as_string(hide_password=True)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not Path(path).exists():
            raise DatabaseNotReady(f"no database at {path}: run `lockers init --config "
                                   "<server.toml>` to create it")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                verdict = conn.execute(text("PRAGMA quick_check")).scalar()
                if verdict != "ok":
                    raise DatabaseNotReady(f"the database {where} is damaged ({verdict}): "
                                           "restore the latest backup with `lockers restore`")
            current = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise DatabaseNotReady(
            f"the database {where} cannot be read ({str(exc.orig or exc).splitlines()[0]}): "
            "if it is damaged, restore the latest backup with `lockers restore`; if the "
            "server cannot reach it, check [database] url in server.toml") from None
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    if current is None:
        raise DatabaseNotReady(f"the database {where} is empty: run `lockers init --config "
                               "<server.toml>` to set it up")
    if current != head:
        raise DatabaseNotReady(f"the database {where} is at schema {current}, this version "
                               f"needs {head}: run `lockers migrate --config <server.toml>`")
