"""Institutions (shared), and the harvester's sources, state, runs and quarantine.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "institutions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("other_names", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("city", sa.String(128), nullable=True),
        sa.Column("isil", sa.String(16), nullable=True, unique=True),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("oai_base_url", sa.String(1024), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
    )
    op.create_table(
        "harvest_sources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("base_url", sa.String(1024), nullable=False),
        sa.Column("prefix", sa.String(64), nullable=False),
        sa.Column("sets", sa.JSON(), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=True),
        sa.Column("cron", sa.String(128), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("institution_id", sa.Integer(), sa.ForeignKey("institutions.id"), nullable=True),
        sa.Column("parked_until", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "harvest_states",
        sa.Column(
            "source_id",
            sa.Integer(),
            sa.ForeignKey("harvest_sources.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("set_spec", sa.String(255), primary_key=True),
        sa.Column("prefix", sa.String(64), primary_key=True),
        sa.Column("granularity", sa.String(32), nullable=True),
        sa.Column("watermark", sa.String(32), nullable=True),
        sa.Column("run_response_date", sa.String(32), nullable=True),
        sa.Column("checkpoint_token", sa.Text(), nullable=True),
        sa.Column("checkpoint_datestamp", sa.String(32), nullable=True),
    )
    op.create_table(
        "harvest_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "source_id",
            sa.Integer(),
            sa.ForeignKey("harvest_sources.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
    )
    op.create_table(
        "harvest_quarantine",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("harvest_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("harvest_quarantine")
    op.drop_table("harvest_runs")
    op.drop_table("harvest_states")
    op.drop_table("harvest_sources")
    op.drop_table("institutions")
