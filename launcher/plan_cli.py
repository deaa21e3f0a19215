"""``lockers plan``: the kiosks, readers, slots, boards and power a school needs."""

from __future__ import annotations

import click


@click.command("plan")
@click.option("--pupils", type=click.IntRange(min=1), required=True,
              help="Pupils who hand in a phone.")
@click.option("--window-min", type=click.FloatRange(min=1), default=20.0, show_default=True,
              help="Minutes over which pupils arrive in the morning.")
@click.option("--entrances", type=click.IntRange(min=1), default=1, show_default=True,
              help="Entrances that each need their own kiosk.")
@click.option("--p95-target-s", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Longest queue wait 95 pupils in 100 may have.")
@click.option("--home-window-min", type=click.FloatRange(min=1), default=10.0,
              show_default=True, help="Minutes over which classrooms empty at home time.")
@click.option("--most-kiosks", type=click.IntRange(min=1), default=40, show_default=True,
              help="Give up beyond this many kiosks.")
def plan(pupils: int, window_min: float, entrances: int, p95_target_s: float,
         home_window_min: float, most_kiosks: int) -> None:
    """Plan a school's kiosks so the p95 queue wait stays under a target, by the rush model
    (launcher/rush.py), and print the plan and its bill of materials."""
    from launcher.plan import PlanError, SchoolNumbers, bill_of_materials, plan_school, table

    school = SchoolNumbers(pupils=pupils, arrival_window_min=window_min, entrances=entrances,
                           p95_target_s=p95_target_s, home_window_min=home_window_min)
    try:
        result = plan_school(school, most_kiosks=most_kiosks)
    except PlanError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Plan for {pupils} pupils, arrivals over {window_min:g} min, {entrances} "
               f"entrance(s), p95 queue wait under {p95_target_s:g} s\n")
    rows = table(result)
    width = max(len(what) for what, _ in rows)
    for what, value in rows:
        click.echo(f"  {what.ljust(width)}  {value}")
    click.echo("\nBill of materials (whole school)\n")
    for qty, part, why in bill_of_materials(result):
        click.echo(f"  {qty:>5}  {part}  ({why})")


COMMANDS = [plan]
