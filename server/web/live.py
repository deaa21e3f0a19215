"""Live updates for the dashboard: ingest commits -> server.bus -> a broadcaster -> SSE.

After each commit the ingest thread turns the wire messages it applied into updates
(server.live_feed) and sends them over server.bus, so every server process's dashboards
hear every process's commits; each process's :meth:`Broadcaster.publish` feeds its own
browsers, each through its own asyncio queue, thread-safely.
A browser's EventSource reconnects by itself after a server restart.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from server import tenancy
from server.live_feed import updates_of


class Broadcaster:
    """Fans slot and kiosk changes out to every open dashboard."""

    def __init__(self) -> None:
        self._clients: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = set()
        # The school codes each browser may hear of (None: every school), taken from the
        # request's scope when it subscribes, so one school never sees another's kiosks.
        self._schools: dict[int, frozenset[str] | None] = {}

    def subscribe(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]:
        """A new browser connection's queue (limited to the request's schools)."""
        client = (asyncio.get_running_loop(), asyncio.Queue(maxsize=10_000))
        self._schools[id(client[1])] = tenancy.visible_codes()
        self._clients.add(client)
        return client

    def unsubscribe(self, client: tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]) -> None:
        """The browser went away."""
        self._clients.discard(client)
        self._schools.pop(id(client[1]), None)

    def on_commit(self, messages: list[tuple[Any, Any]]) -> None:
        """Called on the ingest thread after a commit: turn messages into browser updates."""
        updates = updates_of(messages)
        if updates:
            self.publish(updates)

    def publish(self, updates: list[dict[str, Any]]) -> None:
        """Send updates to every browser (any thread) that may hear of their school (each
        update names its school: a commit, or a bus message from another server process,
        may hold several schools' changes)."""
        by_school: dict[str | None, list[dict[str, Any]]] = {}
        for update in updates:
            by_school.setdefault(update.get("site"), []).append(update)
        for site, batch in by_school.items():
            data = json.dumps(batch)
            for loop, q in list(self._clients):
                schools = self._schools.get(id(q))
                # An update naming no school is a bare "re-read" (it carries no data).
                if schools is None or site is None or site in schools:
                    loop.call_soon_threadsafe(_put, q, data)


def _put(q: asyncio.Queue[str], data: str) -> None:
    if not q.full():  # a stalled browser misses updates; it re-reads on reconnect
        q.put_nowait(data)
