"""Admin pages: each kiosk's place in the school, and alarms acknowledged by staff.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('place', sa.String(length=200), server_default='',
                                      nullable=False))
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_note', sa.String(length=500),
                                      nullable=True))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_column('acknowledged_note')
        batch_op.drop_column('acknowledged_by')
        batch_op.drop_column('acknowledged_at')
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.drop_column('place')
