"""The ``lockers`` command line: one entry point for every process of the system.

It lives in the launcher because it assembles every part.

Subcommands import their part lazily so ``lockers --help`` is instant and a kiosk never loads
the server's code (or the other way round).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lockers import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lockers")
def main() -> None:
    """School phone lockers: kiosks, server, and the tools around them."""


@main.group()
def protocol() -> None:
    """The MQTT wire contract (docs/protocol.md)."""


@protocol.command("schemas")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("docs/schemas"), show_default=True)
def protocol_schemas(out: Path) -> None:
    """Write the JSON Schemas and the AsyncAPI document generated from the contract."""
    from lockers.wire.schema import write_all

    for path in write_all(out):
        click.echo(f"wrote {path}")


@main.group()
def broker() -> None:
    """Mosquitto configuration: listener, password file and per-kiosk ACL."""


@broker.command("config")
@click.option("--dir", "config_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Where mosquitto.conf, passwd and acl are written.")
@click.option("--port", default=8883, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--site", required=True)
@click.option("--kiosk", "kiosks", multiple=True, required=True)
@click.option("--tls-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder made by hardware/scripts/make-tls.sh (ca.crt, broker.crt/key).")
@click.option("--user", default=None, help="The user Mosquitto runs as (reads the files).")
@click.option("--secrets", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder keeping each account's password (reused when run again).")
@click.option("--server-processes", default=1, show_default=True,
              help="Server processes that share the kiosks' traffic: each gets its own "
                   "accounts (server, server-rx; server-2, server-2-rx; ...).")
def broker_config(config_dir: Path, port: int, host: str, site: str, kiosks: tuple[str, ...],
                  tls_dir: Path | None, user: str | None, secrets: Path | None,
                  server_processes: int) -> None:
    """Write a production broker configuration with one account per kiosk."""
    from launcher.broker_cli import write_config
    from lockers.broker import BrokerError

    try:
        setup = write_config(config_dir, port, host, site, list(kiosks), tls_dir, user,
                             secrets, server_processes)
    except BrokerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"wrote {setup.conf_path} with accounts for {len(kiosks)} kiosk(s)")


@broker.command("run")
@click.option("--dir", "config_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/broker"), show_default=True)
@click.option("--port", default=1883, show_default=True)
@click.option("--site", default="demo", show_default=True)
@click.option("--kiosk", "kiosks", multiple=True, default=("k1", "k2"), show_default=True)
def broker_run(config_dir: Path, port: int, site: str, kiosks: tuple[str, ...]) -> None:
    """Generate a broker config for SITE's KIOSKs and run Mosquitto in the foreground."""
    from launcher.broker_cli import run_broker

    sys.exit(run_broker(config_dir, port, site, list(kiosks)))


@main.command()
@click.option("--dir", "state_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/demo"), show_default=True)
def demo(state_dir: Path) -> None:
    """Run the whole system on this machine (what is built so far) until Ctrl-C."""
    from launcher.demo import run_demo

    sys.exit(run_demo(state_dir))


# Each part owns the commands of its own processes in ``<part>/cli.py`` (a module that
# imports only click at load time, so `lockers --help` is instant and a kiosk never loads the
# server's code) and lists them in ``COMMANDS``.
def _register_part_commands() -> None:
    from launcher import kiosk_cli, plan_cli, simulate_cli
    from server import cli as server_cli

    for module in (kiosk_cli, server_cli, simulate_cli, plan_cli):
        for command in module.COMMANDS:
            main.add_command(command)


_register_part_commands()

if __name__ == "__main__":
    main()
