"""hardware/: wiring generated from the pin maps, systemd units, TLS for the broker, and
backup/restore of the school's database."""

from __future__ import annotations

import getpass
import shutil
import ssl
import subprocess
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from firmware_py.wiring import render
from launcher.broker_cli import write_config
from launcher.cli import main as lockers_cli
from lockers.broker import BrokerProcess, free_port
from lockers.mqtt import make_client
from lockers.wire import topics as t
from tests.server_kit import make_clock, seed

REPO = Path(__file__).resolve().parents[1]
UNITS = REPO / "hardware" / "systemd"


def test_wiring_tables_and_diagrams_are_generated_from_the_pin_maps() -> None:
    for name, content in render(REPO / "hardware" / "pinmaps").items():
        committed = REPO / "hardware" / "wiring" / name
        assert committed.read_text(encoding="utf-8") == content, (
            f"{committed} is stale: run `python -m firmware_py.wiring`")


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install -y systemd"
    rendered = []
    for unit in ("lockers-kiosk.service", "lockers-server.service", "lockers-backup.service",
                 "lockers-backup.timer"):
        text_ = (UNITS / unit).read_text().replace("@PREFIX@", str(REPO))
        (tmp_path / unit).write_text(text_)
        rendered.append(str(tmp_path / unit))
    done = subprocess.run([analyze, "verify", *rendered], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr.lower(), done.stderr


def test_install_scripts_are_valid_shell() -> None:
    for script in (REPO / "hardware" / "scripts").glob("*.sh"):
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, f"{script.name}: {done.stderr}"


def _connect_tls(port: int, username: str, password: str, ca: Path) -> mqtt.ReasonCode | str:
    c = make_client("tls-test", username=username, password=password, tls_ca=ca)
    try:
        c.connect("127.0.0.1", port)
    except ssl.SSLError as exc:
        return f"ssl: {exc.reason}"
    result: list[mqtt.ReasonCode] = []
    c.on_connect = lambda _c, _u, _f, rc, _p: result.append(rc)
    while not result:
        c.loop(timeout=1)
    c.disconnect()
    return result[0]


def test_tls_certificates_let_a_kiosk_in_and_a_wrong_ca_is_refused(tmp_path: Path) -> None:
    script = REPO / "hardware" / "scripts" / "make-tls.sh"
    subprocess.run([str(script), str(tmp_path / "tls"), "localhost", "127.0.0.1"], check=True,
                   capture_output=True)
    subprocess.run([str(script), str(tmp_path / "other"), "localhost", "127.0.0.1"],
                   check=True, capture_output=True)
    port = free_port()
    setup = write_config(tmp_path / "broker", port, "127.0.0.1", "school1", ["k1"],
                         tmp_path / "tls", getpass.getuser(), tmp_path / "secrets")
    password = (tmp_path / "secrets" / "kiosk-school1-k1.password").read_text().strip()
    with BrokerProcess(setup):
        ok = _connect_tls(port, "kiosk-school1-k1", password, tmp_path / "tls" / "ca.crt")
        assert isinstance(ok, mqtt.ReasonCode) and not ok.is_failure
        refused = _connect_tls(port, "kiosk-school1-k1", password,
                               tmp_path / "other" / "ca.crt")
        assert isinstance(refused, str) and "CERTIFICATE_VERIFY_FAILED" in refused
    again = write_config(tmp_path / "broker", port, "127.0.0.1", "school1", ["k1"],
                         tmp_path / "tls", None, tmp_path / "secrets")
    assert again.kiosks[0].password == password  # re-running keeps kiosks' credentials
    assert t.PREFIX in (tmp_path / "broker" / "acl").read_text()


def test_backup_then_restore_round_trips_a_database_with_data(tmp_path: Path) -> None:
    from server.audit_anchor import anchor_for
    from server.config import load
    from server.migrate import upgrade
    from server.services import Services
    from server.store import Store

    db = tmp_path / "lockers.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    config = tmp_path / "server.toml"
    config.write_text(f'[database]\nurl = "{url}"\n')
    store = Store(url)
    store.anchor = anchor_for(load(config))  # as the server and the CLI do
    services = Services(store, make_clock())
    seed(services)
    store.anchor.flush()
    runner = CliRunner()
    made = runner.invoke(lockers_cli, ["backup", "--config", str(config), "--out",
                                       str(tmp_path / "backups")])
    assert made.exit_code == 0, made.output
    backup_file = next((tmp_path / "backups").glob("lockers-*.sqlite3"))
    with services.store.write() as s:  # the disaster: records lost after the backup
        s.execute(text("DELETE FROM cards"))
    services.store.engine.dispose()
    restored = runner.invoke(lockers_cli, ["restore", "--config", str(config), "--yes",
                                           str(backup_file)])
    assert restored.exit_code == 0, restored.output
    again = Services(Store(url), make_clock())
    assert len(again.cards.cards_of("A001")) == 1
    verified = runner.invoke(lockers_cli, ["audit", "verify", "--config", str(config)])
    assert verified.exit_code == 0 and "intact" in verified.output


def test_restoring_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_text("not a database")
    config = tmp_path / "server.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n')
    result = CliRunner().invoke(lockers_cli, ["restore", "--config", str(config), "--yes",
                                              str(bogus)])
    assert result.exit_code != 0
    assert not (tmp_path / "x.db").exists()


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
