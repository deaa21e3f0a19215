"""The ways a message leaves: e-mail over SMTP (standard library), SMS and chat via Apprise.

A channel raises :class:`NotSent` when the message certainly did not leave (the server was
unreachable, refused it, or answered with an error before accepting it): the sender tries
again later. Any other exception while sending leaves the message in doubt.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Protocol
from urllib.parse import quote

import apprise

from server.errors import ServerError
from server.models import Notification
from server.notify.config import NotifyConfig
from server.notify.recipients import CHAT, EMAIL, SMS

log = logging.getLogger("lockers.server.notify")


class NotSent(ServerError):
    """The message certainly did not leave; it is safe to try again."""


class Connection(Protocol):
    """An open way out for one message."""

    def send(self, row: Notification) -> None:
        """Hand ``row`` over; :class:`NotSent` if it certainly did not leave."""

    def close(self) -> None:
        """Let go of the connection."""


def email_message(row: Notification, sender: str) -> EmailMessage:
    """The e-mail for ``row``: text and HTML alternatives, a Message-ID fixed by the row so a
    copy that ever arrived twice is recognisable as the same message."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = formataddr((row.recipient_name, row.recipient)) \
        if row.recipient_name and row.audience == "parent" else row.recipient
    msg["Subject"] = row.subject
    # RFC 5322 requires a Date: when the message was ready to go, i.e. when it was queued
    # (from the injectable clock, like every time here), not when a retry finally sent it.
    msg["Date"] = format_datetime(row.created_at)
    domain = sender.rsplit("@", 1)[-1].rstrip(">") or "localhost"
    msg["Message-ID"] = make_msgid(idstring=f"notification-{row.id}", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to us
    msg["X-Lockers-Kind"] = row.kind  # lets a school's mail rules sort them
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    return msg


class SmtpConnection:
    """One SMTP session, opened (and TLS/login done) BEFORE the message is claimed, so an
    unreachable server never leaves a message in doubt."""

    def __init__(self, config: NotifyConfig) -> None:
        self.config = config
        host, port, timeout = config.smtp_host, config.smtp_port, config.smtp_timeout_s
        context = ssl.create_default_context(cafile=config.smtp_ca_file)
        try:
            if config.smtp_security == "ssl":
                self.smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, port, timeout=timeout, context=context)
            else:
                self.smtp = smtplib.SMTP(host, port, timeout=timeout)
                if config.smtp_security == "starttls":
                    self.smtp.starttls(context=context)
            if config.smtp_username:
                self.smtp.login(config.smtp_username, config.smtp_password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise NotSent(f"cannot reach the mail server {host}:{port} "
                          f"({type(exc).__name__}: {exc}); check [notify] smtp_* in "
                          "server.toml") from exc

    def send(self, row: Notification) -> None:
        """Send one e-mail; a refusal by the server is :class:`NotSent`."""
        try:
            self.smtp.send_message(email_message(row, self.config.sender),
                                   to_addrs=[row.recipient])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                smtplib.SMTPDataError) as exc:
            raise NotSent(f"the mail server refused the message: {exc}") from exc

    def close(self) -> None:
        """QUIT, ignoring a server that already went away."""
        with contextlib.suppress(OSError, smtplib.SMTPException):
            self.smtp.quit()


class AppriseConnection:
    """SMS and staff chat through Apprise, by the channel's URL in ``[notify.channels]``."""

    def __init__(self, config: NotifyConfig, row: Notification) -> None:
        name = "sms" if row.channel == SMS else row.recipient
        template = config.channels.get(name)
        if not template:
            raise NotSent(f"no Apprise URL for channel {name!r}: add it under "
                          "[notify.channels] in server.toml")
        url = template.format(to=quote(row.recipient)) if row.channel == SMS else template
        self.apprise = apprise.Apprise()
        if not self.apprise.add(url):
            raise NotSent(f"the Apprise URL for channel {name!r} is not valid")
        self.name = name

    def send(self, row: Notification) -> None:
        """Notify; Apprise reports a refused connection or an error status as False."""
        if not self.apprise.notify(body=row.body_text, title=row.subject):
            raise NotSent(f"channel {self.name!r} did not accept the message "
                          "(see the server log for Apprise's reason)")

    def close(self) -> None:
        """Nothing held open."""


def connect(config: NotifyConfig, row: Notification) -> Connection:
    """Open the way out for ``row``'s channel (raises :class:`NotSent` if there is none)."""
    if row.channel == EMAIL:
        return SmtpConnection(config)
    if row.channel in (SMS, CHAT):
        return AppriseConnection(config, row)
    raise NotSent(f"channel {row.channel!r} is not sent by the server")
