"""``lockers server``: the runtime plus the web app under uvicorn, until Ctrl-C/SIGTERM."""

from __future__ import annotations

import logging
import signal

from server.config import ServerConfig

log = logging.getLogger("lockers.server")


def session_key(config: ServerConfig) -> str:
    """The web sessions' signing key, kept in a file so a restart does not sign staff out
    (and an open dashboard reconnects by itself). Made on first start, readable only by us."""
    import secrets
    from pathlib import Path

    from sqlalchemy.engine import make_url

    path = Path(config.web.secret_key_file) if config.web.secret_key_file else None
    if path is None:
        url = make_url(config.database_url)
        if url.get_backend_name() == "sqlite" and url.database:
            folder = Path(url.database).parent
        else:  # PostgreSQL has no database file: beside server.toml, as the audit anchor,
            # never the process's working directory (under systemd that is "/")
            folder = Path(config.config_dir) if config.config_dir else Path(".")
        path = folder / "web-session.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


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
