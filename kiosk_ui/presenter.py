"""What the screen shows, decided without Kivy: a pure mapping from the controller's
results and view to a :class:`Panel` (tone, icon, words, highlighted locker).

Every state has a colour *and* an icon *and* words, so no one depends on telling red from
green."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kiosk_ui.strings import text
from locker_controller.api import (
    AlarmKind,
    KioskMode,
    KioskView,
    StaffResult,
    TapOutcome,
    TapResult,
)

# tone -> background colour (RGBA); chosen for contrast with white text (WCAG AA at 40 px).
TONES = {
    "ready": (0.13, 0.20, 0.33, 1),
    "ok": (0.05, 0.45, 0.22, 1),
    "info": (0.10, 0.32, 0.62, 1),
    "wait": (0.45, 0.30, 0.02, 1),
    "stop": (0.62, 0.10, 0.10, 1),
    "care": (0.38, 0.18, 0.55, 1),
    "alarm": (0.75, 0.05, 0.05, 1),
}


MAP_COLS = 4  # the locker map: lockers across, in number order
MAP_ROWS = 5  # the map's height: 20 lockers, each big enough for a three-digit number


@dataclass(frozen=True)
class Panel:
    """One screen's content."""

    key: str
    tone: str
    icon: str  # tick, cross, clock, lock, heart, question, warning, fire, card
    title: str
    body: str
    slot: int | None = None
    hold_s: float = 6.0  # back to "ready" after this long
    pin_pad: bool = False


OUTCOMES: dict[TapOutcome, tuple[str, str, str]] = {
    TapOutcome.DEPOSIT_OPENED: ("deposit_opened", "ok", "tick"),
    TapOutcome.RELEASE_OPENED: ("release_opened", "ok", "tick"),
    TapOutcome.EARLY_RELEASE_OPENED: ("early_release_opened", "ok", "tick"),
    TapOutcome.NOT_RELEASE_TIME: ("not_release_time", "wait", "clock"),
    TapOutcome.HELD: ("held", "stop", "lock"),
    TapOutcome.EXEMPT: ("exempt", "care", "heart"),
    TapOutcome.UNKNOWN_CARD: ("unknown_card", "stop", "question"),
    TapOutcome.ALREADY_DEPOSITED: ("already_deposited", "ok", "tick"),
    TapOutcome.NOTHING_TO_COLLECT: ("nothing_to_collect", "info", "question"),
    TapOutcome.NO_FREE_SLOT: ("no_free_slot", "stop", "cross"),
    TapOutcome.SLOT_UNAVAILABLE: ("slot_unavailable", "stop", "cross"),
    TapOutcome.KIOSK_CLOSED: ("kiosk_closed", "stop", "cross"),
    TapOutcome.CLOCK_UNSURE: ("clock_unsure", "wait", "clock"),
    TapOutcome.STAFF_CARD: ("staff_card", "info", "card"),
}


def ready(language: str = "en") -> Panel:
    """The resting screen."""
    return Panel("ready", "ready", "card", text("ready", "title", language),
                 text("ready", "body", language), hold_s=0)


def for_tap(result: TapResult, language: str = "en", restoring: bool = False) -> Panel:
    """The panel for a tap's outcome (``restoring``: the kiosk waits for its records, so
    "full" means "not yet")."""
    key, tone, icon = OUTCOMES[result.outcome]
    if key == "no_free_slot" and restoring:
        key = "no_free_slot_restoring"
    if key == "not_release_time" and result.opens_at is None:
        key = "not_release_time_no_time"
    values = {"name": result.first_name or "", "slot": result.slot,
              "time": result.opens_at.strftime("%H:%M") if result.opens_at else ""}
    title = text(key, "title", language, **values).replace(", !", "!").strip(", ")
    body = text(key, "body", language, **values)
    if not result.first_name:  # never leave "Hi !" on the screen
        body = body.replace("Hi !", "Hello!").replace(", ,", ",").replace(" , ", " ")
    where = where_lines(result, language)
    if where:
        body = f"{body}\n{where}"
    # Only a locker that is open for this pupil is lit: one opening now, or their own still
    # open from a moment ago. A held or not-yet one is never shown as if it were open.
    opens_door = result.outcome.value.endswith("_opened") or \
        result.outcome is TapOutcome.ALREADY_DEPOSITED
    return Panel(key, tone, icon, title, body, slot=result.slot if opens_door else None,
                 hold_s=10.0 if opens_door else 6.0, pin_pad=key == "staff_card")


def where_lines(result: TapResult, language: str = "en") -> str:
    """Where the pupil's devices are, in words: another kiosk's locker, or how a held device
    comes back. Empty when the kiosk was told nothing."""
    lines = []
    for where in result.elsewhere:
        if where.held:
            key = {"parent_or_carer": "held_parent", "office": "held_office"}.get(
                where.back, "held_window")
            lines.append(text("where", key, language))
        elif where.kiosk_name or where.kiosk:
            name = where.kiosk_name or where.kiosk
            lines.append(text("where", "at_kiosk" if where.slot else "at_kiosk_no_slot",
                              language, kiosk=name, slot=where.slot))
    return "\n".join(dict.fromkeys(lines))  # one line per distinct message


def for_view(view: KioskView, language: str = "en") -> Panel | None:
    """A panel that must stay up while a condition lasts (fire, fault), else None."""
    if view.fire_alarm:
        return Panel("fire", "alarm", "fire", text("fire", "title", language),
                     text("fire", "body", language), hold_s=0)
    if not view.readers_ok or view.mode == KioskMode.MAINTENANCE:
        return Panel("fault", "alarm", "warning", text("fault", "title", language),
                     text("fault", "body", language), hold_s=0)
    if view.staff_mode and view.enrol_waiting:
        return Panel("enrol_waiting", "info", "card", text("enrol_waiting", "title", language),
                     text("enrol_waiting", "body", language), hold_s=0)
    left_open = [slot for kind, slot in view.alarms if kind is AlarmKind.DOOR_LEFT_OPEN]
    if left_open:
        return Panel("door_left_open", "wait", "warning",
                     text("door_left_open", "title", language, slot=left_open[0]),
                     text("door_left_open", "body", language), slot=left_open[0], hold_s=0)
    return None


def offline_banner(view: KioskView, language: str = "en") -> str:
    """The banner shown while the kiosk works without the server, or waits for its records."""
    if view.awaiting_picture:
        return text("offline", "restoring", language)
    return "" if view.online else text("offline", "banner", language)


def doors_line(view: KioskView, language: str = "en") -> str:
    """Which lockers are open for pupils right now, in words (so the queue keeps moving)."""
    open_now = sorted(set(view.open_for_deposit) | set(view.open_for_release))
    if not open_now:
        return ""
    if len(open_now) > 4:  # a list of numbers this long is read by no one
        return text("doors", "many", language, count=len(open_now))
    words = ", ".join(map(str, open_now[:-1]))
    slots = f"{words} {text('doors', 'and', language)} {open_now[-1]}" if words else open_now[0]
    return text("doors", "one" if len(open_now) == 1 else "some", language, slots=slots)


def for_staff(result: StaffResult, asked: dict[str, Any], language: str = "en") -> Panel:
    """The panel after a staff action: the school's words for what happened, with the
    kiosk's own sentence as detail (a refusal says why). ``asked`` is what staff entered."""
    detail = re.sub(r"\bslot\b", "locker", result.message)  # the controller says "slot"
    # "Locker 3 is open for Kai" under a title naming locker 3: keep only "For Kai".
    detail = detail.removeprefix(f"locker {result.slot} is open ")
    detail = detail[:1].upper() + detail[1:]
    values = {"slot": result.slot if result.slot is not None else asked.get("slot", ""),
              "detail": detail, "ref": asked.get("ref", ""), "reason": asked.get("reason", "")}
    if not result.ok:
        title = text("staff_result", "login_failed" if result.action == "login" else "failed",
                     language)
        body = "login_failed_body" if result.action == "login" else "failed_body"
        return Panel(f"staff_{result.action}_refused", "stop", "cross", title,
                     text("staff_result", body, language, **values), hold_s=6)
    key = result.action if result.action != "login" else "logout"
    title = text("staff_result", key, language, **values)
    body = text("staff_result", f"{key}_body", language, **values)
    opened = result.action in ("assisted_hand_in", "confiscated_hand_in", "open_slot")
    return Panel(f"staff_{result.action}", "ok", "tick", title, body,
                 slot=result.slot if opened else None, hold_s=8 if opened else 5)


def map_window(numbers: list[int], lit: int, cols: int = MAP_COLS,
               max_rows: int = MAP_ROWS) -> list[int]:
    """The locker map's lockers: a bank of 300 is unreadable on a 7-inch screen, so the map
    shows a window of it: whole rows of ``cols`` in number order, ``lit`` in the middle row
    where the bank allows (the whole bank when it fits)."""
    numbers = sorted(numbers)
    rows = -(-len(numbers) // cols)
    if rows <= max_rows:
        return numbers
    row = numbers.index(lit) // cols if lit in numbers else 0
    first = max(0, min(row - max_rows // 2, rows - max_rows))
    return numbers[first * cols:(first + max_rows) * cols]
