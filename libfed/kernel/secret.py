"""The server's secret key: from the configuration, or made once and kept in the database.

Resumption tokens (and later sessions) are signed with it, so every worker and
every restart must use the same one; a key generated per process would make a
harvest break whenever its next page lands on another worker.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .db import Database
from .models import Setting

_KEY = "secret_key"


def secret_key(db: Database, configured: str | None) -> str:
    if configured:
        return configured
    with db.session() as session:
        stored = session.scalar(select(Setting.value).where(Setting.key == _KEY))
    if stored:
        return stored
    try:
        with db.write() as session:
            session.add(Setting(key=_KEY, value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass  # another worker created it first: use theirs
    with db.session() as session:
        return session.scalars(select(Setting.value).where(Setting.key == _KEY)).one()
