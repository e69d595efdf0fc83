"""Partners as people write to them, on the pages: the country chosen by its name in the
page's language, the postal address, contact persons, the warning about a second partner
of the same name, archiving and merging a duplicate."""

from __future__ import annotations

import re

from sqlalchemy import select

from libfed.accounts.models import Contact, Institution
from tests.conftest import ApiCaller, WebClient, add_partner, add_shipment, archive_partner


def _location(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.headers["Location"]


def _options(page: str, name: str) -> list[tuple[str, str]]:
    select_ = re.search(rf'<select id="f-{name}".*?</select>', page, re.S)
    assert select_, name
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select_.group(0))


def test_the_country_is_chosen_by_name_in_the_pages_language_and_order(
    pages: WebClient,
) -> None:
    pages.in_language("ru")
    options = _options(pages.text("/partners/new"), "country")
    codes = [code for code, _name in options if code]
    names = dict(options)
    assert codes[0] == "AZ"  # the home country first
    assert len(codes) == len(set(codes)) >= 249  # every ISO 3166 country, once
    assert names["BY"] == "Беларусь" and names["TR"] == "Турция"
    rest = [names[code] for code in codes[1:]]
    assert rest.index("Австрия") < rest.index("Беларусь") < rest.index("Египет")
    assert rest.index("Йемен") < rest.index("Япония")
    pages.in_language("az")
    az = dict(_options(pages.text("/partners/new"), "country"))
    assert az["TR"] == "Türkiyə" and az["DE"] == "Almaniya"
    az_names = [name for code, name in _options(pages.text("/partners/new"), "country") if code]
    # The Azerbaijani alphabet: c before ç, x between h and i (English order differs).
    assert az_names.index("Cibuti") < az_names.index("Çad")
    assert az_names.index("Xorvatiya") < az_names.index("İran")


def test_a_partner_is_added_with_address_phone_and_letter_language(pages: WebClient) -> None:
    response = pages.post(
        "/partners/new",
        {
            "name": "Qazaqstan Ulttyq kitaphanasy",
            "country": "KZ",
            "kind": "national_library",
            "postal_address": "Abai dangyly 14\r\n050000 Almaty",
            "phone": "+7 727 272 28 91",
            "letter_language": "ru",
        },
    )
    page = pages.text(_location(response))
    assert "<address>Abai dangyly 14<br>050000 Almaty<br>Kazakhstan</address>" in page
    assert 'href="tel:+77272722891"' in page
    assert "Русский" in page
    pages.in_language("ru")
    assert "050000 Almaty<br>Казахстан</address>" in pages.text(_location(response))


def test_a_hostile_partner_form_is_refused_field_by_field(pages: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    response = pages.post(
        "/partners/new",
        {
            "name": "Kitabxana",
            "country": "XX",
            "kind": "other",
            "postal_address": "a" * 1001,
            "phone": "ring twice",
            "letter_language": "tlh",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("country", "postal_address", "phone", "letter_language"):
        assert f'id="e-{field}"' in page, field
    assert re.search(r'<a href="#f-postal_address">Postal address: at most 1000', page)
    assert "ring twice" in page  # what was typed stays
    with db.session() as session:
        assert session.scalar(select(Institution.id)) is None


def test_a_second_partner_of_the_same_name_is_warned_about_and_stored_only_when_confirmed(
    pages: WebClient, api: ApiCaller, db
) -> None:  # type: ignore[no-untyped-def]
    first = add_partner(api, "Milli Kitabxana", "AZ", other_names={"ru": "Национальная библиотека"})
    form = {"name": "  MILLI  kitabxana ", "country": "AZ", "kind": "national_library"}
    response = pages.post("/partners/new", form)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(
        rf'id="duplicates".*href="/partners/{first["id"]}">Milli Kitabxana', page, re.S
    )
    assert 'name="duplicate_confirmed" value="yes"' in page and "Add anyway" in page
    assert 'value="  MILLI  kitabxana "' in page
    with db.session() as session:
        assert session.scalar(select(Institution.id).where(Institution.id != first["id"])) is None
    # Another script of another of its names is the same name too.
    cyrillic = pages.post(
        "/partners/new", {"name": "НАЦИОНАЛЬНАЯ БИБЛИОТЕКА", "country": "AZ", "kind": "other"}
    )
    assert 'id="duplicates"' in cyrillic.get_data(as_text=True)
    confirmed = pages.post("/partners/new", {**form, "duplicate_confirmed": "yes"})
    assert _location(confirmed) != f"/partners/{first['id']}"
    with db.session() as session:
        assert len(session.scalars(select(Institution.id)).all()) == 2


def test_renaming_a_partner_to_an_existing_name_is_warned_about(
    pages: WebClient, api: ApiCaller
) -> None:
    add_partner(api, "Milli Kitabxana", "AZ")
    other = add_partner(api, "Respublika Elmi-Texniki Kitabxanası", "AZ")
    form = {"version": "1", "name": "Milli kitabxana", "country": "AZ", "kind": "other"}
    response = pages.post(f"/partners/{other['id']}/edit", form)
    assert 'id="duplicates"' in response.get_data(as_text=True)
    assert api.get(f"/institutions/{other['id']}").get_json()["name"].startswith("Respublika")
    unchanged_name = pages.post(
        f"/partners/{other['id']}/edit",
        {**form, "name": "Respublika Elmi-Texniki Kitabxanası", "city": "Bakı"},
    )
    assert unchanged_name.status_code == 303


def test_contacts_are_added_edited_and_removed_from_the_partner_page(
    pages: WebClient, api: ApiCaller, db
) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    bad = pages.post(f"/partners/{partner['id']}/contacts/new", {"name": "", "email": "ayse at mk"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'id="e-name"' in page and 'id="e-email"' in page and 'value="ayse at mk"' in page
    added = pages.post(
        f"/partners/{partner['id']}/contacts/new",
        {"name": "Ayşe Yılmaz", "position": "Değişim", "email": "ayse@mk.example.org"},
    )
    assert _location(added).endswith(f"/partners/{partner['id']}#contacts")
    page = pages.text(f"/partners/{partner['id']}")
    assert "Ayşe Yılmaz" in page and 'href="mailto:ayse@mk.example.org"' in page
    with db.session() as session:
        contact_id = session.scalar(select(Contact.id))
    edit = pages.text(f"/contacts/{contact_id}/edit")
    assert 'value="Ayşe Yılmaz"' in edit
    saved = pages.post(
        f"/contacts/{contact_id}/edit",
        {"version": "1", "name": "Ayşe Yılmaz", "phone": "+90 312 212 62 00", "email": ""},
    )
    _location(saved)
    page = pages.text(f"/partners/{partner['id']}")
    assert "+90 312 212 62 00" in page and "mailto:ayse" not in page
    stale = pages.post(f"/contacts/{contact_id}/remove", {"version": "1"})
    assert stale.status_code == 303
    assert "Ayşe Yılmaz" in pages.text(f"/partners/{partner['id']}")
    assert "Ayşe Yılmaz will no longer be listed" in pages.text(f"/contacts/{contact_id}/remove")
    _location(pages.post(f"/contacts/{contact_id}/remove", {"version": "2"}))
    assert "No contact person yet." in pages.text(f"/partners/{partner['id']}")


def test_an_archived_partner_leaves_the_list_and_the_choices_but_keeps_its_page(
    pages: WebClient, api: ApiCaller
) -> None:
    kept = add_partner(api, "Kept library", "TR")
    gone = add_partner(api, "Gone library", "TR")
    shipment = add_shipment(api, gone["id"])
    question = pages.text(f"/partners/{gone['id']}/archive")
    assert "can be brought back" in question and "Yes: archive it" in question
    assert "Gone library" in pages.text("/partners")  # asking archived nothing
    _location(pages.post(f"/partners/{gone['id']}/archive", {"version": "1"}))
    listed = pages.text("/partners")
    assert "Kept library" in listed and "Gone library" not in listed
    assert "Gone library" in pages.text("/partners?archived=1")
    new_shipment = pages.text("/shipments/new?direction=outgoing")
    assert f'value="{kept["id"]}"' in new_shipment and f'value="{gone["id"]}"' not in new_shipment
    # Its shipment still names it, and its page says it is archived.
    edit = pages.text(f"/shipments/{shipment['id']}/edit")
    assert re.search(rf'<option value="{gone["id"]}" selected', edit)
    page = pages.text(f"/partners/{gone['id']}")
    assert 'id="archived"' in page and "New outgoing shipment" not in page
    assert f"/shipments/{shipment['id']}" in page
    _location(pages.post(f"/partners/{gone['id']}/unarchive", {"version": "2"}))
    assert "Gone library" in pages.text("/partners")


def test_a_duplicate_is_merged_after_a_page_says_what_moves(
    pages: WebClient, api: ApiCaller
) -> None:
    survivor = add_partner(api, "Milli Kütüphane", "TR")
    duplicate = add_partner(api, "Milli Kutuphane", "TR", postal_address="Bahçelievler\nAnkara")
    add_shipment(api, duplicate["id"])
    add_shipment(api, duplicate["id"], direction="incoming")
    api.create(f"/institutions/{duplicate['id']}/contacts", {"name": "Ayşe Yılmaz"})
    choose = pages.text(f"/partners/{duplicate['id']}/merge")
    targets = [code for code, _name in _options(choose, "into") if code]
    assert str(survivor["id"]) in targets and str(duplicate["id"]) not in targets

    itself = pages.get(f"/partners/{duplicate['id']}/merge?into={duplicate['id']}")
    assert itself.status_code == 422 and 'id="e-into"' in itself.get_data(as_text=True)
    confirm = pages.text(f"/partners/{duplicate['id']}/merge?into={survivor['id']}")
    moves = re.search(r'<ul id="moves">(.*?)</ul>', confirm, re.S).group(1)
    assert "2 shipments" in moves and "0 agreements" in moves and "1 contact person" in moves
    assert "Yes: merge" in confirm

    stale = pages.post(
        f"/partners/{duplicate['id']}/merge",
        {"version": "1", "into": str(survivor["id"]), "into_version": "7"},
    )
    assert stale.status_code == 303
    assert api.get(f"/institutions/{duplicate['id']}").get_json()["merged_into_id"] is None
    merged = pages.post(
        f"/partners/{duplicate['id']}/merge",
        {"version": "1", "into": str(survivor["id"]), "into_version": "1"},
    )
    assert _location(merged).endswith(f"/partners/{survivor['id']}")
    page = pages.text(f"/partners/{survivor['id']}")
    assert "Ayşe Yılmaz" in page and "Bahçelievler<br>Ankara<br>Türkiye" in page
    assert "2 shipments" not in page and page.count("/shipments/") >= 2
    gone = pages.text(f"/partners/{duplicate['id']}")
    assert re.search(
        rf'id="merged">Merged into Milli Kütüphane.*href="/partners/{survivor["id"]}"', gone, re.S
    )
    assert "Merge into another partner" not in gone
    again = pages.text(f"/partners/{duplicate['id']}/merge")
    assert "An archived partner is not merged" in again


def test_a_merge_into_an_archived_partner_is_refused_on_the_page(
    pages: WebClient, api: ApiCaller
) -> None:
    archived = add_partner(api, "Old", "TR")
    archive_partner(api, archived)
    duplicate = add_partner(api, "Dup", "TR")
    response = pages.post(
        f"/partners/{duplicate['id']}/merge",
        {"version": "1", "into": str(archived["id"]), "into_version": "2"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r"Partner to keep: Old is archived", page)
    assert api.get(f"/institutions/{duplicate['id']}").get_json()["archived_at"] is None


def test_the_partner_page_speaks_russian_and_uzbek_cyrillic(
    pages: WebClient, api: ApiCaller
) -> None:
    """Waits for the translations of this round to be merged into the catalogues."""
    partner = add_partner(api, postal_address="Bahçelievler\n06490 Ankara", phone="+90 312")
    api.create(f"/institutions/{partner['id']}/contacts", {"name": "Ayşe Demir"})
    pages.in_language("ru")
    page = pages.text(f"/partners/{partner['id']}")
    for words in ("Почтовый адрес", "Телефон", "Контактные лица", "Язык писем", "Турция"):
        assert words in page, words
    assert "Объединить с другим партнёром…" in page  # noqa: RUF001
    pages.in_language("uz_Cyrl")
    page = pages.text(f"/partners/{partner['id']}")
    for words in ("Почта манзили", "Алоқа учун шахслар", "Хатлар тили"):
        assert words in page, words


def test_an_archived_namesake_is_pointed_out_and_a_merged_one_is_not(
    pages: WebClient, api: ApiCaller
) -> None:
    archived = add_partner(api, "Qafqaz Universiteti", "AZ")
    archive_partner(api, archived)
    survivor = add_partner(api, "Bakı Mühəndislik Universiteti", "AZ")
    merged = add_partner(api, "Qafqaz Universiteti Kitabxanası", "AZ")
    api.post(f"/institutions/{merged['id']}/merge", {"into": survivor["id"]}, etag='"1"')
    page = pages.post(
        "/partners/new", {"name": "Qafqaz universiteti", "country": "AZ", "kind": "university"}
    ).get_data(as_text=True)
    warning = re.search(r'id="duplicates".*?</ul>', page, re.S).group(0)
    assert f'href="/partners/{archived["id"]}"' in warning
    assert "archived: it can be brought back from its page" in warning
    assert f'href="/partners/{merged["id"]}"' not in warning


def test_a_merge_target_that_is_no_partner_is_asked_again(pages: WebClient, api: ApiCaller) -> None:
    duplicate = add_partner(api, "Dup", "TR")
    for sent in ("abc", "99999999999", "4242"):
        response = pages.get(f"/partners/{duplicate['id']}/merge?into={sent}")
        assert response.status_code == 422, sent
        assert 'id="e-into"' in response.get_data(as_text=True)
    posted = pages.post(f"/partners/{duplicate['id']}/merge", {"version": "1", "into": "abc"})
    assert posted.status_code == 422
    assert "Partner to keep: Choose a partner from the list." in posted.get_data(as_text=True)
    assert api.get(f"/institutions/{duplicate['id']}").get_json()["archived_at"] is None
