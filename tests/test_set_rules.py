"""Sets defined by rules (docs/sets.md): membership evaluated when records are written
and when a rule changes, seen by harvesters through /oai with set and from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from conftest import REPOSITORY_ID, Clock, write_config
from lxml import etree
from pymarc import Field, Record, Subfield, XMLWriter
from records_helpers import put
from sqlalchemy import inspect, select, text

from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.kernel.errors import Invalid
from libfed.records.importer import import_files
from libfed.records.models import RecordSet
from libfed.records.repository import tombstone
from libfed.records.set_membership import preview, reevaluate, remove_rule, save_rule
from libfed.records.set_rules import parse_rule
from libfed.root.cli import main
from libfed.root.migrate import _alembic_config, upgrade

OAI = "{http://www.openarchives.org/OAI/2.0/}"


def book(
    number: str,
    title: str,
    language: str = "aze",
    year: int = 1995,
    subjects: tuple[str, ...] = (),
    also: tuple[str, ...] = (),
) -> Record:
    """A MARC record: 008 with its year and language, 041 with `also`, 650s."""
    record = Record(force_utf8=True, leader="00000nam a2200000 i 4500")
    record.add_field(Field(tag="001", data=number))
    record.add_field(Field(tag="008", data=f"240501s{year}    aj            000 0 {language} d"))
    if also:
        record.add_field(
            Field(
                tag="041",
                indicators=["0", " "],
                subfields=[Subfield("a", c) for c in (language, *also)],
            )
        )
    record.add_field(Field(tag="245", indicators=["0", "0"], subfields=[Subfield("a", title)]))
    record.add_field(Field(tag="264", indicators=[" ", "1"], subfields=[Subfield("c", str(year))]))
    for subject in subjects:
        record.add_field(
            Field(tag="650", indicators=[" ", "4"], subfields=[Subfield("a", subject)])
        )
    return record


def imported(db: Database, tmp_path: Path, *records: Record, sets: dict | None = None) -> None:
    """`records` imported as `libfed import` imports a MARCXML file."""
    path = tmp_path / f"batch-{len(list(tmp_path.iterdir()))}.xml"
    writer = XMLWriter(path.open("wb"))
    for record in records:
        writer.write(record)
    writer.close()
    summary = import_files(db, REPOSITORY_ID, [path], sets=sets)
    assert not summary.rejected


def ident(number: str) -> str:
    return f"oai:{REPOSITORY_ID}:{number}"


def harvested(client, verb: str = "ListIdentifiers", **args: str) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Identifier -> setSpecs of every header /oai answers (one page is enough here)."""
    query = "&".join(f"{k}={v}" for k, v in {"metadataPrefix": "oai_dc", **args}.items())
    response = client.get(f"/oai?verb={verb}&{query}")
    assert response.status_code == 200
    root = etree.fromstring(response.data)
    if root.find(f"{OAI}error") is not None:
        assert root.find(f"{OAI}error").get("code") == "noRecordsMatch"
        return {}
    return {
        header.findtext(f"{OAI}identifier"): [s.text for s in header.iter(f"{OAI}setSpec")]
        for header in root.iter(f"{OAI}header")
    }


def stamp(clock: Clock) -> str:
    return clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def catalogue(db: Database, tmp_path: Path, clock: Clock) -> None:
    """Two Azerbaijani books, a Russian one that is Azerbaijani too (041), a Russian
    one, and a record harvested from `partner` as oai_dc in `az`."""
    imported(
        db,
        tmp_path,
        book("a1", "Kitabxanaçılıq", subjects=("Kitabxanaçılıq", "Tarix")),
        book("a2", "Şirvan", year=2005, subjects=("Coğrafiya",)),
        book("r1", "Библиотека", "rus", 1992, ("История",), also=("aze",)),
        book("r2", "Москва", "rus", 2008, ("География",)),
    )
    put(db, "h1", source="partner", title="Bakı", language="az", date="1999")


def test_a_language_rule_picks_exactly_the_records_in_that_language(
    db: Database, client, catalogue: None
) -> None:
    done = save_rule(db, "lang:aze", parse_rule(languages=["aze"]), "Azerbaijani")

    members = harvested(client, set="lang:aze")
    assert set(members) == {
        ident("a1"),
        ident("a2"),
        ident("r1"),
        f"oai:{REPOSITORY_ID}:partner:h1",
    }
    assert all({"lang", "lang:aze"} <= set(specs) for specs in members.values())
    assert (done.members, done.changed) == (4, 4)
    sets = etree.fromstring(client.get("/oai?verb=ListSets").data)
    names = {
        s.findtext(f"{OAI}setSpec"): s.findtext(f"{OAI}setName") for s in sets.iter(f"{OAI}set")
    }
    assert names["lang:aze"] == "Azerbaijani" and "lang" in names


def test_a_new_import_of_a_matching_record_joins_the_set(
    db: Database, client, catalogue: None, tmp_path: Path, clock: Clock
) -> None:
    save_rule(db, "lang:rus", parse_rule(languages=["rus"]))
    clock.advance(60)
    since = stamp(clock)

    imported(db, tmp_path, book("r3", "Пушкин", "rus", 2001), book("a3", "Gəncə"))

    assert list(harvested(client, set="lang:rus", **{"from": since})) == [ident("r3")]
    assert sorted(harvested(client, set="lang:rus")) == [ident("r1"), ident("r2"), ident("r3")]


def test_changing_the_rule_moves_records_out_and_in_and_harvesters_see_both(
    db: Database, client, catalogue: None, clock: Clock
) -> None:
    save_rule(db, "nineties", parse_rule(years="1990-1999"))
    assert set(harvested(client, set="nineties")) == {
        ident("a1"),
        ident("r1"),
        f"oai:{REPOSITORY_ID}:partner:h1",
    }
    clock.advance(60)
    since = stamp(clock)

    done = save_rule(db, "nineties", parse_rule(years="1995-2005"))

    assert (done.members, done.changed) == (3, 2)  # r1 out, a2 in
    assert sorted(harvested(client, set="nineties", **{"from": since})) == [ident("a2")]
    # The one that left is in an incremental harvest of everything, no longer in the set.
    changed = harvested(client, "ListRecords", **{"from": since})
    assert set(changed) == {ident("a2"), ident("r1")}  # a1 and h1 still members: no change
    assert "nineties" not in changed[ident("r1")]
    assert "nineties" in changed[ident("a2")]


def test_subject_words_match_as_search_does_and_fields_and_sources_combine(
    db: Database, catalogue: None
) -> None:
    # Typed without the region's letters, and in another script.
    assert preview(db, "s", parse_rule(subjects=["kitabxanaciliq"])) == 1
    assert preview(db, "s", parse_rule(subjects=["istoriya", "cografiya"])) == 2
    assert preview(db, "s", parse_rule(fields=["650a~tarix|история"])) == 2
    assert preview(db, "s", parse_rule(fields=["008/35-37=rus"])) == 2
    assert preview(db, "s", parse_rule(fields=["650~tarix"])) == 1  # any subfield
    assert preview(db, "s", parse_rule(fields=["245a^şir"])) == 1
    assert preview(db, "s", parse_rule(fields=["245a=şirvan"])) == 1
    assert preview(db, "s", parse_rule(sources=["partner"])) == 1
    assert preview(db, "s", parse_rule(sources=["local"], languages=["az"])) == 3
    # Every condition must hold.
    assert preview(db, "s", parse_rule(languages=["rus"], years="2000-")) == 1


def test_hand_assigned_members_give_way_to_a_rule_and_stay_when_it_is_removed(
    db: Database, client, tmp_path: Path, clock: Clock
) -> None:
    imported(db, tmp_path, book("a1", "Bir"), book("r1", "Два", "rus"), sets={"picked": None})
    imported(db, tmp_path, book("a2", "Üç"), sets={"other": None})
    save_rule(db, "picked", parse_rule(languages=["aze"]))
    assert sorted(harvested(client, set="picked")) == [ident("a1"), ident("a2")]
    assert sorted(harvested(client, set="other")) == [ident("a2")]  # no rule: as it was
    clock.advance(60)
    since = stamp(clock)

    done = remove_rule(db, "picked")

    assert done is not None and done.members == 2
    assert harvested(client, **{"from": since}) == {}  # nobody's sets changed
    imported(db, tmp_path, book("a3", "Dörd"))  # no rule any more: it does not join
    assert sorted(harvested(client, set="picked")) == [ident("a1"), ident("a2")]
    assert remove_rule(db, "picked") is None


def test_a_member_of_a_ruled_child_is_a_member_of_its_parent(
    db: Database, client, catalogue: None
) -> None:
    save_rule(db, "region:az", parse_rule(languages=["aze"]))
    save_rule(db, "region", parse_rule(languages=["xxx"]))

    assert len(harvested(client, set="region")) == 4
    # A count for the parent reckons with its ruled subset's members.
    assert preview(db, "region", parse_rule(sources=["local"], languages=["rus"])) == 5
    save_rule(db, "region:az", parse_rule(sources=["partner"]))
    assert list(harvested(client, set="region")) == [f"oai:{REPOSITORY_ID}:partner:h1"]


def test_a_deleted_record_keeps_its_last_memberships(
    db: Database, client, catalogue: None, clock: Clock
) -> None:
    save_rule(db, "lang:aze", parse_rule(languages=["aze"]))
    with db.write() as session:
        tombstone(session, ident("a1"))
    clock.advance(60)

    done = save_rule(db, "lang:aze", parse_rule(languages=["rus"]))

    assert done.members == 2  # r1, r2 live; a1's tombstone is not counted
    assert "lang:aze" in harvested(client)[ident("a1")]


def test_an_identical_import_changes_no_datestamp_when_sets_have_rules(
    db: Database, client, tmp_path: Path, clock: Clock
) -> None:
    records = (book("a1", "Bir"), book("r1", "Два", "rus"))
    imported(db, tmp_path, *records)
    save_rule(db, "lang:aze", parse_rule(languages=["aze"]))
    clock.advance(60)
    since = stamp(clock)

    imported(db, tmp_path, *records)

    assert harvested(client, **{"from": since}) == {}
    assert reevaluate(db).changed == 0


@pytest.mark.parametrize(
    ("typed", "field", "reason"),
    [
        ({"years": "2000-1990"}, "years", "the first must not be later"),
        ({"years": "nineties"}, "years", "is not a year range"),
        ({"fields": ["65a~x"]}, "fields", "is not a field condition"),
        ({"fields": ["245/01-02=x"]}, "fields", "positions are for control fields"),
        ({"fields": ["001a=x"]}, "fields", "has no subfields"),
        ({"fields": ["650a~"]}, "fields", "at least 1 item"),
        ({"languages": ["azerbaijani"]}, "languages", "is not a language code"),
        ({"sources": ["a b"]}, "sources", "is not a harvest source"),
        ({}, "rule", "at least one condition"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(typed: dict, field: str, reason: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_rule(**typed)
    assert reason in refused.value.fields[field]


def test_the_command_line_defines_shows_lists_and_removes_a_rule(
    db: Database, config: Config, catalogue: None, tmp_path: Path
) -> None:
    settings = write_config(tmp_path / "config.toml", config)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, ["--config", str(settings), "sets", *args])

    ruled = run("rule", "lang:aze", "--language", "aze", "--year", "1990-2000", "--name", "Az")
    assert ruled.exit_code == 0, ruled.output
    assert "3 records now in the set, 3 datestamps changed" in ruled.output
    shown = run("show", "lang:aze")
    assert "lang:aze: Az" in shown.output and "3 records" in shown.output
    assert "rule: --language aze --year 1990-2000" in shown.output
    assert "lang:aze\t3 records\tAz" in run("list").output
    assert (
        "2 records would be in the set"
        in run("rule", "x", "--field", "650a~tarix|история", "--preview").output
    )

    refused = run("rule", "lang:aze", "--year", "2000-1990")
    assert refused.exit_code == 1 and "the first must not be later" in refused.output
    refused = run("rule", "lang:aze", "--field", "650ab~x")
    assert refused.exit_code == 1 and "is not a field condition" in refused.output
    refused = run("rule", "source:partner", "--language", "aze")
    assert refused.exit_code == 1 and "the harvester decides its members" in refused.output

    removed = run("remove-rule", "lang:aze")
    assert removed.exit_code == 0 and "its 3 records stay in it" in removed.output
    assert "members assigned by hand" in run("show", "lang:aze").output
    assert run("remove-rule", "lang:aze").exit_code == 1


@pytest.fixture
def fresh(databases) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    url = databases.empty("fresh")
    database = Database(url)
    yield database
    database.dispose()
    databases.drop(url)


def _migrate(db: Database, revision: str, down: bool = False) -> None:
    config = _alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_0016_keeps_every_membership_as_hand_assigned_and_goes_back_down(
    fresh: Database,
) -> None:
    upgrade(fresh, "0015")
    with fresh.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO records (id, identifier, datestamp, deleted, content_hash, "
                "header_xml) VALUES (1, 'oai:x:1', '2024-05-01 10:00:00', false, 'h', '')"
            )
        )
        connection.execute(text("INSERT INTO sets (spec, name) VALUES ('old', 'Old')"))
        connection.execute(
            text(
                "INSERT INTO record_sets (set_spec, record_id, datestamp, identifier) "
                "VALUES ('old', 1, '2024-05-01 10:00:00', 'oai:x:1')"
            )
        )

    upgrade(fresh)
    with fresh.session() as session:
        assert session.execute(select(RecordSet.set_spec, RecordSet.by_rule)).all() == [
            ("old", False)
        ]
    save_rule(fresh, "lang:aze", parse_rule(languages=["aze"]))

    _migrate(fresh, "0015", down=True)
    with fresh.engine.connect() as connection:
        assert connection.execute(text("SELECT set_spec FROM record_sets")).all() == [("old",)]
        assert "set_rules" not in inspect(connection).get_table_names()
    _migrate(fresh, "head")
