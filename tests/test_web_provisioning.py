"""Provisioning a kiosk from the admin page, with the steps run exactly as the page prints
them against a real Mosquitto: the new kiosk's account works, and the server's and the other
kiosks' accounts still do (the old steps rewrote the password file and locked them all out)."""

from __future__ import annotations

import os
import subprocess
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from lockers.broker import free_port
from lockers.wire import messages as m
from lockers.wire import topics as t
from tests.server_kit import MORNING, FakeKiosk, make_clock, running_server, wait_until
from tests.test_web_admin import DESKTOP, PHONE, assert_no_sideways_scrolling, flash, shot
from tests.test_web_dashboard import WebServer, browser, sign_in  # noqa: F401


@pytest.fixture
def school(tmp_path: Path, broker_factory: Any) -> Iterator[tuple[str, Any, Any, FakeKiosk]]:
    """The real broker with kiosk north/k1, the server on its own account, the web app."""
    b = broker_factory(kiosks=[("north", "k1")])
    with running_server(tmp_path, b.host, b.port, make_clock(), username=b.server_username,
                        password=b.server_password) as rt:
        account = b.kiosk("north", "k1")
        k1 = FakeKiosk(b.host, b.port, "north", "k1", account.username, account.password)
        web = WebServer(rt, free_port())
        web.start()
        try:
            yield f"http://127.0.0.1:{web.port}", rt, b, k1
        finally:
            web.stop()
            k1.close()


def provision_k2(page: Any, base: str, add_it: bool = True) -> None:
    """Add the sports hall kiosk and provision it, as an admin does."""
    sign_in(page, base, "admin", "correct horse")
    page.goto(f"{base}/admin")
    if add_it:
        add_kiosk(page)
    page.click("button:has-text('Provision Sports hall door')")


def add_kiosk(page: Any) -> None:
    """The add-a-kiosk form, filled in."""
    add = page.locator("form[action='/admin/kiosks']")
    add.locator("input[name=code]").fill("k2")
    add.locator("input[name=name]").fill("Sports hall door")
    add.locator("input[name=place]").fill("sports hall")
    add.locator("button").click()
    assert "Saved: kiosk Sports hall door with 16 lockers" in flash(page)


def connects(b: Any, username: str, password: str) -> bool:
    """Whether the broker lets this account connect now."""
    try:
        b.client(username, password).close()
    except ConnectionRefusedError:
        return False
    return True


def test_provisioning_steps_run_as_printed_let_the_new_kiosk_in_and_lock_no_one_out(
        school: Any, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    base, _rt, b, k1 = school
    page = browser.new_page(**DESKTOP, accept_downloads=True)
    provision_k2(page, base)
    printed = page.inner_text("#server-script")
    config = tomllib.loads(page.inner_text("#config"))
    # One port everywhere, and it is the TLS one the page says.
    assert config["broker"]["port"] == 8883 and config["broker"]["tls_ca"]
    assert "port 8883 with TLS" in page.inner_text(".provision")
    assert "..." not in printed and "mosquitto_passwd -c" not in printed
    assert "\nlockers broker config" not in printed  # (it regenerates every account)
    with page.expect_download() as download:
        page.click("#download-script")
    script = tmp_path / download.value.suggested_filename
    download.value.save_as(script)
    assert script.name == "provision-north-k2.sh"
    assert script.read_text() == printed + ("\n" if not printed.endswith("\n") else "")
    shot(page, "provisioned")
    phone = browser.new_page(**PHONE)
    provision_k2(phone, base, add_it=False)  # again, on a phone (a new password)
    assert_no_sideways_scrolling(phone)
    shot(phone, "provisioned-phone")
    # The steps as printed (the first page's), in a temp dir against the running broker.
    env = {**os.environ, "BROKER_DIR": str(b.setup.config_dir),
           "SECRETS_DIR": str(tmp_path / "secrets"),
           "RELOAD_BROKER": f"kill -HUP {b.process.pid}"}
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    password = config["broker"]["password"]
    wait_until(lambda: connects(b, "kiosk-north-k2", password), 10, "k2 let in")
    assert (tmp_path / "secrets" / "kiosk-north-k2.password").read_text().strip() == password
    assert not connects(b, "kiosk-north-k2", "a wrong password")
    # k2 may publish only under its own name.
    k2 = b.client("kiosk-north-k2", password)
    assert not k2.publish_and_wait(t.topic(t.STATUS, "north", "k2"), b"{}").is_failure
    assert k2.publish_and_wait(t.topic(t.STATUS, "north", "k1"), b"{}").is_failure
    # The running server and kiosk k1 carry on, and both accounts still sign in afresh
    # (a fresh k1 connection takes over k1's client id, so it comes last).
    k1.publish(m.DepositEvent(kiosk="k1", site="north", seq=1, slot=2, pupil_ref="A001",
                              at=MORNING + timedelta(minutes=1)))
    k1.wait_for(lambda k: 1 in k.acked, 10, "the server's acknowledgement")
    assert connects(b, f"{b.server_username}-2", b.server_password), "server locked out"
    account = b.kiosk("north", "k1")
    assert connects(b, account.username, account.password), "kiosk k1 was locked out"
