"""The union catalogue's search entries."""

from __future__ import annotations

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from libfed.kernel.db import Base


class SearchEntry(Base):
    """A live record as the union catalogue search sees it (libfed.search), rewritten with
    the record in the same transaction; a deleted record has none.

    The full-text index over the four `*_key` columns is engine-specific and made by the
    migrations, not here: an FTS5 table kept by triggers on SQLite, a generated tsvector
    column with a GIN index on PostgreSQL (libfed.search.index.ENGINE_SPECIFIC).
    """

    __tablename__ = "search_entries"
    # Filters by holder come with language and years: one index narrows all three before
    # the full-text matches are read (a filtered query read 23,000 heap pages without it).
    __table_args__ = (
        Index("ix_search_entries_source_language_year", "source", "language", "year"),
    )

    record_id: Mapped[int] = mapped_column(
        ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str | None] = mapped_column(String(64))  # None: this library's
    title: Mapped[str] = mapped_column(String(500))
    author: Mapped[str | None] = mapped_column(String(500))
    year: Mapped[int | None] = mapped_column(Integer, index=True)
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    isbn: Mapped[str | None] = mapped_column(String(13))
    edition_key: Mapped[str] = mapped_column(String(255), index=True)
    title_key: Mapped[str] = mapped_column(Text)
    author_key: Mapped[str] = mapped_column(Text)
    subject_key: Mapped[str] = mapped_column(Text)
    other_key: Mapped[str] = mapped_column(Text)
