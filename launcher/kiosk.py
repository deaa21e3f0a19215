"""Start a kiosk process: hardware from config (real or sim), the controller, its screen if
asked for, signals. Sim faults (a network cut) are passed in from :mod:`launcher.faults`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

from firmware_py.board import BoardConfig, build_hardware
from firmware_py.errors import FirmwareError
from firmware_py.nfc import ReaderSpec
from launcher.faults import CuttableLink
from launcher.kiosk_script import KioskScript
from locker_controller.controller import Controller, LinkFactory, server_link
from locker_controller.errors import ControllerError
from lockers.clock import Clock
from lockers.kiosk_config import KioskConfig, ReaderConfig, load_kiosk_config

log = logging.getLogger("lockers.kiosk")


def build_controller(config: KioskConfig, sim: bool, clock: Clock | None = None,
                     link_factory: LinkFactory = server_link, connect: bool = True
                     ) -> tuple[Controller, Any]:
    """The controller and, in sim mode, its :class:`SimWorld` (None otherwise).
    ``connect=False``: no network at all (benchmarks of the kiosk alone)."""
    try:
        hardware = build_hardware(
            BoardConfig(config.pinmap, [ReaderSpec(r.role, r.name) for r in config.readers],
                        pulse_s=config.relays.pulse_s, max_coils=config.relays.max_coils,
                        relay_max_on_s=config.relays.max_on_s,
                        tap_hold_off_s=config.tap_hold_off_s, boardmap=config.boardmap,
                        serial_port=config.serial.port,
                        serial_baudrate=config.serial.baudrate),
            sim=sim)
    except FirmwareError as exc:
        raise ControllerError(str(exc)) from None
    world = None
    if sim and config.boardmap is None:  # boards' sim twins have sprung doors of their own
        from firmware_py.sim.world import SimWorld

        world = SimWorld(hardware)
    return Controller(config, hardware, clock=clock, link_factory=link_factory,
                      connect=connect), world


def run_kiosk(config_path: Path, sim: bool, sim_pupils: bool, ui: bool,
              forget_door: tuple[int, float] | None = None,
              network_cut: tuple[float, float] | None = None,
              script: Path | None = None) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code. Whatever it started is stopped on the
    way out, a failed start included (no pcscd is left behind)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = load_kiosk_config(config_path)
    with contextlib.ExitStack() as started:
        if sim and "PCSCLITE_CSOCK_NAME" not in os.environ:
            _start_sim_readers(config, started)
        cuttable = CuttableLink() if sim and network_cut else None
        controller, world = build_controller(config, sim, link_factory=cuttable or server_link)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        controller.start()
        started.callback(controller.stop)
        if world is not None and sim_pupils:
            from firmware_py.sim.pupils import SimPupils

            pupils = SimPupils(world)
            if forget_door:
                pupils.forget_nth, pupils.forget_s = forget_door
            pupils.start()
            started.callback(pupils.stop)
        if cuttable is not None and network_cut is not None:
            cuttable.cut_later(*network_cut)
        if sim and script is not None:
            played = KioskScript.from_file(controller, script)
            played.start()
            started.callback(played.stop)
        if ui:
            from kiosk_ui.app import run_app  # the screen runs on the main thread

            run_app(controller, stop)
        else:
            stop.wait()
    return 0


def _start_sim_readers(config: KioskConfig, started: contextlib.ExitStack) -> None:
    """Sim: an isolated pcscd with vpcd's virtual readers standing in for the configured ones
    (two at most, in order), and a note of where they listen for whoever plays the cards."""
    from firmware_py.sim.pcscd import IsolatedPcscd

    pcscd = IsolatedPcscd(config.state_dir / "pcscd")
    pcscd.start()
    started.callback(pcscd.stop)
    os.environ.update(pcscd.environ())
    config.readers = [ReaderConfig(role=r.role, name=name)
                      for r, name in zip(config.readers, pcscd.reader_names, strict=False)]
    (config.state_dir / "vpcd.json").write_text(json.dumps(
        {"ports": pcscd.ports, "readers": [r.role for r in config.readers]}))
