"""``lockers`` subcommands of the server. Imports only click at load time (the server's code is
imported inside each command, so a kiosk's ``lockers`` never loads it)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

_config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=Path("server.toml"), show_default=True,
    help="The server's TOML config (see hardware/server.example.toml).")


def _config(path: Path) -> Any:
    from server.config import ServerConfig, load

    if not path.exists() and path == Path("server.toml"):
        click.echo("note: no server.toml here; using the demo defaults", err=True)
        return ServerConfig()
    return load(path)


def _services(path: Path) -> Any:
    from lockers.clock import SystemClock
    from server.audit_anchor import anchor_for
    from server.services import Services
    from server.store import Store

    config = _config(path)
    store = Store(config.database_url)
    store.anchor = anchor_for(config)  # what a command writes to the audit log is anchored
    ctx = click.get_current_context(silent=True)
    if ctx is not None:  # the command's last write anchored, its connections closed, at its end
        ctx.call_on_close(lambda: (store.anchor.stop(), store.dispose()))
    return Services(store, SystemClock())


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@click.command("server")
@_config_option
def server_command(config_path: Path) -> None:
    """Run the server: MQTT ingest, replica publisher, commands, and the web app."""
    from server.errors import ServerError
    from server.serve import serve

    try:
        sys.exit(serve(_config(config_path)))
    except (ServerError, ConnectionError) as exc:
        _fail(exc)


@click.command("init")
@_config_option
@click.option("--admin", "username", default="admin", show_default=True)
@click.option("--name", "display_name", default="Administrator", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--site", "site_code", default=None, help="Also create this site (e.g. 'main').")
@click.option("--site-name", default="School", show_default=True)
def init_command(config_path: Path, username: str, display_name: str, password: str,
                 site_code: str | None, site_name: str) -> None:
    """Create or upgrade the database (alembic upgrade head) and the first admin account."""
    from server.errors import ServerError
    from server.migrate import upgrade

    config = _config(config_path)
    upgrade(config.database_url)
    click.echo(f"database ready: {config.database_url.split('@')[-1]}")
    services = _services(config_path)
    try:
        services.admin.create_staff(None, username, display_name, "admin", password)
        click.echo(f"admin account {username!r} created")
        if site_code:
            services.admin.create_site(username, site_code, site_name)
            click.echo(f"site {site_code!r} created")
    except ServerError as exc:
        _fail(exc)


@click.command("import-roster")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_config_option
@click.option("--actor", default="admin", show_default=True, help="Staff username doing this.")
@click.option("--site", default=None, help="Site code (needed when there are several).")
@click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN",
              help="Column mapping, e.g. --map reference=UPN --map card_uid='Card No'.")
@click.option("--save-mapping", is_flag=True,
              help="Remember this file's column mapping for the school's next imports.")
@click.option("--partial", is_flag=True,
              help="The file lists only some pupils: nobody leaves for being absent from it.")
@click.option("--preview", is_flag=True, help="Say what would change; change nothing.")
@click.option("--no-progress", is_flag=True)
def import_roster_command(csv_file: Path, config_path: Path, actor: str, site: str | None,
                          maps: tuple[str, ...], save_mapping: bool, partial: bool,
                          preview: bool, no_progress: bool) -> None:
    """Import pupils from an MIS export (SIMS, Arbor, Bromcom, a Wonde feed, or any CSV with
    a mapping); every problem is listed with its line and what to do."""
    from server.errors import ServerError
    from server.roster import import_roster, preview_roster
    from server.roster_layouts import ALL_FIELDS

    mapping = {}
    for item in maps:
        key, _, col = item.partition("=")
        if key not in ALL_FIELDS or not col:
            _fail(ValueError(f"--map {item!r}: use FIELD=COLUMN with FIELD one of "
                             f"{', '.join(ALL_FIELDS[:7])}, contact1_name, contact1_email..."))
        mapping[key] = col
    services = _services(config_path)
    try:
        if preview:
            plan = preview_roster(services, csv_file, site=site, mapping=mapping or None,
                                  full_export=not partial)
        else:
            plan = import_roster(services, actor, csv_file, site=site, mapping=mapping or None,
                                 full_export=not partial, save_mapping=save_mapping,
                                 progress=not no_progress).plan
    except ServerError as exc:
        _fail(exc)
    click.echo(f"read as {plan.file.layout} ({plan.file.encoding}, "
               f"{len(plan.file.rows)} pupil lines)")
    for warning in plan.warnings:
        click.echo(f"warning: {warning}")
    for problem in plan.problems:
        click.echo(str(problem))
    counts = plan.summary()
    click.echo(("would change: " if preview else "") + " ".join(
        f"{k}={v}" for k, v in counts.items()))


@click.command("import-attendance")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_config_option
@click.option("--actor", default="admin", show_default=True, help="Staff username doing this.")
@click.option("--site", default=None, help="Site code (needed when there are several).")
def import_attendance_command(csv_file: Path, config_path: Path, actor: str,
                              site: str | None) -> None:
    """Import the MIS's session marks (UPN, Date, AM): absent and off-site pupils are then
    not counted as "not handed in"."""
    from server.errors import ServerError

    try:
        result = _services(config_path).registers.import_attendance(
            actor, csv_file.read_bytes(), site=site)
    except ServerError as exc:
        _fail(exc)
    for problem in result.problems:
        click.echo(problem)
    click.echo(f"absent={result.absent} off_site={result.off_site} present={result.present} "
               f"problems={len(result.problems)}")


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@_config_option
def audit_verify(config_path: Path) -> None:
    """Check the hash chain and hold it to the signed checkpoints kept outside the database;
    exit 1 naming each edited, deleted or rolled-back row."""
    from server import audit

    services = _services(config_path)
    with services.store.read() as s:
        problems = audit.verify(s) + services.store.anchor.verify(s)
    if problems:
        for p in problems:
            click.echo(f"TAMPERED {p}")
        sys.exit(1)
    click.echo("audit chain intact")


@click.command("export-pupil")
@click.argument("reference")
@_config_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
@click.option("--actor", default="admin", show_default=True)
@click.option("--site", default=None,
              help="School code (needed when schools share the reference).")
def export_pupil_command(reference: str, config_path: Path, out: Path | None,
                         actor: str, site: str | None) -> None:
    """Subject-access export: everything held about one pupil, as JSON."""
    import json

    from server import audit
    from server.errors import ServerError
    from server.retention import export_pupil

    services = _services(config_path)
    try:
        data = export_pupil(services.store, services.clock, reference,
                            actor=audit.staff_actor(actor), site=site)
    except ServerError as exc:
        _fail(exc)
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(text)


@click.command("add-school")
@click.argument("code")
@click.argument("name")
@_config_option
@click.option("--actor", default="admin", show_default=True, help="The trust admin doing this.")
def add_school_command(code: str, name: str, config_path: Path, actor: str) -> None:
    """Add a school (a site) to the installation: one more school of the trust."""
    from server.errors import ServerError

    services = _services(config_path)
    try:
        services.admin.create_site(actor, code, name)
    except ServerError as exc:
        _fail(exc)
    click.echo(f"school {code!r} added; name it with --site {code} from now on")


@click.command("staff-school")
@click.argument("username")
@click.argument("site", required=False)
@_config_option
@click.option("--actor", default="admin", show_default=True, help="The trust admin doing this.")
def staff_school_command(username: str, site: str | None, config_path: Path,
                         actor: str) -> None:
    """Make a staff account a member of one school (SITE), or of none (trust roles then see
    every school). Their open sessions end."""
    from server.errors import ServerError

    services = _services(config_path)
    try:
        services.admin.set_staff_school(actor, username, site)
    except ServerError as exc:
        _fail(exc)
    click.echo(f"{username} now belongs to {site or 'no one school (the whole trust)'}")


@click.group("retention")
def retention_group() -> None:
    """Data protection housekeeping."""


@retention_group.command("purge")
@_config_option
def retention_purge(config_path: Path) -> None:
    """Blank personal detail older than each site's retention days (audit stays verifiable)."""
    from server.retention import purge

    services = _services(config_path)
    result = purge(services.store, services.clock)
    click.echo(" ".join(f"{k}={v}" for k, v in result.items()))


@click.command("migrate")
@_config_option
def migrate_command(config_path: Path) -> None:
    """Bring the database to the newest schema (alembic upgrade head); run before a new
    version's server starts."""
    from server.migrate import upgrade

    config = _config(config_path)
    upgrade(config.database_url)
    click.echo("database schema is current")


@click.command("backup")
@_config_option
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="A folder (a dated file is made in it) or a file name.")
def backup_command(config_path: Path, out: Path) -> None:
    """Back up the database (online: safe while the server runs)."""
    from datetime import datetime

    from server.backup import backup
    from server.errors import ServerError

    try:
        path = backup(_config(config_path).database_url, out, datetime.now())
    except ServerError as exc:
        _fail(exc)
    click.echo(f"backup written: {path}")


@click.command("restore")
@_config_option
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask (the server must be stopped).")
def restore_command(config_path: Path, backup_file: Path, yes: bool) -> None:
    """Replace the database with a backup. Stop the server first."""
    from server.backup import restore
    from server.errors import ServerError

    if not yes:
        click.confirm("Stop the server first. Replace the database with this backup?",
                      abort=True)
    try:
        restore(_config(config_path).database_url, backup_file)
    except ServerError as exc:
        _fail(exc)
    click.echo("restored; run `lockers migrate` and `lockers audit verify`, then start "
               "the server")


COMMANDS = [server_command, init_command, import_roster_command, import_attendance_command,
            add_school_command, staff_school_command,
            audit_group,
            export_pupil_command, retention_group, migrate_command, backup_command,
            restore_command]
