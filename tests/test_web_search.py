"""The search page as staff use it: the union catalogue in any script, filters, pages of
results, and every kind of bad input answered on the page (never a server error)."""

from __future__ import annotations

import urllib.parse

import pytest
from conftest import WebClient
from lxml import html

from libfed.accounts.institutions import create_institution
from libfed.harvest.sources import add_source
from libfed.kernel.callers import SYSTEM
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.search.web import page_numbers
from tests.records_helpers import put
from tests.test_translations import _latin_words

HOME = "libfed test repository"  # the repository name conftest configures


@pytest.fixture
def catalogue(db: Database, config: Config) -> dict[str, str]:
    """Local records and two partners' (one with an institution), in several scripts."""
    with db.write() as session:
        institution = create_institution(
            session,
            {"name": "Milli Kitabxana", "kind": "national_library", "country": "AZ"},
            actor=SYSTEM,
            home_country="AZ",
        )
        add_source(session, "baku", "http://baku.example/oai", institution_id=institution.id)
        add_source(session, "tashkent", "http://tashkent.example/oai")
    return {
        "uz_cyrl": put(
            db,
            "1",
            title="Кутубхонашунослик асослари",
            creator="Каримов, Алишер",
            language="uzb",
            date="2019",
            subject="Кутубхоналар -- Ўзбекистон",
        ),
        "uz_latn": put(
            db,
            "2",
            source="tashkent",
            sets=("fond",),
            title="Oʻzbekiston kutubxonalari tarixi",
            creator="Rahimova, Gulnora",
            language="uzb",
            date="2021",
        ),
        "az_latn": put(
            db,
            "4",
            source="baku",
            title="Azərbaycan kitabxanaları",
            creator="Əliyeva, Səbinə",
            language="aze",
            date="2015",
            identifier="URN:ISBN:978-9952-8123-4-3",
        ),
        "ru": put(
            db,
            "5",
            title="Братья Карамазовы",
            creator="Достоевский, Фёдор Михайлович",
            language="rus",
            date="1880",
        ),
        "ru_romanised": put(
            db,
            "6",
            source="baku",
            title="Brat'ia Karamazovy",
            creator="Dostoevskiĭ, Fedor Mikhaĭlovich",
            language="rus",
            date="1880",
        ),
    }


def tree(response) -> html.HtmlElement:  # type: ignore[no-untyped-def]
    return html.fromstring(response.get_data(as_text=True))


def titles(page: html.HtmlElement) -> list[str]:
    return [h.text_content() for h in page.xpath("//ol[@class='editions']/li/h3")]


def count(page: html.HtmlElement) -> str:
    return page.get_element_by_id("results-heading").text_content().strip()


def search(pages: WebClient, **args: str) -> html.HtmlElement:
    response = pages.get("/search?" + urllib.parse.urlencode(args))
    assert response.status_code == 200, response.get_data(as_text=True)
    return tree(response)


# ------------------------------------------------------------------ who may search


def test_anonymous_visitors_are_sent_to_sign_in(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/search?q=kitob")
    assert response.status_code == 302
    location = urllib.parse.urlsplit(response.headers["Location"])
    assert location.path == "/sign-in"
    assert urllib.parse.parse_qs(location.query)["next"] == ["/search?q=kitob"]


def test_a_viewer_sees_the_form_alone_before_searching(viewer_pages: WebClient) -> None:
    page = tree(viewer_pages.get("/search"))
    field = page.get_element_by_id("f-q")
    assert field.get("type") == "search" and field.get("autofocus") is not None
    assert not page.xpath("//*[@id='results-heading']") and not page.xpath("//p[@class='error']")
    current = page.xpath("//nav//a[@aria-current='page']")
    assert [a.text_content() for a in current] == ["Catalogue search"]
    sources = [o.get("value") for o in page.get_element_by_id("f-source").iter("option")]
    assert sources == ["", "local"]  # no harvest source yet


# ------------------------------------------------------------------ finding


def test_a_latin_word_finds_cyrillic_records_and_the_reverse(
    viewer_pages: WebClient, catalogue: dict[str, str]
) -> None:
    found = search(viewer_pages, q="kutubxona")
    assert set(titles(found)) == {"Кутубхонашунослик асослари", "Oʻzbekiston kutubxonalari tarixi"}
    assert count(found) == "2 editions"
    assert titles(search(viewer_pages, q="Кутубхона")) == titles(found)


def test_an_edition_lists_its_holdings_with_holders_and_record_pages(
    viewer_pages: WebClient, catalogue: dict[str, str]
) -> None:
    page = search(viewer_pages, q="Dostoevsky Karamazovy")
    assert count(page) == "1 edition" and titles(page) == ["Братья Карамазовы"]
    (edition,) = page.xpath("//ol[@class='editions']/li")
    facts = dict(
        zip(
            [dt.text_content() for dt in edition.xpath(".//dt")],
            [dd.text_content().strip() for dd in edition.xpath("./dl/dd")],
            strict=True,
        )
    )
    assert facts["Year"] == "1880" and facts["Language"] == "Russian"
    assert facts["Author"] == "Достоевский, Фёдор Михайлович"
    assert edition.xpath("./h3")[0].get("lang") == "ru"
    holdings = edition.xpath(".//dd/ul/li")
    assert [h.text_content().split(":")[0].strip() for h in holdings] == [
        f"{HOME} this library",
        "Milli Kitabxana",
    ]
    assert holdings[0].xpath(".//strong")[0].text_content() == "this library"
    assert not holdings[1].xpath(".//strong")
    links = [h.xpath(".//a")[0] for h in holdings]
    assert [a.text_content() for a in links] == [catalogue["ru"], catalogue["ru_romanised"]]
    assert [a.get("href") for a in links] == [
        f"/records/{catalogue['ru']}",
        f"/records/{catalogue['ru_romanised']}",
    ]
    # The title opens this library's record of the edition, whose page names it.
    assert edition.xpath("./h3/a")[0].get("href") == links[0].get("href")
    record_page = tree(viewer_pages.get(links[1].get("href")))
    assert record_page.xpath("//h1")[0].text_content() == "Brat'ia Karamazovy"
    assert "Brat'ia Karamazovy" in holdings[1].text_content()  # its own title, as catalogued


def test_an_isbn_is_shown_and_found(viewer_pages: WebClient, catalogue: dict[str, str]) -> None:
    page = search(viewer_pages, q="ISBN 978-9952-8123-4-3")
    assert titles(page) == ["Azərbaycan kitabxanaları"]
    assert "9789952812343" in page.xpath("//ol[@class='editions']//dl")[0].text_content()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"source": "local"}, {"Кутубхонашунослик асослари"}),
        ({"source": "tashkent"}, {"Oʻzbekiston kutubxonalari tarixi"}),
        ({"year_from": "2020"}, {"Oʻzbekiston kutubxonalari tarixi"}),
        ({"year_to": "2020"}, {"Кутубхонашунослик асослари"}),
        ({"year_from": "2019", "year_to": "2019"}, {"Кутубхонашунослик асослари"}),
        ({"set": "fond"}, {"Oʻzbekiston kutubxonalari tarixi"}),
        (
            {"language": "uzb", "source": ""},
            {"Кутубхонашунослик асослари", "Oʻzbekiston kutubxonalari tarixi"},
        ),
        ({"language": "AZE"}, {"Azərbaycan kitabxanaları"}),
    ],
)
def test_filters_choose_editions_and_stay_in_the_form(
    viewer_pages: WebClient,
    catalogue: dict[str, str],
    filters: dict[str, str],
    expected: set[str],
) -> None:
    words = "kitabxana" if filters.get("language") == "AZE" else "kutubxona"
    page = search(viewer_pages, q=words, **filters)
    assert set(titles(page)) == expected
    for name, value in filters.items():
        control = page.get_element_by_id(f"f-{name}")
        assert control.value == value.lower(), name


def test_the_filters_offer_the_sources_by_holder_and_the_languages_present(
    viewer_pages: WebClient, catalogue: dict[str, str]
) -> None:
    page = search(viewer_pages, q="kitob")
    options = [
        (o.get("value"), o.text_content())
        for o in page.get_element_by_id("f-source").iter("option")
    ]
    assert options == [
        ("", "All sources"),
        ("local", f"This library ({HOME})"),
        ("baku", "Milli Kitabxana (baku)"),
        ("tashkent", "tashkent"),
    ]
    languages = [
        (o.get("value"), o.text_content())
        for o in page.get_element_by_id("f-language").iter("option")
    ]
    assert languages == [
        ("", "All languages"),
        ("aze", "Azerbaijani"),
        ("rus", "Russian"),
        ("uzb", "Uzbek"),
    ]


def test_nothing_found_says_so(viewer_pages: WebClient, catalogue: dict[str, str]) -> None:
    page = search(viewer_pages, q="kutubxona", source="baku")
    assert count(page) == "0 editions"
    assert "No edition matches" in page.get_element_by_id("main").text_content()


# ------------------------------------------------------------------ pages of results


@pytest.fixture
def many(db: Database) -> None:
    """25 editions of 'kitob' in Uzbek from 2001 on, and one in Russian."""
    for n in range(1, 26):
        put(
            db,
            f"k{n}",
            title=f"Kitob {n}",
            creator="Karimov, A.",
            language="uzb",
            date=str(2000 + n),
        )
    put(db, "k-ru", title="Kitob 99", creator="Karimov, A.", language="rus", date="2010")


def test_pages_link_to_each_other_and_keep_the_filters(viewer_pages: WebClient, many: None) -> None:
    filters = {"q": "kitob", "language": "uzb", "year_from": "1990"}
    first = search(viewer_pages, **filters)
    assert count(first) == "25 editions" and len(titles(first)) == 20
    pager = first.xpath("//nav[@class='pager']")[0]
    links = {a.text_content().strip(): a.get("href") for a in pager.xpath(".//a")}
    assert set(links) == {"1", "2", "Next"}
    assert pager.xpath(".//a[@aria-current='page']")[0].text_content() == "1"
    following = urllib.parse.parse_qs(links["Next"].lstrip("?"))
    assert following == {"q": ["kitob"], "language": ["uzb"], "year_from": ["1990"], "page": ["2"]}
    assert links["2"] == links["Next"]
    second = tree(viewer_pages.get("/search" + links["Next"]))
    assert len(titles(second)) == 5
    assert second.xpath("//ol[@class='editions']")[0].get("start") == "21"
    back = {
        a.text_content().strip(): a.get("href") for a in second.xpath("//nav[@class='pager']//a")
    }
    assert urllib.parse.parse_qs(back["Previous"].lstrip("?"))["page"] == ["1"]
    assert set(titles(first)) | set(titles(second)) == {f"Kitob {n}" for n in range(1, 26)}


def test_a_page_past_the_end_shows_the_first(viewer_pages: WebClient, many: None) -> None:
    page = search(viewer_pages, q="kitob", page="9")
    assert count(page) == "26 editions" and len(titles(page)) == 20
    assert "There is no page 9" in page.get_element_by_id("main").text_content()


@pytest.mark.parametrize("number", ["abc", "0", "-3", "99999999999999999999999"])
def test_a_page_number_that_is_none_is_the_first(
    viewer_pages: WebClient, many: None, number: str
) -> None:
    page = search(viewer_pages, q="kitob", page=number)
    assert len(titles(page)) == 20


def test_page_numbers_skip_the_middle_of_long_lists() -> None:
    assert page_numbers(1, 1) == [1]
    assert page_numbers(1, 3) == [1, 2, 3]
    assert page_numbers(10, 30) == [1, None, 8, 9, 10, 11, 12, None, 30]
    assert page_numbers(30, 30) == [1, None, 28, 29, 30]


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"q": "kitob", "year_from": "abc"}, "year_from", "Enter a year as a number"),
        ({"q": "kitob", "year_to": "20000"}, "year_to", "Enter a year as a number"),
        ({"q": "kitob", "year_from": "2000", "year_to": "1990"}, "year_to", "before the first"),
        ({"q": "k" * 501}, "q", "at most 500 characters"),
        ({"q": "; !!! -- «»"}, "q", "Give at least one word"),
        ({"q": " ".join(["kitob"] * 13)}, "q", "at most 12 words"),
        ({"q": "kitob", "source": "nowhere"}, "source", "No harvest source is named nowhere"),
        (
            {"q": "kitob", "language": "xyz"},
            "language",
            "No record is catalogued in the language xyz",
        ),
        ({"q": "kitob", "set": "s" * 256}, "set", "at most 255 characters"),
    ],
)
def test_bad_input_is_explained_beside_its_field_with_what_was_typed(
    viewer_pages: WebClient,
    catalogue: dict[str, str],
    args: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = viewer_pages.get("/search?" + urllib.parse.urlencode(args))
    assert response.status_code == 400
    page = tree(response)
    assert message in page.get_element_by_id(f"e-{field}").text_content()
    control = page.get_element_by_id(f"f-{field}")
    assert control.get("aria-invalid") == "true"
    if control.tag == "input":
        assert control.get("value") == args[field]
    assert page.get_element_by_id("f-q").get("value") == args["q"]
    assert page.xpath("//*[@role='alert']") and not page.xpath("//*[@id='results-heading']")


def test_hostile_text_is_shown_as_text(viewer_pages: WebClient, db: Database) -> None:
    put(
        db,
        "x1",
        title="&lt;script&gt;alert(1)&lt;/script&gt; Kitob",
        creator="&lt;img src=x onerror=alert(2)&gt;",
        language="uzb",
        date="2000",
    )
    words = 'kitob "><script>'
    response = viewer_pages.get("/search?" + urllib.parse.urlencode({"q": words}))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<script>" not in body and "<img src=x" not in body
    page = tree(response)
    assert titles(page) == ["<script>alert(1)</script> Kitob"]
    assert page.get_element_by_id("f-q").get("value") == words
    # The pages' own scripts are files of this server; no other script is there.
    scripts = [s.get("src") or s.text_content() for s in page.xpath("//script")]
    assert all(src.startswith("/static/") for src in scripts), scripts
    assert not page.xpath("//main//img")
    refused = viewer_pages.get(
        "/search?" + urllib.parse.urlencode({"q": "kitob", "source": "<b>x</b>", "language": "<i>"})
    )
    assert refused.status_code == 400
    assert "<b>x</b>" not in refused.get_data(as_text=True)
    assert "<b>x</b>" in tree(refused).get_element_by_id("e-source").text_content()


# ------------------------------------------------------------------ languages


@pytest.fixture
def russian(pages: WebClient) -> WebClient:
    pages.in_language("ru")
    return pages


# Data, not words of the page: source names, the institution's name, a romanised
# Russian title as catalogued, and what the user typed (in the title and the messages).
_NAMES = {
    "baku",
    "tashkent",
    "Milli",
    "Kitabxana",
    "Brat",
    "ia",
    "Karamazovy",
    "kutubxona",
    "nowhere",
}


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"q": "Karamazovy"},
        {"q": "kutubxona", "language": "uzb", "year_from": "2000"},
        {"q": "kutubxona", "year_from": "abc", "source": "nowhere"},
        {"q": ";;;"},
    ],
)
def test_the_russian_page_shows_no_english(
    russian: WebClient, catalogue: dict[str, str], args: dict[str, str]
) -> None:
    response = russian.get("/search?" + urllib.parse.urlencode(args))
    assert response.status_code in (200, 400)
    page = response.get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert set(_latin_words(page)) - _NAMES == set()
    if args.get("q") == "Karamazovy":
        assert "1 издание" in page and "эта библиотека" in page.lower()
