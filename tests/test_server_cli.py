"""`lockers server` as a process: config file, broker account, web API, replica to a kiosk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from lockers.broker import free_port
from tests.server_kit import FakeKiosk, database_url, wait_until

pytestmark = pytest.mark.usefixtures("each_database")


def _healthz(port: int) -> dict[str, Any] | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
    except httpx.HTTPError:
        return None


def test_lockers_server_runs_from_its_config_and_serves_kiosks_and_web(
        tmp_path: Path, broker_factory: Any) -> None:
    b = broker_factory(kiosks=[("main", "k1")])
    (tmp_path / "server.password").write_text(b.server_password + "\n")
    web_port = free_port()
    config = tmp_path / "server.toml"
    config.write_text(
        f'[database]\nurl = "{database_url(tmp_path)}"\n'
        f'[mqtt]\nhost = "{b.host}"\nport = {b.port}\nusername = "{b.server_username}"\n'
        'password_file = "server.password"\n'
        f'[web]\nport = {web_port}\n')
    lockers = [sys.executable, "-m", "launcher.cli"]
    init = subprocess.run([*lockers, "init", "--config", str(config), "--password",
                           "a long secret", "--site", "main"], capture_output=True, text=True,
                          timeout=60)
    assert init.returncode == 0, init.stderr
    server = subprocess.Popen([*lockers, "server", "--config", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        # 60 s: the server's start-up took over 20 s with the machine's two cores shared by
        # other work (it answers as soon as it is up, so a quiet machine waits no longer).
        health = wait_until(lambda: _healthz(web_port), 60, "the web app to answer")
        assert health["status"] == "ok"
        wait_until(lambda: _healthz(web_port)["mqtt_connected"], 10, "MQTT connected")
        account = b.kiosk("main", "k1")
        kiosk = FakeKiosk(b.host, b.port, "main", "k1", account.username, account.password)
        from lockers.wire import messages as m
        from tests.server_kit import MORNING

        # A kiosk the server has never seen introduces itself and gets its replica.
        kiosk.publish(m.KioskStatus(kiosk="k1", site="main", state="online", reason="birth",
                                    at=MORNING, policy_version=0))
        snap = kiosk.wait_for(lambda k: k.snapshots and k.snapshots[-1], 10, "snapshot")
        assert snap.site == "main" and len(snap.days) == 8
        r = httpx.get(f"http://127.0.0.1:{web_port}/api/pupils/X1/cards",
                      auth=("admin", "a long secret"))
        assert r.status_code == 404  # signed in, and the pupil does not exist
        kiosk.close()
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=20)
    assert server.returncode == 0, out
    assert "event=server_stopped" in out
    # Staff stay signed in across a restart: the sessions' key is kept beside server.toml on
    # either database (PostgreSQL has no database file to keep it beside).
    assert (tmp_path / "web-session.key").stat().st_size > 0
