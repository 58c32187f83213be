"""page scan quality

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pages", sa.Column("scan_dpi", sa.Float(), nullable=True))
    op.add_column("pages", sa.Column("skew_degrees", sa.Float(), nullable=True))
    op.add_column("pages", sa.Column("red_content", sa.Boolean(), nullable=True))
    op.add_column("pages", sa.Column("ink_share", sa.Float(), nullable=True))
    # Pages ingested before this revision were not measured: an empty object.
    op.add_column("pages", sa.Column("quality", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_column("quality")
        batch_op.drop_column("ink_share")
        batch_op.drop_column("red_content")
        batch_op.drop_column("skew_degrees")
        batch_op.drop_column("scan_dpi")
