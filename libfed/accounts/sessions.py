"""Signed-in browsers, kept on the server so that signing out ends a session for good.

The session cookie carries a random 256-bit id and the web_sessions table only its
SHA-256 digest (as API tokens are kept: a digest that cheap is safe for a secret
that long). A session ends when its browser signs out (that session only, every copy
of its cookie with it), when the user's password changes or the user is disabled
(all of theirs), or after the session lifetime without a request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.orm import Session

from libfed.accounts.models import User, WebSession
from libfed.kernel import clock
from libfed.kernel.callers import Caller

# How stale last_seen_at may grow before a request writes it again: a page view costs
# no write, and a session lasts between its lifetime less this and its full lifetime
# after the last request.
TOUCH_AFTER = timedelta(minutes=5)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, user_id: int, lifetime: timedelta) -> str:
    """A new session of the user; returns the id for the cookie, which is kept nowhere else.

    Expired sessions are removed here: sign-ins are rare, and the delete reads an index.
    """
    now = clock.utc_now()
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            digest=_digest(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


_SESSIONS, _USERS = WebSession.__table__.c, User.__table__.c
_CALLER = (
    select(_USERS.id, _USERS.name, _USERS.role, _SESSIONS.last_seen_at)
    .join(User.__table__, _USERS.id == _SESSIONS.user_id)
    .where(
        _SESSIONS.digest == bindparam("digest"),
        _SESSIONS.expires_at > bindparam("now"),
        _USERS.active.is_(True),
    )
)


def caller_for_session(connection: Connection, token: str) -> tuple[Caller, bool] | None:
    """The active user of a live session, and whether it is time to `touch` it; or None.

    Asked on every page, so one Core statement on a bare connection (like API tokens).
    """
    now = clock.utc_now()
    row = connection.execute(_CALLER, {"digest": _digest(token), "now": now}).first()
    if row is None:
        return None
    return Caller(row.id, row.name, row.role), row.last_seen_at <= now - TOUCH_AFTER


def touch(session: Session, token: str, lifetime: timedelta) -> None:
    """Note a request: the session now lasts `lifetime` from here."""
    now = clock.utc_now()
    session.execute(
        update(WebSession)
        .where(WebSession.digest == _digest(token))
        .values(last_seen_at=now, expires_at=now + lifetime)
    )


def end(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.digest == _digest(token)))


def end_all(session: Session, user_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))
