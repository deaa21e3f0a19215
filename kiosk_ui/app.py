"""The kiosk screen (Kivy): what the controller decided, in one glance.

The controller calls back on its own thread; every update is handed to Kivy's clock and the
callback returns at once, so the screen never slows the kiosk down. The screen talks to the
controller only through its public API (locker_controller.api and the staff_* methods).
"""

from __future__ import annotations

import threading
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from kiosk_ui import presenter
from kiosk_ui.bank_map import BankMap
from kiosk_ui.icons import Icon
from kiosk_ui.keypads import KeyPad, pin_pad
from kiosk_ui.staff_panel import StaffPanel
from kiosk_ui.strings import text
from locker_controller.api import KioskPort, KioskView, StaffResult, TapResult


class KioskScreen(BoxLayout):
    """The whole screen: banner, icon and words, the numbered map or a keypad, the open-doors
    line; in staff mode, the staff menu in place of the pupil's words."""

    def __init__(self, controller: KioskPort, language: str = "en", **kw: Any) -> None:
        super().__init__(orientation="vertical", **kw)
        self.controller, self.language = controller, language
        self.view: KioskView | None = None
        self.panel = presenter.ready(language)
        self.sticky: presenter.Panel | None = None
        self._back: Any = None
        self.taps_shown = 0  # how many tap results have been shown (tests wait on it)
        self.staff_results = 0  # how many staff results have been shown (tests wait on it)
        self.last_decided = 0.0
        self.asked: tuple[str, dict[str, Any]] = ("", {})  # the staff action last asked for
        with self.canvas.before:
            self._bg_color = Color(*presenter.TONES["ready"])
            self._bg = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._resize, size=self._resize)
        self.banner = Label(text="", font_size=22, size_hint_y=None, height=0, bold=True,
                            color=(0.1, 0.1, 0.1, 1))
        with self.banner.canvas.before:  # an amber band: visible, and not a colour alone
            self._banner_color = Color(1, 0.78, 0.2, 0)
            self._banner_bg = Rectangle()
        self.banner.bind(pos=lambda w, p: setattr(self._banner_bg, "pos", p),
                         size=lambda w, sz: setattr(self._banner_bg, "size", sz))
        self.stage = BoxLayout()  # the pupil's words, or the staff menu
        self.body_box = BoxLayout(orientation="horizontal", padding=16, spacing=16)
        self.icon = Icon(size_hint_x=.25)
        words = BoxLayout(orientation="vertical", spacing=8)
        self.title = Label(text="", font_size=44, bold=True, halign="left", valign="bottom")
        self.body = Label(text="", font_size=28, halign="left", valign="top")
        for lbl in (self.title, self.body):
            lbl.bind(size=lambda w, s: setattr(w, "text_size", s))
            words.add_widget(lbl)
        self.body_box.add_widget(self.icon)
        self.body_box.add_widget(words)
        self.side = BoxLayout(orientation="vertical", size_hint_x=.55)
        self.map = BankMap(self.language)
        self.side.add_widget(self.map)
        self.stage.add_widget(self.body_box)
        self.doors = Label(text="", font_size=24, size_hint_y=None, height=44)
        self.add_widget(self.banner)
        self.add_widget(self.stage)
        self.add_widget(self.doors)
        self.pad: KeyPad | None = None
        self.staff: StaffPanel | None = None
        self.render()

    # --- from the controller (any thread) -------------------------------------------------

    def on_update(self, update: object) -> None:
        """Hand an update to the Kivy thread and return at once."""
        Clock.schedule_once(lambda _dt: self.apply(update), 0)

    # --- on the Kivy thread -----------------------------------------------------------

    def apply(self, update: object) -> None:
        """Show a controller update."""
        if isinstance(update, TapResult):
            self.taps_shown += 1
            self.last_decided = update.decided_monotonic
            restoring = bool(self.view and self.view.awaiting_picture)
            self.panel = presenter.for_tap(update, self.language, restoring)
            self._schedule_back(self.panel.hold_s)
        elif isinstance(update, KioskView):
            self.view = update
            self.sticky = presenter.for_view(update, self.language)
        elif isinstance(update, StaffResult):
            self._staff_result(update)
        self.render()
        self.last_shown = update

    def _staff_result(self, result: StaffResult) -> None:
        action, values = self.asked
        if result.action == "enrol" and result.ok and action == "enrol" \
                and not values.get("started"):
            values["started"] = True  # "tap the new card": the enrol-waiting screen says it
            return
        self.staff_results += 1
        if result.action == "login" and result.ok:
            self.panel = presenter.ready(self.language)  # straight to the staff menu
            return
        self.panel = presenter.for_staff(result, values if action == result.action else {},
                                         self.language)
        self._schedule_back(self.panel.hold_s)

    def _asked(self, action: str, values: dict[str, Any]) -> None:
        self.asked = (action, values)

    def on_touch_down(self, touch: Any) -> bool:
        """In staff mode, a touch on a result goes back to the menu (no need to wait)."""
        if self.staff is None and self.sticky is None and self._is_staff_result(self.panel):
            self._to_ready(0)
            return True
        return bool(super().on_touch_down(touch))

    def _is_staff_result(self, panel: presenter.Panel) -> bool:
        """Whether ``panel`` is the result of a staff action, shown in staff mode."""
        return bool(self.view and self.view.staff_mode) and not panel.pin_pad \
            and panel.key.startswith("staff_")

    def render(self) -> None:
        """Draw the current panel: a sticky condition wins, except that signed-in staff keep
        their menu and results over a fault or a door left open (they are there to deal with
        it); only a fire alarm (and a card being enrolled) beats staff mode."""
        staff_on = bool(self.view and self.view.staff_mode)
        sticky = self.sticky
        if staff_on and sticky is not None and sticky.key not in ("fire", "enrol_waiting"):
            sticky = None
        panel = sticky or self.panel
        self.shown = panel
        staff_menu = staff_on and panel.key == "ready"
        self._show_staff(staff_menu)
        if self.staff is not None:
            hidden = self.sticky if sticky is None and self.sticky is not None else None
            self.staff.set_note(text("staff", f"note_{hidden.key}", self.language,
                                     slot=hidden.slot) if hidden else "")
        if staff_menu:
            self.shown = presenter.Panel("staff_mode", "info", "card",
                                         text("staff_mode", "title", self.language),
                                         "", hold_s=0)
        self._bg_color.rgba = presenter.TONES[self.shown.tone]
        self.icon.kind = panel.icon
        self.title.text, self.body.text = panel.title, panel.body
        if self._is_staff_result(panel):
            self.body.text += "\n\n" + text("staff_result", "touch_for_menu", self.language)
        banner = presenter.offline_banner(self.view, self.language) if self.view else ""
        self.banner.text, self.banner.height = banner, (36 if banner else 0)
        self._banner_color.a = 1 if banner else 0
        # Under a fire alarm or a fault nothing invites a pupil to go to a door.
        calm = self.sticky is None or self.sticky.key not in ("fire", "fault")
        self.doors.text = presenter.doors_line(self.view, self.language) \
            if self.view and calm else ""
        numbers = [s.number for s in self.view.slots] if self.view else []
        self.map.show(numbers, panel.slot)
        self._show_side(panel.pin_pad, panel.slot is not None)

    def _show_side(self, pad_wanted: bool, map_wanted: bool) -> None:
        if pad_wanted and self.pad is None:
            self.side.remove_widget(self.map)
            self.pad = pin_pad(self.controller.staff_login, self.language)
            self.side.add_widget(self.pad)
        elif not pad_wanted and self.pad is not None:
            self.side.remove_widget(self.pad)
            self.pad = None
            self.side.add_widget(self.map)
        wanted = pad_wanted or map_wanted  # without a locker to show, the words get the room
        if wanted and self.side.parent is None:
            self.body_box.add_widget(self.side)
        elif not wanted and self.side.parent is not None:
            self.body_box.remove_widget(self.side)

    def _show_staff(self, wanted: bool) -> None:
        if wanted and self.staff is None:
            self.stage.remove_widget(self.body_box)
            self.staff = StaffPanel(self.controller, self.language, self._asked)
            self.stage.add_widget(self.staff)
        elif not wanted and self.staff is not None:
            self.stage.remove_widget(self.staff)
            self.stage.add_widget(self.body_box)
            self.staff = None

    def _schedule_back(self, seconds: float) -> None:
        if self._back is not None:
            self._back.cancel()
        if seconds:
            self._back = Clock.schedule_once(self._to_ready, seconds)

    def _to_ready(self, _dt: float) -> None:
        self.panel = presenter.ready(self.language)
        self.render()

    def _resize(self, *_: object) -> None:
        self._bg.pos, self._bg.size = self.pos, self.size


class KioskApp(App):
    """The Kivy application around :class:`KioskScreen`."""

    def __init__(self, controller: KioskPort, stop: threading.Event | None = None,
                 language: str = "en", **kw: Any) -> None:
        super().__init__(**kw)
        self.controller, self.stop_event, self.language = controller, stop, language
        self.screen: KioskScreen | None = None

    def build(self) -> KioskScreen:
        """Subscribe to the controller and show the current view."""
        self.title = "Phone lockers"
        self.screen = KioskScreen(self.controller, self.language)
        self.controller.subscribe(self.screen.on_update)
        self.screen.on_update(self.controller.view())
        if self.stop_event is not None:
            Clock.schedule_interval(self._check_stop, 0.25)
        return self.screen

    def _check_stop(self, _dt: float) -> None:
        if self.stop_event is not None and self.stop_event.is_set():
            self.stop()


def run_app(controller: KioskPort, stop: threading.Event, fullscreen: bool = True) -> None:
    """Run the screen on this (the main) thread until ``stop`` is set or the window closes."""
    from kivy.config import Config

    if fullscreen:
        Config.set("graphics", "fullscreen", "auto")
    KioskApp(controller, stop).run()
    stop.set()
