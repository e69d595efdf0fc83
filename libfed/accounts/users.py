"""Users, their roles and their API tokens.

A token is 256 random bits shown once and kept only as its SHA-256 digest: a
stolen database does not give access, and a digest that cheap to compute is
safe for a secret that long. A password (for the web pages) is short and chosen
by a person, so it gets a slow salted hash (scrypt) instead.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from functools import cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from libfed.accounts import sessions as web_sessions
from libfed.kernel import clock, editing
from libfed.kernel.callers import ROLES, SYSTEM, Caller
from libfed.kernel.errors import Codes, Conflict, Invalid, Message, NotFound

from .models import ApiToken, User


class Unset:
    """A value not given (where None means 'clear it')."""


UNSET = Unset()
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_TOKEN_PREFIX = "lf_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def render_user(user: User) -> dict:
    return {
        "id": user.id,
        "version": user.version,
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "email": user.email,
        "created_at": user.created_at.isoformat() + "Z",
    }


def _check(name: str | None = None, role: str | None = None) -> None:
    problems = {}
    if name is not None and not _NAME.fullmatch(name):
        problems["name"] = Message(
            "1-64 letters, digits and . _ @ -, starting with a letter or digit"
        )
    if role is not None and role not in ROLES:
        problems["role"] = Message("one of {roles}", roles=Codes(*ROLES, joiner=", "))
    if problems:
        raise Invalid(problems)


# Where a user's mail goes: as long as an address may be (RFC 5321's path limit).
MAX_EMAIL_LENGTH = 254


def checked_email(email: str | None) -> str | None:
    """An address as email-validator normalises it (no DNS look-up: the mail server says
    whether it is delivered), refused in the user's words when it is not one; None and ""
    clear it."""
    if not email:
        return None
    if len(email) > MAX_EMAIL_LENGTH:
        raise Invalid(
            {"email": Message("at most {max_length} characters", max_length=MAX_EMAIL_LENGTH)}
        )
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        raise Invalid(
            {"email": Message("{value!r} is not an e-mail address", value=email)}
        ) from None


def add_user(
    session: Session,
    name: str,
    role: str,
    actor: Caller = SYSTEM,
    email: str | None = None,
) -> tuple[User, str]:
    """Create a user with a first token; returns the token, which is never shown again."""
    _check(name, role)
    address = checked_email(email)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Invalid({"name": Message("a user named {name!r} exists", name=name)})
    user = editing.create(
        session,
        User(name=name, role=role, active=True, email=address),
        render_user,
        actor=actor,
        entity="user",
    )
    return user, issue_token(session, user)


def issue_token(session: Session, user: User) -> str:
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, digest=_digest(token), created_at=clock.utc_now()))
    return token


def find_user(session: Session, name_or_id: str | int) -> User:
    column = User.id if isinstance(name_or_id, int) else User.name
    user = session.scalar(select(User).where(column == name_or_id))
    if user is None:
        raise NotFound(Message("no user {user!r}", user=name_or_id))
    return user


def update_user(
    session: Session,
    user: User,
    *,
    actor: Caller = SYSTEM,
    role: str | None = None,
    active: bool | None = None,
    email: str | Unset | None = UNSET,
) -> User:
    """Change a user's role, e-mail address (None or "" clears it) or switch them off;
    switching off revokes their tokens and ends their sessions in the web pages."""
    _check(role=role)
    if actor.id == user.id and (active is False or (role is not None and role != "admin")):
        raise Conflict(Message("an admin cannot demote or disable themselves"))
    was_active = user.active
    values = {"role": role, "active": active}
    changes = {key: value for key, value in values.items() if value is not None}
    if not isinstance(email, Unset):
        changes["email"] = checked_email(email)
    editing.change(
        session,
        user,
        changes,
        render_user,
        actor=actor,
        entity="user",
    )
    if was_active and not user.active:
        for token in session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        ):
            token.revoked_at = user.updated_at
        web_sessions.end_all(session, user.id)
    return user


_USERS, _TOKENS = User.__table__.c, ApiToken.__table__.c
_CALLER = (
    select(_USERS.id, _USERS.name, _USERS.role)
    .join(ApiToken.__table__, _TOKENS.user_id == _USERS.id)
    .where(
        _TOKENS.digest == bindparam("digest"),
        _TOKENS.revoked_at.is_(None),
        _USERS.active.is_(True),
    )
)


def caller_for_token(connection: Connection, token: str) -> Caller | None:
    """The active user a live token belongs to, or None.

    Asked on every API request, so it is one Core statement on a bare connection
    (0.15 ms; the same through an ORM session costs four times that).
    """
    row = connection.execute(_CALLER, {"digest": _digest(token)}).first()
    return None if row is None else Caller(*row)


MIN_PASSWORD_LENGTH = 10


@cache
def _decoy_hash() -> str:
    """Checked against when the name is unknown, so that a wrong name takes as long as a
    wrong password and the answer's timing does not tell which names exist. Made on first
    use: hashing costs 0.16 s, which every process would otherwise pay at start-up."""
    return generate_password_hash("decoy password")


def set_password(session: Session, user: User, password: str, actor: Caller = SYSTEM) -> None:
    """Set the password for the web pages (salted scrypt, as werkzeug.security makes it);
    the user's sessions end, since whoever changes a password may be locking someone out."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            {
                "password": Message(
                    "at least {min_length} characters", min_length=MIN_PASSWORD_LENGTH
                )
            }
        )
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid({"password": Message("contains an invalid character")}) from None
    # The audit trail says that it changed, never what it is (the rendering omits it).
    editing.change(
        session,
        user,
        {"password_hash": generate_password_hash(password)},
        render_user,
        actor=actor,
        entity="user",
        action="password",
        record_unchanged=True,
    )
    web_sessions.end_all(session, user.id)


def caller_for_password(session: Session, name: str, password: str) -> Caller | None:
    """The active user with this name and password, or None (for either being wrong)."""
    user = session.scalar(select(User).where(User.name == name, User.active.is_(True)))
    stored = user.password_hash if user is not None else None
    matches = check_password_hash(stored or _decoy_hash(), password)
    if user is None or stored is None or not matches:
        return None
    return Caller(user.id, user.name, user.role)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))
