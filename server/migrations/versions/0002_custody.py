# ruff: noqa: E501  (generated table definitions are easier to review unwrapped)
"""Custody: one record per device and its moves; store epochs on events and kiosks; the
custody record named by slots, deposits, confiscations and remote unlocks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 01:01:19.722386
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('custody_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('custody_id', sa.String(length=80), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=True),
    sa.Column('pupil_ref', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=True),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=100), nullable=True),
    sa.Column('came_in_at', sa.DateTime(), nullable=False),
    sa.Column('came_in_day', sa.Date(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('confiscation_id', sa.Integer(), nullable=True),
    sa.Column('check_needed', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['confiscation_id'], ['confiscations.id'], name=op.f('fk_custody_records_confiscation_id_confiscations')),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_custody_records_kiosk_id_kiosks')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_custody_records_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_custody_records_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_records')),
    sa.UniqueConstraint('site_id', 'custody_id', name=op.f('uq_custody_records_site_id'))
    )
    with op.batch_alter_table('custody_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_records_pupil_id'), ['pupil_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_custody_records_state'), ['state'], unique=False)

    op.create_table('custody_moves',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('move', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=24), nullable=True),
    sa.Column('to_state', sa.String(length=24), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('kiosk_id', sa.Integer(), nullable=True),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=100), nullable=True),
    sa.Column('command_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_custody_moves_kiosk_id_kiosks')),
    sa.ForeignKeyConstraint(['record_id'], ['custody_records.id'], name=op.f('fk_custody_moves_record_id_custody_records')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_custody_moves_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_moves'))
    )
    with op.batch_alter_table('custody_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_moves_record_id'), ['record_id'], unique=False)

    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.add_column(sa.Column('custody_id', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('expected_pupil_ref', sa.String(length=64), nullable=True))

    with op.batch_alter_table('confiscations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('custody_id', sa.String(length=80), nullable=True))

    with op.batch_alter_table('deposits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('custody_id', sa.String(length=80), nullable=True))
        batch_op.create_index(batch_op.f('ix_deposits_custody_id'), ['custody_id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('epoch', sa.String(length=16), server_default='', nullable=False))
        batch_op.drop_constraint(batch_op.f('uq_events_kiosk_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_events_kiosk_id'), ['kiosk_id', 'epoch', 'seq'])

    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('epoch', sa.String(length=16), server_default='', nullable=False))

    with op.batch_alter_table('slots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('custody_id', sa.String(length=80), nullable=True))

    _records_for_devices_already_held()


MIGRATED = "recorded before custody records existed"


def _records_for_devices_already_held() -> None:
    """Give every device the server already holds its custody record, so an upgrade neither
    releases a held confiscation nor forgets a phone still in a locker: each held
    confiscation ("c<id>", held in its slot, or in the office if it named none) and each
    uncollected deposit not covered by one ("d<id>", in its slot)."""
    conn = op.get_bind()
    held_slots: dict[tuple[int, int], str] = {}
    confs = conn.execute(sa.text(
        "SELECT c.id, c.site_id, c.pupil_id, p.reference, c.kiosk_id, c.slot, "
        "c.confiscated_at, c.day, c.reason FROM confiscations c JOIN pupils p "
        "ON p.id = c.pupil_id WHERE c.state = 'held' ORDER BY c.id")).all()
    for cid, site, pupil, ref, kiosk, slot, at, day, reason in confs:
        in_slot = kiosk is not None and slot is not None
        custody_id = f"c{cid}"
        _insert(conn, custody_id, site, pupil, ref, "held_in_slot" if in_slot
                else "held_in_office", kiosk if in_slot else None, slot if in_slot else None,
                None if in_slot else "office", at, day, cid,
                "confiscated_into_slot" if in_slot else "confiscate_taken", reason)
        conn.execute(sa.text("UPDATE confiscations SET custody_id = :c WHERE id = :i"),
                     {"c": custody_id, "i": cid})
        if in_slot:
            held_slots[(kiosk, slot)] = custody_id
    deps = conn.execute(sa.text(
        "SELECT id, site_id, pupil_id, pupil_ref, kiosk_id, slot, deposited_at, day "
        "FROM deposits WHERE collected_at IS NULL ORDER BY id")).all()
    for did, site, pupil, ref, kiosk, slot, at, day in deps:
        custody_id = held_slots.get((kiosk, slot))
        if custody_id is None:
            custody_id = f"d{did}"
            _insert(conn, custody_id, site, pupil, ref, "in_slot", kiosk, slot, None, at, day,
                    None, "deposit_at_kiosk", None)
            held_slots[(kiosk, slot)] = custody_id
        conn.execute(sa.text("UPDATE deposits SET custody_id = :c WHERE id = :i"),
                     {"c": custody_id, "i": did})


def _insert(conn: sa.Connection, custody_id: str, site: int, pupil: int | None, ref: str,
            state: str, kiosk: int | None, slot: int | None, place: str | None, at: object,
            day: object, confiscation: int | None, move: str, reason: str | None) -> None:
    conn.execute(sa.text(
        "INSERT INTO custody_records (custody_id, site_id, pupil_id, pupil_ref, state, "
        "kiosk_id, slot, place, came_in_at, came_in_day, confiscation_id) VALUES (:cid, :site, "
        ":pupil, :ref, :state, :kiosk, :slot, :place, :at, :day, :conf)"),
        {"cid": custody_id, "site": site, "pupil": pupil, "ref": ref, "state": state,
         "kiosk": kiosk, "slot": slot, "place": place, "at": at, "day": day,
         "conf": confiscation})
    record = conn.execute(sa.text("SELECT id FROM custody_records WHERE site_id = :s AND "
                                  "custody_id = :c"), {"s": site, "c": custody_id}).scalar_one()
    conn.execute(sa.text(
        "INSERT INTO custody_moves (record_id, move, to_state, at, actor, reason, kiosk_id, "
        "slot, place) VALUES (:r, :move, :state, :at, 'system', :reason, :kiosk, :slot, "
        ":place)"), {"r": record, "move": move, "state": state, "at": at,
                     "reason": f"{MIGRATED}: {reason}" if reason else MIGRATED,
                     "kiosk": kiosk, "slot": slot, "place": place})



def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table('slots', schema=None) as batch_op:
        batch_op.drop_column('custody_id')

    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.drop_column('epoch')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_events_kiosk_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_events_kiosk_id'), ['kiosk_id', 'seq'])
        batch_op.drop_column('epoch')

    with op.batch_alter_table('deposits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deposits_custody_id'))
        batch_op.drop_column('custody_id')

    with op.batch_alter_table('confiscations', schema=None) as batch_op:
        batch_op.drop_column('custody_id')

    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.drop_column('expected_pupil_ref')
        batch_op.drop_column('custody_id')

    with op.batch_alter_table('custody_moves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_moves_record_id'))

    op.drop_table('custody_moves')
    with op.batch_alter_table('custody_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_records_state'))
        batch_op.drop_index(batch_op.f('ix_custody_records_pupil_id'))

    op.drop_table('custody_records')
