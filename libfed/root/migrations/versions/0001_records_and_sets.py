"""Records with their OAI header and <record> elements pre-rendered, sets, settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("identifier", sa.String(512), nullable=False, unique=True),
        sa.Column("datestamp", sa.DateTime(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("header_xml", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_records_datestamp_identifier", "records", ["datestamp", "identifier"])
    op.create_table(
        "record_formats",
        sa.Column(
            "record_id",
            sa.Integer(),
            sa.ForeignKey("records.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("prefix", sa.String(64), primary_key=True),
        sa.Column("record_xml", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "sets",
        sa.Column("spec", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
    )
    op.create_table(
        "record_sets",
        sa.Column(
            "set_spec",
            sa.String(255),
            sa.ForeignKey("sets.spec", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "record_id",
            sa.Integer(),
            sa.ForeignKey("records.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("datestamp", sa.DateTime(), nullable=False),
        sa.Column("identifier", sa.String(512), nullable=False),
    )
    op.create_index(
        "ix_record_sets_position", "record_sets", ["set_spec", "datestamp", "identifier"]
    )
    op.create_index("ix_record_sets_record", "record_sets", ["record_id"])


def downgrade() -> None:
    op.drop_table("record_sets")
    op.drop_table("sets")
    op.drop_table("record_formats")
    op.drop_table("records")
    op.drop_table("settings")
