# ruff: noqa: E501  (generated table definitions are easier to review unwrapped)
"""Initial schema: every table of the school's records, and the audit chain's genesis.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 13:52:05.168845
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=True),
    sa.Column('pupil_ref', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('detail_hash', sa.String(length=64), nullable=False),
    sa.Column('purged', sa.Boolean(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_pupil_ref'), ['pupil_ref'], unique=False)

    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('card_hash_key', sa.String(length=128), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('assignment_mode', sa.String(length=16), nullable=False),
    sa.Column('breaches_before_parent_collection', sa.Integer(), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('release_opens', sa.Time(), nullable=False),
    sa.Column('release_closes', sa.Time(), nullable=False),
    sa.Column('late_after', sa.Time(), nullable=True),
    sa.Column('door_open_alarm_s', sa.Integer(), nullable=False),
    sa.Column('eligibility_required', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('code', name=op.f('uq_sites_code'))
    )
    op.create_table('calendar_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('release_opens', sa.Time(), nullable=True),
    sa.Column('release_closes', sa.Time(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('source_uid', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_calendar_days_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_days')),
    sa.UniqueConstraint('site_id', 'day', name=op.f('uq_calendar_days_site_id'))
    )
    op.create_table('kiosks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=True),
    sa.Column('software', sa.String(length=100), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=True),
    sa.Column('reported_policy_version', sa.Integer(), nullable=True),
    sa.Column('policy_version', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_kiosks_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosks')),
    sa.UniqueConstraint('site_id', 'code', name=op.f('uq_kiosks_site_id'))
    )
    op.create_table('pupils',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('year_group', sa.String(length=16), nullable=True),
    sa.Column('form', sa.String(length=32), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('archived_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_pupils_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pupils')),
    sa.UniqueConstraint('site_id', 'reference', name=op.f('uq_pupils_site_id'))
    )
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('card_hash', sa.String(length=32), nullable=True),
    sa.Column('pin_hash', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_staff_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_username'))
    )
    op.create_table('terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('starts', sa.Date(), nullable=False),
    sa.Column('ends', sa.Date(), nullable=False),
    sa.Column('source_uid', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_terms_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_terms')),
    sa.UniqueConstraint('site_id', 'starts', name=op.f('uq_terms_site_id'))
    )
    op.create_table('alarms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('raised_at', sa.DateTime(), nullable=False),
    sa.Column('cleared_at', sa.DateTime(), nullable=True),
    sa.Column('gap_from', sa.Integer(), nullable=True),
    sa.Column('gap_to', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_alarms_kiosk_id_kiosks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarms'))
    )
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarms_kiosk_id'), ['kiosk_id'], unique=False)

    op.create_table('cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('card_hash', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(), nullable=False),
    sa.Column('deactivated_at', sa.DateTime(), nullable=True),
    sa.Column('deactivated_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_cards_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_cards_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cards')),
    sa.UniqueConstraint('site_id', 'card_hash', name=op.f('uq_cards_site_id'))
    )
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cards_pupil_id'), ['pupil_id'], unique=False)

    op.create_table('commands',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('purpose', sa.String(length=24), nullable=True),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('acked_at', sa.DateTime(), nullable=True),
    sa.Column('ack', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_commands_kiosk_id_kiosks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commands'))
    )
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commands_kiosk_id'), ['kiosk_id'], unique=False)

    op.create_table('confiscations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('second_device', sa.Boolean(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('confiscated_at', sa.DateTime(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('release_mode', sa.String(length=24), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=True),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('handover_note', sa.String(length=500), nullable=True),
    sa.Column('collector_name', sa.String(length=200), nullable=True),
    sa.Column('collector_relationship', sa.String(length=100), nullable=True),
    sa.Column('identity_check', sa.String(length=200), nullable=True),
    sa.Column('command_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['closed_by_id'], ['staff.id'], name=op.f('fk_confiscations_closed_by_id_staff')),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_confiscations_kiosk_id_kiosks')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_confiscations_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_confiscations_site_id_sites')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_confiscations_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_confiscations'))
    )
    with op.batch_alter_table('confiscations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_confiscations_pupil_id'), ['pupil_id'], unique=False)

    op.create_table('early_releases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('approved_at', sa.DateTime(), nullable=False),
    sa.Column('not_before', sa.Time(), nullable=True),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_early_releases_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_early_releases_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_early_releases')),
    sa.UniqueConstraint('token', name=op.f('uq_early_releases_token'))
    )
    with op.batch_alter_table('early_releases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_early_releases_pupil_id'), ['pupil_id'], unique=False)

    op.create_table('eligibility_agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('signed_by', sa.String(length=200), nullable=False),
    sa.Column('expires', sa.Date(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_eligibility_agreements_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff.id'], name=op.f('fk_eligibility_agreements_recorded_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eligibility_agreements'))
    )
    with op.batch_alter_table('eligibility_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eligibility_agreements_pupil_id'), ['pupil_id'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=24), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('pupil_ref', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_events_kiosk_id_kiosks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('kiosk_id', 'seq', name=op.f('uq_events_kiosk_id'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_pupil_ref'), ['pupil_ref'], unique=False)

    op.create_table('exceptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('approved_by', sa.String(length=200), nullable=False),
    sa.Column('agreement_date', sa.Date(), nullable=False),
    sa.Column('starts', sa.Date(), nullable=False),
    sa.Column('ends', sa.Date(), nullable=True),
    sa.Column('review_date', sa.Date(), nullable=True),
    sa.Column('allows', sa.String(length=24), nullable=False),
    sa.Column('access_times', sa.String(length=200), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_exceptions_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff.id'], name=op.f('fk_exceptions_recorded_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exceptions'))
    )
    with op.batch_alter_table('exceptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exceptions_pupil_id'), ['pupil_id'], unique=False)

    op.create_table('slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('bank', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('pupil_ref', sa.String(length=64), nullable=True),
    sa.Column('door_open', sa.Boolean(), nullable=False),
    sa.Column('assigned_pupil_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['assigned_pupil_id'], ['pupils.id'], name=op.f('fk_slots_assigned_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_slots_kiosk_id_kiosks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slots')),
    sa.UniqueConstraint('kiosk_id', 'number', name=op.f('uq_slots_kiosk_id'))
    )
    op.create_table('deposits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=True),
    sa.Column('pupil_ref', sa.String(length=64), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('deposited_at', sa.DateTime(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('collected_at', sa.DateTime(), nullable=True),
    sa.Column('collected_via', sa.String(length=32), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_deposits_event_id_events')),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_deposits_kiosk_id_kiosks')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_deposits_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_deposits_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deposits'))
    )
    with op.batch_alter_table('deposits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deposits_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_deposits_pupil_id'), ['pupil_id'], unique=False)




    # The audit chain starts from a known genesis hash (see server/audit.py).
    head = sa.table("audit_head", sa.column("id", sa.Integer), sa.column("last_id", sa.Integer),
                    sa.column("last_hash", sa.String))
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": "0" * 64}])


def downgrade() -> None:
    """Undo this migration."""

    with op.batch_alter_table('deposits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deposits_pupil_id'))
        batch_op.drop_index(batch_op.f('ix_deposits_day'))

    op.drop_table('deposits')
    op.drop_table('slots')
    with op.batch_alter_table('exceptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exceptions_pupil_id'))

    op.drop_table('exceptions')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_pupil_ref'))
        batch_op.drop_index(batch_op.f('ix_events_at'))

    op.drop_table('events')
    with op.batch_alter_table('eligibility_agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eligibility_agreements_pupil_id'))

    op.drop_table('eligibility_agreements')
    with op.batch_alter_table('early_releases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_early_releases_pupil_id'))

    op.drop_table('early_releases')
    with op.batch_alter_table('confiscations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_confiscations_pupil_id'))

    op.drop_table('confiscations')
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commands_kiosk_id'))

    op.drop_table('commands')
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cards_pupil_id'))

    op.drop_table('cards')
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarms_kiosk_id'))

    op.drop_table('alarms')
    op.drop_table('terms')
    op.drop_table('staff')
    op.drop_table('pupils')
    op.drop_table('kiosks')
    op.drop_table('calendar_days')
    op.drop_table('sites')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_pupil_ref'))
        batch_op.drop_index(batch_op.f('ix_audit_log_entity_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
    op.drop_table('audit_head')

