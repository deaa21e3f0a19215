"""Live updates for the dashboard: ingest commits -> an in-process broadcaster -> SSE.

The ingest thread calls :meth:`Broadcaster.on_commit` after each commit with the wire
messages it applied; each connected browser has its own asyncio queue, fed thread-safely.
A browser's EventSource reconnects by itself after a server restart.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lockers.wire import messages as m
from server import tenancy


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
        """Called on the ingest thread after a commit: turn messages into browser updates
        (one batch per school, since a commit may hold several schools' messages)."""
        by_school: dict[str, list[dict[str, Any]]] = {}
        for parsed, msg in messages:
            updates = by_school.setdefault(parsed.site, [])
            if isinstance(msg, m.SlotStateEvent):
                updates.append({"kind": "slot", "kiosk": parsed.kiosk, "slot": msg.slot,
                                "state": msg.state.value})
            elif isinstance(msg, m.SlotSnapshot):
                updates += [{"kind": "slot", "kiosk": parsed.kiosk, "slot": v.slot,
                             "state": v.state.value} for v in msg.slots]
            elif isinstance(msg, m.KioskStatus):
                updates.append({"kind": "kiosk", "kiosk": parsed.kiosk,
                                "online": msg.state == "online"})
            elif isinstance(msg, m.AlarmEvent | m.DepositEvent | m.CollectionEvent):
                updates.append({"kind": "refresh"})  # counters and alarms: re-read
        for site, updates in by_school.items():
            if updates:
                self.publish(updates, site=site)

    def publish(self, updates: list[dict[str, Any]], site: str | None = None) -> None:
        """Send updates to every browser (any thread) that may hear of school ``site``."""
        data = json.dumps(updates)
        for loop, q in list(self._clients):
            schools = self._schools.get(id(q))
            if schools is None or site in schools:
                loop.call_soon_threadsafe(_put, q, data)


def _put(q: asyncio.Queue[str], data: str) -> None:
    if not q.full():  # a stalled browser misses updates; it re-reads on reconnect
        q.put_nowait(data)
