"""``lockers server``: the runtime plus the web app under uvicorn, until Ctrl-C/SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
from pathlib import Path

from server.config import ServerConfig
from server.errors import ServerConfigError

log = logging.getLogger("lockers.server")
KEY_NAME = "web-session.key"


def session_key(config: ServerConfig) -> str:
    """The web sessions' signing key, kept in a file so a restart does not sign staff out
    (and an open dashboard reconnects by itself). Made on first start, readable only by us.

    The sessions themselves live in the database (server.services.signin), so a trust's
    processes share them once they sign cookies with one key: ``[web] secret_key_file``
    naming the same key on every host. By default the key is beside the SQLite database, or
    beside server.toml, made once however many processes start there at the same moment."""
    path = _session_key_path(config)
    if not path.exists():
        _make_key(path)
    key = path.read_text().strip()
    if not key:
        raise ServerConfigError(f"the web session key file {path} is empty: delete it (staff "
                                "sign in again) or copy the trust's key into it")
    if config.web.secret_key_file is None and not _is_sqlite(config):
        # Several processes on a shared database are a trust's set-up: on other hosts each
        # would make a key of its own, and staff would be signed out as requests move.
        log.warning("event=session_key_per_host path=%s hint=%r", path,
                    "give every server process the same [web] secret_key_file")
    return key


def _is_sqlite(config: ServerConfig) -> bool:
    from sqlalchemy.engine import make_url

    return make_url(config.database_url).get_backend_name() == "sqlite"


def _session_key_path(config: ServerConfig) -> Path:
    """``[web] secret_key_file``, else beside the SQLite database (where it always was),
    else beside server.toml, else var/server (never the working directory, which for a
    service may be / and for two processes need not be the same)."""
    from sqlalchemy.engine import make_url

    if config.web.secret_key_file:
        return Path(config.web.secret_key_file)
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database).parent / KEY_NAME
    if config.config_dir:
        return Path(config.config_dir) / KEY_NAME
    return Path("var/server") / KEY_NAME


def _make_key(path: Path) -> None:
    """Write a new key to ``path`` unless a process starting beside us got there first."""
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole to a private file (mkstemp makes it 0600) and then linked into place:
    # of two processes starting at once one links first, and the other reads its whole key
    # (never a half-written or empty file, never a key of its own that the first lacks).
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_NAME}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def serve(config: ServerConfig) -> int:
    """Run everything; return the exit code."""
    import uvicorn

    from server.runtime import ServerRuntime
    from server.web.app import create_app
    from server.web.oidc import add_oidc

    logging.basicConfig(level=config.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from server.migrate import check_ready, upgrade

    if config.migrate_on_start:
        upgrade(config.database_url)  # under the migration lock: one process migrates
    check_ready(config.database_url)  # one clear error for a corrupt or empty database
    runtime = ServerRuntime(config)
    try:
        runtime.start()
    except BaseException:
        runtime.stop()  # the receiver process and threads must not outlive a failed start
        raise

    app = create_app(runtime.services, health=runtime.health, session_key=session_key(config),
                     behind_tls=config.web.behind_tls,
                     max_request_bytes=config.web.max_request_bytes)
    app.state.runtime = runtime
    add_oidc(app, config.oidc)  # sign-in with the trust's accounts, if [oidc] enables it
    # The live dashboard: every process's commits reach every process's browsers (server.bus).
    from server import bus

    runtime.bus.subscribe(bus.LIVE, app.state.broadcaster.publish)
    # ... and what the web changes itself (an acknowledged alarm) goes the same way, or only
    # the dashboards on the process that took the request would show it.
    app.state.live = lambda updates: runtime.bus.notify_items(bus.LIVE, updates)
    # Updates notified while this process's bus connection was broken never reach it: its
    # open dashboards re-read every locker once it listens again.
    runtime.bus.on_reconnect.append(
        lambda: app.state.broadcaster.publish([{"kind": "resync"}]))
    # uvicorn shuts down on SIGTERM/SIGINT and then re-raises the signal to the handler that
    # was there before it; a quiet handler lets us stop the runtime cleanly and exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: log.info("event=signal signum=%s", signum))
    try:
        # Open dashboards hold a stream each: do not let them hold a restart up.
        uvicorn.run(app, host=config.web.host, port=config.web.port, log_level="warning",
                    timeout_graceful_shutdown=2)
    finally:
        runtime.stop()
    return 0
