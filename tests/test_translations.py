"""Every visible string exists in Azerbaijani, Russian and Uzbek (in its Latin and its
Cyrillic script), and the pages use them.

Two nets: the catalogues must translate every string the code marks (extracted
afresh from the source, so a new string fails here until it is translated), and a
page rendered in Russian or in Uzbek Cyrillic must show no Latin word (which catches
English text that was never marked for translation at all and, in Uzbek Cyrillic, a
string left in the Latin script).
"""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from lxml import html

from libfed.exchange.models import Shipment
from libfed.harvest.models import QuarantinedRecord, Run, Source
from libfed.kernel.clock import utc_now
from libfed.records.importer import import_files
from libfed.web.i18n import LANGUAGES, TRANSLATIONS
from tests.conftest import REPOSITORY_ID, ROOT, WebClient, add_partner, add_shipment

TRANSLATED = [code for code in LANGUAGES if code != "en"]
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "lazy_pgettext": ((1, "c"), 2),
    "Message": None,
}
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)(?:![rs])?\}")


# A string's identity in the catalogue: one English word with two meanings ("gift" as an
# agreement's basis and as a customs category) is two entries, told apart by msgctxt.
Key = tuple[str | None, str]


def _source_messages() -> dict[Key, str | None]:
    """(msgctxt, msgid) -> msgid_plural of every string the code marks, as `make
    translations` finds them."""
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[Key, str | None] = {}
    for _filename, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        if isinstance(message, tuple):
            found[(context, message[0])] = message[1]
        else:
            found.setdefault((context, message), None)
    return found


def _catalogue(code: str):  # type: ignore[no-untyped-def]
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=code)


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in _PLACEHOLDER.findall(text)}


@pytest.fixture(scope="module")
def source_messages() -> dict[Key, str | None]:
    return _source_messages()


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_marked_string_is_translated(code: str, source_messages) -> None:  # type: ignore[no-untyped-def]
    catalogue = _catalogue(code)
    problems = []
    for (context, msgid), plural in source_messages.items():
        entry = catalogue.get(msgid, context=context)
        if entry is None:
            problems.append(f"missing: {msgid!r}" + (f" ({context})" if context else ""))
            continue
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy or not all(form.strip() for form in forms):
            problems.append(f"untranslated: {msgid!r}")
            continue
        if plural is not None and len(forms) != catalogue.num_plurals:
            problems.append(f"needs {catalogue.num_plurals} plural forms: {msgid!r}")
        expected = _placeholders(plural or msgid)
        for form in forms:
            if _placeholders(form) - expected or (
                plural is None and _placeholders(form) != expected
            ):
                problems.append(f"placeholders differ: {msgid!r} -> {form!r}")
    assert not problems, "\n".join(problems)


def _messages(mo: bytes) -> list[tuple]:
    """A compiled catalogue's translations, without the header (which names the Babel
    version that compiled it: a newer Babel must not make an unchanged file stale)."""
    return [
        (
            m.context,
            m.id if isinstance(m.id, str) else tuple(m.id),
            m.string if isinstance(m.string, str) else tuple(m.string),
        )
        for m in read_mo(io.BytesIO(mo))
        if m.id
    ]


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_compiled_catalogue_is_up_to_date(code: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _catalogue(code))
    mo = TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo"
    assert _messages(mo.read_bytes()) == _messages(compiled.getvalue()), (
        "run `make translations` to compile it"
    )


# ------------------------------------------------------ pages in Russian and Uzbek Cyrillic

# A word with a small Latin letter: English (or Uzbek Latin) left in a Cyrillic page.
# Upper-case codes (ISBN, ISIL, EUR, HS) are the same in every language.
_LATIN_WORD = re.compile(r"[A-Za-z]*[a-z][A-Za-z]*")
# Values of the ledger and the configuration that are identifiers, not words of the
# page: the user name, the repository's name, a harvest source's name, address, format.
_DATA = (
    "coordinator-user",
    "libfed test repository",
    "http://127.0.0.1:9/oai",
    "rnb",
    "oai_dc",
    "libfed",
    "aze, rus, uzb",  # ISO 639 codes, the same in every language
    "Enter",  # a key, as the keyboards of every language print it
)


def _visible_text(page: str, lang: str) -> list[str]:
    """The text a reader of the page's language `lang` (its html lang) sees."""
    tree = html.fromstring(page)
    texts = []
    for element in tree.iter():
        if not isinstance(element.tag, str) or element.tag in ("script", "style", "head"):
            continue
        # Text deliberately in another language (the language menu, names in their
        # languages) says so with its own lang attribute.
        owner = next((e for e in element.iterancestors() if e.get("lang")), None)
        if element.get("lang") not in (None, lang) or (
            owner is not None and owner.get("lang") != lang
        ):
            continue
        if element.text and element.getparent() is not None:
            texts.append(element.text)
        if element.tail and element.getparent() is not None:
            texts.append(element.tail)
        for attribute in ("aria-label", "title", "placeholder", "alt"):
            if element.get(attribute):
                texts.append(element.get(attribute))
    return texts


def _latin_words(page: str, lang: str = "ru") -> list[str]:
    words = []
    for text in _visible_text(page, lang):
        for value in _DATA:
            text = text.replace(value, "")
        words += _LATIN_WORD.findall(text)
    return words


@pytest.fixture
def russian(pages: WebClient) -> WebClient:
    pages.in_language("ru")
    return pages


@pytest.fixture
def ledger(db, api) -> dict:  # type: ignore[no-untyped-def]
    """A ledger whose own values are in Cyrillic, so that any Latin word is the page's."""
    import_files(
        db, REPOSITORY_ID, [ROOT / "libfed" / "root" / "demo" / "data" / "libfed_demo.xml"]
    )
    abroad = add_partner(
        api, name="Российская национальная библиотека", country="RU", city="Санкт-Петербург"
    )
    home = add_partner(api, name="Бакинский университет", country="AZ")
    sent = add_shipment(
        api,
        abroad["id"],
        reference="РНБ-1",
        carrier="Почта",
        customs_hs_code="4901",
        customs_content_type="gift",
        customs_declared_value="20.00",
        customs_currency="EUR",
        items=[
            {
                "title": "История",
                "author": "Иванов",
                "copies": 2,
                "unit_value": "10.00",
                "currency": "EUR",
            }
        ],
    )
    api.move(sent["id"], "packed")
    api.move(sent["id"], "dispatched", note="Отправлено почтой")
    expected = add_shipment(
        api, home["id"], direction="incoming", items=[{"title": "Атлас", "copies": 1}]
    )
    with db.write() as session:
        source = Source(
            name="rnb",
            base_url="http://127.0.0.1:9/oai",
            prefix="oai_dc",
            sets=[],
            enabled=True,
            institution_id=abroad["id"],
            every_seconds=3600,
        )
        session.add(source)
        session.flush()
        run = Run(
            source_id=source.id,
            started_at=utc_now(),
            finished_at=utc_now(),
            status="failed",
            errors=[{"url": "http://127.0.0.1:9/oai", "message": "отказ"}],
        )
        session.add(run)
        session.flush()
        session.add(
            QuarantinedRecord(
                run_id=run.id, url="http://127.0.0.1:9/oai", reason="плохая запись", raw=b"<x/>"
            )
        )
        run_id = run.id
    return {"abroad": abroad, "home": home, "sent": sent, "expected": expected, "run": run_id}


def _paths(ledger: dict) -> list[str]:
    """Every kind of page a coordinator opens, with the ledger's data in it."""
    abroad, sent = ledger["abroad"], ledger["sent"]
    return [
        "/",
        "/partners",
        f"/partners/{abroad['id']}",
        "/partners/new",
        f"/partners/{abroad['id']}/edit",
        "/shipments",
        "/shipments/new",
        f"/shipments/{sent['id']}",
        f"/shipments/{ledger['expected']['id']}",
        f"/shipments/{ledger['expected']['id']}?q=tarixi",
        f"/shipments/{sent['id']}/packing-list",
        "/reports",
        "/harvesting",
        "/harvesting/rnb",
        f"/harvesting/runs/{ledger['run']}",
        "/search",
        "/search?q=тарих",
        "/search?q=Низами&source=local&year_from=1900&page=2",
        # From 2012: the demo's older Russian books have romanised titles (lang="ru").
        f"/partners/{abroad['id']}/offer-list?year_from=2012",
        f"/partners/{abroad['id']}/desiderata",
        "/no-such-page",
    ]


def _latin_words_on_pages(web: WebClient, paths: list[str], lang: str) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        response = web.get(path)
        assert response.status_code in (200, 404), path
        page = response.get_data(as_text=True)
        assert f'<html lang="{lang}">' in page, path
        if words := _latin_words(page, lang):
            found[path] = sorted(set(words))
    return found


def test_pages_in_russian_show_no_english(russian: WebClient, ledger: dict) -> None:
    assert not _latin_words_on_pages(russian, _paths(ledger), "ru")


@pytest.fixture
def uzbek_cyrillic(pages: WebClient) -> WebClient:
    pages.in_language("uz_Cyrl")
    return pages


def test_pages_in_uzbek_cyrillic_show_no_latin_word(
    uzbek_cyrillic: WebClient, ledger: dict
) -> None:
    """Uzbek Cyrillic is a language of its own, not Uzbek Latin with a few words
    transliterated: no English and no Uzbek Latin word on any page."""
    assert not _latin_words_on_pages(uzbek_cyrillic, _paths(ledger), "uz-Cyrl")
    page = uzbek_cyrillic.text("/shipments")
    assert "Жўнатмалар" in page and "Joʻnatmalar" not in page


def test_refusals_are_shown_in_russian(russian: WebClient, ledger: dict) -> None:
    response = russian.post(
        "/partners/new", {"name": "Библиотека", "country": "XX", "email": "не адрес"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert not _latin_words(page)
    error = html.fromstring(page).get_element_by_id("e-country").text_content()
    assert "XX" in error and re.search("[\u0430-\u044f]{3}", error)
    item = russian.post(
        f"/shipments/{ledger['expected']['id']}/items", {"isbn": "123", "copies": "0"}
    )
    assert item.status_code == 422
    assert not _latin_words(item.get_data(as_text=True))


def test_the_sign_in_page_follows_the_browser_language(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/sign-in", headers={"Accept-Language": "uz-UZ,uz;q=0.9,ru;q=0.5"})
    assert '<html lang="uz-Latn">' in page.get_data(as_text=True)
    page = client.get("/sign-in", headers={"Accept-Language": "az-AZ"}).get_data(as_text=True)
    assert '<html lang="az">' in page


@pytest.mark.parametrize(
    ("accepted", "lang"),
    [
        ("uz-Cyrl", "uz-Cyrl"),
        ("uz-Cyrl-UZ,uz;q=0.8,ru;q=0.5", "uz-Cyrl"),
        ("uz", "uz-Latn"),
        ("uz-Latn-UZ", "uz-Latn"),
        ("fr-FR,uz-cyrl;q=0.7,ru;q=0.5", "uz-Cyrl"),
        ("uz-Cyrl;q=0,ru", "ru"),
        ("fr-FR", "en"),
    ],
)
def test_uzbek_is_offered_in_the_script_the_browser_asks_for(
    client, accepted: str, lang: str
) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/sign-in", headers={"Accept-Language": accepted}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page


def test_the_language_menu_offers_five_languages_each_in_itself(pages: WebClient) -> None:
    menu = html.fromstring(pages.text("/")).get_element_by_id("language-choice")
    offered = {o.get("value"): (o.get("lang"), o.text_content()) for o in menu.iter("option")}
    assert offered == {
        "az": ("az", "Azərbaycanca"),
        "ru": ("ru", "Русский"),
        "uz_Latn": ("uz-Latn", "Oʻzbekcha"),
        "uz_Cyrl": ("uz-Cyrl", "Ўзбекча"),
        "en": ("en", "English"),
    }
    pages.in_language("uz_Cyrl")
    page = pages.text("/")
    assert '<html lang="uz-Cyrl">' in page
    chosen = html.fromstring(page).xpath("//option[@selected]")
    assert [option.get("value") for option in chosen] == ["uz_Cyrl"]


def test_a_users_language_is_kept_for_their_next_session(app, pages: WebClient, web_users) -> None:  # type: ignore[no-untyped-def]
    pages.in_language("az")
    pages.post("/sign-out")
    again = WebClient(app.test_client())
    again.sign_in(web_users["coordinator"])
    assert '<html lang="az">' in again.text("/")


def test_numbers_and_dates_follow_the_language(russian: WebClient, ledger: dict) -> None:
    page = russian.text(f"/shipments/{ledger['sent']['id']}/packing-list")
    assert "20,00\xa0€" in page  # Russian: decimal comma, sign after the amount
    russian.in_language("en")
    assert "€20.00" in russian.text(f"/shipments/{ledger['sent']['id']}/packing-list")


def test_numbers_and_dates_in_uzbek_cyrillic(uzbek_cyrillic: WebClient, ledger: dict, db) -> None:  # type: ignore[no-untyped-def]
    """CLDR's Uzbek Cyrillic: decimal comma, the sign after the amount, the months'
    names in Cyrillic (where the Latin script writes '7-dek')."""
    sent = ledger["sent"]["id"]
    with db.write() as session:
        shipment = session.get(Shipment, sent)
        shipment.dispatched_at = datetime(2026, 12, 7, 9, 30)
        shipment.weight_grams = 3500
    assert "20,00\xa0€" in uzbek_cyrillic.text(f"/shipments/{sent}/packing-list")
    page = uzbek_cyrillic.text(f"/shipments/{sent}")
    assert "7 дек, 2026" in page and "3,5" in page
    uzbek_cyrillic.in_language("uz_Latn")
    assert "7-dek, 2026" in uzbek_cyrillic.text(f"/shipments/{sent}")


def _dd(page: str, term: str) -> str:
    """What a page's list of facts says beside `term`."""
    tree = html.fromstring(page)
    return tree.xpath(f'//dt[normalize-space()="{term}"]/following-sibling::dd[1]')[
        0
    ].text_content()


def test_a_word_with_two_meanings_is_said_by_its_meaning(
    russian: WebClient, ledger: dict, api
) -> None:  # type: ignore[no-untyped-def]
    """ "gift" as an agreement's basis is дар; as a customs category it is подарок.
    "Started" of a shipment is when it was made (Создана), of a harvest run its start."""
    abroad, sent = ledger["abroad"]["id"], ledger["sent"]["id"]
    agreement = {"partner_id": abroad, "basis": "gift", "start_date": "2024-01-01"}
    assert api.post("/agreements", agreement).status_code == 201
    partner = html.fromstring(russian.text(f"/partners/{abroad}"))
    assert "дар" in [cell.text_content().strip() for cell in partner.iter("td")]
    shipment = russian.text(f"/shipments/{sent}")
    assert _dd(shipment, "Категория отправления") == "подарок"
    assert _dd(shipment, "Создана")
    assert _dd(russian.text(f"/harvesting/runs/{ledger['run']}"), "Начало")


def test_a_partners_language_is_named_in_the_pages_language(russian: WebClient) -> None:
    """The menu names each language in itself, for a reader choosing their own; a partner's
    language of letters is chosen for someone else, by its name in the page's language."""
    form = html.fromstring(russian.text("/partners/new"))
    offered = [
        o.text_content().strip() for o in form.xpath('//select[@name="letter_language"]/option')
    ]
    assert {"азербайджанский", "узбекский (латиница)", "узбекский (кириллица)"} <= set(offered)
    russian.in_language("uz_Latn")
    form = html.fromstring(russian.text("/partners/new"))
    offered = [
        o.text_content().strip() for o in form.xpath('//select[@name="letter_language"]/option')
    ]
    assert "oʻzbek (kirill)" in offered


def test_the_language_menu_refuses_unknown_languages(pages: WebClient) -> None:
    assert pages.post("/language", {"language": "xx", "next": "/"}).status_code == 400
