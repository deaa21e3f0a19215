"""Shared pieces of the notification tests: a real SMTP server (aiosmtpd), a webhook receiver
on loopback for Apprise, and a school whose DSL, leadership and office have mailboxes."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from sqlalchemy import select

from lockers.broker import free_port
from server.migrate import upgrade
from server.models import Pupil, PupilContact
from server.notify.config import NotifyConfig
from server.notify.recipients import EMAIL, SMS, Recipient
from server.services import Services
from server.store import Store
from server.web.app import create_app
from tests.server_kit import database_url, make_clock, seed, wait_until


class Inbox:
    """What the SMTP server accepted; ``gate`` (if set) holds each DATA until released."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.arrived = threading.Event()  # a DATA command reached the handler
        self.gate: threading.Event | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook: keep the message, answer 250 (after the gate opens)."""
        # The whole message is here; with a gate, the 250 the client waits for is held back.
        self.raw.append(envelope.content)
        self.messages.append(message_from_bytes(envelope.content,
                                                policy=policy.default))  # type: ignore[arg-type]
        self.arrived.set()
        if self.gate is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 30)
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on a fixed loopback port, stoppable and restartable (an outage)."""

    def __init__(self, port: int | None = None, **kwargs: Any) -> None:
        self.port = port or free_port()
        self.inbox = Inbox()
        self.kwargs = kwargs
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        """Listen (again) on the same port."""
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     **self.kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start``."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class Webhook:
    """A tiny HTTP receiver on loopback standing in for an SMS gateway or a staff chat."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.received.append((self.path, json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """An Apprise ``json://`` URL posting to ``path`` here."""
        return f"json://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def notify_config(smtp_port: int, **kwargs: Any) -> NotifyConfig:
    """Send to the test SMTP server; poll fast, wait 60 s (fake) after a failure."""
    return NotifyConfig(enabled=True, sender="North School <lockers@north.example>",
                        smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_timeout_s=10,
                        poll_s=0.05, backoff_first_s=60, **kwargs)


PARENT = Recipient(EMAIL, "parent.oneil@example.org", "Mrs O'Neil", "mother")


def put_contact(services: Services, pupil_ref: str, person: Recipient, priority: int = 1,
                **flags: bool) -> None:
    """A parent or carer on a pupil's record, as the roster import leaves one (``flags``:
    do_not_contact, opt_out_email, opt_out_sms)."""
    with services.store.write() as s:
        pupil = s.scalar(select(Pupil).where(Pupil.reference == pupil_ref))
        assert pupil is not None
        s.add(PupilContact(site_id=pupil.site_id, pupil_id=pupil.id, name=person.name,
                           relationship=person.relationship,
                           email=person.address if person.channel == EMAIL else None,
                           phone=person.address if person.channel == SMS else None,
                           priority=priority, updated_at=services.clock.now(), **flags))


MAILBOXES = {"dsl_email": "dsl@north.example", "leadership_email": "head@north.example",
             "office_email": "office@north.example"}


@contextmanager
def school(tmp_path: Path) -> Iterator[Services]:
    """A migrated database, North School seeded, role mailboxes set, a fake clock."""
    url = database_url(tmp_path)
    upgrade(url)
    store = Store(url)
    services = Services(store, make_clock())
    services.test_cards = seed(services)  # type: ignore[attr-defined]
    services.notifications.change_settings("admin", "north", **MAILBOXES)
    try:
        yield services
    finally:
        store.dispose()


class Web:
    """The web app under uvicorn in a thread; ``with Web(services) as base_url``."""

    def __init__(self, services: Services) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(
            create_app(services, session_key="test-key"), host="127.0.0.1", port=self.port,
            log_level="warning", timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "the web server")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def sign_in(page: Any, base: str, username: str = "office1", password: str = "office pass"
            ) -> None:
    """Sign in through the real form."""
    page.goto(f"{base}/signin")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Sign in')")
