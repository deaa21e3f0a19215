"""A trust's several server processes: an audit chain per school, row ids from a sequence,
and the events parked until an earlier one of their kiosk arrives (``pending_events``).

``audit_log.chain`` names the chain a row belongs to ("" the installation's, otherwise a
site's code) and ``audit_head.chain`` the chain a head row leads; existing rows and the one
existing head are the installation's chain and verify unchanged. On PostgreSQL row ids come
from the sequence ``audit_log_ids`` (several processes append at once without a shared lock);
SQLite's single writer counts on from the largest id.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("chain", sa.String(length=32), server_default="",
                                   nullable=False))
        batch.create_index("ix_audit_log_chain_id", ["chain", "id"], unique=False)
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("chain", sa.String(length=32), server_default="",
                                   nullable=False))
        batch.create_unique_constraint(op.f("uq_audit_head_chain"), ["chain"])
    op.create_table(
        "pending_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.String(length=16), server_default="", nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"],
                                name=op.f("fk_pending_events_kiosk_id_kiosks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_events")),
        sa.UniqueConstraint("kiosk_id", "epoch", "seq",
                            name=op.f("uq_pending_events_kiosk_id")))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE audit_log_ids")
        op.execute("SELECT setval('audit_log_ids', COALESCE((SELECT max(id) FROM audit_log), "
                   "0) + 1, false)")


def downgrade() -> None:
    """Revert this migration (the schools' chains are dropped: verify them first)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS audit_log_ids")
    op.drop_table("pending_events")
    op.execute("DELETE FROM audit_log WHERE chain <> ''")
    op.execute("DELETE FROM audit_head WHERE chain <> ''")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_constraint(op.f("uq_audit_head_chain"), type_="unique")
        batch.drop_column("chain")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_chain_id")
        batch.drop_column("chain")
