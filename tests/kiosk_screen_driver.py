"""Drive the real kiosk screen and a real controller (sim mode) through every outcome, taking
a screenshot of each: used by the tests, by bench/kiosk_screen.py and to refresh
docs/screens/.

    python -m tests.kiosk_screen_driver CONFIG.json OUT_DIR

CONFIG.json names the broker and kiosk account (a server on the other side must have
published the policy: the test does). Prints one JSON line per step.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivy-"))

from kivy.config import Config

Config.set("graphics", "width", "800")
Config.set("graphics", "height", "480")
Config.set("graphics", "resizable", "0")

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402

from firmware_py.interfaces import CardTapped  # noqa: E402
from firmware_py.sim.vpcd_card import VirtualCard  # noqa: E402
from kiosk_ui.app import KioskApp, KioskScreen  # noqa: E402
from launcher.faults import CuttableLink  # noqa: E402
from launcher.kiosk import build_controller  # noqa: E402
from lockers.clock import FakeClock  # noqa: E402
from lockers.kiosk_config import (  # noqa: E402
    BrokerConfig,
    KioskConfig,
    ReaderConfig,
    RelayConfig,
)


class Driver:
    """Plays a kiosk's day against the screen from a worker thread."""

    def __init__(self, cfg: dict[str, Any], out: Path) -> None:
        self.cfg, self.out = cfg, out
        self.clock = FakeClock(datetime.fromisoformat(cfg["start"]).astimezone(UTC))
        pcsc = cfg.get("pcsc")  # taps through pcscd and a virtual card, as on a kiosk
        if pcsc:
            os.environ["PCSCLITE_CSOCK_NAME"] = pcsc["socket"]
        config = KioskConfig(
            site=cfg["site"], kiosk=cfg["kiosk"], card_key=cfg["card_key"],
            state_dir=Path(cfg["state_dir"]), tap_hold_off_s=0.0,
            readers=[ReaderConfig(role="arrival", name=pcsc["reader"])] if pcsc else [],
            pinmap=Path(__file__).resolve().parents[1] / "hardware" / "pinmaps" / "sim8.toml",
            relays=RelayConfig(pulse_s=0.2, max_coils=4, max_on_s=1.0),
            broker=BrokerConfig(**cfg["broker"], reconnect_max_s=1), synchronous="NORMAL",
            clock_synced_flag=Path(cfg["state_dir"]) / "ntp-synchronized")
        Path(cfg["state_dir"]).mkdir(parents=True, exist_ok=True)
        (Path(cfg["state_dir"]) / "ntp-synchronized").touch()  # NTP set the clock at boot
        self.network = CuttableLink()
        self.controller, self.world = build_controller(config, sim=True, clock=self.clock,
                                                       link_factory=self.network)
        self.app = KioskApp(self.controller, threading.Event())
        self.frames: list[tuple[float, float]] = []  # (decided, shown) monotonic pairs
        self.failed: str | None = None

    @property
    def screen(self) -> KioskScreen:
        """The kiosk screen the app built."""
        assert self.app.screen is not None
        return self.app.screen

    def run(self) -> int:
        """Run the app with the script beside it; 1 if the script failed."""
        self.controller.start()
        threading.Thread(target=self._script, daemon=True).start()
        self.app.run()
        self.controller.stop()
        return 1 if self.failed else 0

    # --- helpers (worker thread) ----------------------------------------------------------

    def wait_key(self, key: str, timeout: float = 10.0) -> None:
        """Wait until the screen shows the message ``key``."""
        deadline = time.monotonic() + timeout
        while getattr(self.screen, "shown", None) is None or self.screen.shown.key != key:
            if time.monotonic() > deadline:
                shown = getattr(self.screen, "shown", None)
                raise AssertionError(f"screen never showed {key!r} (shows "
                                     f"{shown.key if shown else None!r})")
            time.sleep(0.005)

    def on_kivy(self, fn: Any) -> Any:
        """Run ``fn`` on Kivy's thread and return what it returned."""
        done, box = threading.Event(), {}

        def run(_dt: float) -> None:
            try:
                box["v"] = fn()
            finally:
                done.set()

        Clock.schedule_once(run, 0)
        if not done.wait(10):
            raise AssertionError("the Kivy thread did not answer")
        return box.get("v")

    def shot(self, step: str) -> None:
        """Save a screenshot of the next frame as ``step``.png and print what it shows."""
        done = threading.Event()

        def take(*_: object) -> None:  # the flip after arming shows the current widgets
            Window.unbind(on_flip=take)
            made = Window.screenshot(name=str(self.out / f"{step}.png"))  # adds a counter
            if made:
                Path(made).replace(self.out / f"{step}.png")
            done.set()

        def arm(_dt: float) -> None:
            Window.bind(on_flip=take)
            Window.canvas.ask_update()

        Clock.schedule_once(arm, 0)
        if not done.wait(10):
            raise AssertionError(f"no frame was drawn for the {step} screenshot")
        shown = self.screen.shown
        print(json.dumps({"step": step, "key": shown.key, "title": shown.title,
                          "body": shown.body, "banner": self.screen.banner.text,
                          "doors": self.screen.doors.text}), flush=True)

    def tap(self, uid: str) -> None:
        """Tap a card and wait until the screen has shown the result of this tap."""
        before = self.screen.taps_shown
        pcsc = self.cfg.get("pcsc")
        card = VirtualCard(port=pcsc["port"]) if pcsc else None
        if card is not None:
            card.present_uid(uid)
        else:
            self.controller.deliver(CardTapped("arrival", uid, time.monotonic()))
        deadline = time.monotonic() + 10
        while self.screen.taps_shown == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed the tap of {uid}")
            time.sleep(0.002)
        if card is not None:
            card.remove()
            _wait_empty(pcsc["reader"])

    def touch(self, label: str) -> None:
        """Press the PIN pad button labelled ``label``."""
        def press() -> None:
            pad = self.screen.pad
            assert pad is not None, "no PIN pad on screen"
            button = next(b for b in pad.children if getattr(b, "text", None) == label)
            x, y = button.to_window(*button.center)
            t = UnitTestTouch(x, y)
            t.touch_down()
            t.touch_up()

        self.on_kivy(press)

    # --- the script ------------------------------------------------------------------------

    def _script(self) -> None:
        """The day, played on the worker thread; any failure is reported, then the app stops."""
        try:
            self._wait_for_policy()
            slot = self._morning()
            self._staff_sign_in()
            self._home_time(slot)
            self._measure_tap_to_frame()
            self._offline_then_fire_alarm()
        except BaseException as exc:  # noqa: BLE001 - whatever it is, the test must hear of it
            import traceback

            self.failed = f"{type(exc).__name__}: {exc} {traceback.format_exc()[-600:]}"
            print(json.dumps({"error": self.failed}), flush=True)
        finally:
            Clock.schedule_once(lambda _dt: self.app.stop(), 0)

    def _wait_for(self, done: Any, timeout: float, poll: float, failure: str) -> None:
        """Poll ``done()`` every ``poll`` seconds; raise ``failure`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(failure)
            time.sleep(poll)

    def _wait_for_policy(self) -> None:
        """The kiosk online with the server's policy, and the screen ready."""
        self._wait_for(lambda: self.controller.view().policy_version >= 1
                       and self.controller.view().online, 20, 0.02,
                       "the kiosk never got its policy")
        self.on_kivy(lambda: self.screen.apply(self.controller.view()))
        self.wait_key("ready")
        self.shot("01-ready")

    def _morning(self) -> int:
        """Two deposits, then every refusal a morning tap can meet; returns the first slot."""
        c = self.cfg
        self.tap(c["pupil"])
        self.wait_key("deposit_opened")
        self.shot("02-deposit-opened")
        slot = self.screen.shown.slot
        assert slot, f"no slot on {self.screen.shown}"
        self.world.open_door(slot)
        self.world.put_item(slot)
        self.tap(c["pupil2"])
        self.wait_key("deposit_opened")
        self.shot("03-second-pupil-while-door-open")
        second = self.screen.shown.slot
        self.world.close_door(slot)
        self.world.open_door(second)
        self.world.put_item(second)
        self.world.close_door(second)
        self.tap(c["pupil"])
        self.wait_key("not_release_time")
        self.shot("04-not-yet")
        for uid, key, step in ((c["exempt"], "exempt", "05-exempt"),
                               (c["unknown"], "unknown_card", "06-unknown-card"),
                               (c["held"], "held", "07-held")):
            self.tap(uid)
            self.wait_key(key)
            self.shot(step)
        return slot

    def _staff_sign_in(self) -> None:
        """A staff card, its PIN on the pad, staff mode, then signing out."""
        c = self.cfg
        self.tap(c["staff"])
        self.wait_key("staff_card")
        self.shot("08-staff-pin-pad")
        for digit in c["staff_pin"]:
            self.touch(digit)
        self.touch("OK")
        self.wait_key("staff_mode")
        self.shot("09-staff-mode")
        self.controller.staff_logout()
        self.wait_key("staff_logout")

    def _home_time(self, slot: int) -> None:
        """The release window: the pupil takes the phone and leaves the door open too long."""
        c = self.cfg
        self.clock.set(datetime.fromisoformat(c["release"]).astimezone(UTC))
        self.tap(c["pupil"])
        self.wait_key("release_opened")
        self.shot("10-release-opened")
        self.world.open_door(slot)
        self.world.take_item(slot)
        self._wait_for(lambda: next(s for s in self.controller.view().slots
                                    if s.number == slot).door_open, 5, 0.005,
                       "the controller never saw the door open")
        self.clock.advance(61)
        self.controller.tick_now()
        self.wait_key("door_left_open")
        self.shot("11-door-left-open")
        self.world.close_door(slot)
        self.wait_key("ready", timeout=15)

    def _measure_tap_to_frame(self) -> None:
        """For the benchmark: ms from the controller's decision to the frame that shows it."""
        latencies = [self._tap_to_frame_ms() for _ in range(self.cfg.get("latency_taps", 0))]
        if latencies:
            import resource

            print(json.dumps({"latency_ms": latencies, "peak_rss_mb": resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)

    def _tap_to_frame_ms(self) -> float:
        """One unknown card's tap, timed to the first frame drawn after it was shown."""
        flipped = threading.Event()
        seen: dict[str, float] = {}

        def on_flip(*_: object) -> None:
            if self.screen.taps_shown > seen.get("before", 1e9):
                seen["flip"] = time.monotonic()
                flipped.set()

        seen["before"] = self.screen.taps_shown
        self.on_kivy(lambda: Window.bind(on_flip=on_flip))
        self.tap(self.cfg["unknown"])
        if not flipped.wait(5):
            raise AssertionError("no frame after the tap")
        self.on_kivy(lambda: Window.unbind(on_flip=on_flip))
        latency = (seen["flip"] - self.screen.last_decided) * 1000
        # The screen has no public way back; skip its idle timer so the next tap is timed alone.
        self.on_kivy(lambda: self.screen._to_ready(0))  # noqa: SLF001
        self.wait_key("ready")
        return latency

    def _offline_then_fire_alarm(self) -> None:
        """The network cut (the kiosk works on, with a banner), then the fire alarm."""
        self.network.cut(3600)  # for the rest of the test
        self._wait_for(lambda: self.screen.banner.text, 10, 0.01, "no offline banner")
        self.shot("12-offline-but-working")
        self.world.fire_alarm(True)
        self.wait_key("fire")
        self.shot("13-fire-alarm")


def _wait_empty(reader: str, timeout: float = 5.0) -> None:
    """Wait until pcscd has seen the card leave the reader (so the next tap is new)."""
    from smartcard import scard

    rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        state, deadline = scard.SCARD_STATE_UNAWARE, time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc, states = scard.SCardGetStatusChange(ctx, 100, [(reader, state)])
            if rc == scard.SCARD_S_SUCCESS:
                if states[0][1] & scard.SCARD_STATE_EMPTY:
                    return
                state = states[0][1]
        raise AssertionError(f"{reader} still shows a card")
    finally:
        scard.SCardReleaseContext(ctx)


def main(argv: list[str]) -> int:
    cfg = json.loads(Path(argv[0]).read_text())
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    return Driver(cfg, out).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
