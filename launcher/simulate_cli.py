"""``lockers simulate``: the school-day simulator's command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("simulate")
@click.option("--pupils", default=120, show_default=True)
@click.option("--kiosks", default=2, show_default=True)
@click.option("--slots", "slots", default=60, show_default=True, help="Slots per kiosk (max 60).")
@click.option("--doors-at-once", default=4, show_default=True, help="Coil limit per kiosk.")
@click.option("--arrival-minutes", default=20.0, show_default=True)
@click.option("--curve", type=click.Choice(["rush", "uniform"]), default="rush",
              show_default=True)
@click.option("--speed", default=30.0, show_default=True, help="Simulated seconds per second.")
@click.option("--fault", "faults", multiple=True,
              type=click.Choice(["broker-restart", "kiosk-kill", "network-cut"]))
@click.option("--seed", default=1, show_default=True)
@click.option("--no-collect", is_flag=True, help="Stop after the morning.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None)
def simulate(pupils: int, kiosks: int, slots: int, doors_at_once: int, arrival_minutes: float,
             curve: str, speed: float, faults: tuple[str, ...], seed: int, no_collect: bool,
             as_json: bool, workdir: Path | None) -> None:
    """Play a school day at speed with the real broker, server and kiosk controllers."""
    import logging

    from launcher.simulate import SimOptions, Simulation, human, to_json

    logging.basicConfig(level=logging.ERROR)  # the report says what matters
    report = Simulation(SimOptions(
        pupils=pupils, kiosks=kiosks, slots=min(slots, 60), doors_at_once=doors_at_once,
        arrival_minutes=arrival_minutes, curve=curve, speed=speed, faults=faults, seed=seed,
        collect=not no_collect, workdir=workdir)).run()
    click.echo(to_json(report) if as_json else human(report))
    from launcher.sim_report import ok as promises_kept

    ok = promises_kept(report)
    sys.exit(0 if ok else 1)


COMMANDS = [simulate]
