"""Faults the demo and the simulator play on purpose, passed into the parts from outside so
no production code carries them: a kiosk whose network is cut for a while."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from locker_controller.controller import server_link
from locker_controller.link import LinkDown, ServerLink
from lockers.kiosk_config import KioskConfig

log = logging.getLogger("lockers.sim")


class CuttableLink:
    """Builds a kiosk's production link and can cut its network, as a pulled cable does: no
    DISCONNECT (so the broker publishes the kiosk's last will), then reconnect after a while."""

    def __init__(self) -> None:
        self.link: ServerLink | None = None
        self._inbox: queue.Queue[Any] | None = None

    def __call__(self, config: KioskConfig, inbox: queue.Queue[Any]) -> ServerLink:
        """The link factory the controller is given."""
        self.link, self._inbox = server_link(config, inbox), inbox
        return self.link

    def cut(self, for_s: float) -> None:
        """Cut the network now and bring it back after ``for_s`` seconds."""
        link, inbox = self.link, self._inbox
        assert link is not None and inbox is not None, "the controller has not built its link"
        log.warning("event=sim_network_cut seconds=%s", for_s)
        link.drop()
        inbox.put(LinkDown("network cut (sim)"))
        threading.Timer(for_s, self._restore).start()

    def cut_later(self, after_s: float, for_s: float) -> None:
        """Cut the network ``after_s`` seconds from now, for ``for_s`` seconds."""
        threading.Timer(after_s, self.cut, args=(for_s,)).start()

    def _restore(self) -> None:
        assert self.link is not None
        log.warning("event=sim_network_back")
        self.link.client.reconnect()
        self.link.client.loop_start()
