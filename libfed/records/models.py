"""The record repository's tables: records with their pre-rendered formats, and sets.

Records are written once per change with every format already rendered, so that
serving a page is one indexed range read; record_sets repeats each member's
(datestamp, identifier) so that a selective harvest of a small set walks its own
index instead of filtering the whole repository.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from libfed.kernel.db import Base

IDENTIFIER_LENGTH = 512
SET_SPEC_LENGTH = 255


class Record(Base):
    """One OAI item: its identifier, the datestamp of its last change and whether it is deleted."""

    __tablename__ = "records"
    # INCLUDE (id): a list count joins record_formats on the id, which PostgreSQL can then
    # read from the index alone (SQLite's indexes end with the rowid anyway).
    __table_args__ = (
        Index(
            "ix_records_datestamp_identifier",
            "datestamp",
            "identifier",
            postgresql_include=["id"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH), unique=True)
    datestamp: Mapped[datetime] = mapped_column(DateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Digest of every format and set membership: an identical re-import is a no-op.
    content_hash: Mapped[str] = mapped_column(String(64))
    # The OAI <header>, rendered at every write (see libfed.stored_xml).
    header_xml: Mapped[bytes] = mapped_column(LargeBinary)


class RecordFormat(Base):
    """A record in one format: what its OAI <record> holds after the record's header,
    rendered when written (see libfed.stored_xml).

    A deleted record keeps its rows (an empty body), so that it is still listed,
    as a tombstone, in exactly the formats it used to be disseminated in.
    """

    __tablename__ = "record_formats"

    record_id: Mapped[int] = mapped_column(
        ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    prefix: Mapped[str] = mapped_column(String(64), primary_key=True)
    body_xml: Mapped[bytes] = mapped_column(LargeBinary)


class OAISet(Base):
    """A set; `a:b` is a child of `a`, and a member of `a:b` is stored as a member of `a` too."""

    __tablename__ = "sets"

    spec: Mapped[str] = mapped_column(String(SET_SPEC_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)


class RecordSet(Base):
    """Membership, with the member's keyset position copied in for per-set paging."""

    __tablename__ = "record_sets"
    __table_args__ = (
        Index("ix_record_sets_position", "set_spec", "datestamp", "identifier"),
        Index("ix_record_sets_record", "record_id"),
    )

    set_spec: Mapped[str] = mapped_column(
        ForeignKey("sets.spec", ondelete="CASCADE"), primary_key=True
    )
    record_id: Mapped[int] = mapped_column(
        ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    datestamp: Mapped[datetime] = mapped_column(DateTime)
    identifier: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH))
    # True: the record is in the set only because a set's rule chose it (that set, or a
    # ruled child of it); a rule's change may take it out again. False: hand-assigned
    # (import --set, a harvest's source set), which stays (libfed.records.set_rules).
    by_rule: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SetRule(Base):
    """A set defined by a rule: the rule's JSON (libfed.records.set_rules.Rule), kept as
    validated before it was stored."""

    __tablename__ = "set_rules"

    set_spec: Mapped[str] = mapped_column(
        ForeignKey("sets.spec", ondelete="CASCADE"), primary_key=True
    )
    rule_json: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(DateTime)


class SearchEntry(Base):
    """A live record as the union catalogue search sees it (libfed.search), rewritten with
    the record in the same transaction; a deleted record has none.

    The full-text index over the four `*_key` columns is engine-specific and made by the
    migrations, not here: an FTS5 table kept by triggers on SQLite, a generated tsvector
    column with a GIN index on PostgreSQL (libfed.records.search_index.ENGINE_SPECIFIC).
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
