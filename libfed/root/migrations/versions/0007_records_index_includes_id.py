"""The records' keyset index carries the id on PostgreSQL, for the list counts.

completeListSize joins record_formats on records.id; without the id in the index,
PostgreSQL read the whole records table for it (1.3 s at a million records, a
sequential scan). SQLite's indexes end with the rowid already: nothing to do there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEX = "ix_records_datestamp_identifier"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(_INDEX, table_name="records")
    op.create_index(_INDEX, "records", ["datestamp", "identifier"], postgresql_include=["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(_INDEX, table_name="records")
    op.create_index(_INDEX, "records", ["datestamp", "identifier"])
