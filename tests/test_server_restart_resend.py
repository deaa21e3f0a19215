"""A server restarted during the morning rush, as a school's IT technician would restart it:
a pupil's hand-in made while it was down is on the server because the server, once it is
listening again, asks the kiosk for what it has not acknowledged (docs/adr/0010), played with
the real server, the real broker and a real kiosk controller on mock pins.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_py.nfc import ReaderSpec
from lockers.wire import messages as m
from tests.controller_kit import KIOSK, SITE, make_rig, wait_until
from tests.fixtures.broker import Broker
from tests.server_kit import database_url, make_clock

UID = "04C0FFEE000001"
O = m.TapOutcome  # noqa: E741


def _runtime(url: str, broker: Broker, clock: Any) -> Any:
    from server.config import ServerConfig
    from server.mqtt_link import MqttSettings
    from server.runtime import ServerRuntime

    return ServerRuntime(ServerConfig(database_url=url, mqtt=MqttSettings(
        host=broker.host, port=broker.port, username=broker.server_username,
        password=broker.server_password, client_id="server-restart"), replica_tick_s=30),
        clock=clock)


@pytest.fixture
def school(tmp_path: Path, broker: Broker) -> Iterator[tuple[str, Any, Any]]:
    """A school with one pupil and one kiosk; its server not started yet."""
    from server.migrate import upgrade
    from server.models import Pupil
    from server.services import Services
    from server.store import Store

    url = database_url(tmp_path)
    upgrade(url)
    clock = make_clock()
    store = Store(url)
    s = Services(store, clock)
    s.admin.create_staff(None, "admin", "Ada Admin", "admin", "correct horse")
    s.admin.create_site("admin", SITE, "School One")
    s.admin.add_kiosk("admin", KIOSK, slots=8)
    with store.write() as db:
        site = s.ctx.site(db, SITE)
        key = site.card_hash_key
        db.add(Pupil(site_id=site.id, reference="P1", first_name="Amira", last_name="O'Neil",
                     year_group="9", form="9X"))
    s.cards.enrol_card("admin", "P1", UID)
    store.dispose()
    yield url, clock, key


def test_a_hand_in_made_while_the_server_restarts_reaches_it_because_it_asks_the_kiosk(
        tmp_path: Path, mock_pins: Any, broker: Broker,
        school: tuple[str, Any, Any]) -> None:
    url, clock, key = school
    first = _runtime(url, broker, clock)
    first.start()
    rig = make_rig(tmp_path, mock_pins, broker, readers=[ReaderSpec("arrival", "none")],
                   clock=clock)
    rig.controller.config.card_key = key
    second = None
    try:
        wait_until(lambda: rig.controller.view().policy_version >= 1, 20, "the replica")
        first.stop()  # the technician restarts the server at 08:20
        # Amira hands her phone in meanwhile: the kiosk opens a locker on its own replica,
        # and its events reach the broker with nobody listening.
        result = rig.tap(UID)
        assert result.outcome is O.DEPOSIT_OPENED and result.slot is not None
        rig.open_and_close(result.slot, item="put")
        wait_until(lambda: rig.controller.store.pending_count() > 0, 5,
                   "the hand-in in the kiosk's outbox")
        second = _runtime(url, broker, clock)
        second.start()
        server = second

        def on_the_server() -> bool:
            rig.controller.tick_now()  # the kiosk's timers run, as its ticker runs them
            return server.services.queries.where_is_phone("P1").slot == result.slot

        wait_until(on_the_server, 60, "Amira's phone in her locker on the server")
        wait_until(lambda: rig.controller.view().outbox_pending == 0, 30,
                   "the kiosk's outbox to empty")
        # It came because the server asked for it, not on the kiosk's silence timer.
        assert rig.controller.uplink.resends_asked >= 1
        assert rig.controller.uplink.resends == 0
        assert second.resend.requests >= 1
    finally:
        rig.controller.stop()
        if second is not None:
            second.stop()
