"""Creating and changing people-edited objects: checked, versioned and audited the same way.

A change (PATCH) is merged into the object's current values and the result is
checked by the same model as a creation, so a rule that spans fields (an end date
after a start date) holds after every change, not only on the first write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from libfed.kernel import clock

from .audit import changes_between, record_event, record_events
from .callers import Caller
from .errors import Codes, Invalid, Message, NotFound, Stale
from .models import AuditEvent, Versioned

M = TypeVar("M", bound=BaseModel)
V = TypeVar("V", bound=Versioned)
Render = Callable[[V], dict]
_UNAUDITED = ("version", "updated_at")


def validated(model: type[M], data: dict) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Invalid.of(error) from None


def merged(model: type[M], current: dict, patch: dict) -> M:
    """The model of `current` changed by `patch` (a null in `patch` clears a field)."""
    return validated(model, {**current, **patch})


def current_input(model: type[BaseModel], rendered: dict) -> dict:
    """The object's present values, as an input to `model` would give them."""
    return {k: v for k, v in rendered.items() if k in model.model_fields and v is not None}


def get(session: Session, cls: type[V], ident: int, what: str) -> V:
    obj = session.get(cls, ident)
    if obj is None:
        raise NotFound(Message("no {what} with id {id}", what=Codes(what), id=ident))
    return obj


def check_version(obj: Versioned, expected: int | None) -> None:
    if expected is not None and obj.version != expected:
        raise Stale()


def _audited(rendered: dict) -> dict:
    return {k: v for k, v in rendered.items() if k not in _UNAUDITED}


def create(
    session: Session,
    obj: V,
    render: Render,
    *,
    actor: Caller,
    entity: str,
    group_id: Callable[[V], int | None] = lambda _obj: None,
) -> V:
    return create_all(session, [obj], render, actor=actor, entity=entity, group_id=group_id)[0]


def create_all(
    session: Session,
    objs: Sequence[V],
    render: Render,
    *,
    actor: Caller,
    entity: str,
    group_id: Callable[[V], int | None] = lambda _obj: None,
) -> list[V]:
    """Objects created together, each audited as `create` audits one, in one flush: a
    pasted list of 2,000 items held SQLite's write lock for seconds when each item was
    flushed and audited on its own."""
    now = clock.utc_now()
    for obj in objs:
        obj.created_at = obj.updated_at = now
    session.add_all(objs)
    session.flush()
    record_events(
        session,
        [
            AuditEvent(
                at=now,
                actor=actor.name,
                entity=entity,
                entity_id=obj.id,
                action="create",
                group_id=group_id(obj),
                changes=changes_between({}, _audited(render(obj))),
            )
            for obj in objs
        ],
    )
    return list(objs)


def change(
    session: Session,
    obj: V,
    values: dict,
    render: Render,
    *,
    actor: Caller,
    entity: str,
    action: str = "update",
    group_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    record_unchanged: bool = False,
) -> V:
    """Set `values` on `obj` and record what changed; nothing changed, nothing written,
    unless the act itself is the news (a transition, a new password) and
    `record_unchanged` says so."""
    before = _audited(render(obj))
    for key, value in values.items():
        setattr(obj, key, value)
    after = _audited(render(obj))
    changes = changes_between(before, after)
    if not changes and not record_unchanged:
        return obj
    now = clock.utc_now()
    obj.updated_at = now
    session.flush()
    record_event(
        session,
        at=now,
        actor=actor.name,
        entity=entity,
        entity_id=obj.id,
        action=action,
        group_id=group_id,
        from_status=from_status,
        to_status=to_status,
        note=note,
        changes=changes,
    )
    return obj
