"""Signed-in browsers, kept server-side."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from libfed.kernel.db import Base


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
