"""An absence's source fits "attendance_import": the column was 16 characters and the MIS
import writes 17. SQLite ignores a VARCHAR's length, so only PostgreSQL refused the import
(every attendance upload failed there with "value too long for type character varying(16)").

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("absences") as batch:
        batch.alter_column("source", existing_type=sa.String(length=16),
                           type_=sa.String(length=32), existing_nullable=False)


def downgrade() -> None:
    """Revert this migration (a source longer than 16 characters is cut to fit)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE absences SET source = left(source, 16)")
    with op.batch_alter_table("absences") as batch:
        batch.alter_column("source", existing_type=sa.String(length=32),
                           type_=sa.String(length=16), existing_nullable=False)
