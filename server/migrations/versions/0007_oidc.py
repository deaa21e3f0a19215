# ruff: noqa: E501  (generated table definitions are easier to review unwrapped)
"""Sign-in with the trust's accounts: identities from the OpenID provider linked to staff.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 03:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('staff_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('linked_at', sa.DateTime(), nullable=False),
    sa.Column('last_sign_in_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_identities_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_identities')),
    sa.UniqueConstraint('issuer', 'subject', name=op.f('uq_staff_identities_issuer'))
    )
    with op.batch_alter_table('staff_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_identities_staff_id'), ['staff_id'], unique=False)


def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table('staff_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_identities_staff_id'))
    op.drop_table('staff_identities')
