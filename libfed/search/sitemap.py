"""`/sitemap.xml` and `/robots.txt`: how crawlers (Google Scholar among them, which reads
landing pages, not OAI-PMH) find every live record's page and keep off the rest.

Up to `PAGE_SIZE` live records, `/sitemap.xml` lists their pages itself; past it, it is a
sitemap index of `/sitemap-<n>.xml`, page n holding the records whose ids fall in the n-th
block of `PAGE_SIZE` ids. A record so stays on its page as others come and go, and each
page's count stays within the protocol's 50,000 whatever the deletions. Rows are streamed
from the database in id order, never all loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, request, stream_with_context, url_for
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from libfed.kernel.services import services
from libfed.records.models import Record
from libfed.records.site import landing_url
from libfed.web.menu import Menu

from .landing import public_url
from .record_page import PATH

blueprint = Blueprint("sitemap", __name__)

PAGE_SIZE = 50_000  # URLs of one sitemap: the protocol's limit
MAX_URL = 2047  # characters; a longer one would make the whole sitemap invalid
CACHE = "public, max-age=3600"
_NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
_STREAM_ROWS = 2_000
_LIVE = ~Record.deleted


def _lastmod(moment: datetime) -> str:
    """A stored (UTC) datestamp in the W3C form the protocol asks for."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(lines: Iterator[str]) -> Response:
    response = Response(stream_with_context(lines), mimetype="application/xml")
    response.headers["Cache-Control"] = CACHE
    return response


def live_pages(query: Select) -> Iterator[tuple[str, str, datetime]]:
    """Each record of `query` (`records` or `block`) as its page's URL, its identifier and
    its datestamp, read a batch of rows at a time; a URL too long for a sitemap is left
    out. ResourceSync's lists of records (libfed.oai.resourcesync) read the same."""
    root = services().config.public_base_url
    with services().db.session() as session:
        rows = session.execute(query.execution_options(yield_per=_STREAM_ROWS))
        for identifier, datestamp in rows:
            url = landing_url(root, identifier)
            if len(url) <= MAX_URL:
                yield url, identifier, datestamp


def _urlset(query: Select) -> Iterator[str]:
    """Each record's page with its datestamp."""
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{_NAMESPACE}">\n'
    for url, _identifier, datestamp in live_pages(query):
        yield f"<url><loc>{escape(url)}</loc><lastmod>{_lastmod(datestamp)}</lastmod></url>\n"
    yield "</urlset>\n"


def _index(pages: list[tuple[int, datetime]]) -> Iterator[str]:
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{_NAMESPACE}">\n'
    for number, lastmod in pages:
        url = escape(public_url("sitemap.sitemap_page", number=number))
        yield f"<sitemap><loc>{url}</loc><lastmod>{_lastmod(lastmod)}</lastmod></sitemap>\n"
    yield "</sitemapindex>\n"


def records() -> Select:
    """Every live record (identifier, datestamp) in id order."""
    return select(Record.identifier, Record.datestamp).where(_LIVE).order_by(Record.id)


def blocks(session: Session) -> list[tuple[int, datetime]]:
    """The blocks of `PAGE_SIZE` ids that hold live records, by number from 1, each with
    its newest datestamp."""
    number = ((Record.id - 1) // PAGE_SIZE + 1).label("block")
    found = session.execute(
        select(number, func.max(Record.datestamp)).where(_LIVE).group_by(number).order_by(number)
    )
    return [(int(block), lastmod) for block, lastmod in found]


def block(session: Session, number: int) -> Select | None:
    """The live records of the number-th block of ids; None when it holds none."""
    first = (number - 1) * PAGE_SIZE + 1
    if number < 1 or first > 2**31:
        return None
    query = records().where(Record.id >= first, Record.id < first + PAGE_SIZE)
    if session.scalar(query.with_only_columns(Record.id).limit(1)) is None:
        return None
    return query


@blueprint.get("/sitemap.xml")
def sitemap() -> Response:
    """Every live record's page, or past `PAGE_SIZE` of them the index of the pages."""
    with services().db.session() as session:
        live = session.scalar(select(func.count()).select_from(Record).where(_LIVE)) or 0
        if live <= PAGE_SIZE:  # bounded: records written since the count wait for the next
            return _xml(_urlset(records().limit(PAGE_SIZE)))
        pages = blocks(session)
    return _xml(_index(pages))


@blueprint.get("/sitemap-<int:number>.xml")
def sitemap_page(number: int) -> Response:
    """The live records of the number-th block of ids; 404 past the last one."""
    with services().db.session() as session:
        query = block(session, number)
    if query is None:
        abort(404)
    return _xml(_urlset(query))


def _closed(endpoint: str) -> str:
    """A section behind sign-in as a robots.txt path: its first segment, which its other
    pages share; the home page alone ('$' ends a path, RFC 9309), not the whole site."""
    path = url_for(endpoint)
    root = request.script_root
    first = path.removeprefix(root).strip("/").split("/")[0]
    return f"{root}/{first}" if first else f"{root}/$"


@blueprint.get("/robots.txt")
def robots() -> Response:
    """Crawlers welcome to the record pages and the sitemap, kept off the pages behind
    sign-in (the menu's sections and the sign-in page), the JSON API, the federation's
    endpoints and the dumps (files of hundreds of megabytes, for aggregators, not for
    search engines)."""
    root = request.script_root
    sections = [entry.endpoint for entry in services().part(Menu).entries]
    machines = [f"{root}/api/", f"{root}/federation/", f"{root}/dumps/"]
    closed = dict.fromkeys([*machines, *map(_closed, ["auth.sign_in", *sections])])
    lines = ["User-agent: *", f"Allow: {root}{PATH}", f"Allow: {root}/sitemap"]
    lines += [f"Disallow: {path}" for path in closed]
    lines += ["", f"Sitemap: {public_url('sitemap.sitemap')}", ""]
    response = Response("\n".join(lines), mimetype="text/plain")
    response.headers["Cache-Control"] = CACHE
    return response
