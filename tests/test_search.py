"""The union catalogue search: what a coordinator or an aggregator finds, in any script."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest
from conftest import REPOSITORY_ID
from flask import Flask
from sqlalchemy import delete, func, select

from libfed.accounts.institutions import create_institution
from libfed.harvest.sources import add_source
from libfed.kernel.callers import SYSTEM
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.models import SearchEntry
from libfed.records.repository import tombstone
from libfed.records.search_index import rebuild
from libfed.search.query import LOCAL, QueryError, SearchQuery, search
from tests.records_helpers import put


def found(db: Database, text: str, **filters: object) -> list[str]:
    """The identifiers of every holding of every edition found, best edition first."""
    with db.session() as session:
        results = search(session, SearchQuery(text, **filters))  # type: ignore[arg-type]
    return [h.identifier for e in results.editions for h in e.holdings]


@pytest.fixture
def catalogue(db: Database) -> dict[str, str]:
    """A small union catalogue: local records and two partners', in several scripts."""
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
            title="Oʻzbekiston kutubxonalari tarixi",
            creator="Rahimova, Gulnora",
            language="uzb",
            date="2021",
        ),
        "az_cyrl": put(
            db,
            "3",
            title="Азәрбајҹан әдәбијјаты",
            creator="Məmmədov, Əli",
            language="aze",
            date="1985",
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
        "subject_only": put(
            db,
            "7",
            title="Axborot resurslari",
            creator="Tursunov, B.",
            subject="Kutubxonashunoslik",
            language="uzb",
            date="2020",
        ),
    }


def test_a_latin_query_finds_cyrillic_records_and_the_reverse(
    db: Database, catalogue: dict[str, str]
) -> None:
    assert catalogue["uz_cyrl"] in found(db, "kutubxonashunoslik asoslari")
    assert catalogue["uz_latn"] in found(db, "ЎЗБЕКИСТОН кутубхоналари")
    assert catalogue["az_cyrl"] in found(db, "Azərbaycan ədəbiyyatı")
    assert catalogue["az_latn"] in found(db, "Азәрбајҹан")
    assert set(found(db, "Dostoevsky Karamazov")) >= {catalogue["ru"], catalogue["ru_romanised"]}
    assert set(found(db, "Достоевский")) >= {catalogue["ru"], catalogue["ru_romanised"]}


def test_a_word_finds_its_suffixed_forms(db: Database, catalogue: dict[str, str]) -> None:
    # Uzbek and Azerbaijani add suffixes: kutubxona -> kutubxonalari, kitabxana -> kitabxanaları
    assert catalogue["uz_latn"] in found(db, "kutubxona")
    assert catalogue["az_latn"] in found(db, "kitabxana")


def test_every_word_must_match(db: Database, catalogue: dict[str, str]) -> None:
    assert found(db, "kutubxona Karamazov") == []
    assert found(db, "zzyzx") == []


def test_a_title_match_ranks_above_a_subject_match(db: Database, catalogue: dict[str, str]) -> None:
    hits = found(db, "kutubxonashunoslik")
    assert hits.index(catalogue["uz_cyrl"]) < hits.index(catalogue["subject_only"])


def test_a_field_limits_the_word_to_that_field(db: Database, catalogue: dict[str, str]) -> None:
    assert catalogue["subject_only"] not in found(db, "title:kutubxonashunoslik")
    assert catalogue["subject_only"] in found(db, "subject:kutubxonashunoslik")
    assert found(db, "author:karamazov") == []


def test_filters_by_source_language_year_and_set(db: Database, catalogue: dict[str, str]) -> None:
    put(db, "8", sets=("uz",), title="Kutubxona va jamiyat", language="uzb", date="2022")
    assert found(db, "kutubxona", source="tashkent") == [catalogue["uz_latn"]]
    assert catalogue["uz_latn"] not in found(db, "kutubxona", source=LOCAL)
    # The filter picks editions; an edition still lists every holding (this library's first).
    assert found(db, "Karamazov", language="rus", source="baku") == [
        catalogue["ru"],
        catalogue["ru_romanised"],
    ]
    assert found(db, "Karamazov", source="tashkent") == []
    assert found(db, "kutubxona", year_from=2021, year_to=2021) == [catalogue["uz_latn"]]
    assert found(db, "kutubxona", year_from=2020, year_to=2021) == [
        catalogue["uz_latn"],
        catalogue["subject_only"],
    ]  # a title match first
    assert found(db, "kutubxona", set_spec="uz") == [f"oai:{REPOSITORY_ID}:8"]


def test_an_isbn_is_found_however_it_is_written(db: Database, catalogue: dict[str, str]) -> None:
    for typed in (
        "978-9952-8123-4-3",
        "9789952812343",
        "isbn:978-9952-8123-4-3",
        "ISBN 978 9952 8123 4 3",
    ):
        assert found(db, typed) == [catalogue["az_latn"]], typed


def test_records_of_one_edition_are_one_result_with_every_holding(
    db: Database, catalogue: dict[str, str]
) -> None:
    # The same ISBN here and at a partner; a romanised and a Cyrillic record of one book.
    mine = put(
        db,
        "9",
        title="Azərbaycan kitabxanaları",
        language="aze",
        date="2015",
        identifier="URN:ISBN:9789952812343",
    )
    with db.session() as session:
        results = search(session, SearchQuery("kitabxanalar"))
    (edition,) = [e for e in results.editions if e.isbn == "9789952812343"]
    assert [h.identifier for h in edition.holdings] == [mine, catalogue["az_latn"]]
    assert [h.source for h in edition.holdings] == [None, "baku"]  # this library's first

    with db.session() as session:
        karamazov = search(session, SearchQuery("Karamazov")).editions
    assert len(karamazov) == 1
    assert {h.identifier for h in karamazov[0].holdings} == {
        catalogue["ru"],
        catalogue["ru_romanised"],
    }


def test_the_index_follows_every_change_of_a_record(db: Database) -> None:
    identifier = put(db, "1", title="Qadimgi qoʻlyozmalar", language="uzb")
    assert found(db, "qoʻlyozmalar") == [identifier]
    put(db, "1", title="Yangi kitoblar", language="uzb")
    assert found(db, "qoʻlyozmalar") == []
    assert found(db, "kitoblar") == [identifier]
    with db.write() as session:
        assert tombstone(session, identifier)
    assert found(db, "kitoblar") == []


def test_rebuild_makes_the_same_index_again(db: Database, catalogue: dict[str, str]) -> None:
    before = found(db, "kutubxona")
    with db.write() as session:
        session.execute(delete(SearchEntry))
    assert found(db, "kutubxona") == []
    assert rebuild(db) == len(catalogue)
    assert found(db, "kutubxona") == before


def test_pages_of_editions(db: Database) -> None:
    for n in range(25):
        put(db, str(n), title=f"Kitob {n:02d}", language="uzb", date=str(1990 + n))
    with db.session() as session:
        first = search(session, SearchQuery("kitob", per_page=10))
        third = search(session, SearchQuery("kitob", page=3, per_page=10))
        beyond = search(session, SearchQuery("kitob", page=4, per_page=10))
    assert first.total == third.total == 25
    assert len(first.editions) == 10 and len(third.editions) == 5
    assert not {e.key for e in first.editions} & {e.key for e in third.editions}
    assert beyond.editions == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "AND",
        "OR NOT",
        "kitob*",
        "(kitob",
        "title:",
        ":",
        "NEAR(a b)",
        "a^b",
        "-kitob",
        "{title_key}:x",
        "kitob'; DROP TABLE records; --",
        "\x00kitob",
        "ǅ" * 300,
        "🙂 kitob",
    ],
)
def test_search_syntax_in_a_query_is_only_text(db: Database, query: str) -> None:
    identifier = put(db, "1", title="Kitob", language="uzb")
    with db.session() as session:
        try:
            results = search(session, SearchQuery(query))
        except QueryError:
            return  # a clear refusal is fine; an engine error is not
    assert results.total in (0, 1)
    if "kitob" in query.lower() and results.total:
        assert results.editions[0].holdings[0].identifier == identifier


def test_a_query_without_words_is_refused(db: Database) -> None:
    with db.session() as session, pytest.raises(QueryError):
        search(session, SearchQuery("  ;;; "))


# ------------------------------------------------------------------ the API


@pytest.fixture
def partners(db: Database, config: Config) -> None:
    with db.write() as session:
        institution = create_institution(
            session,
            {"name": "Milli Kitabxana", "kind": "national_library", "country": "AZ"},
            actor=SYSTEM,
            home_country="AZ",
        )
        add_source(session, "baku", "http://baku.example/oai", institution_id=institution.id)
        add_source(session, "tashkent", "http://tashkent.example/oai")


def test_the_api_answers_anyone_over_http_with_editions_and_holders(
    db: Database, catalogue: dict[str, str], partners: None, live_server: str
) -> None:
    base = live_server.removesuffix("/oai")
    query = urllib.parse.urlencode({"q": "Карамазов", "per_page": 5})
    with urllib.request.urlopen(f"{base}/api/v1/search?{query}") as response:
        assert response.headers["Content-Type"].startswith("application/json")
        body = json.loads(response.read())
    assert body["total"] == 1 and body["page"] == 1 and body["per_page"] == 5
    (edition,) = body["editions"]
    assert edition["year"] == 1880
    holders = {h["identifier"]: h["holder"] for h in edition["holdings"]}
    assert holders == {
        catalogue["ru"]: "libfed test repository",
        catalogue["ru_romanised"]: "Milli Kitabxana",
    }
    oai = urllib.parse.urlparse(edition["holdings"][0]["oai_url"])
    assert urllib.parse.parse_qs(oai.query)["verb"] == ["GetRecord"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "q"),
        ("q=", "q"),
        ("q=kitob&per_page=101", "per_page"),
        ("q=kitob&page=0", "page"),
        ("q=kitob&year_from=x", "year_from"),
        ("q=kitob&colour=red", "colour"),
        ("q=" + "+".join(["kitob"] * 13), "q"),
        ("q=" + "k" * 501, "q"),
    ],
)
def test_the_api_refuses_bad_parameters_clearly(client: Flask, query: str, field: str) -> None:
    response = client.get(f"/api/v1/search?{query}")
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]


def test_the_api_lists_a_tashkent_holding_under_the_source_name_without_an_institution(
    client: Flask, catalogue: dict[str, str], partners: None
) -> None:
    body = client.get("/api/v1/search?q=tarixi&source=tashkent").get_json()
    assert [h["holder"] for e in body["editions"] for h in e["holdings"]] == ["tashkent"]


def test_counts_stay_consistent_with_the_records(db: Database, catalogue: dict[str, str]) -> None:
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SearchEntry)) == len(catalogue)


def test_an_issn_is_found_however_it_is_written(db: Database) -> None:
    journal = put(
        db, "j", title="Kitabxanaçılıq jurnalı", language="aze", identifier="URN:ISSN:0317-8471"
    )
    put(db, "k", title="03178471 saylı sənəd", language="aze")  # the digits as a word
    for typed in ("0317-8471", "ISSN 0317-8471", "issn:03178471"):
        assert found(db, typed) == [journal], typed


def test_a_broad_query_ranks_its_newest_matches_and_says_there_are_more(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("libfed.search.query.RANKED", 3)
    stored = [put(db, str(n), title=f"Kitob {n}", language="uzb", date="2020") for n in range(5)]
    with db.session() as session:
        broad = search(session, SearchQuery("kitob"))
        narrow = search(session, SearchQuery("kitob 4"))
        filtered = search(session, SearchQuery("kitob", year_from=2020, source=LOCAL))
    assert broad.more and broad.total == 3
    assert {h.identifier for e in broad.editions for h in e.holdings} == set(stored[-3:])
    assert not narrow.more and [e.title for e in narrow.editions] == ["Kitob 4"]
    assert filtered.more  # the filters are applied before the cap, not after


def test_the_api_says_whether_a_query_was_too_broad_to_rank_whole(
    client: Flask, catalogue: dict[str, str]
) -> None:
    body = client.get("/api/v1/search?q=kutubxona").get_json()
    assert body["more"] is False and body["total"] >= 1
