"""retention holds on dossiers' objects

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An appraisal that kept a dossier longer: its retention ends no earlier than this day.
    op.add_column("dossiers", sa.Column("retention_extended_until", sa.Date(), nullable=True))
    # The hold last applied to the dossier's objects (archive.retention.holds): a date, "legal_hold",
    # or NULL while none is (archived before 0008, or the store could not be reached).
    op.add_column("dossiers", sa.Column("hold_applied", sa.String(length=32), nullable=True))
    op.create_index("ix_dossiers_hold_applied", "dossiers", ["hold_applied"])


def downgrade() -> None:
    op.drop_index("ix_dossiers_hold_applied", table_name="dossiers")
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_column("hold_applied")
        batch_op.drop_column("retention_extended_until")
