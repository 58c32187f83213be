"""appraisal and disposition (鉴定与销毁): appraisals, their dossiers, destruction registers, disposed objects

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appraisals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("office", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("keep_years", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=200), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_appraisals_office", "appraisals", ["office"])
    op.create_index("ix_appraisals_status", "appraisals", ["status"])
    op.create_table(
        "appraisal_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("appraisal_id", sa.String(length=36), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retention_end", sa.Date(), nullable=False),
        # The dossier's id while its appraisal is open, NULL once decided: one open appraisal per dossier.
        sa.Column("open_dossier_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["appraisal_id"], ["appraisals.id"]),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("appraisal_id", "dossier_id"),
        sa.UniqueConstraint("open_dossier_id"),
    )
    op.create_index("ix_appraisal_items_appraisal_id", "appraisal_items", ["appraisal_id"])
    op.create_index("ix_appraisal_items_dossier_id", "appraisal_items", ["dossier_id"])
    op.create_table(
        "destruction_registers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("appraisal_id", sa.String(length=36), nullable=False),
        sa.Column("office", sa.String(length=32), nullable=False),
        sa.Column("object_key", sa.String(length=512), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("dossiers", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["appraisal_id"], ["appraisals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("appraisal_id"),
    )
    op.create_index("ix_destruction_registers_office", "destruction_registers", ["office"])
    op.create_table(
        "disposal_objects",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("register_id", sa.String(length=36), nullable=False),
        sa.Column("object_key", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("dossier_ids", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["register_id"], ["destruction_registers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("register_id", "object_key"),
    )
    op.create_index("ix_disposal_objects_register_id", "disposal_objects", ["register_id"])
    op.create_index("ix_disposal_objects_object_key", "disposal_objects", ["object_key"])
    op.create_index("ix_disposal_objects_outcome", "disposal_objects", ["outcome"])


def downgrade() -> None:
    op.drop_index("ix_disposal_objects_outcome", table_name="disposal_objects")
    op.drop_index("ix_disposal_objects_object_key", table_name="disposal_objects")
    op.drop_index("ix_disposal_objects_register_id", table_name="disposal_objects")
    op.drop_table("disposal_objects")
    op.drop_index("ix_destruction_registers_office", table_name="destruction_registers")
    op.drop_table("destruction_registers")
    op.drop_index("ix_appraisal_items_dossier_id", table_name="appraisal_items")
    op.drop_index("ix_appraisal_items_appraisal_id", table_name="appraisal_items")
    op.drop_table("appraisal_items")
    op.drop_index("ix_appraisals_status", table_name="appraisals")
    op.drop_index("ix_appraisals_office", table_name="appraisals")
    op.drop_table("appraisals")
