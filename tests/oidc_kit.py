"""A real OpenID provider for the sign-in tests (panva/node-oidc-provider from tools/oidc, on
loopback) and the lockers' web app signing in through it.

The provider's issuer is ``http://localhost:PORT`` and the lockers answer on
``http://127.0.0.1:PORT``: two different sites to the browser, as Microsoft's sign-in page and a
school's server are, so cookie rules (SameSite) are exercised as in production.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn

from lockers.broker import free_port
from server.oidc_config import MappingRule, OidcSettings
from server.services import Services
from server.store import Store
from server.web.app import create_app
from server.web.oidc import add_oidc
from tests.server_kit import database_url, make_clock, seed, wait_until

REPO = Path(__file__).resolve().parents[1]
PROVIDER = REPO / "tools" / "oidc" / "provider.mjs"
SECRET = "lockers-test-client-secret"
# Clients the provider knows; each "fault" client gets corrupted ID tokens (see provider.mjs).
FAULTS = ("expired", "wrong_audience", "bad_signature")

# The trust's accounts at the provider (login -> account), as its IT would set them up.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "tess": {"password": "Tess at North 1", "sub": "00u-tess", "email": "tess@north.example",
             "name": "Tess Teacher", "groups": ["grp-north-office"]},
    "dee": {"password": "Dee at North 1", "sub": "00u-dee", "email": "dee@north.example",
            "name": "Dee Safeguarding", "groups": ["grp-north-dsl", "grp-north-office"]},
    "pat": {"password": "Pat the pupil 1", "sub": "00u-pat", "email": "pat@pupils.example",
            "name": "Pat Pupil", "groups": ["grp-students"]},
    "tru": {"password": "Trust exec 1", "sub": "00u-tru", "email": "ceo@trust.example",
            "name": "Tru Exec", "groups": []},
}

# The school's rules: the first that matches decides.
RULES = (
    MappingRule(role="dsl", site="north", group="grp-north-dsl"),
    MappingRule(role="office", site="north", group="grp-north-office"),
    MappingRule(role="trust", email="ceo@trust.example"),
)


@dataclass
class Provider:
    """A running provider and the accounts file it reads on every sign-in."""

    issuer: str
    accounts_file: Path
    process: subprocess.Popen[str]

    def set_account(self, login: str, **changes: Any) -> None:
        """Change one account as the trust's IT would (takes effect at the next sign-in)."""
        accounts = json.loads(self.accounts_file.read_text())
        accounts[login].update(changes)
        self.accounts_file.write_text(json.dumps(accounts))

    def settings(self, client_id: str = "lockers", **changes: Any) -> OidcSettings:
        """The lockers' ``[oidc]`` settings for this provider."""
        return replace(OidcSettings(
            enabled=True, provider_name="Trust 365", client_id=client_id, client_secret=SECRET,
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            rules=RULES), **changes)


@contextmanager
def oidc_provider(tmp_path: Path, web_port: int) -> Iterator[Provider]:
    """Start the provider on a free loopback port; its clients redirect to ``web_port``."""
    assert (REPO / "tools/oidc/node_modules/oidc-provider").exists(), \
        "the test provider is not installed: run scripts/bootstrap.sh (npm ci in tools/oidc)"
    port = free_port()
    issuer = f"http://localhost:{port}"
    accounts_file = tmp_path / "provider-accounts.json"
    accounts_file.write_text(json.dumps(ACCOUNTS))
    redirect = [f"http://127.0.0.1:{web_port}/signin/oidc/callback"]
    clients = [{"client_id": "lockers", "client_secret": SECRET, "redirect_uris": redirect}]
    clients += [{"client_id": f"lockers-{f}", "client_secret": SECRET,
                 "redirect_uris": redirect, "fault": f} for f in FAULTS]
    config = tmp_path / "provider.json"
    config.write_text(json.dumps({"issuer": issuer, "port": port,
                                  "accounts_file": str(accounts_file), "clients": clients}))
    process = subprocess.Popen(["node", str(PROVIDER), str(config)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout or ()],
                     daemon=True).start()
    seen: list[str] = []

    def ready() -> bool:
        while not lines.empty():
            seen.append(lines.get())
        assert process.poll() is None, f"the provider exited: {''.join(seen)}"
        return any(line.startswith("ready ") for line in seen)

    try:
        wait_until(ready, 20, "the OpenID provider to start")
        yield Provider(issuer, accounts_file, process)
    finally:
        process.terminate()
        process.wait(10)


def school_services(tmp_path: Path) -> Services:
    """A migrated database with the test school (site north, admin, office1, head)."""
    from server.migrate import upgrade

    url = database_url(tmp_path)
    upgrade(url)
    services = Services(Store(url), make_clock())
    seed(services)
    return services


@contextmanager
def lockers_web(services: Services, port: int, settings: OidcSettings) -> Iterator[str]:
    """The lockers' web app with ``settings`` under uvicorn on ``port``; yields its URL."""
    app = create_app(services, session_key="test-session-key")
    add_oidc(app, settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 10, "the web server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
