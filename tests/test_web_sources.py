"""Harvest sources added and edited on the web by an administrator (issue 15), with the
checks of `libfed sources add`: a refusal beside its field, in the page's language, with
what was typed kept and nothing stored; a coordinator or viewer sees no form and is
refused a post."""

from __future__ import annotations

import html
import re

from conftest import WebClient, add_partner, archive_partner
from sqlalchemy import select

from libfed.harvest.models import Source
from libfed.kernel.db import Database

GOOD = {
    "name": "az-nl",
    "base_url": "https://anl.example/oai",
    "prefix": "marc21",
    "sets": "books, serials",
    "every_seconds": "6h",
    "cron": "",
    "institution_id": "",
    "enabled": "on",
}


def _sources(db: Database) -> dict[str, Source]:
    with db.session() as session:
        return {s.name: s for s in session.scalars(select(Source))}


def test_an_admin_adds_a_source_and_sees_it_listed(admin_pages: WebClient, api, db) -> None:  # type: ignore[no-untyped-def]
    library = add_partner(api, "Azərbaycan Milli Kitabxanası", "AZ")
    assert 'action="/harvesting"' in admin_pages.text("/harvesting")
    response = admin_pages.post(
        "/harvesting", {**GOOD, "institution_id": str(library["id"])}, follow_redirects=True
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Source az-nl added." in page
    assert "https://anl.example/oai" in page and "every 6 hours" in page
    listed = admin_pages.text("/harvesting")
    assert 'href="/harvesting/az-nl"' in listed and "Azərbaycan Milli Kitabxanası" in listed
    stored = _sources(db)["az-nl"]
    assert (stored.prefix, stored.sets, stored.every_seconds, stored.enabled) == (
        "marc21",
        ["books", "serials"],
        6 * 3600,
        True,
    )
    assert stored.institution_id == library["id"]


def test_a_bad_url_is_refused_beside_its_field_in_russian(admin_pages: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    admin_pages.in_language("ru")
    response = admin_pages.post("/harvesting", {**GOOD, "base_url": "ftp://anl.example/oai?x=1"})
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert re.search(r'id="e-base_url" class="error">[^<]*не базовый URL http\(s\)', page)
    assert "Базовый URL: " in page  # the list above the form names the field
    assert re.search(r'id="f-base_url"[^>]*value="ftp://anl.example/oai\?x=1"', page)
    assert re.search(r'id="f-every_seconds"[^>]*value="6h"', page)  # what was typed stays
    assert re.search(r'id="f-enabled"[^>]*checked', page)
    assert _sources(db) == {}


def test_a_duplicate_name_is_refused_beside_the_name(admin_pages: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    assert admin_pages.post("/harvesting", GOOD).status_code == 303
    response = admin_pages.post("/harvesting", {**GOOD, "base_url": "https://other.example/oai"})
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert re.search(r"id=\"e-name\" class=\"error\">a source named 'az-nl' exists already", page)
    assert _sources(db)["az-nl"].base_url == "https://anl.example/oai"


def test_an_interval_and_a_cron_at_once_are_refused_as_by_the_cli(
    admin_pages: WebClient, db
) -> None:  # type: ignore[no-untyped-def]
    response = admin_pages.post("/harvesting", {**GOOD, "cron": "0 3 * * *"})
    assert response.status_code == 422
    assert 'id="e-cron"' in response.get_data(as_text=True)
    assert _sources(db) == {}


def test_an_admin_edits_the_schedule(admin_pages: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    admin_pages.post("/harvesting", GOOD)
    form = admin_pages.text("/harvesting/az-nl")
    assert re.search(r'id="f-every_seconds"[^>]*value="6h"', form)  # the unit as typed
    response = admin_pages.post(
        "/harvesting/az-nl/edit", {**GOOD, "every_seconds": "", "cron": "0 3 * * *"}
    )
    assert response.status_code == 303
    page = admin_pages.text("/harvesting/az-nl")
    assert "cron 0 3 * * *" in page and "Source az-nl saved." in page
    stored = _sources(db)["az-nl"]
    assert (stored.cron, stored.every_seconds, stored.sets) == (
        "0 3 * * *",
        None,
        ["books", "serials"],
    )
    # A bad interval is refused beside it and the stored schedule stays.
    response = admin_pages.post("/harvesting/az-nl/edit", {**GOOD, "every_seconds": "soon"})
    assert response.status_code == 422
    assert re.search(
        r'id="e-every_seconds" class="error">[^<]*30m, 6h or 1d', response.get_data(as_text=True)
    )
    assert _sources(db)["az-nl"].cron == "0 3 * * *"


def test_an_admin_switches_a_source_off(admin_pages: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    admin_pages.post("/harvesting", GOOD)
    fields = {k: v for k, v in GOOD.items() if k != "enabled"}  # an unticked box is not sent
    assert admin_pages.post("/harvesting/az-nl/edit", fields).status_code == 303
    assert _sources(db)["az-nl"].enabled is False


def test_coordinators_and_viewers_see_no_form_and_are_refused(  # type: ignore[no-untyped-def]
    admin_pages: WebClient, pages: WebClient, viewer_pages: WebClient, db
) -> None:
    admin_pages.post("/harvesting", GOOD)
    for web in (pages, viewer_pages):
        assert "Add a source" not in web.text("/harvesting")
        assert "/harvesting/az-nl/edit" not in web.text("/harvesting/az-nl")
        assert web.post("/harvesting", {**GOOD, "name": "other"}).status_code == 403
        assert (
            web.post("/harvesting/az-nl/edit", {**GOOD, "every_seconds": "1d"}).status_code == 403
        )
    assert set(_sources(db)) == {"az-nl"}
    assert _sources(db)["az-nl"].every_seconds == 6 * 3600


def test_a_hostile_form_is_refused_field_by_field_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    admin_pages: WebClient, db
) -> None:
    """What a form sends is bounded as the columns are, before anything is written: a
    name, address or format too long, a set spec too long, or too many sets."""
    hostile = {
        "name": "n" * 65,
        "base_url": "https://anl.example/" + "o" * 1100,
        "prefix": "p" * 65,
        "sets": " ".join(f"s{n}" for n in range(101)),
        "cron": "0 3 * * * " + "x" * 200,
    }
    response = admin_pages.post("/harvesting", {**GOOD, **hostile, "every_seconds": ""})
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    for field in ("name", "base_url", "prefix", "sets", "cron"):
        assert re.search(rf'id="e-{field}" class="error">[^<]*at most \d+', page), field
    response = admin_pages.post("/harvesting", {**GOOD, "sets": "ok " + "s" * 256})
    assert response.status_code == 422
    assert _sources(db) == {}


def test_an_archived_institution_is_offered_only_to_the_source_it_already_owns(  # type: ignore[no-untyped-def]
    admin_pages: WebClient, api, db
) -> None:
    library = add_partner(api, "Azərbaycan Milli Kitabxanası", "AZ")
    closed = add_partner(api, "Closed Library", "AZ")
    assert admin_pages.post(
        "/harvesting", {**GOOD, "institution_id": str(closed["id"])}
    ).status_code in (302, 303)
    archive_partner(api, closed)

    def offered(page: str) -> set[str]:
        return set(re.findall(r'<option value="(\d+)"', page))

    assert offered(admin_pages.text("/harvesting")) == {str(library["id"])}
    assert offered(admin_pages.text("/harvesting/az-nl")) == {str(library["id"]), str(closed["id"])}
