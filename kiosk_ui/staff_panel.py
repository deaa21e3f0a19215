"""Staff mode at the kiosk: its actions as big buttons, and the few questions each needs
(which pupil, which locker, why) asked on on-screen keypads. Every action is a KioskPort
``staff_*`` call; the result comes back from the controller and the screen shows it in words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from kiosk_ui.keypads import NUMBER_KEYS, REFERENCE_KEYS, KeyPad
from kiosk_ui.strings import text
from locker_controller.api import KioskPort

MENU = ["assisted_hand_in", "confiscated_hand_in", "open_slot", "clear_fault", "enrol",
        "logout"]


class StaffPanel(BoxLayout):
    """The staff menu and its question pages (replaces the pupil's words while signed in)."""

    def __init__(self, controller: KioskPort, language: str,
                 asked: Callable[[str, dict[str, Any]], None], **kw: Any) -> None:
        super().__init__(orientation="vertical", padding=12, spacing=10, **kw)
        self.controller, self.language = controller, language
        self.asked = asked  # told what was asked, so the screen can word the answer
        self.note = ""  # a condition staff should know of (a fault, a door left open)
        self.menu()

    def set_note(self, note: str) -> None:
        """Show ``note`` under the menu's title (empty: none)."""
        if note != self.note:
            self.note = note
            if self._on_menu:
                self.menu()

    def _t(self, field: str, **values: object) -> str:
        return text("staff", field, self.language, **values)

    def _page(self, title: str, back: bool) -> None:
        self._on_menu = False
        self.clear_widgets()
        head = BoxLayout(size_hint_y=None, height=60, spacing=10)
        label = Label(text=title, font_size=28, bold=True, halign="left", valign="middle")
        label.bind(size=lambda w, s: setattr(w, "text_size", s))
        head.add_widget(label)
        if back:
            b = Button(text=self._t("back"), font_size=24, size_hint_x=None, width=150)
            b.bind(on_release=lambda *_: self.menu())
            head.add_widget(b)
        self.add_widget(head)

    def menu(self) -> None:
        """The six actions, two rows of three buttons."""
        self._page(text("staff_mode", "title", self.language), back=False)
        self._on_menu = True
        if self.note:
            note = Label(text=self.note, font_size=22, bold=True, size_hint_y=None, height=36,
                         color=(0.1, 0.1, 0.1, 1))
            with note.canvas.before:  # the offline banner's amber band: 14:1 with dark text
                Color(1, 0.78, 0.2, 1)
                band = Rectangle()
            note.bind(pos=lambda w, p: setattr(band, "pos", p),
                      size=lambda w, sz: setattr(band, "size", sz))
            self.add_widget(note)
        grid = GridLayout(cols=3, spacing=10)
        for action in MENU:
            b = Button(text=self._t(action), font_size=25, bold=True, halign="center",
                       valign="middle")
            b.bind(size=lambda w, s: setattr(w, "text_size", (s[0] - 16, s[1])))
            b.bind(on_release=lambda _b, a=action: self.choose(a))
            if action == "logout":
                b.background_color = (0.55, 0.7, 1, 1)  # tints the grey: apart, still white on dark
            grid.add_widget(b)
        self.add_widget(grid)

    def choose(self, action: str) -> None:
        """Start an action: ask what it needs, or do it."""
        if action == "logout":
            self.asked(action, {})
            self.controller.staff_logout()
        elif action in ("assisted_hand_in", "confiscated_hand_in", "enrol"):
            self._ask(self._t("ask_pupil"), REFERENCE_KEYS,
                      lambda ref, a=action: self._with_pupil(a, ref))
        elif action == "open_slot":
            self._ask(self._t("ask_slot_open"), NUMBER_KEYS, self._ask_reason)
        elif action == "clear_fault":
            self._ask(self._t("ask_slot_fault"), NUMBER_KEYS, self._clear_fault)

    def _ask(self, question: str, keys: list[list[str]], then: Callable[[str], None]) -> None:
        self._page(question, back=True)
        self.add_widget(KeyPad(keys, then, self.language, max_len=3 if keys is NUMBER_KEYS
                               else 16))

    def _with_pupil(self, action: str, ref: str) -> None:
        self.asked(action, {"ref": ref})
        if action == "enrol":
            self.controller.staff_enrol(ref)
        else:
            self.controller.staff_hand_in(ref, confiscated=action == "confiscated_hand_in")
        self.menu()

    def _ask_reason(self, slot: str) -> None:
        self._page(self._t("ask_reason", slot=slot), back=True)
        grid = GridLayout(cols=2, spacing=10)
        for reason in self._t("reasons").split("|"):
            b = Button(text=reason, font_size=26, bold=True)
            b.bind(on_release=lambda _b, r=reason: self._open(int(slot), r))
            grid.add_widget(b)
        self.add_widget(grid)

    def _open(self, slot: int, reason: str) -> None:
        self.asked("open_slot", {"slot": slot, "reason": reason})
        self.controller.staff_open_slot(slot, reason)
        self.menu()

    def _clear_fault(self, slot: str) -> None:
        self.asked("clear_fault", {"slot": int(slot)})
        self.controller.staff_clear_fault(int(slot))
        self.menu()
