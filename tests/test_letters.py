"""A shipment's letters through HTTP: what each says, in which language, as a page and
as a PDF; when each applies; who may read them; and hostile partners' names."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from html import unescape

import pytest
from babel import Locale, dates, numbers

from libfed.accounts.models import Contact, Institution
from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from tests.conftest import CLOCK_START, WebClient, add_partner, add_shipment, config_dict
from tests.pdf_text import page_count, pdf_text

LIBRARY = "Azərbaycan Milli Kitabxanası"
OUR_ADDRESS = ("Xaqani küçəsi 57", "Bakı AZ1000")
PARTNER_RU = "Российская государственная библиотека"
PARTNER_AZ = "Rusiya Dövlət Kitabxanası"
PARTNER_ADDRESS = ("ул. Воздвиженка, 3/5", "Москва 119019")
CONTACT = "Ирина Петрова"


@pytest.fixture
def config(database_url: str) -> Config:
    """This library as its letters name it: name, postal address, phone and e-mail."""
    settings = config_dict(database_url)
    settings["exchange"].update(
        library_name=LIBRARY,
        postal_address="\n".join(OUR_ADDRESS),
        phone="+994 12 493 40 03",
        email="exchange@anl.az",
    )
    return parse_config(settings)


def _partner_details(db: Database, partner_id: int, **fields: object) -> None:
    """What a partner's page would have stored: its address, letter language, a contact."""
    with db.write() as session:
        partner = session.get(Institution, partner_id)
        assert partner is not None
        for name, value in fields.items():
            setattr(partner, name, value)
        if "contact" not in fields:
            now = datetime(2026, 1, 1)
            session.add(
                Contact(institution_id=partner_id, name=CONTACT, created_at=now, updated_at=now)
            )


@pytest.fixture
def partner(api, db: Database) -> int:  # type: ignore[no-untyped-def]
    made = add_partner(
        api,
        "Russian State Library",
        "RU",
        other_names={"ru": PARTNER_RU, "az": PARTNER_AZ},
    )
    _partner_details(
        db, made["id"], postal_address="\n".join(PARTNER_ADDRESS), letter_language="ru"
    )
    return made["id"]


BOOKS = [
    {"title": "Azərbaycan tarixi", "copies": 1234, "unit_value": "10.50", "currency": "EUR"},
    {"title": "Nizami Gəncəvi. Xəmsə", "author": "Nizami Gəncəvi", "copies": 2},
]


def _outgoing(api, partner: int, to: str = "dispatched", **fields: object) -> dict:  # type: ignore[no-untyped-def]
    agreement = api.create(
        "/agreements", {"partner_id": partner, "basis": "copy_for_copy", "start_date": "2024-01-01"}
    )
    shipment = add_shipment(
        api,
        partner,
        items=BOOKS,
        agreement_id=agreement["id"],
        **{"reference": "ANL-EX/2026/7", "parcels": 3, **fields},
    )
    for state in ("packed", "dispatched", "delivered", "acknowledged"):
        if shipment["status"] == to:
            break
        assert api.move(shipment["id"], state).status_code == 200
        shipment["status"] = state
    return shipment


def _text(html: str) -> str:
    """A page's text as a person reads it (tags gone, spaces folded)."""
    return _fold(unescape(re.sub(r"<[^>]+>", " ", html)))


def _fold(text: str) -> str:
    """Runs of spaces and line breaks as one space; a no-break space (a digit group's,
    "1 236") is kept, as it is part of what is written."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def _article(html: str) -> str:
    """The document itself, without the page around it."""
    match = re.search(r'<article class="document" lang="([^"]+)">(.*)</article>', html, re.S)
    assert match, "no document on the page"
    return match.group(1) + " " + _text(match.group(2))


def _number(value: int, locale: str) -> str:
    return numbers.format_decimal(value, locale=locale)


# ------------------------------------------------------------------ what each letter says


def test_the_cover_letter_in_russian_names_both_libraries_and_counts(  # type: ignore[no-untyped-def]
    pages: WebClient, api, partner: int, clock
) -> None:
    shipment = _outgoing(api, partner)
    letter = _article(pages.text(f"/shipments/{shipment['id']}/letters/cover-letter?language=ru"))
    assert letter.startswith("ru ")
    for words in (LIBRARY, *OUR_ADDRESS, "Азербайджан", "+994 12 493 40 03", "exchange@anl.az"):
        assert words in letter
    for words in (CONTACT, PARTNER_RU, *PARTNER_ADDRESS, "Россия", "ANL-EX/2026/7"):
        assert words in letter
    assert PARTNER_AZ not in letter and "Russian State Library" not in letter
    assert _number(1236, "ru") in letter  # copies: "1 236", grouped as Russian groups them
    assert "1236" not in letter
    assert "экземпляр за экземпляр" in letter  # the agreement's basis, in words
    assert dates.format_date(CLOCK_START.date(), "medium", locale="ru") in letter


def test_the_receipt_in_azerbaijani_names_the_partner_as_sender_and_counts_what_came(  # type: ignore[no-untyped-def]
    pages: WebClient, api, partner: int, db: Database
) -> None:
    books = [{**BOOKS[0], "copies": 1500}, BOOKS[1]]
    shipment = add_shipment(api, partner, "incoming", items=books, reference="РГБ/2026/12")
    items = api.get(f"/shipments/{shipment['id']}/items").get_json()["items"]
    etag = api.etag(f"/shipments/{shipment['id']}/items/{items[0]['id']}")
    response = api.patch(
        f"/shipments/{shipment['id']}/items/{items[0]['id']}",
        {"received_copies": 1499},
        etag=etag,
    )
    assert response.status_code == 200, response.get_json()
    assert api.move(shipment["id"], "received", at="2026-03-02T09:00:00Z").status_code == 200
    page = pages.text(f"/shipments/{shipment['id']}/letters/receipt?language=az")
    letter = _article(page)
    sender = re.search(r'<dd id="sender">(.*?)</dd>', page, re.S)
    assert sender and unescape(sender.group(1)) == PARTNER_AZ
    assert _number(1501, "az") in letter  # received: 1,499 + 2, in Azerbaijani grouping
    assert _number(1502, "az") in letter  # listed
    assert dates.format_date(datetime(2026, 3, 2), "medium", locale="az") in letter
    assert "РГБ/2026/12" in letter
    assert LIBRARY in letter  # it comes from us


def test_address_labels_one_per_parcel_from_us_to_the_partner(  # type: ignore[no-untyped-def]
    pages: WebClient, api, partner: int
) -> None:
    shipment = _outgoing(api, partner, to="packed")
    page = pages.text(f"/shipments/{shipment['id']}/letters/labels?language=ru")
    labels = page.split('class="parcel-label"')[1:]
    assert len(labels) == 3
    for number, label in enumerate(labels, 1):
        text = _text(label)
        assert f"{number}/3" in text
        sent_from, sent_to = text.split(LIBRARY)[1], text.split(PARTNER_RU)[1]
        assert "Азербайджан" in sent_from and "Москва 119019" in sent_to
        assert CONTACT in text


def test_the_acknowledgement_request_asks_while_a_shipment_is_unacknowledged(  # type: ignore[no-untyped-def]
    pages: WebClient, api, partner: int
) -> None:
    shipment = _outgoing(api, partner, to="packed")
    path = f"/shipments/{shipment['id']}/letters/acknowledgement-request"
    assert pages.get(path).status_code == 404
    assert "acknowledgement-request" not in pages.text(f"/shipments/{shipment['id']}")
    api.move(shipment["id"], "dispatched")
    assert "acknowledgement-request" in pages.text(f"/shipments/{shipment['id']}")
    letter = _article(pages.text(path + "?language=en"))
    assert "Request for acknowledgement of receipt: shipment ANL-EX/2026/7" in letter
    assert "exchange@anl.az" in letter
    api.move(shipment["id"], "delivered")
    api.move(shipment["id"], "acknowledged")
    assert pages.get(path).status_code == 404
    assert pages.get(f"/shipments/{shipment['id']}/letters/receipt").status_code == 404
    assert pages.get(f"/shipments/{shipment['id']}/letters/no-such-letter").status_code == 404


def test_a_letter_is_in_the_pages_language_unless_the_partners_is_chosen(  # type: ignore[no-untyped-def]
    pages: WebClient, api, partner: int
) -> None:
    shipment = _outgoing(api, partner)
    path = f"/shipments/{shipment['id']}/letters/cover-letter"
    page = pages.text(path)
    assert _article(page).startswith("en ")
    assert "Russian State Library" in _article(page)  # its own name: no English one is known
    assert re.search(r'<a href="[^"]*\?language=ru">In the partner.s language \(Русский\)', page)
    assert _article(pages.text(path + "?language=xx")).startswith("en ")  # not a language: ours
    assert _article(pages.text(path + "?language=az")).startswith("az ")


def test_customs_data_shows_on_an_international_shipments_page(  # type: ignore[no-untyped-def]
    pages: WebClient, api, partner: int
) -> None:
    shipment = _outgoing(
        api,
        partner,
        customs_content_type="gift",
        customs_hs_code="490199",
        customs_declared_value="1234.50",
        customs_currency="EUR",
    )
    page = _text(pages.text(f"/shipments/{shipment['id']}"))
    assert "Customs declaration (CN 22 / CN 23)" in page
    assert "Category of item gift" in page
    assert "HS tariff number 490199" in page
    assert "Declared value €1,234.50" in page
    assert "Cover letter" in page and "Address labels" in page


# ------------------------------------------------------------------ the PDF


def test_each_letter_as_a_pdf_says_what_the_page_says(  # type: ignore[no-untyped-def]
    pages: WebClient, api, partner: int
) -> None:
    shipment = _outgoing(api, partner, reference="МЭК/2026 «7»")
    letters = f"/shipments/{shipment['id']}/letters"
    for kind in ("cover-letter", "acknowledgement-request", "labels"):
        base = f"/shipments/{shipment['id']}/letters/{kind}"
        for path in (f"{base}.pdf?language=ru", f"{base}?format=pdf&language=ru"):
            response = pages.get(path)
            assert response.status_code == 200, path
            assert response.mimetype == "application/pdf"
            assert response.data.startswith(b"%PDF-")
            disposition = response.headers["Content-Disposition"]
            assert re.fullmatch(r'attachment; filename="[A-Za-z0-9._-]+\.pdf"', disposition)
            assert kind in disposition and str(shipment["id"]) in disposition
            assert "no-store" in response.headers["Cache-Control"]
        text = _fold(pdf_text(response.data).replace("\n", " "))
        for words in (PARTNER_RU, "Москва 119019", "МЭК/2026 «7»", LIBRARY, "Азербайджан"):
            assert words in text, (kind, words)
    cover = _fold(pdf_text(pages.get(f"{letters}/cover-letter.pdf?language=ru").data))
    # "1 236": the PDF's font draws a no-break space with the glyph of a space.
    assert _number(1236, "ru").replace("\xa0", " ") in cover
    assert "экземпляр за экземпляр" in cover


def test_an_amount_in_manat_keeps_its_unit_in_the_pdf(  # type: ignore[no-untyped-def]
    pages: WebClient, api, partner: int
) -> None:
    """Azerbaijani writes manat as ₼, which the PDF's font has no glyph for: the PDF spells
    the currency's code rather than print an amount without a unit."""
    shipment = add_shipment(
        api,
        partner,
        items=[
            {"title": "Azərbaycan tarixi", "copies": 2, "unit_value": "12.50", "currency": "AZN"}
        ],
    )
    path = f"/shipments/{shipment['id']}/packing-list"
    amount = numbers.format_currency(Decimal("12.50"), "AZN", locale="az")
    assert "₼" in amount
    assert amount in _text(pages.get(f"{path}?language=az").get_data(as_text=True))
    text = _fold(pdf_text(pages.get(f"{path}.pdf?language=az").data))
    assert amount.replace("₼", "AZN").replace("\xa0", " ") in text.replace("\xa0", " ")


# ------------------------------------------------------------------ who may read them


def test_a_viewer_reads_letters_and_nobody_unsigned_does(  # type: ignore[no-untyped-def]
    viewer_pages: WebClient, client, api, partner: int
) -> None:
    shipment = _outgoing(api, partner)
    for path in (
        f"/shipments/{shipment['id']}/letters/cover-letter",
        f"/shipments/{shipment['id']}/letters/cover-letter.pdf",
        f"/shipments/{shipment['id']}/packing-list.pdf",
    ):
        assert viewer_pages.get(path).status_code == 200
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
        assert b"%PDF" not in response.data


# ------------------------------------------------------------------ hostile partners

HOSTILE_NAME = "<script>alert('x')</script> & Co"
RTL = "المكتبة الوطنية"
COMBINING = "Z\u0351\u0337\u0301a\u0338\u0300l\u0352g\u0315o\u0336"


def test_hostile_names_and_addresses_are_escaped_and_bounded(  # type: ignore[no-untyped-def]
    pages: WebClient, api, db: Database
) -> None:
    made = add_partner(api, HOSTILE_NAME, "RU", other_names={"ru": RTL + " " + COMBINING})
    endless = "Ж" * 10_000
    _partner_details(
        db,
        made["id"],
        postal_address="\n".join([endless, RTL, COMBINING, *(f"line {n}" for n in range(500))]),
        city="x" * 128,
    )
    shipment = _outgoing(api, made["id"], reference=None)
    for kind in ("cover-letter", "acknowledgement-request", "labels"):
        for language in ("en", "ru"):
            page = pages.text(f"/shipments/{shipment['id']}/letters/{kind}?language={language}")
            assert "<script>alert" not in page
            assert "&lt;script&gt;alert" in page or language == "ru"
            assert endless not in page and "Ж" * 299 + "…" in page  # clipped, said so
            assert "line 11" not in page  # at most twelve lines of an address
            response = pages.get(
                f"/shipments/{shipment['id']}/letters/{kind}.pdf?language={language}"
            )
            assert response.status_code == 200 and response.data.startswith(b"%PDF-")
            assert page_count(response.data) <= 8, (kind, language)
            text = pdf_text(response.data)
            assert "Ж" * 20 in text and "…" in text
    assert page_count(pages.get(f"/shipments/{shipment['id']}/packing-list.pdf").data) <= 8


@pytest.mark.parametrize("language", ["ru", "az", "uz_Cyrl"])
@pytest.mark.parametrize(
    "kind", ["cover-letter", "acknowledgement-request", "labels", "receipt", "packing-list"]
)
def test_every_document_names_the_partner_and_counts_in_its_language(  # type: ignore[no-untyped-def]
    pages: WebClient, api, partner: int, kind: str, language: str
) -> None:
    """The partner by its name in that language, its address and country named in that
    language, the copies as that language groups digits: on the page and in the PDF."""
    if kind == "receipt":
        shipment = add_shipment(api, partner, "incoming", items=BOOKS, reference="РГБ/2026/12")
        assert api.move(shipment["id"], "received").status_code == 200
    else:
        shipment = _outgoing(api, partner)
    path = (
        f"/shipments/{shipment['id']}/packing-list"
        if kind == "packing-list"
        else f"/shipments/{shipment['id']}/letters/{kind}"
    )
    # No Uzbek name is known: its own name, in a letter otherwise all in Uzbek Cyrillic.
    name = {"ru": PARTNER_RU, "az": PARTNER_AZ, "uz_Cyrl": "Russian State Library"}[language]
    russia = Locale.parse(language).territories["RU"]
    said = [name, *PARTNER_ADDRESS, russia]
    if kind != "labels":
        said.append(_number(1236, language))
    letter = _article(pages.text(f"{path}?language={language}"))
    assert letter.startswith(f"{language.replace('_', '-')} ")
    for words in said:
        assert words in letter, (kind, language, words)
    text = _fold(pdf_text(pages.get(f"{path}.pdf?language={language}").data))
    for words in said:
        assert words.replace("\xa0", " ") in text, (kind, language, words)
