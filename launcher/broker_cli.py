"""``lockers broker``: write a production broker configuration, or run one in the foreground."""

from __future__ import annotations

import getpass
import os
import signal
import threading
from pathlib import Path

from lockers.broker import (
    BrokerError,
    BrokerProcess,
    BrokerSetup,
    KioskAccount,
    TlsFiles,
    new_password,
    write_broker_config,
)


def _secret(secrets: Path | None, name: str) -> str:
    """Reuse a stored password (so re-running keeps kiosks working) or make and store one."""
    if secrets is None:
        return new_password()
    path = secrets / f"{name}.password"
    if path.exists():
        return path.read_text().strip()
    secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = new_password()
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def write_config(config_dir: Path, port: int, host: str, site: str, kiosks: list[str],
                 tls_dir: Path | None, user: str | None, secrets: Path | None,
                 server_processes: int = 1) -> BrokerSetup:
    """Write mosquitto.conf, passwd and acl; passwords are kept in ``secrets``."""
    tls = None
    if tls_dir is not None:
        tls = TlsFiles(tls_dir / "ca.crt", tls_dir / "broker.crt", tls_dir / "broker.key")
        for f in (tls.cafile, tls.certfile, tls.keyfile):
            if not f.exists():
                raise BrokerError(f"{f} is missing: run hardware/scripts/make-tls.sh first")
    setup = BrokerSetup(
        config_dir=config_dir, port=port, host=host,
        server_password=_secret(secrets, "server"),
        kiosks=[KioskAccount(site, k, _secret(secrets, f"kiosk-{site}-{k}")) for k in kiosks],
        run_as_user=user, tls=tls, server_processes=server_processes)
    write_broker_config(setup)
    return setup


def run_broker(config_dir: Path, port: int, site: str, kiosks: list[str]) -> int:
    """Generate a config and run Mosquitto until Ctrl-C (for trying things out)."""
    user = getpass.getuser() if os.geteuid() == 0 else None
    setup = write_config(config_dir, port, "127.0.0.1", site, kiosks, None, user,
                         config_dir / "secrets")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with BrokerProcess(setup):
        print(f"Mosquitto on 127.0.0.1:{port}; passwords in {config_dir / 'secrets'}; "
              "Ctrl-C stops it", flush=True)
        stop.wait()
    return 0
