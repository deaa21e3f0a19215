"""The work one elected process does for the installation (server/elected.py, #17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lockers.wire import messages as m
from server.models import AuditEntry, Command
from server.models.operations import CommandStatus
from tests.server_kit import make_clock, running_server, wait_until

pytestmark = pytest.mark.usefixtures("each_database")


def test_a_command_nobody_waits_for_times_out_at_its_expiry(
        tmp_path: Path, broker_factory: Any) -> None:
    broker = broker_factory(kiosks=[("north", "k1")])
    clock = make_clock()
    with running_server(tmp_path, broker.host, broker.port, clock,
                        username=broker.server_username,
                        password=broker.server_password) as rt:
        # The only process leads: at once on SQLite, on PostgreSQL once its election thread
        # holds the advisory lock.
        wait_until(lambda: rt.health()["leader"], timeout=30, what="the process to lead")
        command = rt.commands.send("north", "k1", m.CommandKind.RESYNC, "office1",
                                   "check the kiosk", ttl_s=60)

        def status() -> str:
            with rt.store.read() as s:
                return s.scalar(select(Command.status).where(Command.id == command.id))

        assert status() == CommandStatus.SENT  # no kiosk answers, nobody waits
        clock.advance(61)
        wait_until(lambda: status() == CommandStatus.TIMEOUT, timeout=30,
                   what="the elected process to time the command out")
        with rt.store.read() as s:
            assert s.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "command.timeout",
                AuditEntry.entity_id == command.id)) == 1
