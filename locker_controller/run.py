"""Start a kiosk process: hardware from config (real or sim), the controller, signals."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from pathlib import Path

from firmware_py.board import BoardConfig, build_hardware
from firmware_py.errors import FirmwareError
from firmware_py.nfc import ReaderSpec
from locker_controller.controller import Controller
from locker_controller.errors import ControllerError
from locker_controller.link import LinkDown
from lockers.kiosk_config import KioskConfig, ReaderConfig, load_kiosk_config

log = logging.getLogger("lockers.kiosk")


def build_controller(config: KioskConfig, sim: bool) -> tuple[Controller, object | None]:
    """The controller and, in sim mode, its :class:`SimWorld`."""
    try:
        hardware = build_hardware(
            BoardConfig(config.pinmap, [ReaderSpec(r.role, r.name) for r in config.readers],
                        pulse_s=config.relays.pulse_s, max_coils=config.relays.max_coils,
                        relay_max_on_s=config.relays.max_on_s,
                        tap_hold_off_s=config.tap_hold_off_s),
            sim=sim)
    except FirmwareError as exc:
        raise ControllerError(str(exc)) from None
    world = None
    if sim:
        from firmware_py.sim.world import SimWorld

        world = SimWorld(hardware)
    return Controller(config, hardware), world


def _cut_network(controller: Controller, after_s: float, for_s: float) -> None:
    """Sim: drop the broker connection for a while, as a pulled cable would."""
    link = controller.link
    assert link is not None

    def cut() -> None:
        log.warning("event=sim_network_cut seconds=%s", for_s)
        # No DISCONNECT packet, as with a pulled cable: the broker publishes the last will.
        link.client.loop_stop()
        sock = link.client.socket()
        if sock is not None:
            sock.close()
        link.connected = False
        controller.inbox.put(LinkDown("network cut (sim)"))
        threading.Timer(for_s, restore).start()

    def restore() -> None:
        log.warning("event=sim_network_back")
        link.client.reconnect()
        link.client.loop_start()

    threading.Timer(after_s, cut).start()


def run_kiosk(config_path: Path, sim: bool, sim_pupils: bool, ui: bool,
              forget_door: tuple[int, float] | None = None,
              network_cut: tuple[float, float] | None = None) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = load_kiosk_config(config_path)
    pcscd = None
    if sim and "PCSCLITE_CSOCK_NAME" not in os.environ:
        from firmware_py.sim.pcscd import IsolatedPcscd

        pcscd = IsolatedPcscd(config.state_dir / "pcscd")
        pcscd.start()
        os.environ.update(pcscd.environ())
        # The virtual readers stand in for the configured ones, in order (two at most).
        config.readers = [ReaderConfig(role=r.role, name=name)
                          for r, name in zip(config.readers, pcscd.reader_names, strict=False)]
        # Tell whoever plays the cards where the virtual readers listen.
        (config.state_dir / "vpcd.json").write_text(json.dumps(
            {"ports": pcscd.ports, "readers": [r.role for r in config.readers]}))
    controller, world = build_controller(config, sim)
    pupils = None
    if world is not None and sim_pupils:
        from firmware_py.sim.pupils import SimPupils

        pupils = SimPupils(world)  # type: ignore[arg-type]
        if forget_door:
            pupils.forget_nth, pupils.forget_s = forget_door
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller.start()
    if pupils is not None:
        pupils.start()
    if sim and network_cut and controller.link is not None:
        _cut_network(controller, *network_cut)
    try:
        if ui:
            from kiosk_ui.app import run_app  # the screen runs on the main thread

            run_app(controller, stop)
        else:
            stop.wait()
    finally:
        if pupils is not None:
            pupils.stop()
        controller.stop()
        if pcscd is not None:
            pcscd.stop()
    return 0
