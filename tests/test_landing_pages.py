"""What crawlers and reference managers read: a record page's Highwire `citation_*` meta
tags and schema.org JSON-LD, for this library's records and harvested ones; /sitemap.xml
(an index of sitemap pages past its page size) listing every live record's page and no
deleted one; /robots.txt opening the record pages and the sitemap and closing the rest."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from flask import Flask
from lxml import etree, html
from sqlalchemy import select

from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.models import Record
from libfed.records.repository import tombstone
from libfed.search import sitemap
from tests.records_helpers import put
from tests.test_record_page import (
    AWKWARD,
    SOURCE_BASE,
    record_path,
    records,  # noqa: F401  (a fixture)
)

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def head(app: Flask, client, identifier: str) -> html.HtmlElement:  # type: ignore[no-untyped-def]
    response = client.get(record_path(app, identifier))
    assert response.status_code == 200
    return html.fromstring(response.get_data(as_text=True)).xpath("//head")[0]


def citations(page_head: html.HtmlElement) -> list[tuple[str, str]]:
    return [
        (meta.get("name"), meta.get("content"))
        for meta in page_head.xpath("./meta[starts-with(@name, 'citation_')]")
    ]


def linked_data(page_head: html.HtmlElement) -> dict:
    (script,) = page_head.getroottree().xpath("//script[@type='application/ld+json']")
    return json.loads(script.text)


def public(config: Config, app: Flask, identifier: str) -> str:
    return config.public_base_url + record_path(app, identifier)


# ------------------------------------------------------------------ meta tags and JSON-LD


def test_this_librarys_record_for_scholar_and_search_engines(
    app: Flask,
    client,  # type: ignore[no-untyped-def]
    config: Config,
    records: dict[str, str],  # noqa: F811
) -> None:
    page_head = head(app, client, records["local"])
    url = public(config, app, records["local"])
    assert url.startswith("http://127.0.0.1/records/oai:")
    assert citations(page_head) == [
        ("citation_title", "Братья Карамазовы"),
        ("citation_author", "Достоевский, Фёдор Михайлович"),
        ("citation_publication_date", "2019"),
        ("citation_publisher", "Москва : Наука"),
        ("citation_isbn", "978-9952-8123-4-3"),
        ("citation_language", "ru"),
        ("citation_keywords", "Русская литература"),
        ("citation_abstract_html_url", url),
    ]
    assert page_head.xpath("./link[@rel='canonical']")[0].get("href") == url
    assert linked_data(page_head) == {
        "@context": "https://schema.org",
        "@type": "Book",
        "@id": url,
        "url": url,
        "identifier": records["local"],
        "name": "Братья Карамазовы",
        "author": [{"@type": "Person", "name": "Достоевский, Фёдор Михайлович"}],
        "datePublished": "2019",
        "inLanguage": "ru",
        "isbn": "978-9952-8123-4-3",
        "publisher": {"@type": "Organization", "name": "Москва : Наука"},
        "keywords": ["Русская литература"],
    }


def test_a_harvested_record_names_the_institution_it_is_based_on(
    app: Flask,
    client,  # type: ignore[no-untyped-def]
    config: Config,
    records: dict[str, str],  # noqa: F811
) -> None:
    page_head = head(app, client, records["harvested"])
    url = public(config, app, records["harvested"])
    tags = dict(citations(page_head))
    assert tags["citation_title"] == "Aka-uka Karamazovlar"
    assert tags["citation_language"] == "uz"
    assert tags["citation_abstract_html_url"] == url and "%2F" in url  # one segment
    data = linked_data(page_head)
    holder = {"@type": "Organization", "name": "Alisher Navoiy nomidagi kutubxona"}
    assert data["provider"] == holder
    assert data["isBasedOn"] == {
        "@type": "CreativeWork",
        "provider": holder,
        "identifier": AWKWARD,
        "url": SOURCE_BASE,
    }
    assert (data["identifier"], data["url"], data["inLanguage"]) == (
        records["harvested"],
        url,
        "uz",
    )


def test_only_what_the_record_has_and_no_book_without_a_sign_of_one(
    app: Flask,
    client,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    identifier = put(db, "map", title="Xəritə", type="cartographic", date="cal. 1890-ci il")
    page_head = head(app, client, identifier)
    assert [name for name, _ in citations(page_head)] == [
        "citation_title",
        "citation_publication_date",
        "citation_abstract_html_url",
    ]
    assert dict(citations(page_head))["citation_publication_date"] == "1890"
    data = linked_data(page_head)
    assert data["@type"] == "CreativeWork" and data["datePublished"] == "1890"
    assert not {"author", "isbn", "publisher", "inLanguage", "isBasedOn"} & set(data)


def test_a_hostile_title_cannot_close_the_script(
    app: Flask,
    client,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    hostile = "</script><script>alert(1)</script><!-- & -->"
    escaped = hostile.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    identifier = put(db, "evil", source="evil", title=escaped, creator=escaped)
    response = client.get(record_path(app, identifier))
    body = response.get_data(as_text=True)
    assert "<script>alert(1)" not in body and "<!--" not in body
    document = html.fromstring(body)
    scripts = document.xpath("//script")
    assert [s.get("type") for s in scripts if s.get("src") is None] == ["application/ld+json"]
    data = json.loads(scripts[0].text)
    assert data["name"] == hostile and data["author"] == [{"@type": "Person", "name": hostile}]
    assert dict(citations(document.xpath("//head")[0]))["citation_title"] == hostile
    # A record with no holder's name: the harvest source names the provider.
    assert data["provider"] == {"@type": "Organization", "name": "evil"}


# ------------------------------------------------------------------ sitemap


def sitemap_of(client, path: str) -> etree._Element:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert "public" in response.headers["Cache-Control"]
    return etree.fromstring(response.get_data())


def urls(document: etree._Element) -> dict[str, str]:
    """loc -> lastmod of a urlset, each entry with exactly these two children."""
    assert document.tag == f"{SITEMAP}urlset"
    found = {}
    for entry in document:
        assert [child.tag for child in entry] == [f"{SITEMAP}loc", f"{SITEMAP}lastmod"]
        found[entry[0].text] = entry[1].text
    return found


def datestamps(db: Database) -> dict[str, str]:
    with db.session() as session:
        rows = session.execute(
            select(Record.identifier, Record.datestamp).where(~Record.deleted)
        ).all()
    return {identifier: f"{moment:%Y-%m-%dT%H:%M:%SZ}" for identifier, moment in rows}


def test_the_sitemap_lists_every_live_record_page_and_no_deleted_one(
    app: Flask,
    client,  # type: ignore[no-untyped-def]
    config: Config,
    db: Database,
    records: dict[str, str],  # noqa: F811
) -> None:
    gone = put(db, "gone", title="Silinmiş")
    with db.write() as session:
        assert tombstone(session, gone)
    listed = urls(sitemap_of(client, "/sitemap.xml"))
    expected = {public(config, app, i): lastmod for i, lastmod in datestamps(db).items()}
    assert listed == expected and len(listed) == 2
    assert public(config, app, gone) not in listed
    # Every address opens its page; the harvested one's awkward identifier included.
    for url in listed:
        assert client.get(urllib.parse.urlsplit(url).path).status_code == 200


def test_past_its_page_size_the_sitemap_is_an_index_of_pages(
    app: Flask,
    client,  # type: ignore[no-untyped-def]
    config: Config,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sitemap, "PAGE_SIZE", 2)
    identifiers = [put(db, f"r{n}", title=f"Kitab {n}") for n in range(7)]
    with db.write() as session:  # the 3rd and 4th: one block of ids left empty
        for identifier in identifiers[2:4]:
            assert tombstone(session, identifier)
    index = sitemap_of(client, "/sitemap.xml")
    assert index.tag == f"{SITEMAP}sitemapindex"
    pages = [(entry[0].text, entry[1].text) for entry in index]
    assert all(tag == f"{SITEMAP}sitemap" for tag in (entry.tag for entry in index))
    assert len(pages) == 3  # 5 live records of 7, blocks of 2 ids, one block empty
    listed: dict[str, str] = {}
    for loc, lastmod in pages:
        assert loc.startswith(config.public_base_url + "/sitemap-")
        page = urls(sitemap_of(client, urllib.parse.urlsplit(loc).path))
        assert 1 <= len(page) <= 2 and max(page.values()) == lastmod
        listed |= page
    expected = {public(config, app, i): lastmod for i, lastmod in datestamps(db).items()}
    assert listed == expected and len(listed) == 5
    for missing in ("/sitemap-0.xml", "/sitemap-99.xml", "/sitemap-99999999999.xml"):
        assert client.get(missing).status_code == 404


def test_robots_opens_the_record_pages_and_the_sitemap_and_closes_the_rest(
    client,  # type: ignore[no-untyped-def]
    config: Config,
) -> None:
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert "public" in response.headers["Cache-Control"]
    lines = response.get_data(as_text=True).splitlines()
    assert lines[:3] == ["User-agent: *", "Allow: /records/", "Allow: /sitemap"]
    closed = {line.removeprefix("Disallow: ") for line in lines if line.startswith("Disallow:")}
    assert {"/api/", "/federation/", "/dumps/", "/sign-in", "/$", "/shipments", "/search"} <= closed
    assert "/" not in closed and not any(p.startswith("/records") for p in closed)
    assert f"Sitemap: {config.public_base_url}/sitemap.xml" in lines
    # What it closes is indeed behind sign-in.
    for path in ("/shipments", "/partners", "/search"):
        assert client.get(path).status_code == 302
