"""task_failures (Celery tasks that failed for good, kept for inspection and retry)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_failures",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=200), nullable=False),
        sa.Column("task_name", sa.String(length=100), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retried_by", sa.String(length=200), nullable=True),
        sa.Column("retry_task_id", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_task_failures_task_id", "task_failures", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_task_failures_task_id", table_name="task_failures")
    op.drop_table("task_failures")
