"""On-screen keypads for a touchscreen with no keyboard: the staff PIN, a pupil reference
(letters, digits and a dash) and a locker number. Keys are big enough for a thumb on an
800x480 screen; a PIN is never shown, only dots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from kiosk_ui.strings import text

# Key roles other than a character; their labels come from the strings file.
OK, CLEAR, DELETE = "ok", "clear", "delete"

PIN_KEYS = [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], [CLEAR, "0", OK]]
NUMBER_KEYS = [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], [DELETE, "0", OK]]
REFERENCE_KEYS = [list("1234567890"), list("QWERTYUIOP"), [*"ASDFGHJKL", "-"],
                  [*"ZXCVBNM", DELETE, CLEAR, OK]]


class KeyPad(BoxLayout):
    """What has been typed, over a grid of keys; ``on_ok`` gets the entry when OK is pressed
    with something typed."""

    def __init__(self, keys: list[list[str]], on_ok: Callable[[str], None], language: str,
                 masked: bool = False, max_len: int = 16, **kw: Any) -> None:
        super().__init__(orientation="vertical", spacing=6, **kw)
        self.on_ok, self.masked, self.max_len = on_ok, masked, max_len
        self.entered = ""
        self.display = Label(text="", font_size=40, bold=True, size_hint_y=None, height=52)
        self.add_widget(self.display)
        grid = GridLayout(cols=len(keys[0]), spacing=6)
        wide = len(keys[0]) > 5
        for key in (k for row in keys for k in row):
            label = key if len(key) == 1 else text("staff", key, language)
            b = Button(text=label, font_size=(26 if wide else 34) if len(key) == 1 else 20,
                       bold=key == OK)
            b.role = key  # what the key does, whatever its label says in this language
            b.bind(on_release=self._press)
            grid.add_widget(b)
        self.add_widget(grid)

    def _press(self, button: Button) -> None:
        role = button.role
        if role == OK:
            if self.entered:
                entered, self.entered = self.entered, ""
                self.on_ok(entered)
        elif role == CLEAR:
            self.entered = ""
        elif role == DELETE:
            self.entered = self.entered[:-1]
        else:
            self.entered = (self.entered + role)[:self.max_len]
        self.display.text = "•" * len(self.entered) if self.masked else self.entered


def pin_pad(on_pin: Callable[[str], None], language: str) -> KeyPad:
    """The staff PIN pad (digits only, shown as dots)."""
    return KeyPad(PIN_KEYS, on_pin, language, masked=True, max_len=8)
