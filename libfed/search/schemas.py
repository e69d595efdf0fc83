"""The search API's models: what GET /api/v1/search takes and gives.

Each package keeps its API models in its `schemas` module. The search page (.web)
refuses what these refuse, with the same limits.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from libfed.kernel.paging import PageQuery

from .query import LOCAL, MAX_PER_PAGE, NO_WORDS, RANKED, parse

MAX_QUERY = 500
MAX_SET = 255
MAX_LANGUAGE = 16
LAST_YEAR = 9999


class SearchParameters(PageQuery):
    q: str = Field(min_length=1, max_length=MAX_QUERY, description="Words in any script.")
    source: str | None = Field(
        default=None, max_length=64, description=f"A harvest source's name, or '{LOCAL}'."
    )
    language: str | None = Field(
        default=None, max_length=MAX_LANGUAGE, description="As catalogued: uzb, rus."
    )
    year_from: int | None = Field(default=None, ge=0, le=LAST_YEAR)
    year_to: int | None = Field(default=None, ge=0, le=LAST_YEAR)
    set: str | None = Field(default=None, max_length=MAX_SET, description="An OAI setSpec.")
    per_page: int = Field(default=20, ge=1, le=MAX_PER_PAGE)

    @field_validator("q")
    @classmethod
    def _searchable(cls, value: str) -> str:
        """A query that cannot run is a bad parameter (400), like any other."""
        if not parse(value):
            raise ValueError(NO_WORDS)
        return value


class HoldingOut(BaseModel):
    identifier: str
    source: str | None
    holder: str
    title: str
    author: str | None
    year: int | None
    language: str | None
    oai_url: str


class EditionOut(BaseModel):
    key: str
    title: str
    author: str | None
    year: int | None
    language: str | None
    isbn: str | None
    holdings_total: int
    holdings: list[HoldingOut]


class SearchPage(BaseModel):
    q: str
    total: int = Field(description="Editions; when `more`, among the ranked matches")
    more: bool = Field(
        description=f"More records match than the {RANKED:,} newest that are "
        "ranked: a broad query, to narrow with another word or a filter"
    )
    page: int
    per_page: int
    editions: list[EditionOut]
