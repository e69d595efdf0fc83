"""The packing list through HTTP: who sent the parcel, who receives it, and where it
comes from, for a parcel we send and for one a partner sends us."""

from __future__ import annotations

import re

from tests.conftest import WebClient, add_partner, add_shipment

LIBRARY = "libfed test repository"  # the tests' repository_name: this library


def _facts(page: str) -> dict[str, str]:
    """The packing list's sender, recipient and country of origin, as text."""
    found = {}
    for name in ("sender", "recipient", "origin"):
        match = re.search(rf'<dd id="{name}">(.*?)</dd>', page, re.S)
        assert match, f"no {name}"
        found[name] = " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())
    return found


def test_an_outgoing_parcel_goes_from_us_to_the_partner(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api, city="Ankara")
    shipment = add_shipment(api, partner["id"], customs_content_type="gift")
    facts = _facts(pages.text(f"/shipments/{shipment['id']}/packing-list"))
    assert facts["sender"] == f"{LIBRARY} (Azerbaijan)"
    assert facts["recipient"] == "Milli Kütüphane, Ankara (Türkiye)"
    assert facts["origin"] == "Azerbaijan"


def test_an_incoming_parcel_comes_from_the_partner_to_us(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api, city="Ankara")
    shipment = add_shipment(api, partner["id"], direction="incoming", reference="MK-UDM 2026/09")
    facts = _facts(pages.text(f"/shipments/{shipment['id']}/packing-list"))
    assert facts["sender"] == "Milli Kütüphane, Ankara (Türkiye)"
    assert facts["recipient"] == f"{LIBRARY} (Azerbaijan)"
    assert facts["origin"] == "Türkiye"


def test_an_incoming_parcel_is_dated_by_its_receipt(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"], direction="incoming")
    api.move(shipment["id"], "received", at="2026-03-02T09:00:00Z")
    page = pages.text(f"/shipments/{shipment['id']}/packing-list")
    assert "Mar 2, 2026" in page
