"""Search keys gain folded keys (docs/search.md, "Typed without the region's letters"):
every entry written before lacks them, so the entries are emptied here and `libfed db
upgrade` makes them again from the records' oai_dc, in committed batches
(libfed.records.search_index.is_missing, then rebuild), as it did when the search came.

No schema change; on SQLite the delete trigger empties the FTS5 table along.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM search_entries")


def downgrade() -> None:
    # Older code reads entries with folded keys as it reads any: they only match more.
    pass
