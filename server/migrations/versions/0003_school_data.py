# ruff: noqa: E501  (generated table definitions are easier to review unwrapped)
"""A school's own data: leaving dates, parent/carer contacts, the saved roster column
mapping, the registers (brings a phone, absent, off site) the compliance report reads, and
pupil groups with their own collection windows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 01:00:18.457928
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('roster_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('saved_by', sa.String(length=100), nullable=False),
    sa.Column('saved_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_roster_mappings_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_mappings')),
    sa.UniqueConstraint('site_id', name=op.f('uq_roster_mappings_site_id'))
    )
    op.create_table('absences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_absences_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_absences_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_absences')),
    sa.UniqueConstraint('pupil_id', 'day', name=op.f('uq_absences_pupil_id'))
    )
    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_absences_day'), ['day'], unique=False)

    op.create_table('off_site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('starts', sa.Date(), nullable=False),
    sa.Column('ends', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_off_site_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_off_site_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_off_site'))
    )
    with op.batch_alter_table('off_site', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_off_site_pupil_id'), ['pupil_id'], unique=False)

    op.create_table('phone_register',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('brings_phone', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_phone_register_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_phone_register_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_register')),
    sa.UniqueConstraint('pupil_id', name=op.f('uq_phone_register_pupil_id'))
    )
    op.create_table('pupil_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('relationship', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('do_not_contact', sa.Boolean(), nullable=False),
    sa.Column('opt_out_email', sa.Boolean(), nullable=False),
    sa.Column('opt_out_sms', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_pupil_contacts_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_pupil_contacts_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pupil_contacts'))
    )
    with op.batch_alter_table('pupil_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pupil_contacts_pupil_id'), ['pupil_id'], unique=False)

    with op.batch_alter_table('pupils', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaving_date', sa.Date(), nullable=True))

    op.create_table('pupil_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('year_group', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_pupil_groups_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pupil_groups')),
    sa.UniqueConstraint('site_id', 'name', name=op.f('uq_pupil_groups_site_id'))
    )
    op.create_table('group_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['pupil_groups.id'], name=op.f('fk_group_members_group_id_pupil_groups')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_group_members_pupil_id_pupils')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_members')),
    sa.UniqueConstraint('group_id', 'pupil_id', name=op.f('uq_group_members_group_id'))
    )
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_members_group_id'), ['group_id'], unique=False)

    op.create_table('group_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('weekdays', sa.String(length=13), nullable=False),
    sa.Column('opens', sa.Time(), nullable=False),
    sa.Column('closes', sa.Time(), nullable=False),
    sa.Column('starts', sa.Date(), nullable=True),
    sa.Column('ends', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['pupil_groups.id'], name=op.f('fk_group_windows_group_id_pupil_groups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_windows'))
    )
    with op.batch_alter_table('group_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_windows_group_id'), ['group_id'], unique=False)


def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table('group_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_windows_group_id'))

    op.drop_table('group_windows')
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_members_group_id'))

    op.drop_table('group_members')
    op.drop_table('pupil_groups')
    with op.batch_alter_table('pupils', schema=None) as batch_op:
        batch_op.drop_column('leaving_date')

    with op.batch_alter_table('pupil_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pupil_contacts_pupil_id'))

    op.drop_table('pupil_contacts')
    op.drop_table('phone_register')
    with op.batch_alter_table('off_site', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_off_site_pupil_id'))

    op.drop_table('off_site')
    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_absences_day'))

    op.drop_table('absences')
    op.drop_table('roster_mappings')
