"""`make demo` shows the school's e-mails: the demo starts a local mail sink (a real SMTP
server), its server sends to it, and each message is printed as it arrives and kept in the
demo's inbox folder. Played here as far as the office's confiscation for parent collection
and the hand-over to the DSL, with the demo's own code, server process and broker."""

from __future__ import annotations

import html
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.demo import Demo
from lockers.broker import free_port
from tests.server_kit import wait_until


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """The demo's mail sink, broker, seeded school and server process (no kiosks)."""
    d = Demo(tmp_path / "demo", free_port(), free_port(), pupils=16, kiosks=1, seed=7)
    try:
        d.start_mail_sink()
        d.start_broker()
        config, _url = d.seed_server()
        d.start_server(config)
        yield d
    finally:
        d.shutdown()


@pytest.mark.timeout(300)
def test_the_demo_e_mails_a_parent_and_the_dsl_and_prints_each_message(
        demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    held, worrying = demo.pupils[5], demo.pupils[9]
    demo.hold_for_parent(held)
    demo.dsl_handover(worrying)
    wait_until(lambda: {"held_for_parent", "handed_to_dsl"} <= set(demo.mail.kinds()), 60,
               "the parent's and the DSL's e-mails in the demo's mail sink")
    mails = {m["X-Lockers-Kind"]: m for m in demo.mail.inbox.messages}
    parent = mails["held_for_parent"]
    # To a parent or carer on the roster the demo imported, about their child by first name.
    assert parent["To"].addresses[0].addr_spec in held.source_line
    assert parent["Subject"] == (f"{held.first_name}'s mobile phone is waiting for you at "
                                 "Demo Academy")
    greeted = parent["To"].addresses[0].display_name  # the parent's own name, surname too
    body = parent.get_body(("plain",)).get_content().replace(greeted, "")
    assert held.last_name not in body  # the child is their first name only
    dsl = mails["handed_to_dsl"]
    assert dsl["To"] == "dsl@demo-academy.example"
    assert "worrying" not in dsl.get_body(("plain",)).get_content()  # the note stays inside
    printed = capsys.readouterr().out
    assert f'e-mail to {parent["To"]}: "{parent["Subject"]}"' in printed
    assert f"    | Dear {parent['To'].addresses[0].display_name}," in printed
    with urllib.request.urlopen(demo.mail.web_url, timeout=10) as answer:  # the Inbox page
        inbox_page = answer.read().decode()
    assert html.escape(parent["Subject"], quote=False) in inbox_page or \
        html.escape(parent["Subject"]) in inbox_page
    kept = sorted(p.name for p in (demo.dir / "inbox").iterdir())
    assert any(n.endswith("-held_for_parent.eml") for n in kept)
    assert any(n.endswith("-held_for_parent.html") for n in kept)
