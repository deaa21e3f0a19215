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


@pytest.mark.parametrize("each_database", ["postgresql"], indirect=True)
def test_a_process_lost_just_as_another_is_elected_is_still_counted_lost(
        tmp_path: Path) -> None:
    """Another server process dies the moment this one is elected, before its first count
    of the live processes: the loss must still be heard (the kiosks are then asked for what
    the dead process held). Found under two CPU hogs: the new leader's first count came
    after the kill, so it took one live process for the normal state and never asked."""
    from sqlalchemy import text

    from server.leader import MAX_PROCESSES, PROCESS_SPACE, Leadership
    from server.migrate import upgrade
    from server.store import Store, make_engine
    from tests.server_kit import database_url

    url = database_url(tmp_path)
    upgrade(url)
    store = Store(url)
    other = make_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT")
    try:  # the other process: a member (any free slot), not the leader
        assert any(other.execute(text(
            "SELECT pg_try_advisory_lock(CAST(:a AS integer), CAST(:b AS integer))"),
            {"a": PROCESS_SPACE, "b": slot}).scalar() for slot in range(MAX_PROCESSES))
        leader = Leadership(store, retry_s=0.2)
        lost: list[int | None] = []
        leader.on_change.append(lambda leading: other.invalidate() if leading else None)
        leader.on_member_lost.append(lambda: lost.append(leader.members))
        leader.start()
        try:
            wait_until(lambda: lost, timeout=15, what="the lost process to be counted")
            assert lost == [1]
        finally:
            leader.stop()
    finally:
        other.close()
        store.dispose()
