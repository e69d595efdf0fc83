"""Who: institutions (libraries and other bodies), users, their API tokens and signed-in browsers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from libfed.kernel.db import Base
from libfed.kernel.models import Versioned


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
    # As written on an envelope, one line per line, without the country (letters add it
    # in their own language).
    postal_address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(64))
    # The language its letters are written in (libfed.web.i18n.LANGUAGES); none: ours.
    letter_language: Mapped[str | None] = mapped_column(String(16))
    # An archived partner keeps its history but leaves the lists and choices.
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A duplicate merged into another keeps its row, archived, pointing at the survivor.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))


class Contact(Versioned, Base):
    """A person at an institution whom coordinators write to or call."""

    __tablename__ = "institution_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    position: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
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
    # Where their digests go (coordinators' weekly reminders); none: nothing is mailed to them.
    email: Mapped[str | None] = mapped_column(String(255))


class ApiToken(Base):
    """A bearer token, kept only as its SHA-256 digest (tokens are random, 256 bits)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebSession(Base):
    """A signed-in browser (libfed.accounts.sessions): the cookie carries a random id, this row
    only its SHA-256 digest, so that signing out ends this session and every copy of its
    cookie, and a copy of the database signs nobody in."""

    __tablename__ = "web_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
