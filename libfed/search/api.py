"""GET /api/v1/search: the union catalogue, public like the OAI interface it summarises.

Which institution holds a harvested record is the harvest domain's knowledge: the app
factory hands in a `Holders` hook (libfed.kernel.services: source names -> institution
names) rather than this core module reaching into harvest's tables.
"""

from __future__ import annotations

from flask import Response
from sqlalchemy.orm import Session

from libfed.kernel.api import Api, reply
from libfed.kernel.callers import Caller
from libfed.kernel.errors import Invalid
from libfed.kernel.services import Holders, services
from libfed.records.identifiers import get_record_url

from .query import QueryError, SearchQuery, SearchResults, search
from .schemas import SearchPage, SearchParameters

api = Api("search")
TAG = "search"


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
