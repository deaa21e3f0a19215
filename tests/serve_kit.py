"""A trust's server processes as deployed: ``lockers server --config`` (runtime and web app).

Each :class:`ServeProcess` is the real command a trust runs on each host, from its own folder
with its own ``server.toml`` (its own broker account and web port), on one shared PostgreSQL
database and one broker. The test's side signs staff in over HTTP as a browser would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import httpx

from lockers.broker import free_port

PASSWORD = "school pass 123"  # every account's (10+ characters, a passable strength)
_PORTS_GIVEN: set[int] = set()  # web ports of this test run's processes: never one twice


class ServeProcess:
    """``python -m launcher.cli server --config FOLDER/server.toml`` as one of a trust's
    processes: server account ``server`` (number 1) or ``server-N``, schools owned by
    affinity, migrations at start."""

    def __init__(self, url: str, broker: Any, number: int, folder: Path,
                 session_key_file: Path | None = None) -> None:
        username = broker.server_username if number == 1 else \
            f"{broker.server_username}-{number}"
        folder.mkdir(parents=True, exist_ok=True)
        self.number, self.folder = number, folder
        self.port = free_port()
        while self.port in _PORTS_GIVEN:  # a port just closed may be handed out again
            self.port = free_port()
        _PORTS_GIVEN.add(self.port)
        self.base = f"http://127.0.0.1:{self.port}"
        (folder / "server.password").write_text(broker.server_password + "\n")
        web = f'secret_key_file = "{session_key_file}"\n' if session_key_file else ""
        self.config = folder / "server.toml"
        self.config.write_text(
            f'[database]\nurl = "{url}"\nmigrate_on_start = true\n'
            f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n'
            f'username = "{username}"\nclient_id = "{username}"\n'
            'password_file = "server.password"\naffinity = true\n'
            f'[web]\nport = {self.port}\n{web}')
        self.log_path = folder / "server.log"
        self.proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def start(self) -> ServeProcess:
        """Start the process (see :meth:`ready` for when it serves)."""
        self._log = self.log_path.open("w")
        # From its own folder, as a host's service would run: nothing lands in the checkout.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "launcher.cli", "server", "--config", str(self.config)],
            cwd=self.folder, stdout=self._log, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return self

    def ready(self) -> bool:
        """Whether the web app answers and the process is connected to the broker (fails
        at once if the process has exited)."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"server process {self.number} exited: {self.log()[-3000:]}")
        try:
            health = httpx.get(f"{self.base}/healthz", timeout=2).json()
        except httpx.HTTPError:
            return False
        return bool(health.get("mqtt_connected"))

    def health(self) -> dict[str, Any]:
        """What /healthz says now."""
        return httpx.get(f"{self.base}/healthz", timeout=5).json()

    def schools(self) -> str | None:
        """The schools this process last said it receives (``event=schools_owned``)."""
        owned = re.findall(r"event=schools_owned live=\d+ schools=(\S+)", self.log())
        return owned[-1] if owned else None

    def log(self) -> str:
        """What the process logged so far."""
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        """Stop cleanly (SIGTERM, as systemd does), or kill if it does not stop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None


def signin_token(http: httpx.Client) -> str:
    """The sign-in form's CSRF token (the client keeps the cookie it came with)."""
    form = http.get("/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found, f"no sign-in form: {form.status_code}"
    return found.group(1)


def sign_in(http: httpx.Client, username: str, password: str) -> httpx.Response:
    """Sign in through the form as a browser does; returns the form's answer."""
    return http.post("/signin", data={"username": username, "password": password,
                                      "csrf": signin_token(http)})
