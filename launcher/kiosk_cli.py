"""``lockers kiosk``: run a kiosk controller. Imports only click at load time."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("kiosk")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The kiosk's TOML config (see hardware/kiosk.example.toml).")
@click.option("--sim", is_flag=True,
              help="Mock pins and vpcd virtual readers (an isolated pcscd is started unless "
                   "PCSCLITE_CSOCK_NAME points at one): the demo and tests.")
@click.option("--sim-pupils/--no-sim-pupils", default=False,
              help="In sim mode, simulated pupils open and shut released doors.")
@click.option("--ui", is_flag=True, help="Also open the kiosk screen (Kivy).")
@click.option("--sim-forget-door", type=(int, float), default=None, metavar="N SECONDS",
              help="Sim: the Nth door opened is left open for SECONDS.")
@click.option("--sim-network-cut", type=(float, float), default=None, metavar="AFTER SECONDS",
              help="Sim: lose the network AFTER seconds, for SECONDS.")
@click.option("--sim-script", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sim: staff actions to play at the kiosk (JSON, see launcher/kiosk_script.py).")
def kiosk(config_path: Path, sim: bool, sim_pupils: bool, ui: bool,
          sim_forget_door: tuple[int, float] | None,
          sim_network_cut: tuple[float, float] | None, sim_script: Path | None) -> None:
    """Run a kiosk: readers, relays, doors, decisions, and the link to the server."""
    from launcher.kiosk import run_kiosk
    from locker_controller.errors import ControllerError
    from lockers.kiosk_config import KioskConfigError

    try:
        sys.exit(run_kiosk(config_path, sim=sim, sim_pupils=sim_pupils, ui=ui,
                           forget_door=sim_forget_door, network_cut=sim_network_cut,
                           script=sim_script))
    except (ControllerError, KioskConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


COMMANDS = [kiosk]
