"""Plan a school's kiosks from its numbers: the fewest kiosks and readers whose p95 queue
wait stays under the school's target at both the morning rush and home time (by the rush
model), and the slots, lock boards and power supplies they need.

Assumptions, stated so a school can argue with them: pupils come in evenly through the
entrances, kiosks are shared out between them and pupils join the shortest queue at theirs;
one slot per pupil plus a spare share; at most 300 slots per kiosk (seven 48-channel boards
on one RS-485 bus, see hardware/README.md); the rush model's default human times (launcher/rush.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from launcher.rush import RushParams, SoftwareShare, software_share

BOARD_CHANNELS = 48
MAX_SLOTS_PER_KIOSK = 300
MAX_READERS_PER_KIOSK = 3
LOCK_A, BOARD_LOGIC_A = 1.0, 0.15  # worst-case solenoid; a board's own draw at 12 V
LOCK_SUPPLY_SIZES_A = (5, 10, 15, 20)  # common 12 V DIN-rail supplies


class PlanError(ValueError):
    """School numbers that cannot be planned, with what to change."""


@dataclass(frozen=True)
class SchoolNumbers:
    """What a school knows about itself."""

    pupils: int
    arrival_window_min: float = 20
    entrances: int = 1
    p95_target_s: float = 30
    home_window_min: float = 10  # classrooms emptying after the bell
    spare_slots: float = 0.05  # slots beyond one a pupil: a stuck lock, a new pupil
    max_coils: int = 4


@dataclass(frozen=True)
class KioskPlan:
    """What a school needs, and the rush model's verdict on it."""

    school: SchoolNumbers
    kiosks: int
    readers_per_kiosk: int
    slots_per_kiosk: int
    morning: SoftwareShare
    home: SoftwareShare

    @property
    def boards_per_kiosk(self) -> int:
        """48-channel lock boards on each kiosk's bus."""
        return math.ceil(self.slots_per_kiosk / BOARD_CHANNELS)

    @property
    def lock_supply_a(self) -> int:
        """The 12 V supply each kiosk needs: the coil limit's solenoids plus the boards'
        logic, with a quarter margin, rounded up to a common size."""
        need = (self.school.max_coils * LOCK_A + self.boards_per_kiosk * BOARD_LOGIC_A) * 1.25
        return next((s for s in LOCK_SUPPLY_SIZES_A if s >= need), LOCK_SUPPLY_SIZES_A[-1])

    @property
    def meets_target(self) -> bool:
        """Whether both sessions keep the p95 wait under the target."""
        target = self.school.p95_target_s
        return self.morning.actual.p95 <= target and self.home.actual.p95 <= target


def _sessions(school: SchoolNumbers, kiosks: int, readers: int) -> tuple[SoftwareShare,
                                                                          SoftwareShare]:
    base = RushParams(pupils=school.pupils, kiosks=kiosks, readers_per_kiosk=readers,
                      entrances=school.entrances, window_s=school.arrival_window_min * 60,
                      max_coils=school.max_coils)
    morning = software_share(base)
    home = software_share(replace(base, session="home", window_s=school.home_window_min * 60))
    return morning, home


def plan_school(school: SchoolNumbers, *, most_kiosks: int = 40) -> KioskPlan:
    """The cheapest layout (fewest kiosks, then fewest readers) meeting the target."""
    if school.pupils < 1 or school.entrances < 1:
        raise PlanError("a plan needs at least one pupil and one entrance")
    if school.p95_target_s <= 0:
        raise PlanError("the p95 queue target must be a positive number of seconds")
    slots = math.ceil(school.pupils * (1 + school.spare_slots))
    fewest = max(school.entrances, math.ceil(slots / MAX_SLOTS_PER_KIOSK))
    for kiosks in range(fewest, max(fewest, most_kiosks) + 1):
        for readers in range(1, MAX_READERS_PER_KIOSK + 1):
            morning, home = _sessions(school, kiosks, readers)
            candidate = KioskPlan(school, kiosks, readers, math.ceil(slots / kiosks), morning,
                                  home)
            if candidate.meets_target:
                return candidate
    raise PlanError(f"no layout up to {most_kiosks} kiosks keeps the p95 queue wait under "
                    f"{school.p95_target_s:.0f} s: widen the arrival or home-time window, or "
                    "raise the target")


def table(plan: KioskPlan) -> list[tuple[str, str]]:
    """The plan as (what, how many) rows."""
    m, h = plan.morning, plan.home
    return [
        ("kiosks", f"{plan.kiosks} (at least one per entrance: {plan.school.entrances})"),
        ("readers per kiosk", str(plan.readers_per_kiosk)),
        ("slots per kiosk", f"{plan.slots_per_kiosk} ({plan.kiosks * plan.slots_per_kiosk} "
                            f"in all for {plan.school.pupils} pupils)"),
        ("48-channel lock boards per kiosk", str(plan.boards_per_kiosk)),
        ("12 V lock supply per kiosk", f"{plan.lock_supply_a} A"),
        ("morning queue wait p50 / p95 / max",
         f"{m.actual.p50:.1f} / {m.actual.p95:.1f} / {m.actual.max_wait:.1f} s"),
        ("home-time queue wait p50 / p95 / max",
         f"{h.actual.p50:.1f} / {h.actual.p95:.1f} / {h.actual.max_wait:.1f} s"),
        ("doors open at once (morning / home)",
         f"{m.actual.most_doors_open} / {h.actual.most_doors_open}"),
        ("software's share of the p95 wait (morning / home)",
         f"{m.p95_s:.3f} / {h.p95_s:.3f} s"),
    ]


def bill_of_materials(plan: KioskPlan) -> list[tuple[int, str, str]]:
    """(quantity, part, why) for the whole school."""
    k, slots = plan.kiosks, plan.kiosks * plan.slots_per_kiosk
    boards = k * plan.boards_per_kiosk
    return [
        (k, "Raspberry Pi 4 Model B 2 GB (or Pi 5) + 7\" touchscreen + case + 32 GB SD",
         "one kiosk computer per kiosk"),
        (k * plan.readers_per_kiosk, "ACS ACR122U contactless reader", "readers the queue needs"),
        (k, "USB to RS-485 adapter (FTDI or CH340, with 120 ohm termination)",
         "one lock-board bus per kiosk"),
        (boards, "48-channel Modbus RTU lock control board, 12 V, door-feedback inputs",
         f"{plan.boards_per_kiosk} per kiosk, addresses 1-{plan.boards_per_kiosk}"),
        (slots, "12 V fail-secure cabinet solenoid lock with key override", "one per slot"),
        (slots, "reed switch (normally open) + magnet", "door feedback, one per slot"),
        (k, f"12 V {plan.lock_supply_a} A DIN-rail supply",
         f"locks within the coil limit ({plan.school.max_coils}) plus the boards"),
        (k, "official 5.1 V 3 A Raspberry Pi supply", "the Pi, screen and readers"),
        (k, "twisted-pair RS-485 cable (e.g. Belden 3105A), 1 run per bank", "A/B + ground"),
    ]
