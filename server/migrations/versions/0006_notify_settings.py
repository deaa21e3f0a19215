"""Who hears what: a school can switch the termly compliance summary to leadership off.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table('notify_settings', schema=None) as batch_op:
        # Existing schools keep the default (on), like a school that never changed it.
        batch_op.add_column(sa.Column('leadership_termly', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))


def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table('notify_settings', schema=None) as batch_op:
        batch_op.drop_column('leadership_termly')
