"""Every page an admin reaches from the dashboard says what it says in words of the page's
language: no code word (snake_case), no Python value (True, False, None), no raw UTC time
(an ISO timestamp, "+00:00", "UTC"), and every CSV or XLSX file linked from a page has
headings in that language, in words.

The walk follows the same-origin links of the pages (GET only: what a person reaches by
clicking), from the dashboard and from pages known to hold the most (a draft with the
catalogue search answered, a dispatched shipment's packing list, an offer list, a harvest
source and its run, search results), over the demo programme and a harvested source
(test_browser's data). It runs in every language of the pages (libfed.web.i18n.LANGUAGES:
a language added there is walked too) with the Flask test client, so it is fast; the
browser's view of the same pages (layout at 390 and 1366 px) is test_browser_layout.

What is not in any language is left out of the text read: code, keyboard and sample text,
preformatted text, and what a page marks as no language (lang="zxx": identifiers, URLs)
or not to translate. The demo's own data needs no exception: it holds no code word.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import pytest
from conftest import WebClient, signed_in_as
from flask import Flask
from lxml import html as lxml_html
from openpyxl import load_workbook
from sqlalchemy import select
from test_browser import Site, migrated_template, site  # noqa: F401  (the demo's data)

from libfed.exchange.models import Shipment
from libfed.kernel.db import Database
from libfed.web.i18n import LANGUAGES

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Never followed: the protocol and API endpoints (not pages), static files, signing out,
# PDF documents (their words are the letters' tests'; making them is slow).
NOT_PAGES = re.compile(r"^/(oai|api|static)(/|$)|^/sign-(out|in)|\.pdf\?|[?&]format=pdf\b")
# At most this many pages in all (the demo site has about 80), and of one kind (same path
# but for its numbers, same query keys): the 40 demo shipments are one page with 40 data
# sets, a few tell enough.
PAGE_LIMIT, PER_KIND = 120, 3

SNAKE_CASE = re.compile(r"\b[a-z]+_[a-z_]+\b")
PYTHON_VALUES = re.compile(r"\b(True|False|None)\b")
# English has "None." as a word of its own (the dashboard's empty lists).
PYTHON_VALUES_EN = re.compile(r"\b(True|False)\b")
RAW_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\+00:00|\bUTC\b")
# Left out of the text read: not words of any language.
NOT_WORDS = (
    "//code | //kbd | //samp | //pre | //script | //style | //*[@lang='zxx'] | //*[@translate='no']"
)
# What else a person (or their screen reader) is told.
SAID = ("placeholder", "title", "aria-label", "alt")


def known_pages(demo: Site, received: int) -> list[str]:
    """The pages that show the most, visited whether or not a link leads there first."""
    return [
        "/",
        f"/shipments/{demo.draft_shipment}?q=Nizami",
        f"/shipments/{demo.sent_shipment}",
        f"/shipments/{received}",
        f"/shipments/{demo.sent_shipment}/packing-list",
        f"/partners/{demo.partner}",
        f"/partners/{demo.partner}/offer-list",
        f"/partners/{demo.partner}/desiderata?since=1900",
        "/search?q=Nizami&source=local",
        "/search?q=%D0%BA%D0%B8%D1%82%D0%B0%D0%B1",  # "китаб": Cyrillic finds Latin too
        "/harvesting",
        "/harvesting/partner-catalogue",
        "/harvesting/runs/1",
        "/reports",
    ]


@dataclass
class Walk:
    """What a walk found: each page's HTML by path, and the files pages link to."""

    pages: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path -> (type, body)


def _kind(path: str) -> str:
    parts = urlsplit(path)
    keys = sorted({pair.split("=", 1)[0] for pair in parts.query.split("&") if pair})
    return re.sub(r"\d+", "N", parts.path) + "?" + "&".join(keys)


def links(page: str, html: str) -> Iterator[str]:
    """The same-origin links of a page, as paths with their query."""
    for href in lxml_html.fromstring(html).xpath("//a/@href"):
        target = urlsplit(urljoin(f"http://localhost{page}", href))
        if target.netloc != "localhost" or NOT_PAGES.search(target.path + "?" + target.query):
            continue
        yield target.path + (f"?{target.query}" if target.query else "")


def walk(web: WebClient, start: list[str], limit: int = PAGE_LIMIT) -> Walk:
    """The pages reachable from `start` by links, breadth first, at most `limit` of them
    and PER_KIND of a kind (files linked are fetched, and count for neither)."""
    found = Walk()
    queue, queued, kinds = deque(start), set(start), Counter(map(_kind, start))
    while queue and len(found.pages) < limit:
        path = queue.popleft()
        response = web.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        if response.mimetype != "text/html":
            found.files[path] = (response.mimetype, response.get_data())
            continue
        found.pages[path] = response.get_data(as_text=True)
        for target in links(path, found.pages[path]):
            kind = _kind(target)
            if target not in queued and kinds[kind] < PER_KIND:
                queued.add(target)
                kinds[kind] += 1
                queue.append(target)
    return found


def said(html: str) -> str:
    """What the page says in words: the body's text and what its controls are named and
    described by, without what is no word of any language."""
    body = lxml_html.fromstring(html).body
    for element in body.xpath(NOT_WORDS):
        if element.getparent() is not None:
            element.drop_tree()
    told = list(body.itertext())  # a cell's words apart from the next cell's
    for name in SAID:
        told.extend(body.xpath(f"//@{name}"))
    told.extend(body.xpath("//input[@type='submit' or @type='button']/@value"))
    return " ".join(" ".join(told).split())


def code_words(text: str, language: str) -> list[str]:
    """Code words, Python values and raw UTC times in `text`."""
    values = PYTHON_VALUES_EN if language == "en" else PYTHON_VALUES
    found = [*SNAKE_CASE.findall(text), *values.findall(text), *RAW_UTC.findall(text)]
    return sorted(set(found))


def in_context(text: str, word: str) -> str:
    at = text.find(word)
    return "…" + text[max(at - 60, 0) : at + len(word) + 40] + "…"


def headings(kind: str, body: bytes) -> list[list[str]]:
    """A linked file's heading row, and its other rows (XLSX: the first sheet)."""
    if kind == XLSX:
        sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
        return [["" if cell is None else str(cell) for cell in row] for row in sheet.values]
    text = body.decode("utf-8-sig")
    first = text.split("\n", 1)[0]
    return list(csv.reader(io.StringIO(text), delimiter=";" if ";" in first else ","))


@pytest.fixture
def received(db: Database) -> int:
    """An incoming shipment of the demo, received: its page has the receipt's controls."""
    with db.session() as session:
        found = session.scalars(
            select(Shipment.id)
            .where(Shipment.direction == "incoming", Shipment.status == "received")
            .order_by(Shipment.id)
        ).first()
    assert found is not None, "the demo has changed"
    return found


@pytest.fixture(params=list(LANGUAGES))
def language(request: pytest.FixtureRequest) -> str:
    return request.param


def english_words(heading: list[str]) -> set[str]:
    """The headings that are English words (not a code such as ISBN or a year)."""
    return {cell for cell in heading if re.search(r"[a-z]{3}", cell)}


def test_every_page_says_things_in_words(
    app: Flask,
    web_users: dict[str, str],
    site: Site,  # noqa: F811  (test_browser's fixture)
    received: int,
    language: str,
) -> None:
    """No snake_case, True/False/None or raw UTC time on any page reached, in any language;
    every CSV and XLSX file linked has its headings in words of the page's language."""
    admin = signed_in_as(app, web_users["admin"]).in_language(language)
    found = walk(admin, known_pages(site, received))
    assert len(found.pages) >= 30, sorted(found.pages)  # the walk reached the whole site
    wrong = []
    for path, page in found.pages.items():
        text = said(page)
        wrong.extend(
            f"{path}: {word!r} in {in_context(text, word)}" for word in code_words(text, language)
        )

    files = {
        path: kind_body
        for path, kind_body in found.files.items()
        if kind_body[0] in ("text/csv", XLSX)
    }
    assert files, "no CSV or XLSX file is linked from any page"
    english = signed_in_as(app, web_users["admin"]).in_language("en")
    for path, (kind, body) in files.items():
        heading, *rows = headings(kind, body)
        wrong.extend(
            f"{path}: heading {word!r} in {heading}"
            for word in code_words(" ".join(heading), language)
        )
        if language != "en":
            in_english = english_words(headings(*_file(english, path))[0])
            same = english_words(heading) & in_english
            if len(same) * 2 > len(in_english):
                wrong.append(f"{path}: headings in English: {sorted(same)}")
        wrong.extend(
            f"{path}: cell {cell!r} in {row}"
            for row in rows
            for cell in row
            if cell in ("True", "False", "None")
        )
    assert not wrong, f"in {LANGUAGES[language]}:\n  " + "\n  ".join(wrong)


def _file(web: WebClient, path: str) -> tuple[str, bytes]:
    response = web.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    return response.mimetype, response.get_data()
