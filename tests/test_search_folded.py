"""Search as people type in the region: a word typed without the letters an English or
Russian keyboard lacks finds what is written with them, and exact spellings rank first."""

# Cyrillic and Latin look-alikes and apostrophes are what this file is about.
# ruff: noqa: RUF001

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import downgrade, write_config
from sqlalchemy import text, update

from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.models import SearchEntry
from libfed.records.search_keys import query_keys, record_key
from libfed.root.cli import main
from tests.records_helpers import put
from tests.test_search import found


@pytest.fixture
def catalogue(db: Database) -> dict[str, str]:
    """Records written with the region's letters, and one written without them."""
    return {
        "kitabxana": put(
            db, "1", title="Kitabxanaçılıq və biblioqrafiya", language="aze", date="2018"
        ),
        "sirvan": put(db, "2", title="Şirvan xanlığı", language="aze", date="2009"),
        "sirvan_ascii": put(db, "3", title="Sirvan tarixi", language="aze", date="2001"),
        "ozbekiston": put(db, "4", title="Oʻzbekiston tarixi", language="uzb", date="2020"),
        "shirvanshah": put(db, "5", title="Ширваншаһлар дөвләти", language="aze", date="1990"),
        "gence": put(db, "6", title="Ҝәнҹә шәһәри", language="aze", date="1987"),
        "koln": put(db, "7", title="Kölnische Zeitung", language="ger", date="1900"),
        "kolxoz": put(db, "8", title="Kolxoz tarixi", language="uzb", date="1960"),
        "ustad": put(db, "9", title="Üstad Şəhriyar", language="aze", date="1995"),
    }


@pytest.mark.parametrize(
    ("query", "record"),
    [
        ("kitabxanaciliq", "kitabxana"),
        ("KITABXANACILIQ", "kitabxana"),
        ("biblioqrafiya kitabxanaciliq", "kitabxana"),
        ("sirvan xanligi", "sirvan"),
        ("Ozbekiston", "ozbekiston"),
        ("O'zbekiston", "ozbekiston"),
        ("O‘zbekiston", "ozbekiston"),
        ("Oʻzbekiston", "ozbekiston"),
        ("Ширваншахлар", "shirvanshah"),
        ("ширваншахлар довлети", "shirvanshah"),
        ("Кенче", "gence"),
        ("ustad sehriyar", "ustad"),
    ],
)
def test_a_word_typed_without_the_regions_letters_finds_the_record(
    db: Database, catalogue: dict[str, str], query: str, record: str
) -> None:
    assert catalogue[record] in found(db, query)


def test_the_exact_spelling_ranks_above_a_folded_only_match(
    db: Database, catalogue: dict[str, str]
) -> None:
    # The newer records (Şirvan, 2009; Ширваншаһлар, by prefix) would rank first on
    # recency and length alike.
    first, *others = found(db, "sirvan")
    assert first == catalogue["sirvan_ascii"]
    assert set(others) == {catalogue["sirvan"], catalogue["shirvanshah"]}
    # Şirvan is exactly the start of Ширваншаһлар's key (shirvanshahlar) too.
    *exact, last = found(db, "Şirvan")
    assert set(exact) == {catalogue["sirvan"], catalogue["shirvanshah"]}
    assert last == catalogue["sirvan_ascii"]
    assert found(db, "title:Şirvan")[0] == catalogue["sirvan"]


def test_the_folded_key_matches_nothing_unrelated(db: Database, catalogue: dict[str, str]) -> None:
    assert found(db, "kol") == []  # short: a whole word, neither Köln nor Kolxoz
    assert found(db, "kolx") == [catalogue["kolxoz"]]
    assert found(db, "koln") == [catalogue["koln"]]
    assert found(db, "kitabxanaciliq sirvan") == []
    assert found(db, "xanlig") == [catalogue["sirvan"]]


def test_editions_still_meet_on_exact_keys(db: Database) -> None:
    """A Sirvan and a Şirvan record stay two editions: the folded key only finds more."""
    first = put(db, "1", title="Şirvan", creator="Əliyev, Ə.", language="aze", date="2000")
    second = put(db, "2", title="Sirvan", creator="Əliyev, Ə.", language="aze", date="2000")
    with db.session() as session:
        keys = set(session.scalars(text("SELECT edition_key FROM search_entries")))
    assert len(keys) == 2
    assert found(db, "sirvan") == [second, first]


def test_db_upgrade_gives_entries_written_before_their_folded_keys(
    db: Database, config: Config, tmp_path: Path
) -> None:
    record = put(db, "1", title="Kitabxanaçılıq", language="aze")
    downgrade(db, "0014")  # the schema of the version before folded keys
    with db.write() as session:  # as its index was written
        session.execute(update(SearchEntry).values(title_key=record_key("Kitabxanaçılıq", "aze")))
    assert found(db, "kitabxanaciliq") == []
    result = CliRunner().invoke(
        main, ["--config", str(write_config(tmp_path / "c.toml", config)), "db", "upgrade"]
    )
    assert result.exit_code == 0, result.output
    assert "building the search index" in result.output
    assert found(db, "kitabxanaciliq") == [record]
    assert found(db, "Kitabxanaçılıq") == [record]


def test_query_keys_keep_their_exact_reading_apart_from_the_folded_one() -> None:
    assert query_keys("Şirvan") == ("shirvan",)
    assert query_keys("Şirvan", folded=True) == ("sirvan",)
    assert "sirvansaxlar" in query_keys("Ширваншахлар", folded=True)
    assert record_key("Ширваншаһлар", "aze", folded=True) == "sirvansaxlar"
    assert record_key("Фарҳод", "uzb", folded=True) in query_keys("Фарход", folded=True)
    assert record_key("Ҝәнҹә", "aze", folded=True) in query_keys("Кенче", folded=True)
    assert record_key("Şuşa", "aze", folded=True) in query_keys("Susa", folded=True)
