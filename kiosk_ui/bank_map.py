"""The numbered locker map beside an open locker's words.

A pupil reads the big number in the title first; the map shows where that locker is among its
neighbours. A bank of 300 cannot be drawn readably on a 7-inch screen, so the map shows a window
of the bank (a few rows around the lit locker), every locker with its number, and says which
lockers the window holds. Only the locker that is opening for this pupil is lit: a held or
someone else's locker looks like any other, so no one goes and pulls the wrong door.
"""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Line, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk_ui.presenter import MAP_COLS as COLS
from kiosk_ui.presenter import map_window as window
from kiosk_ui.strings import text

LIT = (1, 0.85, 0, 1)  # amber fill with near-black numbers: 12:1 contrast
INK = (0.08, 0.08, 0.08, 1)


class _Cells(Widget):
    """The grid of numbered cells (numbers are child labels, drawn over the canvas)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.shown: list[int] = []
        self.lit: int | None = None
        self.bind(pos=self._layout, size=self._layout)

    def show(self, numbers: list[int], lit: int | None) -> None:
        self.shown, self.lit = numbers, lit
        self._layout()

    def _layout(self, *_: object) -> None:
        self.canvas.before.clear()
        self.clear_widgets()
        if not self.shown:
            return
        rows = -(-len(self.shown) // COLS)
        cw = self.width / COLS
        ch = min(self.height / max(rows, 1), cw * 1.1)  # a small bank keeps square-ish doors
        top = self.top - (self.height - ch * rows) / 2
        lit_cell: tuple[float, float, float, float] | None = None
        for i, number in enumerate(self.shown):
            c, r = i % COLS, i // COLS
            x, y = self.x + c * cw + 3, top - (r + 1) * ch + 3
            w, h = cw - 6, ch - 6
            if number == self.lit:
                lit_cell = (x, y, w, h)
                continue
            with self.canvas.before:
                Color(1, 1, 1, 0.12)
                Rectangle(pos=(x, y), size=(w, h))
                Color(1, 1, 1, 0.55)
                Line(rectangle=(x, y, w, h), width=1)
            self.add_widget(Label(text=str(number), pos=(x, y), size=(w, h),
                                  font_size=min(h * 0.45, w * 0.38), color=(1, 1, 1, 1)))
        if lit_cell is not None:  # drawn last and larger, over its neighbours' edges
            x, y, w, h = lit_cell
            grow = min(w, h) * 0.18
            self.add_widget(_LitCell(str(self.lit), pos=(x - grow, y - grow),
                                     size=(w + 2 * grow, h + 2 * grow)))


class _LitCell(Label):
    """The locker that is open for you: amber, outlined, its number large."""

    def __init__(self, number: str, **kw: Any) -> None:
        super().__init__(text=number, bold=True, color=INK, **kw)
        self.font_size = min(self.height * 0.55, self.width * 0.42)
        with self.canvas.before:
            Color(1, 1, 1, 1)
            Rectangle(pos=(self.x - 4, self.y - 4), size=(self.width + 8, self.height + 8))
            Color(*LIT)
            Rectangle(pos=self.pos, size=self.size)


class BankMap(BoxLayout):
    """A caption ("Lockers 281 to 300") over the numbered window of the bank."""

    def __init__(self, language: str = "en", **kw: Any) -> None:
        super().__init__(orientation="vertical", spacing=4, **kw)
        self.language = language
        self.caption = Label(text="", font_size=20, size_hint_y=None, height=28)
        self.cells = _Cells()
        self.add_widget(self.caption)
        self.add_widget(self.cells)

    def show(self, numbers: list[int], lit: int | None) -> None:
        """Show the window of ``numbers`` around ``lit`` (nothing when no locker is lit)."""
        if lit is None or not numbers:
            self.caption.text = ""
            self.cells.show([], None)
            return
        shown = window(numbers, lit)
        whole = len(shown) == len(numbers)
        self.caption.text = "" if whole else text("map", "caption", self.language,
                                                 first=shown[0], last=shown[-1])
        self.cells.show(shown, lit)
