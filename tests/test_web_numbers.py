"""Numbers in the exchange forms, read and written as the page's language writes them:
a Russian or Azerbaijani coordinator types "3,5" kg and "42,50" AZN and sees them back
so; the plain "3.5" works on every page; what is not a number, or could be read two
ways, is refused beside its field. The JSON API keeps JSON numbers and decimal text."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from babel.support import Translations

from libfed.web.forms import parse_number
from tests.conftest import ROOT, ApiCaller, WebClient, add_partner

CATALOGUES = ROOT / "libfed" / "translations"


def _said(language: str, message: str) -> str:
    """A message as the page's language says it (from the catalogue the pages use)."""
    return Translations.load(str(CATALOGUES), [language]).gettext(message)


def _speak(pages: WebClient, language: str) -> None:
    pages.in_language(language)


def _start_shipment(pages: WebClient, partner_id: int, **fields: str):  # type: ignore[no-untyped-def]
    return pages.post(
        "/shipments/new", {"direction": "outgoing", "partner_id": str(partner_id), **fields}
    )


def _input_value(page: str, name: str) -> str:
    match = re.search(rf'<input id="f-{name}" name="{name}" type="\w+"\s+value="([^"]*)"', page)
    assert match, name
    return html.unescape(match.group(1))


def _field_error(page: str, name: str) -> str:
    match = re.search(rf'<p id="e-{name}" class="error">([^<]*)</p>', page)
    assert match, f"no refusal beside {name}"
    return html.unescape(match.group(1))


def _shipment_count(api: ApiCaller) -> int:
    return api.get("/shipments").get_json()["total"]


@pytest.mark.parametrize("language", ["ru", "az"])
def test_decimal_commas_are_read_stored_and_shown_back(
    pages: WebClient, api: ApiCaller, language: str
) -> None:
    partner = add_partner(api)
    _speak(pages, language)
    response = _start_shipment(
        pages,
        partner["id"],
        weight_kg="3,5",
        customs_declared_value="42,50",
        customs_currency="AZN",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    shipment_path = response.headers["Location"]
    shipment_id = int(shipment_path.rsplit("/", 1)[1])
    stored = api.get(f"/shipments/{shipment_id}").get_json()
    assert Decimal(str(stored["weight_kg"])) == Decimal("3.5")
    assert Decimal(str(stored["customs_declared_value"])) == Decimal("42.50")

    response = pages.post(
        f"/shipments/{shipment_id}/items",
        {"title": "Azərbaycan tarixi", "copies": "2", "unit_value": "42,50", "currency": "AZN"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    (item,) = api.get(f"/shipments/{shipment_id}/items").get_json()["items"]
    assert Decimal(str(item["unit_value"])) == Decimal("42.50")
    assert item["copies"] == 2

    page = pages.text(f"/shipments/{shipment_id}")
    assert "<dd>3,5</dd>" in page
    assert "3.500" not in page
    assert re.search(r"42,50\s*(AZN|₼)", page.replace("\xa0", " ")), "unit value"
    packing = pages.text(f"/shipments/{shipment_id}/packing-list")
    assert "3,5" in packing and "3.500" not in packing

    form = pages.text(f"/shipments/{shipment_id}/edit")
    assert _input_value(form, "weight_kg") == "3,5"
    assert _input_value(form, "customs_declared_value") == "42,50"


def test_an_edit_form_saved_unchanged_keeps_its_numbers(pages: WebClient, api: ApiCaller) -> None:
    """On an Azerbaijani page the full stop groups thousands: the form must not show a
    number in a way that it would then read differently (or refuse)."""
    partner = add_partner(api)
    shipment = api.create(
        "/shipments",
        {"direction": "outgoing", "partner_id": partner["id"], "weight_kg": "1250.5"},
    )
    _speak(pages, "az")
    form = pages.text(f"/shipments/{shipment['id']}/edit")
    typed = {name: _input_value(form, name) for name in ("weight_kg", "parcels", "reference")}
    assert typed["weight_kg"] == "1250,5"
    response = pages.post(
        f"/shipments/{shipment['id']}/edit",
        {**typed, "partner_id": str(partner["id"]), "version": str(shipment["version"])},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    assert Decimal(api.get(f"/shipments/{shipment['id']}").get_json()["weight_kg"]) == Decimal(
        "1250.5"
    )


def test_the_plain_form_works_on_an_english_page_and_everywhere(
    pages: WebClient, api: ApiCaller
) -> None:
    partner = add_partner(api)
    for language, weight in (("en", "3.5"), ("ru", "3.5"), ("az", "3.5")):
        _speak(pages, language)
        response = _start_shipment(pages, partner["id"], weight_kg=weight)
        assert response.status_code == 303, (language, response.get_data(as_text=True))
        shipment_id = int(response.headers["Location"].rsplit("/", 1)[1])
        assert Decimal(api.get(f"/shipments/{shipment_id}").get_json()["weight_kg"]) == Decimal(
            "3.5"
        )
    _speak(pages, "en")
    assert "<dd>3.5</dd>" in pages.text(f"/shipments/{shipment_id}")


@pytest.mark.parametrize(
    ("language", "weight", "value"),
    [
        ("ru", "3,5,6", "abc"),
        ("az", "3.500", "42,50,1"),  # 3500 or 3.5 on an Azerbaijani page: not guessed
        ("en", "3,5", "1e3"),
    ],
)
def test_what_is_not_a_number_is_refused_beside_its_field(
    pages: WebClient, api: ApiCaller, language: str, weight: str, value: str
) -> None:
    partner = add_partner(api)
    before = _shipment_count(api)
    _speak(pages, language)
    response = _start_shipment(
        pages, partner["id"], weight_kg=weight, customs_declared_value=value, customs_currency="AZN"
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    refusal = _said(language, "must be a number")
    assert _field_error(page, "weight_kg") == refusal
    assert _field_error(page, "customs_declared_value") == refusal
    assert _input_value(page, "weight_kg") == weight  # what was typed, to correct
    assert _shipment_count(api) == before


def test_copies_and_quotas_read_the_page_language_and_refuse_fractions(
    pages: WebClient, api: ApiCaller
) -> None:
    partner = add_partner(api)
    shipment = api.create("/shipments", {"direction": "outgoing", "partner_id": partner["id"]})
    _speak(pages, "ru")
    response = pages.post(f"/shipments/{shipment['id']}/items", {"title": "Kitab", "copies": "2,5"})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "copies") == _said(
        "ru", "must be a whole number"
    )
    response = pages.post(
        f"/partners/{partner['id']}/agreements/new",
        {"basis": "copy_for_copy", "start_date": "2026-01-01", "annual_quota": "1 000"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    (agreement,) = api.get(f"/agreements?partner_id={partner['id']}").get_json()["items"]
    assert agreement["annual_quota"] == 1000


@pytest.mark.parametrize(
    ("locale", "text", "expected"),
    [
        ("ru", "3,5", "3.5"),
        ("ru", "1 000,25", "1000.25"),
        ("ru", "3.5", "3.5"),
        ("az", "1.000,5", "1000.5"),
        ("az", "3.5", "3.5"),
        ("az", "3.500", None),
        ("en", "1,000.5", "1000.5"),
        ("en", "3,5", None),
        ("uz_Latn", "42,50", "42.50"),
        ("ru", "3,5,6", None),
        ("ru", "abc", None),
        ("en", "1e3", None),
        ("en", "", None),
    ],
)
def test_parse_number(locale: str, text: str, expected: str | None) -> None:
    result = parse_number(text, locale)
    assert result == (None if expected is None else Decimal(expected))
