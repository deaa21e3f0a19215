"""Upgrading a school's database to custody keeps every device it already holds: a held
confiscation stays held (in its slot, or in the office) and a phone still in a locker stays
there, each with its own custody record."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from server.migrate import alembic_config
from server.models import Confiscation, CustodyMove, CustodyRecord, Deposit
from tests.server_kit import database_url

pytestmark = pytest.mark.usefixtures("each_database")

ROWS = """
INSERT INTO sites (id, code, name, card_hash_key, timezone, assignment_mode,
  breaches_before_parent_collection, retention_days, release_opens, release_closes,
  door_open_alarm_s, eligibility_required)
  VALUES (1, 'north', 'North', 'k', 'Europe/London', 'dynamic', 3, 400, '15:10:00',
  '16:30:00', 60, FALSE);
INSERT INTO kiosks (id, site_id, code, name, online, policy_version, last_seq)
  VALUES (1, 1, 'k1', 'North entrance', FALSE, 3, 40);
INSERT INTO pupils (id, site_id, reference, first_name, last_name, archived)
  VALUES (1, 1, 'A001', 'Amira', 'O', FALSE), (2, 1, 'A002', 'Ben', 'S', FALSE),
  (3, 1, 'A003', 'Cara', 'L', FALSE);
INSERT INTO staff (id, username, display_name, role, password_hash, active, created_at)
  VALUES (1, 'office1', 'Olu Office', 'office', 'x', TRUE, '2026-11-20 08:00:00.000000');
INSERT INTO deposits (id, site_id, kiosk_id, pupil_id, pupil_ref, slot, day, deposited_at,
  late, collected_at) VALUES
  (1, 1, 1, 1, 'A001', 3, '2026-11-20', '2026-11-20 08:10:00.000000', FALSE, NULL),
  (2, 1, 1, 2, 'A002', 4, '2026-11-20', '2026-11-20 08:11:00.000000', FALSE, NULL),
  (3, 1, 1, 3, 'A003', 5, '2026-11-20', '2026-11-20 08:12:00.000000', FALSE,
   '2026-11-20 15:20:00.000000');
INSERT INTO confiscations (id, site_id, pupil_id, reason, second_device, staff_id,
  confiscated_at, day, release_mode, kiosk_id, slot, state) VALUES
  (1, 1, 2, 'filming', FALSE, 1, '2026-11-20 10:00:00.000000', '2026-11-20', 'parent_only',
   1, 4, 'held'),
  (2, 1, 3, 'second phone', TRUE, 1, '2026-11-20 11:00:00.000000', '2026-11-20',
   'parent_only', NULL, NULL, 'held'),
  (3, 1, 1, 'earlier', FALSE, 1, '2026-11-19 11:00:00.000000', '2026-11-19',
   'pupil_end_of_day', NULL, NULL, 'released_to_pupil');
"""


def test_upgrading_keeps_held_devices_held_and_phones_in_their_lockers(tmp_path: Path
                                                                     ) -> None:
    url = database_url(tmp_path)
    cfg = alembic_config(url)
    command.upgrade(cfg, "0001")
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in ROWS.split(";"):
            if statement.strip():
                conn.execute(text(statement))
    command.upgrade(cfg, "0002")
    with Session(engine) as s:
        records = {r.custody_id: (r.pupil_ref, r.state, r.kiosk_id, r.slot, r.place,
                                  r.confiscation_id)
                   for r in s.scalars(select(CustodyRecord))}
        assert records == {
            "c1": ("A002", "held_in_slot", 1, 4, None, 1),
            "c2": ("A003", "held_in_office", None, None, "office", 2),
            "d1": ("A001", "in_slot", 1, 3, None, None),
        }
        assert {c.id: c.custody_id for c in s.scalars(select(Confiscation))} == {
            1: "c1", 2: "c2", 3: None}
        assert {d.id: d.custody_id for d in s.scalars(select(Deposit))} == {
            1: "d1", 2: "c1", 3: None}
        assert s.scalar(select(CustodyMove.actor).limit(1)) == "system"
    engine.dispose()
