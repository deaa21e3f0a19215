# ruff: noqa: E501  (generated table definitions are easier to review unwrapped)
"""Notifications: the outbox of messages to parents and staff, and who hears what per site.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 01:40:17.396507
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('notify_settings',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('parent_when_held', sa.Boolean(), nullable=False),
    sa.Column('dsl_when_handed_over', sa.Boolean(), nullable=False),
    sa.Column('leadership_when_police', sa.Boolean(), nullable=False),
    sa.Column('office_when_held_days', sa.Integer(), nullable=False),
    sa.Column('office_when_overnight', sa.Boolean(), nullable=False),
    sa.Column('leadership_digest', sa.Boolean(), nullable=False),
    sa.Column('digest_at', sa.Time(), nullable=False),
    sa.Column('dsl_email', sa.String(length=320), nullable=False),
    sa.Column('dsl_chat', sa.String(length=63), nullable=False),
    sa.Column('leadership_email', sa.String(length=320), nullable=False),
    sa.Column('leadership_chat', sa.String(length=63), nullable=False),
    sa.Column('office_email', sa.String(length=320), nullable=False),
    sa.Column('office_chat', sa.String(length=63), nullable=False),
    sa.Column('held_wording', sa.String(length=500), nullable=False),
    sa.Column('collection_place', sa.String(length=200), nullable=False),
    sa.Column('collection_hours', sa.String(length=200), nullable=False),
    sa.Column('signed', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_notify_settings_site_id_sites')),
    sa.PrimaryKeyConstraint('site_id', name=op.f('pk_notify_settings'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('audience', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('entity', sa.String(length=32), nullable=True),
    sa.Column('entity_id', sa.String(length=64), nullable=True),
    sa.Column('pupil_id', sa.Integer(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('resend_of', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_notifications_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['resend_of'], ['notifications.id'], name=op.f('fk_notifications_resend_of_notifications')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_notifications_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notifications_dedupe_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_status'), ['status'], unique=False)



def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_status'))

    op.drop_table('notifications')
    op.drop_table('notify_settings')
