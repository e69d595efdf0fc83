"""Harvest intake: records repaired per run, and which sources' records were re-checked.

Records harvested before intake validation were stored as they came (entities, XHTML,
stray text); `intake_version` says up to which version of the intake rules a source's
stored records have been checked, so that `libfed db upgrade` re-checks the records of
every source still below the current one (`libfed db recheck` does it on demand).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("harvest_runs") as table:
        table.add_column(sa.Column("repaired", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("harvest_sources") as table:
        table.add_column(
            sa.Column("intake_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("harvest_sources") as table:
        table.drop_column("intake_version")
    with op.batch_alter_table("harvest_runs") as table:
        table.drop_column("repaired")
