"""The demo's mail sink: a real SMTP server (aiosmtpd) on loopback that takes every e-mail
the demo school sends, says each one in words as it arrives, and keeps it as an .eml (and its
HTML body as an .html to open in a browser) in the demo's inbox folder, whose index.html
lists them all; the folder is served on loopback as the demo's Inbox page.

Nothing is relayed anywhere: the demo's parents and staff are invented.
"""

from __future__ import annotations

import functools
import html
import threading
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

BODY_LINES = 14  # enough to read a parent's letter; the rest is in the inbox folder


def in_words(mail: EmailMessage) -> list[str]:
    """The lines the demo prints for one e-mail: who it is to, what about, and its text."""
    lines = [f"e-mail to {mail['To']}: \"{mail['Subject']}\""]
    body = mail.get_body(("plain",))
    text = body.get_content() if body is not None else ""  # type: ignore[union-attr]
    shown = [line.rstrip() for line in text.strip().splitlines()]
    lines += [f"    | {line}" for line in shown[:BODY_LINES]]
    if len(shown) > BODY_LINES:
        lines.append(f"    | ... ({len(shown) - BODY_LINES} more lines in the inbox folder)")
    return lines


class DemoInbox:
    """aiosmtpd's handler: keep each message, write it to the folder, say it."""

    def __init__(self, folder: Path, say: Callable[[str], None]) -> None:
        self.folder, self.say = folder, say
        folder.mkdir(parents=True, exist_ok=True)
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()  # aiosmtpd's thread adds, the demo's reads

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook for one message: keep it and answer 250."""
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        with self.lock:
            mails = [*self.messages, mail]
        name = f"{len(mails):03d}-{mail['X-Lockers-Kind'] or 'mail'}"
        (self.folder / f"{name}.eml").write_bytes(envelope.content)
        html = mail.get_body(("html",))
        if html is not None:
            (self.folder / f"{name}.html").write_text(html.get_content())  # type: ignore[union-attr]
        self.write_index(mails)
        for line in in_words(mail):
            self.say(line)
        with self.lock:  # counted as received once its files, the Inbox page and the terminal
            self.messages.append(mail)  # show it (the only writer: aiosmtpd's one loop)
        return "250 Message accepted for delivery"

    def write_index(self, messages: list[EmailMessage] | None = None) -> None:
        """Write the Inbox page: newest first, each with its HTML body and .eml. Written
        aside and renamed, so a browser never reads a half-written page."""
        if messages is None:
            with self.lock:
                messages = list(self.messages)
        rows = []
        for n, mail in reversed(list(enumerate(messages, start=1))):
            name = f"{n:03d}-{mail['X-Lockers-Kind'] or 'mail'}"
            when = parsedate_to_datetime(mail["Date"]).strftime("%H:%M:%S") \
                if mail["Date"] else ""
            rows.append(f"<tr><td>{when}</td><td>{html.escape(str(mail['To']))}</td>"
                        f"<td><a href='{name}.html'>{html.escape(str(mail['Subject']))}</a>"
                        f"</td><td><a href='{name}.eml'>.eml</a></td></tr>")
        aside = self.folder / "index.html.new"
        aside.write_text(
            "<!doctype html><meta charset='utf-8'><title>Demo inbox</title>"
            "<h1>Demo inbox</h1><p>Every e-mail the demo school sent, newest first.</p>"
            "<table cellpadding='6'><tr><th>Queued (UTC)</th><th>To</th><th>Subject</th><th></th>"
            "</tr>" + "".join(rows) + "</table>")
        aside.replace(self.folder / "index.html")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass  # the demo's terminal is for the school's story, not request lines


class MailSink:
    """The SMTP server the demo's server.toml points at; ``start()``/``stop()``."""

    def __init__(self, folder: Path, port: int, say: Callable[[str], None],
                 web_port: int = 0) -> None:
        self.port = port
        self.inbox = DemoInbox(folder, say)
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=port)
        self._web = ThreadingHTTPServer(
            ("127.0.0.1", web_port), functools.partial(_Quiet, directory=str(folder)))
        self.web_url = f"http://127.0.0.1:{self._web.server_address[1]}/"
        self._web_thread = threading.Thread(target=self._web.serve_forever, daemon=True)

    def start(self) -> None:
        """Listen for mail on 127.0.0.1:``port`` and serve the Inbox page."""
        self.inbox.write_index()  # an empty inbox is a page too
        self._controller.start()
        self._web_thread.start()

    def stop(self) -> None:
        """Stop listening and serving."""
        self._controller.stop()
        self._web.shutdown()
        self._web.server_close()

    def kinds(self) -> list[str]:
        """The kinds of message received so far, in order (for tests and the summary)."""
        with self.inbox.lock:
            return [m["X-Lockers-Kind"] for m in self.inbox.messages]
