"""GET /api/v1/search: the union catalogue, public like the OAI interface it summarises.

Which institution holds a harvested record is the harvest domain's knowledge: the app
factory hands in a `Holders` hook (libfed.kernel.services: source names -> institution
names) rather than this core module reaching into harvest's tables.
"""

from __future__ import annotations

from flask import Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from libfed.kernel.api import Api, reply
from libfed.kernel.callers import Caller
from libfed.kernel.errors import Invalid
from libfed.kernel.paging import PageQuery
from libfed.kernel.services import Holders, services
from libfed.records.identifiers import get_record_url

from .query import (
    LOCAL,
    MAX_PER_PAGE,
    NO_WORDS,
    RANKED,
    QueryError,
    SearchQuery,
    SearchResults,
    parse,
    search,
)

api = Api("search")
TAG = "search"


class SearchParameters(PageQuery):
    q: str = Field(min_length=1, max_length=500, description="Words in any script.")
    source: str | None = Field(
        default=None, max_length=64, description=f"A harvest source's name, or '{LOCAL}'."
    )
    language: str | None = Field(
        default=None, max_length=16, description="As catalogued: uzb, rus."
    )
    year_from: int | None = Field(default=None, ge=0, le=9999)
    year_to: int | None = Field(default=None, ge=0, le=9999)
    set: str | None = Field(default=None, max_length=255, description="An OAI setSpec.")
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


def run_search(session: Session, query: SearchQuery) -> SearchResults:
    """`search`, with a query the user got wrong reported as an invalid field."""
    try:
        return search(session, query)
    except QueryError as error:
        raise Invalid({"q": str(error)}) from None


def rendered(
    session: Session, results: SearchResults, holders: Holders, home: str, base_url: str
) -> dict:
    """The JSON form of a page of results, shared by the API and `libfed search --json`."""
    sources = {h.source for e in results.editions for h in e.holdings if h.source}
    names = holders(session, sources) if sources else {}
    return {
        "q": results.query.text,
        "total": results.total,
        "more": results.more,
        "page": results.query.page,
        "per_page": results.query.per_page,
        "editions": [
            {
                "key": e.key,
                "title": e.title,
                "author": e.author,
                "year": e.year,
                "language": e.language,
                "isbn": e.isbn,
                "holdings_total": e.holdings_total,
                "holdings": [
                    {
                        "identifier": h.identifier,
                        "source": h.source,
                        "holder": names.get(h.source, h.source) if h.source else home,
                        "title": h.title,
                        "author": h.author,
                        "year": h.year,
                        "language": h.language,
                        "oai_url": get_record_url(base_url, h.identifier),
                    }
                    for h in e.holdings
                ],
            }
            for e in results.editions
        ],
    }


@api.route(
    "GET",
    "/search",
    summary="Search the union catalogue",
    tag=TAG,
    role=None,
    query=SearchParameters,
    response=SearchPage,
)
def search_catalogue(caller: Caller | None, query: SearchParameters) -> Response:
    """Editions of local and harvested records matching every word of `q`, whatever
    script it and the records are written in (Latin or Cyrillic Uzbek, Azerbaijani,
    Karakalpak; Russian and its transliterations). Each edition lists its holdings:
    this library's and each partner's record of it."""
    config = services().config
    wanted = SearchQuery(
        text=query.q,
        source=query.source,
        language=query.language,
        year_from=query.year_from,
        year_to=query.year_to,
        set_spec=query.set,
        page=query.page,
        per_page=query.per_page,
    )
    with services().db.session() as session:
        results = run_search(session, wanted)
        return reply(
            rendered(
                session,
                results,
                services().holders,
                config.oai.repository_name,
                config.oai.base_url,
            )
        )
