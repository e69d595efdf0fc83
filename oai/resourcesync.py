"""ResourceSync (ANSI/NISO Z39.99-2017) for the bulk paths: how an aggregator that syncs by
ResourceSync rather than OAI-PMH (CORE among them) finds the dumps and the records.

    /.well-known/resourcesync             Source Description: one capability list
    /resourcesync/capabilitylist.xml      Capability List: one resource list
    /resourcesync/resourcelist.xml        Resource List Index of the lists below
    /resourcesync/resourcelist-dumps.xml  the newest dump's files (libfed.oai.dumps), each
                                          with its length, SHA-256, type and lastmod
    /resourcesync/resourcelist-<n>.xml    the pages of the live records whose ids fall in
                                          the sitemap's n-th block (libfed.search.sitemap),
                                          each with its datestamp and, `describedby`, its
                                          Dublin Core over OAI-PMH GetRecord

Every document is Sitemap XML with the `rs` namespace, built with lxml (the record lists,
up to 50,000 URLs, written incrementally as they stream from the database). A capability
list may name each capability once, so the dumps' list and the records' lists hang under
one Resource List Index. An aggregator that syncs record by record (CORE) reads the
record lists; one that reloads in bulk, the dumps.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from flask import Blueprint, Response, abort, stream_with_context
from lxml import etree
from sqlalchemy import Select

from libfed.kernel import clock
from libfed.kernel.services import services
from libfed.records.identifiers import get_record_url
from libfed.search.landing import public_url
from libfed.search.sitemap import block, blocks, live_pages

from .dumps import dumps
from .dumps_web import file_url

blueprint = Blueprint("resourcesync", __name__)

SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
RS = "http://www.openarchives.org/rs/terms/"
_NAMESPACES = {None: SITEMAP, "rs": RS}
_CACHE = "public, max-age=300"
_PIECE = 64 * 1024  # bytes of a streamed record list handed to the server at a time


def w3c(moment: datetime) -> str:
    """A stored (UTC) time as the W3C datetime ResourceSync and Sitemaps write."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _document(root: str, capability: str, links: dict[str, str], **md: str) -> etree._Element:
    """A <urlset> or <sitemapindex> with its links (rel -> href) and its rs:md."""
    element = etree.Element(f"{{{SITEMAP}}}{root}", nsmap=_NAMESPACES)
    for rel, href in links.items():
        etree.SubElement(element, f"{{{RS}}}ln", rel=rel, href=href)
    etree.SubElement(element, f"{{{RS}}}md", capability=capability, **md)
    return element


def _entry(
    parent: etree._Element,
    tag: str,
    loc: str,
    lastmod: datetime | None = None,
    **md: str,
) -> None:
    item = etree.SubElement(parent, f"{{{SITEMAP}}}{tag}")
    etree.SubElement(item, f"{{{SITEMAP}}}loc").text = loc
    if lastmod is not None:
        etree.SubElement(item, f"{{{SITEMAP}}}lastmod").text = w3c(lastmod)
    if md:
        etree.SubElement(item, f"{{{RS}}}md", **md)


def _xml(element: etree._Element) -> Response:
    body = etree.tostring(element, xml_declaration=True, encoding="UTF-8")
    response = Response(body, mimetype="application/xml")
    response.headers["Cache-Control"] = _CACHE
    return response


def _lists() -> Iterable[str]:
    """The resource lists the index names: the dumps', and one per block of records."""
    if dumps(services().config):
        yield public_url("resourcesync.dump_list")
    with services().db.session() as session:
        numbers = [number for number, _lastmod in blocks(session)]
    for number in numbers:
        yield public_url("resourcesync.record_list", number=number)


@blueprint.get("/.well-known/resourcesync")
def source_description() -> Response:
    root = _document("urlset", "description", {"describedby": public_url("dumps.listing")})
    _entry(root, "url", public_url("resourcesync.capability_list"), capability="capabilitylist")
    return _xml(root)


@blueprint.get("/resourcesync/capabilitylist.xml")
def capability_list() -> Response:
    root = _document(
        "urlset", "capabilitylist", {"up": public_url("resourcesync.source_description")}
    )
    _entry(root, "url", public_url("resourcesync.resource_list"), capability="resourcelist")
    return _xml(root)


@blueprint.get("/resourcesync/resourcelist.xml")
def resource_list() -> Response:
    """The Resource List Index."""
    root = _document(
        "sitemapindex",
        "resourcelist",
        {"up": public_url("resourcesync.capability_list")},
        at=w3c(clock.utc_now()),
    )
    for loc in _lists():
        _entry(root, "sitemap", loc)
    return _xml(root)


@blueprint.get("/resourcesync/resourcelist-dumps.xml")
def dump_list() -> Response:
    """The newest dump's files: a destination fetches them whole and checks each by its
    length and SHA-256; their URLs are dated, so a URL's content never changes."""
    root = _document(
        "urlset",
        "resourcelist",
        {
            "up": public_url("resourcesync.capability_list"),
            "index": public_url("resourcesync.resource_list"),
        },
        at=w3c(clock.utc_now()),
    )
    listed = dumps(services().config)
    for entry in listed[0].files if listed else ():
        _entry(
            root,
            "url",
            file_url(listed[0], entry),
            listed[0].finished,
            hash=f"sha-256:{entry.sha256}",
            length=str(entry.size),
            type="application/gzip",
        )
    return _xml(root)


def _record_entries(query: Select) -> Iterator[bytes]:
    """A record list, written as its rows stream in (every element through the writer's
    own element(), so that the namespaces are declared once, on the root) and handed out
    in pieces of about `_PIECE` bytes."""
    buffer = io.BytesIO()
    base_url = services().config.oai.base_url
    links = {
        "up": public_url("resourcesync.capability_list"),
        "index": public_url("resourcesync.resource_list"),
    }
    with etree.xmlfile(buffer, encoding="UTF-8") as out:
        out.write_declaration()
        with out.element(f"{{{SITEMAP}}}urlset", nsmap=_NAMESPACES):
            for rel, href in links.items():
                with out.element(f"{{{RS}}}ln", rel=rel, href=href):
                    pass
            with out.element(f"{{{RS}}}md", capability="resourcelist", at=w3c(clock.utc_now())):
                pass
            for url, identifier, datestamp in live_pages(query):
                with out.element(f"{{{SITEMAP}}}url"):
                    with out.element(f"{{{SITEMAP}}}loc"):
                        out.write(url)
                    with out.element(f"{{{SITEMAP}}}lastmod"):
                        out.write(w3c(datestamp))
                    with out.element(
                        f"{{{RS}}}ln",
                        rel="describedby",
                        href=get_record_url(base_url, identifier),
                        type="application/xml",
                    ):
                        pass
                if buffer.tell() >= _PIECE:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
    yield buffer.getvalue()


@blueprint.get("/resourcesync/resourcelist-<int:number>.xml")
def record_list(number: int) -> Response:
    """The pages of the live records of the number-th block of ids; 404 past the last."""
    with services().db.session() as session:
        query = block(session, number)
    if query is None:
        abort(404)
    response = Response(stream_with_context(_record_entries(query)), mimetype="application/xml")
    response.headers["Cache-Control"] = _CACHE
    return response
