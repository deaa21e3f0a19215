"""Scripted staff actions at a sim kiosk, for the demo: a member of staff taps their card,
gives their PIN and uses staff mode, through the kiosk's public port as a person at the screen
would. Read from a JSON file given with ``lockers kiosk --sim-script``::

    [{"after_s": 40, "staff_card": "5A5A5A5A", "pin": "246813",
      "action": "hand_in", "pupil": "D1005", "confiscated": false}]
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from firmware_py.interfaces import CardTapped
from locker_controller.api import KioskPort, StaffResult

log = logging.getLogger("lockers.sim")


class KioskScript:
    """Plays a list of timed staff actions at one kiosk."""

    def __init__(self, port: KioskPort, steps: list[dict[str, Any]]) -> None:
        self.port, self.steps = port, steps
        self._results: list[StaffResult] = []
        self._got = threading.Condition()
        self._stop = threading.Event()
        port.subscribe(self._on_update)

    @classmethod
    def from_file(cls, port: KioskPort, path: Path) -> KioskScript:
        """The script in ``path`` (a JSON list of steps)."""
        return cls(port, json.loads(path.read_text(encoding="utf-8")))

    def start(self) -> None:
        """Play the steps in a thread."""
        threading.Thread(target=self._play, daemon=True, name="kiosk-script").start()

    def stop(self) -> None:
        """Stop before the next step."""
        self._stop.set()

    def _on_update(self, update: object) -> None:
        if isinstance(update, StaffResult):
            with self._got:
                self._results.append(update)
                self._got.notify_all()

    def _play(self) -> None:
        started = time.monotonic()
        for step in self.steps:
            if self._stop.wait(max(0.0, started + step["after_s"] - time.monotonic())):
                return
            try:
                self._sign_in(step["staff_card"], step["pin"])
                if step["action"] == "hand_in":
                    pupil, confiscated = step["pupil"], step.get("confiscated", False)
                    self._expect(lambda p=pupil, c=confiscated: self.port.staff_hand_in(
                        p, confiscated=c))
                self._expect(self.port.staff_logout)
            except TimeoutError as exc:
                log.error("event=kiosk_script_failed step=%s error=%s", step, exc)

    def _sign_in(self, card_uid: str, pin: str) -> None:
        # The card and then the PIN go onto the kiosk's one queue, so the tap is decided first.
        self.port.deliver(CardTapped("arrival", card_uid, time.monotonic()))
        self._expect(lambda: self.port.staff_login(pin))

    def _expect(self, action: Any) -> StaffResult:
        with self._got:
            before = len(self._results)
            action()
            if not self._got.wait_for(lambda: len(self._results) > before, timeout=10):
                raise TimeoutError("the kiosk did not answer the staff action")
            result = self._results[before]
        log.warning("event=kiosk_script action=%s ok=%s message=%r", result.action, result.ok,
                    result.message)
        return result
