"""What the live dashboard hears of each ingest commit, as JSON values.

The runtime sends these over server.bus after every commit, so the dashboards of every
server process (server.web.live) hear every process's commits, not only their own.
"""

from __future__ import annotations

from typing import Any

from lockers.wire import messages as m


def updates_of(messages: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """The browser updates a commit's wire messages make (JSON values: with several server
    processes they travel to every process's dashboards over server.bus)."""
    updates: list[dict[str, Any]] = []
    for parsed, msg in messages:
        before = len(updates)
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
        for update in updates[before:]:  # whose school it is: browsers hear only their own
            update["site"] = parsed.site
    return updates

