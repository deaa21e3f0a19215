"""Show the kiosk screen the outcomes a short script on an 8-locker bank cannot reach (a
300-locker bank, a full kiosk, a closed one, an early release, a staff refusal, a reader fault,
many doors open at once) and screenshot each: the real KioskScreen under Xvfb, given the
controller's own result and view objects as the controller would send them.

    python -m tests.kiosk_gallery_driver OUT_DIR

Prints one JSON line per screen (what it says), like tests.kiosk_screen_driver.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import tests.kivy_screen  # noqa: F401 - before any Kivy import: quiet, 800x480

# isort: split
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window

from kiosk_ui.app import KioskScreen
from launcher.kiosk import build_controller
from locker_controller.api import (
    AlarmKind,
    KioskView,
    SlotState,
    SlotSummary,
    StaffResult,
    TapOutcome,
    TapResult,
)
from lockers.kiosk_config import BrokerConfig, KioskConfig

AT = datetime(2026, 11, 23, 8, 20, tzinfo=UTC)
BANK = 300  # the largest bank a kiosk serves


def bank_view(open_doors: tuple[int, ...] = (), readers_ok: bool = True) -> KioskView:
    """A 300-locker kiosk: most lockers in use, a few held, ``open_doors`` open."""
    slots = tuple(SlotSummary(n, SlotState.HELD if n % 37 == 0 else
                              SlotState.OCCUPIED if n % 3 else SlotState.FREE,
                              door_open=n in open_doors) for n in range(1, BANK + 1))
    return KioskView(site="school1", kiosk="k1", online=True, mode="normal", slots=slots,
                     open_for_deposit=open_doors, open_for_release=(), alarms=(),
                     readers_ok=readers_ok, policy_version=1)


def tap(outcome: TapOutcome, slot: int | None = None, name: str | None = "Amira",
        **kw: Any) -> TapResult:
    """A tap result as the controller sends it."""
    return TapResult(outcome, AT, "arrival", name, slot, **kw)


SCREENS: list[tuple[str, list[object]]] = [
    ("27-bank-300-locker-287", [bank_view((287,)), tap(TapOutcome.DEPOSIT_OPENED, 287)]),
    ("28-bank-300-locker-1", [bank_view((1,)), tap(TapOutcome.RELEASE_OPENED, 1)]),
    ("29-bank-300-locker-150-held-neighbours", [bank_view((150,)),
                                                tap(TapOutcome.DEPOSIT_OPENED, 150)]),
    ("30-early-release", [bank_view((12,)), tap(TapOutcome.EARLY_RELEASE_OPENED, 12)]),
    ("31-held-in-this-kiosk", [bank_view(), tap(TapOutcome.HELD, 148, "Ola")]),
    ("32-kiosk-full", [bank_view(), tap(TapOutcome.NO_FREE_SLOT, name="Tom")]),
    ("33-locker-not-free", [bank_view(), tap(TapOutcome.SLOT_UNAVAILABLE, 40, "Tom")]),
    ("34-kiosk-closed", [bank_view(), tap(TapOutcome.KIOSK_CLOSED, name="Tom")]),
    ("35-not-yet-no-name", [bank_view(), tap(TapOutcome.NOT_RELEASE_TIME, 3, None,
                                             opens_at=time(15, 10))]),
    ("36-many-doors-open", [bank_view((3, 7, 12, 18, 25, 31)),
                            tap(TapOutcome.DEPOSIT_OPENED, 31, "Kai")]),
    ("37-staff-refused", [bank_view(), StaffResult(
        "assisted_hand_in", False,
        "no pupil 'P77' at this school: check the reference on the office console")]),
    ("38-reader-fault", [bank_view(readers_ok=False)]),
    ("39-records-lost-kiosk-waits", [replace(bank_view(), awaiting_picture=True),
                                     tap(TapOutcome.NO_FREE_SLOT, name="Tom")]),
    ("39a-staff-menu-over-a-fault", [replace(
        bank_view(readers_ok=False), staff_mode="S01",
        alarms=((AlarmKind.DOOR_LEFT_OPEN, 4),))]),
    ("39b-fire-alarm-beats-staff-mode", [replace(bank_view(), staff_mode="S01",
                                                 fire_alarm=True)]),
    ("40-fire-alarm-300", [replace(bank_view(tuple(range(1, BANK + 1))), fire_alarm=True)]),
]


class Gallery(App):
    """Shows each screen in turn and screenshots it after its frame is drawn."""

    def __init__(self, out: Path, **kw: Any) -> None:
        super().__init__(**kw)
        self.out, self.index, self.failed = out, 0, False
        state = Path(tempfile.mkdtemp(prefix="gallery-kiosk-"))
        config = KioskConfig(
            site="school1", kiosk="k1", card_key="gallery-card-key", state_dir=state,
            readers=[], broker=BrokerConfig(host="127.0.0.1", port=1),
            pinmap=Path(__file__).resolve().parents[1] / "hardware" / "pinmaps" / "sim60.toml")
        self.controller, _ = build_controller(config, sim=True, connect=False)

    def build(self) -> KioskScreen:
        """The screen under test, and the first picture scheduled."""
        self.screen = KioskScreen(self.controller)
        Clock.schedule_once(self._next, 0)
        return self.screen

    def _next(self, _dt: float) -> None:
        if self.index >= len(SCREENS):
            self.stop()
            return
        name, updates = SCREENS[self.index]
        self.screen.apply(KioskView("s", "k", True, "normal", (), (), (), (), True))
        self.screen._to_ready(0)  # noqa: SLF001 - each screen starts from rest
        for update in updates:
            self.screen.apply(update)
        Window.bind(on_flip=self._take)
        Window.canvas.ask_update()

    def _take(self, *_: object) -> None:
        Window.unbind(on_flip=self._take)
        name = SCREENS[self.index][0]
        made = Window.screenshot(name=str(self.out / f"{name}.png"))
        if made:
            Path(made).replace(self.out / f"{name}.png")
        shown = self.screen.shown
        print(json.dumps({"step": name, "key": shown.key, "title": shown.title,
                          "body": shown.body, "slot": shown.slot,
                          "caption": self.screen.map.caption.text,
                          "cells": [int(c.text) for c in self.screen.map.cells.children],
                          "doors": self.screen.doors.text,
                          "banner": self.screen.banner.text,
                          "note": self.screen.staff.note if self.screen.staff else ""}),
              flush=True)
        self.index += 1
        Clock.schedule_once(self._next, 0)


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    Gallery(out).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
