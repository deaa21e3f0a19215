"""The `lockers` commands with several schools on one installation: the IT person names the
school, and a command that could mean either school refuses rather than guessing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from launcher.cli import main as lockers_cli
from server.migrate import upgrade
from server.models import Pupil, Site, Staff
from server.store import Store
from tests.server_kit import database_url

pytestmark = pytest.mark.usefixtures("each_database")

DATA = Path(__file__).resolve().parent / "data"


def _lockers(config: Path, *args: str) -> Result:
    return CliRunner().invoke(lockers_cli, [*args, "--config", str(config)])


def _pupils_at(store: Store, code: str) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Pupil).join(Site)
                        .where(Site.code == code)) or 0


def test_it_staff_name_the_school_for_each_command_once_there_are_two(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    upgrade(url)
    config = tmp_path / "server.toml"
    config.write_text(f'[database]\nurl = "{url}"\n')
    init = _lockers(config, "init", "--password", "a long secret", "--site", "north",
                    "--site-name", "North Academy")
    assert init.exit_code == 0, init.output
    added = _lockers(config, "add-school", "south", "South School")
    assert added.exit_code == 0, added.output
    roster = str(DATA / "roster_sims.csv")

    guessed = _lockers(config, "import-roster", roster, "--no-progress")
    assert guessed.exit_code == 1
    assert "several schools exist: name the school (--site CODE)" in guessed.output

    for code in ("north", "south"):  # the same export at both: references repeat per school
        done = _lockers(config, "import-roster", roster, "--site", code, "--no-progress")
        assert done.exit_code == 0, done.output
    store = Store(url)
    try:
        assert _pupils_at(store, "north") == _pupils_at(store, "south") > 0
        with store.read() as s:
            ref = s.scalars(select(Pupil.reference)).first()
        assert ref is not None

        both = _lockers(config, "export-pupil", ref)
        assert both.exit_code == 1 and "exists at several schools" in both.output
        one = _lockers(config, "export-pupil", ref, "--site", "south")
        assert one.exit_code == 0, one.output
        assert one.output.count('"reference"') >= 1 and '"records"' in one.output

        made = _lockers(config, "staff-school", "admin", "south")
        assert made.exit_code == 0, made.output
        with store.read() as s:
            admin_site = s.scalar(select(Site.code).join(Staff, Staff.site_id == Site.id)
                                  .where(Staff.username == "admin"))
        assert admin_site == "south"
        # Now a school's admin, it may not add schools: only a trust admin does.
        refused = _lockers(config, "add-school", "east", "East School")
        assert refused.exit_code == 1 and "trust admin" in refused.output
    finally:
        store.dispose()
