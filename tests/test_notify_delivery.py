"""Telling people, end to end through real servers: e-mail through a real SMTP server
(aiosmtpd), SMS and staff chat through Apprise to a webhook on loopback; outages, crashes and
restarts of the sender; the audit log."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.errors import NotFound
from server.models import AuditEntry, Notification
from server.notify import triggers
from server.notify.recipients import EMAIL, SMS, Recipient
from server.notify.sender import Sender
from server.services import Services
from tests.notify_child import PARENT
from tests.notify_kit import SmtpServer, Webhook, notify_config, put_contact, school
from tests.server_kit import wait_until

pytestmark = pytest.mark.usefixtures("each_database")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with school(tmp_path) as svc:
        yield svc


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def parent_on_file(services: Services) -> Recipient:
    """Amira's mother on her record, with an e-mail address."""
    put_contact(services, "A001", PARENT)
    return PARENT


@pytest.fixture
def sender(services: Services, smtp: SmtpServer) -> Iterator[Sender]:
    snd = Sender(services.store, services.clock, notify_config(smtp.port))
    snd.start()
    yield snd
    snd.stop()


def rows(services: Services) -> list[Notification]:
    with services.store.read() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def test_dsl_hears_by_email_at_once_when_a_device_is_handed_to_the_dsl(
        services: Services, smtp: SmtpServer, sender: Sender) -> None:
    conf = services.confiscations.confiscate("office1", "A001", "phone out in class")
    services.confiscations.hand_over("head", conf.id, "dsl", "worrying messages seen")
    wait_until(lambda: smtp.inbox.messages, 10, "the DSL's e-mail")
    mail = smtp.inbox.messages[0]
    assert mail["To"] == "dsl@north.example"
    assert "Safeguarding" in mail["Subject"] and "A001" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Amira (A001, 9X)" in text and "Amira" in html
    # Minimisation: no surname, no staff note in the message.
    for body in (text, html, mail["Subject"]):
        assert "O'Neil" not in body and "O&#39;Neil" not in body
        assert "worrying messages" not in body
    wait_until(lambda: rows(services)[0].status == "sent", 10, "the row marked sent")


def test_parent_is_told_what_why_where_and_when_to_collect_a_device_held_for_them(
        services: Services, smtp: SmtpServer, sender: Sender, parent_on_file: Recipient
        ) -> None:
    services.confiscations.confiscate("office1", "A001", "filming in the corridor",
                                      serious=True)
    wait_until(lambda: smtp.inbox.messages, 10, "the parent's e-mail")
    mail = smtp.inbox.messages[0]
    assert mail["To"] == "Mrs O'Neil <parent.oneil@example.org>"
    assert mail["Subject"] == "Amira's mobile phone is waiting for you at North School"
    text = mail.get_body(("plain",)).get_content()
    assert "may only be collected by a parent or carer" in text  # the school's words
    assert "the school office" in text and "between 8:00 and 16:30" in text
    assert "Monday 23 November 2026 at 08:00" in text
    assert "filming" not in text and "O'Neil" not in text.replace("Mrs O'Neil", "")
    assert mail["Auto-Submitted"] == "auto-generated"


def test_a_pupil_held_for_collection_without_a_contact_on_file_shows_the_office_no_contact(
        services: Services, smtp: SmtpServer) -> None:
    services.confiscations.confiscate("office1", "A002", "second breach", serious=True)
    [row] = rows(services)
    assert (row.kind, row.status, row.channel) == ("held_for_parent", "no_contact", "letter")
    sender = Sender(services.store, services.clock, notify_config(smtp.port))
    assert sender.run_once() == 0
    [view] = services.notifications.recent()
    assert view.recipient == "(no contact on file)" and view.last_error == "no contact on file"
    assert smtp.inbox.messages == []


def test_the_held_message_arrives_once_after_the_mail_server_comes_back(
        services: Services, parent_on_file: Recipient) -> None:
    smtp = SmtpServer()  # its port reserved, but the server is down
    sender = Sender(services.store, services.clock, notify_config(smtp.port))
    sender.start()
    try:
        services.confiscations.confiscate("office1", "A001", "filming", serious=True)
        wait_until(lambda: rows(services)[0].attempts >= 1 and
                   rows(services)[0].status == "pending", 10, "a failed first attempt")
        row = rows(services)[0]
        assert "cannot reach the mail server" in (row.last_error or "")
        assert row.next_attempt_at is not None
        assert row.next_attempt_at > services.clock.now()  # backing off, not hammering
        smtp.start()
        services.clock.advance(61)  # type: ignore[attr-defined]
        wait_until(lambda: rows(services)[0].status == "sent", 10, "the retry to succeed")
        for _ in range(3):  # more passes of the sender find nothing more to send
            sender.run_once()
        assert len(smtp.inbox.messages) == 1
        assert rows(services)[0].attempts == 2
    finally:
        sender.stop()
        smtp.stop()


def test_backoff_doubles_after_each_failure_and_gives_up_visibly(
        services: Services) -> None:
    smtp = SmtpServer()  # never started
    sender = Sender(services.store, services.clock,
                    notify_config(smtp.port, max_attempts=3))
    conf = services.confiscations.confiscate("office1", "A001", "out in class")
    services.confiscations.hand_over("head", conf.id, "police", "evidence")
    waits = []
    for _ in range(3):
        sender.run_once()
        row = rows(services)[0]
        if row.next_attempt_at:
            waits.append((row.next_attempt_at - services.clock.now()).total_seconds())
            services.clock.advance(waits[-1])  # type: ignore[attr-defined]
    assert waits == [60, 120]
    assert rows(services)[0].status == "failed"
    with services.store.read() as s:
        assert s.scalar(select(AuditEntry.reason).where(
            AuditEntry.action == "notification.failed")) == "gave up after 3 attempts"


def test_sms_to_a_parent_and_staff_chat_go_through_apprise_to_a_webhook(
        services: Services) -> None:
    put_contact(services, "A003", Recipient(SMS, "+447700900123", "Mr Lee", "father"))
    services.notifications.change_settings("admin", "north", dsl_email="",
                                           dsl_chat="staffchat")
    with Webhook() as hook:
        config = notify_config(1, channels={"sms": hook.url("/sms/{to}"),
                                            "staffchat": hook.url("/chat")})
        conf = services.confiscations.confiscate("office1", "A003", "filming", serious=True)
        services.confiscations.hand_over("head", conf.id, "dsl", "concern")
        assert Sender(services.store, services.clock, config).run_once() == 2
        paths = sorted(path for path, _ in hook.received)
        assert paths == ["/chat", "/sms/+447700900123"]  # the number arrived intact
        sms = next(body for path, body in hook.received if path.startswith("/sms"))
        assert "Cara" in sms["message"] and "Lee" not in sms["message"].replace("Mr Lee", "")
        chat = next(body for path, body in hook.received if path == "/chat")
        assert "A003" in chat["title"] and "concern" not in chat["message"]


def test_a_chat_channel_missing_from_server_toml_is_reported_not_lost(
        services: Services) -> None:
    services.notifications.change_settings("admin", "north", dsl_chat="nowhere")
    conf = services.confiscations.confiscate("office1", "A001", "out in class")
    services.confiscations.hand_over("head", conf.id, "dsl", "concern")
    Sender(services.store, services.clock, notify_config(1)).run_once()
    chat = [r for r in rows(services) if r.channel == "chat"][0]
    assert chat.status == "pending" and "[notify.channels]" in (chat.last_error or "")


def test_the_same_event_never_queues_twice(services: Services) -> None:
    conf = services.confiscations.confiscate("office1", "A001", "out in class")
    services.confiscations.hand_over("head", conf.id, "dsl", "concern")
    with services.store.write() as s:
        from server.models import Pupil, Site
        again = triggers.device_handed_over(
            s, services.clock.now(), "head", record="custody", record_id=conf.custody_id,
            pupil=s.scalar(select(Pupil).where(Pupil.reference == "A001")),
            site=s.scalar(select(Site)), to="dsl")
    assert again == []
    assert len(rows(services)) == 1


def test_every_message_is_in_the_audit_log_without_its_address_or_body(
        services: Services, parent_on_file: Recipient) -> None:
    conf = services.confiscations.confiscate("office1", "A001", "filming", serious=True)
    services.confiscations.hand_over("head", conf.id, "dsl", "concern")
    with services.store.read() as s:
        entries = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "notification.queued")).all()
        ids = {str(r.id) for r in s.scalars(select(Notification))}
    assert {e.entity_id for e in entries} == ids and len(ids) == 2
    for e in entries:
        assert e.pupil_ref == "A001" and e.actor in ("staff:office1", "staff:head")
        flat = repr(e.detail) + (e.reason or "")
        assert "@" not in flat and "Amira" not in flat and "O'Neil" not in flat


def test_email_goes_over_starttls_to_a_relay_with_its_own_certificate(
        services: Services, tmp_path: Path, parent_on_file: Recipient) -> None:
    import ssl

    key, cert = tmp_path / "relay.key", tmp_path / "relay.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    smtp = SmtpServer(tls_context=tls, require_starttls=True).start()
    try:
        services.confiscations.confiscate("office1", "A001", "filming", serious=True)
        plain = Sender(services.store, services.clock, notify_config(smtp.port))
        assert plain.run_once() == 0  # the relay refuses mail before STARTTLS
        services.clock.advance(61)  # type: ignore[attr-defined]
        secure = Sender(services.store, services.clock, notify_config(
            smtp.port, smtp_security="starttls", smtp_ca_file=str(cert)))
        assert secure.run_once() == 1
        assert len(smtp.inbox.messages) == 1
    finally:
        smtp.stop()


# --- crashes -------------------------------------------------------------------------------


def _child(url: str, smtp_port: int, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.notify_child", url, str(smtp_port),
                             mode], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line in ("committed", "sending"), f"the child server said {line!r}"
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()  # SIGKILL: no clean-up runs
    proc.wait(10)


def test_sent_exactly_once_when_the_server_is_killed_between_the_move_and_the_send(
        services: Services, smtp: SmtpServer) -> None:
    _kill(_child(services.store.url, smtp.port, "move"))
    [row] = rows(services)
    assert (row.kind, row.status, row.recipient) == ("held_for_parent", "pending",
                                                     PARENT.address)
    for _restart in range(2):  # the restarted server, then another restart
        Sender(services.store, services.clock, notify_config(smtp.port)).run_once()
    assert len(smtp.inbox.messages) == 1
    assert rows(services)[0].status == "sent"


def test_a_message_in_flight_when_the_sender_dies_is_in_doubt_and_never_sent_twice(
        services: Services, smtp: SmtpServer, parent_on_file: Recipient) -> None:
    services.confiscations.confiscate("office1", "A001", "filming", serious=True)
    smtp.inbox.gate = gate = threading.Event()
    child = _child(services.store.url, smtp.port, "send")
    try:
        assert smtp.inbox.arrived.wait(30), "the child never reached the mail server"
    finally:
        _kill(child)  # between the send and the mark
        gate.set()
    wait_until(lambda: smtp.inbox.messages, 10, "the message the mail server took")
    assert rows(services)[0].status == "sending"
    services.clock.advance(3600)  # type: ignore[attr-defined]  # past the claim timeout
    restarted = Sender(services.store, services.clock, notify_config(smtp.port))
    assert restarted.run_once() == 0
    row = rows(services)[0]
    assert row.status == "in_doubt" and "may or may not" in (row.last_error or "")
    assert len(smtp.inbox.messages) == 1
    # The office checks with the parent and decides to send it again: a new row, sent once.
    new_id = services.notifications.resend("office1", row.id)
    assert restarted.run_once() == 1 and len(smtp.inbox.messages) == 2
    assert rows(services)[-1].id == new_id and rows(services)[-1].resend_of == row.id




def test_another_schools_office_neither_sees_nor_resends_norths_messages(
        services: Services) -> None:
    services.admin.create_site("admin", "south", "South School")
    services.admin.create_staff("admin", "southoffice", "Sam South", "office", "south pass",
                                site="south")
    conf = services.confiscations.confiscate("office1", "A001", "out in class")
    services.confiscations.hand_over("head", conf.id, "dsl", "concern")
    [row] = rows(services)
    assert [v.id for v in services.notifications.recent("office1")] == [row.id]
    assert services.notifications.recent("southoffice") == []
    with pytest.raises(NotFound):
        services.notifications.resend("southoffice", row.id)


def test_the_running_server_tells_the_dsl_when_notify_is_enabled(
        tmp_path: Path, broker_factory: Any, smtp: SmtpServer) -> None:
    from tests.notify_kit import MAILBOXES
    from tests.server_kit import make_clock, running_server

    b = broker_factory(kiosks=[("north", "k1")])
    with running_server(tmp_path, b.host, b.port, make_clock(), username=b.server_username,
                        password=b.server_password, notify=notify_config(smtp.port)) as rt:
        assert rt.sender is not None
        rt.services.notifications.change_settings("admin", "north", **MAILBOXES)
        conf = rt.services.confiscations.confiscate("office1", "A002", "out in class")
        rt.services.confiscations.hand_over("head", conf.id, "dsl", "concern")
        wait_until(lambda: smtp.inbox.messages, 10, "the DSL's e-mail from the server")
    assert smtp.inbox.messages[0]["To"] == "dsl@north.example"


def test_a_carer_the_school_must_not_contact_is_never_told_and_an_opted_out_one_not_emailed(
        services: Services) -> None:
    put_contact(services, "A001", Recipient(EMAIL, "father@example.org", "Mr O'Neil",
                                            "father"), priority=1, do_not_contact=True)
    put_contact(services, "A001", Recipient(EMAIL, "aunt@example.org", "Ms Roy", "aunt"),
                priority=2, opt_out_email=True)
    put_contact(services, "A001", PARENT, priority=3)
    services.confiscations.confiscate("office1", "A001", "filming", serious=True)
    assert [(r.channel, r.recipient) for r in rows(services)] == [("email", PARENT.address)]
