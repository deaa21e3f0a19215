"""End to end with nothing faked but the world: the real server and its web app, the real
broker, a real kiosk controller in sim mode (mock pins), and Chromium. A pupil hands in a
phone, the office confiscates it and a parent collects it: the locker really opens."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from firmware_py.nfc import ReaderSpec
from lockers.broker import free_port
from lockers.wire import messages as m
from server.web.app import create_app
from tests.controller_kit import KIOSK, SITE, make_rig, wait_until
from tests.fixtures.broker import Broker
from tests.server_kit import database_url, make_clock
from tests.test_web_dashboard import ARTIFACTS, CHROMIUM_ARGS, sign_in

UID = "04C0FFEE000001"


@pytest.fixture
def school(tmp_path: Path, broker: Broker) -> Iterator[Any]:
    from server.config import ServerConfig
    from server.migrate import upgrade
    from server.mqtt_link import MqttSettings
    from server.runtime import ServerRuntime

    url = database_url(tmp_path)
    upgrade(url)
    clock = make_clock()
    rt = ServerRuntime(ServerConfig(database_url=url, mqtt=MqttSettings(
        host=broker.host, port=broker.port, username=broker.server_username,
        password=broker.server_password, client_id="server-e2e"), replica_tick_s=30),
        clock=clock)
    s = rt.services
    s.admin.create_staff(None, "admin", "Ada Admin", "admin", "correct horse")
    s.admin.create_site("admin", SITE, "School One")
    s.admin.add_kiosk("admin", KIOSK, slots=8)
    s.admin.create_staff("admin", "office1", "Olu Office", "office", "office pass")
    from server.models import Pupil

    with s.store.write() as db:
        site_id = s.ctx.site(db, SITE).id
        db.add(Pupil(site_id=site_id, reference="P1", first_name="Amira",
                     last_name="O'Neil", year_group="9", form="9X"))
    s.cards.enrol_card("office1", "P1", UID)
    rt.start()
    app = create_app(s)
    app.state.runtime = rt
    rt.ingest.listeners.append(app.state.broadcaster.on_commit)
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    wait_until(lambda: web.started, 10, "the web server")
    try:
        yield rt, f"http://127.0.0.1:{port}", clock
    finally:
        web.should_exit = True
        thread.join(10)
        rt.stop()


def test_parent_collection_opens_the_real_kiosks_locker(tmp_path: Path, mock_pins: Any,
                                                         broker: Broker, school: Any) -> None:
    rt, base, clock = school
    with rt.store.read() as db:
        from server.models import Site

        key = db.query(Site).one().card_hash_key
    rig = make_rig(tmp_path, mock_pins, broker, readers=[ReaderSpec("arrival", "none")],
                   clock=clock)
    rig.controller.config.card_key = key
    try:
        wait_until(lambda: rig.controller.view().policy_version >= 1, 10, "the server's replica")
        result = rig.tap(UID)
        assert result.outcome is m.TapOutcome.DEPOSIT_OPENED
        slot = result.slot
        rig.open_and_close(slot, item="put")
        wait_until(lambda: rt.services.queries.where_is_phone("P1").slot == slot, 10,
                   "the deposit to reach the server")
        with sync_playwright() as p:
            browser: Browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            sign_in(page, base, "office1", "office pass")
            page.goto(f"{base}/console/pupil/P1")
            page.fill("form[action$='/confiscate'] input[name=reason]", "filming a lesson")
            page.check("input[name=serious]")
            page.click("button:has-text('Record confiscation')")
            wait_until(lambda: rig.state(slot) is m.SlotState.HELD, 10,
                       "the kiosk to hold the slot")
            assert rig.tap(UID).outcome is m.TapOutcome.HELD  # the pupil cannot open it

            def parent_opens_the_door() -> None:
                wait_until(lambda: rig.relay(slot), 15, "the relay")
                rig.world.open_door(slot)
                rig.world.take_item(slot)

            opener = threading.Thread(target=parent_opens_the_door)
            opener.start()
            page.goto(f"{base}/console/held")
            page.fill("input[name=collector]", "Mrs O'Neil")
            page.fill("input[name=relationship]", "mother")
            page.fill("input[name=identity_check]", "photo ID")
            page.click("button:has-text('Record collection')")
            page.wait_for_selector("#outcome", timeout=20000)
            opener.join(15)
            assert "The locker opened" in page.inner_text("#outcome")
            assert page.inner_text("#physical") == "door opened"
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "parent-collection-real-kiosk.png"))
            browser.close()
        rig.world.close_door(slot)
        wait_until(lambda: rig.state(slot) is m.SlotState.FREE, 10, "the slot to be free")
    finally:
        rig.controller.stop()
