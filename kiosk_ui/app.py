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
from kivy.graphics import Color, Line, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk_ui import presenter
from kiosk_ui.icons import Icon
from kiosk_ui.strings import text
from locker_controller.api import KioskPort, KioskView, SlotState, StaffResult, TapResult


class BankMap(Widget):
    """A small map of the bank: every locker, the one to use outlined and filled."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._shown: tuple[KioskView | None, int | None] = (None, None)
        self.bind(pos=self._redraw, size=self._redraw)  # the layout moves it after a banner

    def _redraw(self, *_: object) -> None:
        self.show(*self._shown)

    def show(self, view: KioskView | None, highlight: int | None) -> None:
        """Draw ``view``'s lockers with ``highlight`` outlined."""
        self._shown = (view, highlight)
        self.canvas.clear()
        if view is None or not view.slots:
            return
        n = len(view.slots)
        cols = 10 if n > 30 else 8 if n > 16 else 4
        rows = -(-n // cols)
        cw, ch = self.width / cols, self.height / rows
        with self.canvas:
            for i, s in enumerate(view.slots):
                c, r = i % cols, i // cols
                x, y = self.x + c * cw + 2, self.top - (r + 1) * ch + 2
                used = s.state is not SlotState.FREE
                Color(1, 1, 1, 1 if s.number == highlight else (.45 if used else .18))
                Rectangle(pos=(x, y), size=(cw - 4, ch - 4))
                if s.number == highlight:
                    Color(1, .85, 0, 1)
                    Line(rectangle=(x - 2, y - 2, cw, ch), width=3)


class PinPad(GridLayout):
    """A PIN pad for staff; digits are never shown, only dots."""

    def __init__(self, on_pin: Any, language: str, **kw: Any) -> None:
        super().__init__(cols=3, spacing=6, **kw)
        self.on_pin, self.entered = on_pin, ""
        self.display = Label(text="", font_size=40)
        for label in ["1", "2", "3", "4", "5", "6", "7", "8", "9",
                      text("staff", "clear", language), "0", text("staff", "ok", language)]:
            b = Button(text=label, font_size=34 if label.isdigit() else 22)
            b.bind(on_release=self._press)
            self.add_widget(b)

    def _press(self, button: Button) -> None:
        if button.text.isdigit():
            self.entered = (self.entered + button.text)[:8]
        elif self.entered and button.text == text("staff", "ok"):
            pin, self.entered = self.entered, ""
            self.on_pin(pin)
        else:
            self.entered = ""
        self.display.text = "•" * len(self.entered)


class KioskScreen(BoxLayout):
    """The whole screen: banner, icon and words, bank map, open doors, staff pad."""

    def __init__(self, controller: KioskPort, language: str = "en", **kw: Any) -> None:
        super().__init__(orientation="vertical", **kw)
        self.controller, self.language = controller, language
        self.view: KioskView | None = None
        self.panel = presenter.ready(language)
        self.sticky: presenter.Panel | None = None
        self._back: Any = None
        self.taps_shown = 0  # how many tap results have been shown (tests wait on it)
        self.last_decided = 0.0
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
        body = BoxLayout(orientation="horizontal", padding=16, spacing=16)
        self.icon = Icon(size_hint_x=.3)
        words = BoxLayout(orientation="vertical")
        self.title = Label(text="", font_size=46, bold=True, halign="left", valign="middle")
        self.body = Label(text="", font_size=28, halign="left", valign="top")
        for lbl in (self.title, self.body):
            lbl.bind(size=lambda w, s: setattr(w, "text_size", s))
            words.add_widget(lbl)
        body.add_widget(self.icon)
        body.add_widget(words)
        self.side = BoxLayout(orientation="vertical", size_hint_x=.32)
        self.map = BankMap()
        self.side.add_widget(self.map)
        body.add_widget(self.side)
        self.doors = Label(text="", font_size=24, size_hint_y=None, height=40)
        self.add_widget(self.banner)
        self.add_widget(body)
        self.add_widget(self.doors)
        self.pad: PinPad | None = None
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
            self.panel = presenter.for_tap(update, self.language)
            self._schedule_back(self.panel.hold_s)
        elif isinstance(update, KioskView):
            self.view = update
            self.sticky = presenter.for_view(update, self.language)
            if update.staff_mode:
                self.panel = presenter.Panel(
                    "staff_mode", "info", "card", text("staff_mode", "title", self.language),
                    text("staff_mode", "body", self.language, name=update.staff_mode),
                    hold_s=0)
        elif isinstance(update, StaffResult):
            self.panel = presenter.Panel(f"staff_{update.action}",
                                         "ok" if update.ok else "stop",
                                         "tick" if update.ok else "cross",
                                         update.message, "", hold_s=5)
            self._schedule_back(5)
        self.render()
        self.last_shown = update

    def render(self) -> None:
        """Draw the current panel (a sticky condition wins)."""
        panel = self.sticky or self.panel
        self.shown = panel
        self._bg_color.rgba = presenter.TONES[panel.tone]
        self.icon.kind = panel.icon
        self.title.text, self.body.text = panel.title, panel.body
        banner = presenter.offline_banner(self.view, self.language) if self.view else ""
        self.banner.text, self.banner.height = banner, (36 if banner else 0)
        self._banner_color.a = 1 if banner else 0
        self.doors.text = presenter.doors_line(self.view, self.language) if self.view else ""
        self.map.show(self.view, panel.slot)
        self._show_pad(panel.pin_pad)

    def _show_pad(self, wanted: bool) -> None:
        if wanted and self.pad is None:
            self.side.size_hint_x = .45
            self.side.remove_widget(self.map)
            self.pad = PinPad(self.controller.staff_login, self.language)
            self.side.add_widget(self.pad)
        elif not wanted and self.pad is not None:
            self.side.remove_widget(self.pad)
            self.pad = None
            self.side.size_hint_x = .32
            self.side.add_widget(self.map)

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
