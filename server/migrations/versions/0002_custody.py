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
