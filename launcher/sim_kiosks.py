"""The simulator's kiosks: a real controller each, its locks on mock GPIO pins (a pin map) or
on lock-control boards answering over a socat pty pair (a board map), and the simulated
pupils who open and shut its doors."""

from __future__ import annotations

import queue
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locker_controller.api import KioskPort

REPO = Path(__file__).resolve().parents[1]
SIM_PINMAP = REPO / "hardware" / "pinmaps" / "sim60.toml"


@dataclass
class SimKiosk:
    """One simulated kiosk: its controller, the tap results it shows, its pupils at the doors
    and the network the simulator can cut."""

    controller: KioskPort
    results: queue.Queue[Any]
    pupils: Any
    network: Any
    key: str = ""


@dataclass(frozen=True)
class KioskPlan:
    """How to build one simulated kiosk."""

    site: str
    kiosk: str
    key: str
    state_dir: Path
    broker_port: int
    username: str
    password: str
    doors_at_once: int
    speed: float
    seed: int
    boardmap: Path | None = None  # None: 60 slots on mock pins and sim I2C expanders


def boardmap_slots(boardmap: Path) -> int:
    """How many slots a board map wires (the server is told the same number)."""
    from firmware_py.boardmap import load_boardmap

    return len(load_boardmap(boardmap).slots)


def sim_boardmap(boardmap: Path, folder: Path, timeout_s: float = 2.0) -> Path:
    """The board map as the simulator uses it: the same boards and wiring, with the bus
    timeout raised to ``timeout_s``. The boards' twin answers from the simulator's own
    process, which shares two busy cores with five kiosks, a broker and a server; a reply
    100 ms late there is the machine, not the bus (a real board answers in milliseconds).
    1 s was still exceeded once on two cores with two CPU hogs beside the test suite, so the
    twin gets the board map's largest allowed timeout. Faults still raised are counted in the
    day's report."""
    text = boardmap.read_text()
    raised, n = re.subn(r"(?m)^timeout_s\s*=.*$", f"timeout_s = {timeout_s}", text, count=1)
    if n == 0:
        raised = text.replace("[bus]\n", f"[bus]\ntimeout_s = {timeout_s}\n", 1)
    out = folder / boardmap.name
    out.write_text(raised)
    return out


def start_sim_kiosk(plan: KioskPlan, clock: Any) -> SimKiosk:
    """Build, start and return one kiosk with its simulated pupils."""
    from launcher.faults import CuttableLink
    from launcher.kiosk import build_controller
    from locker_controller.api import TapResult
    from lockers.kiosk_config import BrokerConfig, KioskConfig, RelayConfig

    speed = plan.speed
    config = KioskConfig(
        site=plan.site, kiosk=plan.kiosk, card_key=plan.key, state_dir=plan.state_dir,
        pinmap=SIM_PINMAP, boardmap=plan.boardmap,  # with a board map the pin map is unused
        relays=RelayConfig(pulse_s=0.5 / max(speed / 10, 1), max_coils=plan.doors_at_once,
                           max_on_s=3.0),
        broker=BrokerConfig(host="127.0.0.1", port=plan.broker_port, username=plan.username,
                            password=plan.password, reconnect_max_s=2),
        readers=[], tap_hold_off_s=0.0,
        # Timers run on the scaled clock: give a pupil (a thread on a busy machine) real
        # seconds to pull a released door, as a real pupil has eight. Five were too few: with
        # two CPU hogs beside the test suite, the whole machine stalled that long once, and
        # doors that popped open after it counted as "did not open" then "forced open".
        door_open_timeout_s=max(8.0, 15.0 * speed),
        clock_checks=False,  # simulated time runs ahead of the server's real clock
        command_ack_timeout_s=max(8.0, 5.0 * speed))
    network = CuttableLink()
    controller, world = build_controller(config, sim=True, clock=clock, link_factory=network)
    results: queue.Queue[Any] = queue.Queue()
    controller.subscribe(lambda r: results.put(r) if isinstance(r, TapResult) else None)
    pupils = _pupils(controller, world, plan)
    controller.start()
    pupils.start()
    return SimKiosk(controller, results, pupils, network, plan.key)


def _pupils(controller: Any, world: Any, plan: KioskPlan) -> Any:
    """The pupils at the kiosk's doors: on mock pins they pull the doors open themselves; on
    boards the sprung doors pop open and the pupils shut them."""
    if world is not None:
        from firmware_py.sim.pupils import SimPupils

        return SimPupils(world, open_after_s=2.0, close_after_s=6.0, seed=plan.seed,
                         speed=plan.speed)
    from firmware_py.sim.board_pupils import BoardPupils

    hardware = controller.hardware
    return BoardPupils(hardware.extras["sim_boards"], hardware.bank.door_open,
                       close_after_s=6.0, seed=plan.seed, speed=plan.speed)
