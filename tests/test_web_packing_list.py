"""The packing list through HTTP: who sent the parcel, who receives it, and where it
comes from, for a parcel we send and for one a partner sends us; both postal addresses,
the lines to sign and date, and the customs declaration of a parcel crossing a border."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

from babel import numbers

from libfed.accounts.models import Institution
from tests.conftest import WebClient, add_partner, add_shipment
from tests.pdf_text import pdf_text

LIBRARY = "libfed test repository"  # the tests' repository_name: this library


def _facts(page: str) -> dict[str, list[str]]:
    """The packing list's sender and recipient (their address lines) and country of
    origin, as text."""
    found = {}
    for name in ("sender", "recipient", "origin"):
        match = re.search(rf'<(?:p|dd)[^>]* id="{name}">(.*?)</(?:p|dd)>', page, re.S)
        assert match, f"no {name}"
        found[name] = [
            " ".join(re.sub(r"<[^>]+>", " ", line).split())
            for line in re.split(r"<br>", match.group(1))
        ]
    return found


def test_an_outgoing_parcel_goes_from_us_to_the_partner(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api, city="Ankara")
    shipment = add_shipment(api, partner["id"], customs_content_type="gift")
    facts = _facts(pages.text(f"/shipments/{shipment['id']}/packing-list"))
    assert facts["sender"] == [LIBRARY, "Azerbaijan"]
    assert facts["recipient"] == ["Milli Kütüphane", "Ankara", "Türkiye"]
    assert facts["origin"] == ["Azerbaijan"]


def test_an_incoming_parcel_comes_from_the_partner_to_us(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api, city="Ankara")
    shipment = add_shipment(api, partner["id"], direction="incoming", reference="MK-UDM 2026/09")
    facts = _facts(pages.text(f"/shipments/{shipment['id']}/packing-list"))
    assert facts["sender"] == ["Milli Kütüphane", "Ankara", "Türkiye"]
    assert facts["recipient"] == [LIBRARY, "Azerbaijan"]
    assert facts["origin"] == ["Türkiye"]


def test_an_incoming_parcel_is_dated_by_its_receipt(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"], direction="incoming")
    api.move(shipment["id"], "received", at="2026-03-02T09:00:00Z")
    page = pages.text(f"/shipments/{shipment['id']}/packing-list")
    assert "Mar 2, 2026" in page


def test_both_postal_addresses_and_the_signature_lines(  # type: ignore[no-untyped-def]
    pages: WebClient, api, db
) -> None:
    partner = add_partner(api, city="Ankara")
    with db.write() as session:
        session.get(Institution, partner["id"]).postal_address = "Bahçelievler 06490\nAnkara"
    shipment = add_shipment(api, partner["id"], direction="incoming")
    page = pages.text(f"/shipments/{shipment['id']}/packing-list")
    facts = _facts(page)
    assert facts["sender"] == ["Milli Kütüphane", "Bahçelievler 06490", "Ankara", "Türkiye"]
    signatures = re.search(r'<div class="signatures">(.*?)</article>', page, re.S)
    assert signatures
    said = " ".join(re.sub(r"<[^>]+>", " ", signatures.group(1)).split())
    assert said == "Sent by Name Signature Date Received by Name Signature Date"


def test_an_international_parcel_carries_its_customs_data_in_the_pages_language(  # type: ignore[no-untyped-def]
    pages: WebClient, api
) -> None:
    partner = add_partner(api)
    shipment = add_shipment(
        api,
        partner["id"],
        customs_content_type="gift",
        customs_hs_code="490199",
        customs_declared_value="1234.50",
        customs_currency="EUR",
        weight_kg="3.5",
    )
    path = f"/shipments/{shipment['id']}/packing-list"
    customs = _text(pages.text(path + "?language=ru").split("CN 22 / CN 23")[1])
    assert numbers.format_currency(Decimal("1234.50"), "EUR", locale="ru") in customs
    assert "490199" in customs and "3,5" in customs and "Азербайджан" in customs
    response = pages.get(path + ".pdf?language=ru")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "CN 22 / CN 23" in text and "490199" in text and "Milli Kütüphane" in text


def test_a_domestic_parcel_has_no_customs_declaration(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api, "Gəncə Dövlət Universiteti", "AZ")
    shipment = add_shipment(api, partner["id"])
    assert "CN 22" not in pages.text(f"/shipments/{shipment['id']}/packing-list")
    assert "CN 22" not in pages.text(f"/shipments/{shipment['id']}")


def _text(html: str) -> str:
    """Text as read: tags gone, spaces folded, a no-break space kept ("1 234,50 €")."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))
