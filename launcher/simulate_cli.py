"""``lockers simulate``: the school-day simulator's command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from launcher.sim_presets import PRESETS


@click.command("simulate")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None,
              help="A named school size (secondary-1500: 1,500 pupils, 5 kiosks x 300 slots "
                   "on simulated RS-485 lock boards).")
@click.option("--pupils", type=int, default=None, help="[default: 120]")
@click.option("--kiosks", type=int, default=None, help="[default: 2]")
@click.option("--slots", "slots", type=int, default=None,
              help="Slots per kiosk on mock pins (max 60) [default: 60]; with --boardmap the "
                   "board map's.")
@click.option("--boardmap", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Each kiosk's locks on simulated RS-485 lock boards wired as "
                                 "this board map (e.g. hardware/boardmaps/kiosk300.toml).")
@click.option("--doors-at-once", type=int, default=None, help="Coil limit per kiosk [default: 4].")
@click.option("--arrival-minutes", type=float, default=None, help="[default: 20]")
@click.option("--curve", type=click.Choice(["rush", "uniform"]), default="rush",
              show_default=True)
@click.option("--speed", type=float, default=None,
              help="Simulated seconds per second [default: 30].")
@click.option("--fault", "faults", multiple=True,
              type=click.Choice(["broker-restart", "kiosk-kill", "network-cut"]))
@click.option("--seed", default=1, show_default=True)
@click.option("--no-collect", is_flag=True, help="Stop after the morning.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None)
def simulate(preset: str | None, curve: str, faults: tuple[str, ...], seed: int,
             no_collect: bool, as_json: bool, workdir: Path | None, **sizes: object) -> None:
    """Play a school day at speed with the real broker, server and kiosk controllers."""
    import logging
    import time

    from launcher.sim_report import ok as promises_kept
    from launcher.simulate import SimOptions, Simulation, human, to_json

    logging.basicConfig(level=logging.ERROR)  # the report says what matters
    # The board driver logs a silent board itself (event=board_fault) and the report counts
    # them; pymodbus's own lines would repeat each one with a dump of the bus's frames.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    chosen = {**PRESETS.get(preset or "", {}),
              **{k: v for k, v in sizes.items() if v is not None}}
    if chosen.get("boardmap") is None:
        chosen["slots"] = min(int(chosen.get("slots", 60)), 60)  # type: ignore[call-overload]
    started = time.monotonic()
    report = Simulation(SimOptions(curve=curve, faults=faults, seed=seed,
                                   collect=not no_collect, workdir=workdir,
                                   **chosen)).run()  # type: ignore[arg-type]
    report["wall_s"] = round(time.monotonic() - started, 1)
    click.echo(to_json(report) if as_json else human(report))
    sys.exit(0 if promises_kept(report) else 1)


COMMANDS = [simulate]
