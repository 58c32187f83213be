"""fixity checks (四性检测: when each object was last verified)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fixity_checks",
        sa.Column("object_key", sa.String(length=512), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("object_key"),
    )
    op.create_index("ix_fixity_checks_checked_at", "fixity_checks", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_fixity_checks_checked_at", table_name="fixity_checks")
    op.drop_table("fixity_checks")
