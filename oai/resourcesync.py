"""ResourceSync (ANSI/NISO Z39.99-2017) for the bulk paths: how an aggregator that syncs by
ResourceSync rather than OAI-PMH (CORE among them) finds the dumps and the records.

    /.well-known/resourcesync             Source Description: one capability list
    /resourcesync/capabilitylist.xml      Capability List: one resource list
    /resourcesync/resourcelist.xml        Resource List Index of the lists below
    /resourcesync/resourcelist-dumps.xml  the newest dump's files (libfed.oai.dumps), each
                                          with its length, SHA-256, type and lastmod

Every document is Sitemap XML with the `rs` namespace, built with lxml. A capability
list may name each capability once, so the dumps' list hangs under an index, where the
lists of record pages (the sitemap's blocks of live records) have their place beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import Blueprint, Response
from lxml import etree

from libfed.kernel import clock
from libfed.kernel.services import services
from libfed.search.landing import public_url

from .dumps import dumps
from .dumps_web import file_url

blueprint = Blueprint("resourcesync", __name__)

SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
RS = "http://www.openarchives.org/rs/terms/"
_NAMESPACES = {None: SITEMAP, "rs": RS}
_CACHE = "public, max-age=300"


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
    """The resource lists the index names."""
    if dumps(services().config):
        yield public_url("resourcesync.dump_list")


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
