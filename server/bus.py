"""Word between a trust's server processes: PostgreSQL LISTEN/NOTIFY.

What one process does must sometimes be heard by all: a slot change it stored (every
process's open dashboards show it) or a school's policy it changed (the elected process
publishes it to the kiosks). Each process listens on its own connection; ``notify`` sends on
another. A notification reaches every listening process, the sender's own included, so a
handler runs once per process whichever process sent it. On SQLite there is one process:
``notify`` calls the handlers directly.

Payloads are JSON text (PostgreSQL caps one at 8,000 bytes: see :meth:`Bus.notify_items`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

from server.store import Store

log = logging.getLogger("lockers.server.bus")

LIVE = "lockers_live"  # dashboard updates (server.web.live)
POLICY = "lockers_policy"  # {"site": id or null, "kiosk": id or null}: a replica to rebuild
CHANNELS = (LIVE, POLICY)
MAX_PAYLOAD = 7_500  # below PostgreSQL's 8,000-byte limit

Handler = Callable[[Any], None]


def _dsn(url: str) -> dict[str, Any]:
    """psycopg connection arguments from a SQLAlchemy URL."""
    u = make_url(url)
    args = {"host": u.host, "port": u.port, "user": u.username, "password": u.password,
            "dbname": u.database, **u.query}
    return {k: v for k, v in args.items() if v is not None}


class Bus:
    """Publish-subscribe between server processes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.local = store.is_sqlite
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._send_lock = threading.Lock()
        self._sender: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()
        # Called (on the bus's thread) when listening again after the connection broke: what
        # was notified meanwhile is lost, so whoever relies on hearing everything re-reads.
        self.on_reconnect: list[Callable[[], None]] = []
        self._listens = 0

    def subscribe(self, channel: str, handler: Handler) -> None:
        """Call ``handler(value)`` for each JSON value notified on ``channel``."""
        self._handlers[channel].append(handler)

    def start(self) -> None:
        """Listen (PostgreSQL) from a thread; on SQLite nothing to start."""
        if self.local:
            self.listening.set()
            return
        self._thread = threading.Thread(target=self._listen_loop, name="bus", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and close the connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._send_lock:
            if self._sender is not None:
                self._sender.close()
                self._sender = None

    def notify(self, channel: str, value: Any) -> None:
        """Send ``value`` (JSON-able, under :data:`MAX_PAYLOAD` encoded) to every process.
        Never raises: a lost notification costs a dashboard an update or the kiosks a
        replica until the next tick, never a commit."""
        if self.local:
            self._dispatch(channel, value)
            return
        payload = json.dumps(value, separators=(",", ":"))
        try:
            with self._send_lock:
                if self._sender is None:
                    import psycopg

                    self._sender = psycopg.connect(**_dsn(self.store.url), autocommit=True)
                self._sender.execute("SELECT pg_notify(%s, %s)", (channel, payload))
        except Exception as exc:  # noqa: BLE001 - the database is away; see the docstring
            log.warning("event=bus_notify_failed channel=%s error=%r", channel, str(exc)[:200])
            with self._send_lock:
                self._sender = None

    def notify_items(self, channel: str, items: list[Any]) -> None:
        """Send a list in as few notifications as fit PostgreSQL's payload limit."""
        chunk: list[Any] = []
        size = 2
        for item in items:
            length = len(json.dumps(item, separators=(",", ":"))) + 1
            if chunk and size + length > MAX_PAYLOAD:
                self.notify(channel, chunk)
                chunk, size = [], 2
            chunk.append(item)
            size += length
        if chunk:
            self.notify(channel, chunk)

    def _listen_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # noqa: BLE001 - reconnect after a database restart
                self.listening.clear()
                log.warning("event=bus_listen_failed error=%r", str(exc)[:200])
                self._stop.wait(1.0)

    def _listen(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(**_dsn(self.store.url), autocommit=True) as conn:
            for channel in CHANNELS:  # all of them, so a late subscribe() still hears
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self.listening.set()
            self._listens += 1
            if self._listens > 1:
                log.info("event=bus_listening_again")
                for hook in list(self.on_reconnect):
                    try:
                        hook()
                    except Exception:  # one hook's bug must not stop the listening
                        log.exception("event=bus_reconnect_hook_failed")
            while not self._stop.is_set():
                for note in conn.notifies(timeout=0.5):
                    self._dispatch(note.channel, json.loads(note.payload))

    def _dispatch(self, channel: str, value: Any) -> None:
        for handler in list(self._handlers.get(channel, ())):
            try:
                handler(value)
            except Exception:  # one handler's bug must not silence the bus
                log.exception("event=bus_handler_failed channel=%s", channel)
