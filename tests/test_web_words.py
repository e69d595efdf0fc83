"""The exchange pages speak in words, not code words (issue 15): a refusal names its field
as the form labels it and keeps what was typed; the history says "withdrawn: no → yes"
in the page's language; a language is named, never coded; steps that are hard to undo
ask first, without any script; statuses that mean different things look different."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest

from libfed.kernel import clock
from libfed.records.importer import import_files
from tests.conftest import REPOSITORY_ID, ROOT, WebClient, add_partner, add_shipment

PRINCETON = ROOT / "libfed" / "root" / "demo" / "data" / "marc2bibframe2_princeton.xml"

# Words each language says for the same thing (the catalogues' existing translations).
WORDS = {
    "en": {
        "title_required": "Title: required",
        "attention": "Some fields need attention:",
        "future": "When, if earlier than now: is in the future",
        "withdrawn": "Withdrawn: no → yes",
        "back": "Back to the shipment",
        "cancel": "Cancel the shipment",
        "lost": "Mark as lost",
        "mayan": "Mayan languages",
    },
    "ru": {
        "title_required": "Заглавие: обязательное поле",
        "attention": "Проверьте следующие поля:",
        "future": "Когда (если раньше, чем сейчас): указано время в будущем",
        "withdrawn": "исключено: нет → да",
        "back": "Вернуться к отправке",
        "cancel": "Отменить отправку",
        "lost": "Отметить как утерянную",
        "mayan": "языки майя",
    },
}


@pytest.fixture(params=["en", "ru"])
def language(request: pytest.FixtureRequest, pages: WebClient) -> str:
    """The coordinator's pages in each language, as chosen from the language menu."""
    pages.in_language(request.param)
    return request.param


def _main(response) -> str:  # type: ignore[no-untyped-def]
    """The page's own content (not the header), its entities read as a person reads them."""
    return unescape(response.get_data(as_text=True).split('<main id="main"', 1)[1])


def _status(api, shipment_id: int) -> str:  # type: ignore[no-untyped-def]
    return api.get(f"/shipments/{shipment_id}").get_json()["status"]


def test_an_item_refusal_names_its_field_and_keeps_what_was_typed(
    pages: WebClient, api, language: str
) -> None:  # type: ignore[no-untyped-def]
    shipment = add_shipment(api, add_partner(api)["id"], items=[])
    response = pages.post(
        f"/shipments/{shipment['id']}/items", {"author": "Nizami Gəncəvi", "copies": "3"}
    )
    assert response.status_code == 422
    page = _main(response)
    assert WORDS[language]["attention"] in page
    assert WORDS[language]["title_required"] in page
    assert 'value="Nizami Gəncəvi"' in page
    assert re.search(r'id="f-copies"[^>]*value="3"', page)


def test_a_time_in_the_future_is_refused_beside_its_field_with_the_time_typed(
    pages: WebClient, api, language: str
) -> None:  # type: ignore[no-untyped-def]
    shipment = add_shipment(api, add_partner(api)["id"])
    tomorrow = f"{(clock.utc_now() + timedelta(days=1)).date()}T10:30"
    response = pages.post(
        f"/shipments/{shipment['id']}/transition",
        {"to": "packed", "version": shipment["version"], "at": tomorrow, "note": "Box 2"},
    )
    assert response.status_code == 422
    page = _main(response)
    assert WORDS[language]["future"] in page
    assert re.search(rf'id="f-at"[^>]*value="{tomorrow}"', page)
    assert re.search(r'id="f-note"[^>]*value="Box 2"', page)
    assert re.search(r'id="f-at"[^>]*aria-invalid="true"', page)
    assert _status(api, shipment["id"]) == "draft"


def test_a_time_before_the_last_step_is_refused_in_the_page_zone_not_raw_utc(
    pages: WebClient, api
) -> None:  # type: ignore[no-untyped-def]
    shipment = add_shipment(api, add_partner(api)["id"])
    shipment = api.move(shipment["id"], "packed").get_json()
    earlier = f"{(clock.utc_now() - timedelta(days=5)).date()}T10:30"
    response = pages.post(
        f"/shipments/{shipment['id']}/transition",
        {"to": "dispatched", "version": shipment["version"], "at": earlier},
    )
    assert response.status_code == 422
    page = _main(response)
    assert "is before the shipment became packed (" in page
    refusal = page.split("is before the shipment became packed (", 1)[1].split(")", 1)[0]
    assert not re.search(r"\d{4}-\d\d-\d\d|Z$|\+00:00", refusal), refusal


def test_hard_steps_ask_first_and_go_ahead_only_when_confirmed(
    pages: WebClient, api, language: str
) -> None:  # type: ignore[no-untyped-def]
    shipment = add_shipment(api, add_partner(api)["id"])
    asked = pages.post(
        f"/shipments/{shipment['id']}/transition",
        {"to": "cancelled", "version": shipment["version"], "note": "duplicate"},
    )
    assert asked.status_code == 200
    page = _main(asked)
    assert WORDS[language]["cancel"] in page and WORDS[language]["back"] in page
    assert 'name="confirmed" value="yes"' in page
    assert 'name="note" value="duplicate"' in page
    # The question is a plain form: no script of its own asks it (the layout's shared
    # /static/ enhancements, such as scrolling wide tables by keyboard, are all it loads).
    served = asked.get_data(as_text=True)
    assert all('src="/static/' in tag for tag in re.findall(r"<script[^>]*>", served))
    assert not re.search(r"\son(click|submit)=", served)
    assert _status(api, shipment["id"]) == "draft"
    done = pages.post(
        f"/shipments/{shipment['id']}/transition",
        {"to": "cancelled", "version": shipment["version"], "confirmed": "yes"},
    )
    assert done.status_code == 303
    assert _status(api, shipment["id"]) == "cancelled"


def test_marking_a_parcel_lost_asks_first_and_an_easy_step_does_not(
    pages: WebClient, api, language: str
) -> None:  # type: ignore[no-untyped-def]
    shipment = add_shipment(api, add_partner(api)["id"])
    api.move(shipment["id"], "packed")
    shipment = api.move(shipment["id"], "dispatched").get_json()
    page = pages.text(f"/shipments/{shipment['id']}")
    assert re.search(r'value="lost" class="danger"', page)
    asked = pages.post(
        f"/shipments/{shipment['id']}/transition", {"to": "lost", "version": shipment["version"]}
    )
    assert asked.status_code == 200 and WORDS[language]["lost"] in _main(asked)
    assert _status(api, shipment["id"]) == "dispatched"
    moved = pages.post(
        f"/shipments/{shipment['id']}/transition",
        {"to": "delivered", "version": shipment["version"]},
    )
    assert moved.status_code == 303
    assert _status(api, shipment["id"]) == "delivered"


def test_the_history_says_values_in_words(pages: WebClient, api, language: str) -> None:  # type: ignore[no-untyped-def]
    shipment = add_shipment(api, add_partner(api)["id"])
    item = api.get(f"/shipments/{shipment['id']}/items").get_json()["items"][0]
    response = pages.post(
        f"/shipments/{shipment['id']}/items/{item['id']}/withdraw", {"version": item["version"]}
    )
    assert response.status_code == 303
    page = _main(pages.get(f"/shipments/{shipment['id']}"))
    history = page.split('id="history-heading"', 1)[1]
    assert WORDS[language]["withdrawn"].casefold() in history.casefold()
    assert "True" not in history and "False" not in history
    assert "removed" not in history and "_" not in re.sub(r"<[^>]+>", "", history)


def test_the_end_date_refusal_names_the_field_in_words(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    refused = pages.post(
        f"/partners/{partner['id']}/agreements/new",
        {"basis": "copy_for_copy", "start_date": "2026-01-01", "end_date": "2025-01-01"},
    )
    assert refused.status_code == 422
    page = _main(refused)
    assert "End date: is before the start date" in page
    assert "end_date" not in re.sub(r"<[^>]+>", "", page)
    assert 'value="2025-01-01"' in page


def test_an_address_that_is_not_a_web_address_is_refused_in_plain_words(
    pages: WebClient,
) -> None:
    response = pages.post(
        "/partners/new",
        {"name": "Bakı", "country": "AZ", "kind": "university", "oai_base_url": "ftp://x/oai"},
    )
    assert response.status_code == 422
    page = _main(response)
    assert "is not a web address starting with http:// or https://" in page
    assert "OAI-PMH address: " in page
    assert "http(s)" not in page and "fragment" not in page
    assert 'value="ftp://x/oai"' in page


def test_a_language_family_is_named_in_the_language_menu_not_coded(
    db, pages: WebClient, language: str
) -> None:  # type: ignore[no-untyped-def]
    import_files(db, REPOSITORY_ID, [Path(PRINCETON)])
    page = _main(pages.get("/search"))
    menu = page.split('id="f-language"', 1)[1].split("</select>", 1)[0]
    assert re.search(rf'value="myn"[^>]*>{WORDS[language]["mayan"]}<', menu)
    assert ">myn<" not in menu


def test_statuses_that_mean_different_things_look_different(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    shipment = add_shipment(api, add_partner(api)["id"])
    assert 'class="status status-draft"' in pages.text(f"/shipments/{shipment['id']}")
    assert 'class="status status-draft"' in pages.text("/shipments")
    css = pages.get("/static/libfed.css").get_data(as_text=True)
    rules = {
        status: re.search(rf"\.status-{status}\b[^{{]*\{{([^}}]*)\}}", css)
        for status in ("succeeded", "failed", "partial", "running")
    }
    assert all(rules.values()), rules
    looks = {rule.group(1) for rule in rules.values() if rule}
    assert len(looks) == 4
