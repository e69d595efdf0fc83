"""The union catalogue search: search_entries and its engine's full-text index.

SQLite: an FTS5 table over the key columns, with search_entries as its external
content, kept current by triggers. PostgreSQL: a generated tsvector column (title
weighted A, authors B, subjects C, the rest D) with a GIN index. `libfed db upgrade`
fills the entries of existing records afterwards (libfed.records.search_index.rebuild).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_KEYS = ("title_key", "author_key", "subject_key", "other_key")


def upgrade() -> None:
    op.create_table(
        "search_entries",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("author", sa.String(500), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("isbn", sa.String(13), nullable=True),
        sa.Column("edition_key", sa.String(255), nullable=False),
        *(sa.Column(key, sa.Text(), nullable=False) for key in _KEYS),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("record_id"),
    )
    for column in ("year", "language", "edition_key"):
        op.create_index(f"ix_search_entries_{column}", "search_entries", [column])
    op.create_index(
        "ix_search_entries_source_language_year", "search_entries", ["source", "language", "year"]
    )
    if op.get_bind().dialect.name == "postgresql":
        weighted = " || ".join(
            f"setweight(to_tsvector('simple'::regconfig, {key}), '{weight}')"
            for key, weight in zip(_KEYS, "ABCD", strict=True)
        )
        op.execute(
            f"ALTER TABLE search_entries ADD COLUMN document tsvector "
            f"GENERATED ALWAYS AS ({weighted}) STORED"
        )
        op.execute("CREATE INDEX ix_search_entries_document ON search_entries USING gin (document)")
        return
    columns = ", ".join(_KEYS)
    new = ", ".join(f"new.{key}" for key in _KEYS)
    old = ", ".join(f"old.{key}" for key in _KEYS)
    op.execute(
        f"CREATE VIRTUAL TABLE search_fts USING fts5({columns}, content='search_entries', "
        "content_rowid='record_id', prefix='3')"
    )
    op.execute(
        "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
        f"INSERT INTO search_fts(rowid, {columns}) VALUES (new.record_id, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
        f"INSERT INTO search_fts(search_fts, rowid, {columns}) "
        f"VALUES ('delete', old.record_id, {old}); END"
    )
    op.execute(
        "CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN "
        f"INSERT INTO search_fts(search_fts, rowid, {columns}) "
        f"VALUES ('delete', old.record_id, {old}); "
        f"INSERT INTO search_fts(rowid, {columns}) VALUES (new.record_id, {new}); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER search_entries_{trigger}")
        op.execute("DROP TABLE search_fts")
    op.drop_table("search_entries")
