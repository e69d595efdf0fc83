"""Statistics of harvested records: per source and in all, by format, language, year and
type, from records harvested over loopback; as JSON and on a page in Russian."""

from __future__ import annotations

import re

import pytest
from babel.numbers import format_decimal
from conftest import ApiCaller, load
from test_harvest_changes import dc_record, run_with, viewer

from libfed.harvest.models import Source
from libfed.harvest.run import harvest
from libfed.kernel.config import Config
from libfed.kernel.db import Database

# Fifteen years, 1900-1914, over 1,100 records: 1900-1904 have 74 each, the rest 73.
BIG = [
    dc_record(f"oai:big:{n}", f"Kitab {n}", language="rus", date=str(1900 + n % 15))
    for n in range(1100)
]
SMALL = [
    dc_record("oai:s:1", language="aze", date="2001-05-01", kind="text"),
    dc_record("oai:s:2", language="aze", date="2001", kind="Image"),
    dc_record("oai:s:3", language="rus", date="1999", kind="text"),
    dc_record("oai:s:4", language=None, date=None, kind=None),
    dc_record("oai:s:5", language="eng", date="2010", kind="text"),
]


def values(breakdown: dict) -> dict[str, int]:
    return {v["value"]: v["records"] for v in breakdown["values"]}


@pytest.fixture
def harvested(aggregator) -> tuple[Config, Database]:  # type: ignore[no-untyped-def]
    config, db = aggregator
    run_with(config, db, *SMALL, name="small")
    run_with(config, db, *BIG, name="big")
    return config, db


def test_statistics_per_source_and_in_all_follow_the_records(harvested) -> None:  # type: ignore[no-untyped-def]
    config, db = harvested
    _pages, api = viewer(config, db)
    small = api.get("/harvest/sources/small/statistics").get_json()
    assert small["records"] == 5
    assert values(small["languages"]) == {"aze": 2, "rus": 1, "eng": 1}
    assert small["languages"]["unknown"] == 1
    # The record's first date gives the year, its first type the type (case folded).
    assert values(small["years"]) == {"2001": 2, "1999": 1, "2010": 1}
    assert values(small["types"]) == {"text": 3, "image": 1} and small["types"]["unknown"] == 1
    assert values(small["formats"]) == {"oai_dc": 5}

    # A deletion at the source: the record is no longer counted (nor its values).
    run_with(config, db, dc_record("oai:s:5", deleted=True), name="small")
    small = api.get("/harvest/sources/small/statistics").get_json()
    assert small["records"] == 4 and "eng" not in values(small["languages"])

    everything = api.get("/harvest/statistics").get_json()
    total = everything["total"]
    assert total["records"] == 1104
    assert values(total["languages"]) == {"rus": 1101, "aze": 2}
    years = values(total["years"])
    assert years["1900"] == 74 and years["1914"] == 73 and years["2001"] == 2
    assert values(total["formats"]) == {"oai_dc": 1104}
    assert [s["name"] for s in everything["sources"]] == ["big", "small"]
    assert everything["sources"][0]["records"] == 1100
    assert api.get("/harvest/sources/nowhere/statistics").status_code == 404
    assert ApiCaller(api.client, None).get("/harvest/statistics").status_code == 401


def test_the_statistics_page_in_russian_names_languages_and_writes_numbers_its_way(
    harvested,  # type: ignore[no-untyped-def]
) -> None:
    config, db = harvested
    pages, _api = viewer(config, db)
    # Reached from the harvesting page, in its words.
    assert 'href="/harvest-statistics">Статистика</a>' in pages.in_language("ru").text(
        "/harvesting"
    )
    html = pages.in_language("ru").text("/harvest-statistics")
    assert format_decimal(1105, locale="ru") == "1\xa0105"
    # Every live record, as Russian writes the number.
    assert '<p class="big">1\xa0105</p>' in html
    languages = html[html.index('id="by-languages"') :]
    languages = languages[: languages.index("</table>")]
    assert "русский" in languages and "азербайджанский" in languages
    assert "1\xa0101" in languages  # Russian: the big source and one small record
    # Years: the ten most common named, the rest counted together.
    years = html[html.index('id="by-years"') :]
    years = years[: years.index("</table>")]
    assert re.findall(r'<th scope="row">(\d+)</th>', years) == [str(y) for y in range(1900, 1910)]
    other = 5 * 73 + 2 + 1 + 1  # 1910-1914, 2001 twice, 1999, 2010
    assert re.search(rf'<th scope="row">[^<]+</th><td class="num">{other}</td>', years)
    # One source's page, linked from the list of sources.
    assert "/harvest-statistics/small" in html
    small = pages.text("/harvest-statistics/small")
    assert "азербайджанский" in small and "1\xa0105" not in small
    assert pages.get("/harvest-statistics/nowhere").status_code == 404


def test_formats_count_each_format_a_record_is_served_in(
    live_server: str,
    db: Database,
    aggregator,  # type: ignore[no-untyped-def]
) -> None:
    load(db, "marcxml/pymarc_batch.xml")  # two MARC records on the provider
    config, agg = aggregator
    with agg.write() as session:
        session.add(Source(name="marc", base_url=live_server, prefix="marc21", sets=[]))
    assert harvest(agg, config, "marc").status == "succeeded"
    _pages, api = viewer(config, agg)
    formats = values(api.get("/harvest/sources/marc/statistics").get_json()["formats"])
    # marcxml is served from the stored marc21: each record is available in both.
    assert formats == {"marc21": 2, "marcxml": 2, "mods": 2, "oai_dc": 2}
