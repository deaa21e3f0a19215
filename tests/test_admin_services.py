"""The admin and alarm services on their own (no browser): the rules behind the admin pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from server.errors import NotAllowed
from server.migrate import upgrade
from server.models import Alarm, AuditEntry, Kiosk
from server.services import Services
from server.services.alarms import AlarmDesk
from server.services.dashboard import as_utc
from server.services.provisioning import BrokerEndpoint
from server.services.web_admin import WebAdmin
from server.store import Store
from tests.server_kit import MORNING, database_url, make_clock, seed

pytestmark = pytest.mark.usefixtures("each_database")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """A migrated database with the seeded school."""
    url = database_url(tmp_path)
    upgrade(url)
    store = Store(url)
    svc = Services(store, make_clock())
    seed(svc)  # site north, kiosk k1, staff admin/office1/head
    yield svc
    store.dispose()


def door_alarm(services: Services) -> int:
    """A door-left-open alarm on k1's locker 4, as ingest would raise it."""
    with services.store.write() as s:
        k1 = s.scalar(select(Kiosk).where(Kiosk.code == "k1"))
        alarm = Alarm(kiosk_id=k1.id, kind="door_left_open", slot=4, raised_at=MORNING)
        s.add(alarm)
        s.flush()
        return alarm.id


def test_an_alarm_is_acknowledged_once_with_who_when_and_the_note(services: Services) -> None:
    desk = AlarmDesk(services.ctx)
    alarm_id = door_alarm(services)
    desk.acknowledge("office1", alarm_id, "  going to look  ")
    (shown,) = desk.open_alarms()
    assert (shown.what, shown.acknowledged_by, shown.acknowledged_by_name,
            shown.acknowledged_note) == ("door left open", "office1", "Olu Office",
                                         "going to look")
    assert shown.acknowledged_at is not None and as_utc(shown.acknowledged_at) == MORNING
    with pytest.raises(NotAllowed, match="office1 acknowledged this alarm already"):
        desk.acknowledge("head", alarm_id, "me too")
    with services.store.read() as s:
        assert s.scalar(select(AuditEntry.actor).where(
            AuditEntry.action == "alarm.acknowledge")) == "staff:office1"


def test_a_kiosk_needs_a_name_and_two_kiosks_cannot_share_an_id(services: Services) -> None:
    with pytest.raises(NotAllowed, match="give the kiosk a name"):
        services.admin.name_kiosk("admin", "k1", "  ", "sports hall")
    with pytest.raises(NotAllowed, match="already has a kiosk 'k1'"):
        services.admin.add_kiosk("admin", "k1", slots=4)
    services.admin.name_kiosk("admin", "k1", "Sports hall door", "sports hall")
    (site,) = WebAdmin(services.ctx).sites()
    assert site["kiosks"] == [{"code": "k1", "name": "Sports hall door",
                               "place": "sports hall", "slots": 10}]


def test_only_an_admin_names_kiosks_and_only_another_admin_deactivates_one(
        services: Services) -> None:
    with pytest.raises(NotAllowed):
        services.admin.name_kiosk("head", "k1", "Main entrance", "")
    with pytest.raises(NotAllowed, match="cannot deactivate your own account"):
        services.admin.set_active("admin", "admin", False, "oops")


def test_the_provisioning_script_adds_one_account_and_never_rewrites_the_others(
        services: Services) -> None:
    done = WebAdmin(services.ctx).provision_kiosk(
        "admin", "north", "k1", BrokerEndpoint("lockers.school.internal", 8883, True))
    assert "mosquitto_passwd -b" in done.server_script
    assert "mosquitto_passwd -c" not in done.server_script
    assert done.password in done.server_script and "..." not in done.server_script
    assert 'port = 8883' in done.config_toml and 'tls_ca = "/etc/lockers/tls/ca.crt"' in \
        done.config_toml
    plain = WebAdmin(services.ctx).provision_kiosk(
        "admin", "north", "k1", BrokerEndpoint("10.0.0.5", 1883, False))
    assert "tls_ca" not in plain.config_toml and "scp" not in plain.kiosk_steps
    assert plain.password != done.password  # each provisioning is a new password
