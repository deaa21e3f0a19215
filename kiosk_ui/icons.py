"""Icons drawn with Kivy canvas instructions (no image files to go missing): a shape for
every kind of state, so the meaning never depends on colour alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.properties import StringProperty
from kivy.uix.widget import Widget


class Icon(Widget):
    """A white line icon in a circle; ``kind`` picks the shape."""

    kind = StringProperty("card")

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.bind(pos=self._draw, size=self._draw, kind=self._draw)

    def _draw(self, *_: object) -> None:
        self.canvas.clear()
        s = min(self.width, self.height)
        x0, y0 = self.center_x - s / 2, self.center_y - s / 2
        w = max(s * 0.07, 3)

        def p(fx: float, fy: float) -> tuple[float, float]:
            return x0 + fx * s, y0 + fy * s

        with self.canvas:
            Color(1, 1, 1, 1)
            Line(circle=(self.center_x, self.center_y, s * 0.47), width=w * 0.6)
            SHAPES.get(self.kind, _card)(Frame(p, s, w, self.center_x, y0))


@dataclass(frozen=True)
class Frame:
    """Where an icon's shape is drawn: ``p`` maps fractions of the icon to the screen,
    ``s`` is its size and ``w`` its line width."""

    p: Callable[[float, float], tuple[float, float]]
    s: float
    w: float
    center_x: float
    y0: float


def _tick(f: Frame) -> None:
    p, w = f.p, f.w
    Line(points=[*p(.25, .52), *p(.43, .33), *p(.76, .68)], width=w)


def _cross(f: Frame) -> None:
    p, w = f.p, f.w
    Line(points=[*p(.3, .3), *p(.7, .7)], width=w)
    Line(points=[*p(.3, .7), *p(.7, .3)], width=w)


def _clock(f: Frame) -> None:
    p, w = f.p, f.w
    Line(points=[*p(.5, .5), *p(.5, .78)], width=w)
    Line(points=[*p(.5, .5), *p(.7, .4)], width=w)


def _lock(f: Frame) -> None:
    p, s, w = f.p, f.s, f.w
    Line(rectangle=(*p(.3, .22), s * .4, s * .3), width=w * .8)
    Line(circle=(f.center_x, f.y0 + s * .55, s * .13, -90, 90), width=w * .8)
    Ellipse(pos=p(.46, .32), size=(s * .08, s * .08))


def _heart(f: Frame) -> None:
    p, s, w = f.p, f.s, f.w
    Ellipse(pos=p(.27, .45), size=(s * .25, s * .25))
    Ellipse(pos=p(.48, .45), size=(s * .25, s * .25))
    Line(points=[*p(.3, .52), *p(.5, .25), *p(.7, .52)], width=w * 1.3)


def _question(f: Frame) -> None:
    p, s, w = f.p, f.s, f.w
    Line(circle=(f.center_x, f.y0 + s * .62, s * .14, -90, 180), width=w)
    Line(points=[*p(.5, .48), *p(.5, .38)], width=w)
    Ellipse(pos=p(.46, .2), size=(s * .08, s * .08))


def _fire(f: Frame) -> None:
    """A flame, so the fire alarm never looks like a fault."""
    p, w = f.p, f.w
    for side in (-1, 1):
        def q(dx: float, fy: float, side: int = side) -> tuple[float, float]:
            return p(.5 + side * dx, fy)
        Line(bezier=[*q(0, .16), *q(.34, .16), *q(.22, .58), *q(0, .84)], width=w * .8)
        Line(bezier=[*q(0, .24), *q(.15, .24), *q(.1, .44), *q(0, .56)], width=w * .6)


def _warning(f: Frame) -> None:
    p, s, w = f.p, f.s, f.w
    Line(points=[*p(.5, .8), *p(.2, .25), *p(.8, .25)], close=True, width=w * .8)
    Line(points=[*p(.5, .65), *p(.5, .42)], width=w)
    Ellipse(pos=p(.465, .29), size=(s * .07, s * .07))


def _card(f: Frame) -> None:
    """A school card over a reader (also what an unknown ``kind`` shows)."""
    p, s, w = f.p, f.s, f.w
    Line(rectangle=(*p(.25, .32), s * .5, s * .34), width=w * .7)
    Rectangle(pos=p(.3, .55), size=(s * .16, s * .05))


# Each kind of icon and the shape drawn inside its circle.
SHAPES: dict[str, Callable[[Frame], None]] = {
    "tick": _tick, "cross": _cross, "clock": _clock, "lock": _lock, "heart": _heart,
    "question": _question, "fire": _fire, "warning": _warning, "card": _card,
}
