"""search outbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_pending",
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dossier_id"),
    )
    # Every dossier that exists before search did is behind the index.
    op.execute(
        "INSERT INTO search_pending (dossier_id, generation, queued_at) SELECT id, 1, CURRENT_TIMESTAMP FROM dossiers"
    )


def downgrade() -> None:
    op.drop_table("search_pending")
