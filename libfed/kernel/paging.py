"""Numbered pages of a filtered list, with the total a person needs to see how much is left."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

LAST_PAGE = 1_000_000  # a larger offset only costs the server


class PageQuery(BaseModel):
    """Query parameters of every list; subclasses add their filters. Unknown ones are refused,
    so that a misspelt filter is an error rather than a silently unfiltered list."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=1, ge=1, le=LAST_PAGE)
    per_page: int = Field(default=50, ge=1, le=100)


def paginate(session: Session, statement: Select, query: PageQuery) -> tuple[list[Any], int]:
    """One page of `statement` (already ordered) and the number of rows it has in all."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(
        statement.offset((query.page - 1) * query.per_page).limit(query.per_page)
    )
    return list(rows), total or 0
