"""The shared tables: settings, institutions, users, the audit trail, records with their
pre-rendered formats, sets.

Records are written once per change with every format already rendered, so that
serving a page is one indexed range read; record_sets repeats each member's
(datestamp, identifier) so that a selective harvest of a small set walks its own
index instead of filtering the whole repository.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from .db import Base

IDENTIFIER_LENGTH = 512
SET_SPEC_LENGTH = 255


class Setting(Base):
    """Values the application creates once and every worker must share (the secret key)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Counter(Base):
    """A number that only grows; `ledger` counts audited changes (see libfed.audit)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Versioned:
    """A row edited by people: its version guards against lost updates (HTTP ETag/If-Match).

    SQLAlchemy adds `WHERE version = <the version read>` to every UPDATE, so of two
    writers that read the same version only the first one's change lands, on SQLite
    and PostgreSQL alike.
    """

    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.version}


class Institution(Versioned, Base):
    """A library or other body: a harvest source's owner and an exchange partner alike."""

    __tablename__ = "institutions"
    __table_args__ = (Index("ix_institutions_country", "country"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    other_names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # language -> name
    kind: Mapped[str] = mapped_column(String(32), default="other")
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    city: Mapped[str | None] = mapped_column(String(128))
    isil: Mapped[str | None] = mapped_column(String(16), unique=True)
    email: Mapped[str | None] = mapped_column(String(255))
    oai_base_url: Mapped[str | None] = mapped_column(String(1024))
    notes: Mapped[str | None] = mapped_column(Text)


class User(Versioned, Base):
    """Someone who uses the API and the web pages with one of the ROLES."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The language of their web pages (libfed.web.i18n.LANGUAGES); none: the browser's.
    language: Mapped[str | None] = mapped_column(String(16))


class ApiToken(Base):
    """A bearer token, kept only as its SHA-256 digest (tokens are random, 256 bits)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebSession(Base):
    """A signed-in browser (libfed.web_sessions): the cookie carries a random id, this row
    only its SHA-256 digest, so that signing out ends this session and every copy of its
    cookie, and a copy of the database signs nobody in."""

    __tablename__ = "web_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class AuditEvent(Base):
    """One create, change or transition of a ledger object: append-only.

    `changes` maps each changed field to [before, after] (before is null on create);
    the migration adds triggers that refuse UPDATE and DELETE on this table.
    `shipment_id` groups a shipment's item events with the shipment's own.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity", "entity_id", "id"),
        Index("ix_audit_events_shipment", "shipment_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(Integer)
    shipment_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict] = mapped_column(JSON)


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
