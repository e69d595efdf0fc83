"""This library's holdings in its records (issue 17): a MARC file exported from Koha, with
its copies as 952 items, imported and served with them as MARC 21 852s naming this
library, in marc21, marcxml and MODS, all valid; a harvested record keeps its holder's
852s and gets none of ours; `libfed db rerender` brings records imported before up to
date; the record's page lists the copies."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from conftest import OAI_NS, REPOSITORY_ID, SITE, ApiCaller, Clock, config_dict, parse_valid
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree, html
from pymarc import Field, Leader, Subfield
from pymarc import Record as MarcRecord
from sqlalchemy import select

from libfed.harvest.aggregate import aggregated
from libfed.harvest.listing import HarvestedRecord
from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from libfed.records.formats import FORMATS, MARC21
from libfed.records.importer import import_files, render
from libfed.records.marc_checks import checked
from libfed.records.marcxml import record_to_marcxml
from libfed.records.models import Record, RecordFormat
from libfed.records.repository import store
from libfed.records.rerender import rerender
from libfed.records.site import Site
from libfed.records.stored_xml import metadata_of
from libfed.records.xml_schemas import schema_problem
from tests.records_helpers import put

ISIL = "AZ-BaNL"
MARC_NS = {"marc": MARC21.namespace}
MODS_NS = {"mods": "http://www.loc.gov/mods/v3"}
SETTINGS = parse_config({**config_dict("sqlite://"), "federation": {"isil": ISIL}})


def item(**subfields: str) -> Field:
    """A Koha item (952) with these subfields."""
    return Field(
        tag="952",
        indicators=[" ", " "],
        subfields=[Subfield(code, value) for code, value in subfields.items()],
    )


def koha_record(control: str, *items: Field) -> MarcRecord:
    record = MarcRecord(leader=Leader("00000nam a2200000 a 4500"))
    record.add_field(Field(tag="001", data=control))
    record.add_field(Field(tag="008", data=f"240101s2019    aj {' ' * 17}aze d"))
    record.add_field(
        Field(tag="100", indicators=["1", " "], subfields=[Subfield("a", "Vurğun, Səməd.")])
    )
    record.add_field(Field(tag="245", indicators=["1", "0"], subfields=[Subfield("a", "Vaqif /")]))
    for each in items:
        record.add_field(each)
    return record


KOHA = [
    koha_record(
        "koha-1",
        item(a="MAIN", b="MAIN", c="STACKS", o="891.79 V98", p="39000000123", t="1", y="BK"),
        item(a="BRANCH", b="MAIN", c="REF", o="891.79 V98", p="39000000124", t="2", **{"2": "ddc"}),
        item(a="MAIN", c="STACKS", o="891.79 V98", p="39000000125", t="3", **{"1": "1"}),  # lost
        item(a="MAIN", c="STACKS", o="891.79 V98", p="39000000126", t="4", **{"0": "0"}),
    ),
    koha_record("koha-2"),  # no copies at all
]


@pytest.fixture
def koha_file(tmp_path: Path) -> Path:
    path = tmp_path / "koha.mrc"
    path.write_bytes(b"".join(record.as_marc() for record in KOHA))
    return path


@pytest.fixture
def config(database_url: str) -> Config:
    """The tests' settings with this library's ISIL."""
    return parse_config({**config_dict(database_url), "federation": {"isil": ISIL}})


def get_record(client, identifier: str, prefix: str, schema: etree.XMLSchema) -> etree._Element:  # type: ignore[no-untyped-def]
    response = client.get(f"/oai?verb=GetRecord&metadataPrefix={prefix}&identifier={identifier}")
    return parse_valid(schema, response.data).find(".//oai:metadata/*", OAI_NS)


def locations(marc: etree._Element) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each 852 as (indicators, [(code, value)])."""
    return [
        (
            field.get("ind1") + field.get("ind2"),
            [(s.get("code"), s.text) for s in field.iterfind("marc:subfield", MARC_NS)],
        )
        for field in marc.iterfind("marc:datafield[@tag='852']", MARC_NS)
    ]


def test_koha_items_are_served_as_this_librarys_852_in_marc_and_mods(
    app: Flask,
    client,  # type: ignore[no-untyped-def]
    config: Config,
    db: Database,
    koha_file: Path,
    oai_schema: etree.XMLSchema,
) -> None:
    summary = import_files(db, REPOSITORY_ID, [koha_file], site=Site.of(config))
    assert (summary.added, summary.rejected) == (2, [])
    identifier = f"oai:{REPOSITORY_ID}:koha-1"

    def copy(branch: str, shelf: str, barcode: str, number: str) -> list[tuple[str, str]]:
        return [
            ("a", ISIL),
            ("b", branch),
            ("c", shelf),
            ("h", "891.79 V98"),
            ("p", barcode),
            ("t", number),
        ]

    expected = [
        ("  ", copy("MAIN", "STACKS", "39000000123", "1")),
        ("1 ", copy("BRANCH", "REF", "39000000124", "2")),  # Koha's source ddc: Dewey
        # The lost copy (952 $1) is no holding; $0 = 0 is a copy not withdrawn.
        ("  ", copy("MAIN", "STACKS", "39000000126", "4")),
    ]
    # Both prefixes, each record valid against MARC21slim (parse_valid checks the response).
    for prefix in ("marc21", "marcxml"):
        marc = get_record(client, identifier, prefix, oai_schema)
        assert locations(marc) == expected
        # Koha's 952 is replaced, not served beside: the copies are said once.
        assert marc.find("marc:datafield[@tag='952']", MARC_NS) is None
    bare = get_record(client, f"oai:{REPOSITORY_ID}:koha-2", "marc21", oai_schema)
    assert locations(bare) == []

    mods = get_record(client, identifier, "mods", oai_schema)
    held = [
        place
        for place in mods.iterfind("mods:location", MODS_NS)
        if place.find("mods:physicalLocation", MODS_NS) is not None
    ]
    assert [p.findtext("mods:physicalLocation", namespaces=MODS_NS) for p in held] == [ISIL] * 3
    assert [p.findtext("mods:shelfLocator", namespaces=MODS_NS) for p in held] == [
        "891.79 V98 1",
        "891.79 V98 2",
        "891.79 V98 4",
    ]
    first = held[0].find("mods:holdingSimple/mods:copyInformation", MODS_NS)
    assert [s.text for s in first.iterfind("mods:subLocation", MODS_NS)] == ["MAIN", "STACKS"]
    assert first.findtext("mods:itemIdentifier[@type='barcode']", namespaces=MODS_NS) == (
        "39000000123"
    )
    # Dublin Core has no element for a copy: nothing of the 852 goes there.
    dc = etree.tostring(get_record(client, identifier, "oai_dc", oai_schema), encoding="unicode")
    assert "STACKS" not in dc and "891.79" not in dc and ISIL not in dc


def test_without_an_isil_the_852_names_the_library(db: Database, koha_file: Path) -> None:
    import_files(db, REPOSITORY_ID, [koha_file], site=SITE)  # settings without an ISIL
    marc = stored_marc(db, f"oai:{REPOSITORY_ID}:koha-1")
    assert {dict(s)["a"] for _i, s in locations(marc)} == {"libfed test repository"}


def stored_marc(db: Database, identifier: str) -> etree._Element:
    with db.session() as session:
        body = session.scalar(
            select(RecordFormat.body_xml)
            .join(Record, Record.id == RecordFormat.record_id)
            .where(Record.identifier == identifier, RecordFormat.prefix == MARC21.prefix)
        )
    return etree.fromstring((metadata_of(body) or "").encode())


def harvested(control: str, *extra: Field) -> HarvestedRecord:
    record = koha_record(control, *extra)
    return HarvestedRecord(
        control, "2024-03-01", False, (), record_to_marcxml(record).encode(), MARC21.namespace
    )


def test_a_harvested_record_keeps_its_holders_852_and_gets_none_of_ours(
    db: Database, clock: Clock
) -> None:
    theirs = Field(
        tag="852",
        indicators=["8", " "],
        subfields=[Subfield("a", "UZ-TaNL"), Subfield("h", "84(5Uz)")],
    )
    entry = aggregated(
        harvested("nl-1", theirs, item(a="CENTRAL", o="84(5Uz)")),
        REPOSITORY_ID,
        "tashkent",
        "http://tashkent.example/oai",
        datetime(2024, 4, 1),
        SITE,
    ).entry
    with db.write() as session:
        store(session, [entry])
    expected = [("8 ", [("a", "UZ-TaNL"), ("h", "84(5Uz)")])]
    marc = stored_marc(db, entry.identifier)
    assert locations(marc) == expected
    # Its 952 is the partner's too: left as sent, not made into a holding of ours.
    assert marc.find("marc:datafield[@tag='952']", MARC_NS) is not None

    clock.advance(60)
    assert rerender(db, site=SITE).changed == 0  # and a rerender does not make it ours
    assert locations(stored_marc(db, entry.identifier)) == expected


def datestamps(db: Database) -> dict[str, datetime]:
    with db.session() as session:
        return dict(session.execute(select(Record.identifier, Record.datestamp)).all())


def test_rerender_gives_records_imported_before_their_852(
    db: Database, config: Config, koha_file: Path, clock: Clock
) -> None:
    # Stored as an earlier version stored it: the source record's 952 as it came.
    import_files(db, REPOSITORY_ID, [koha_file])
    identifier = f"oai:{REPOSITORY_ID}:koha-1"
    assert locations(stored_marc(db, identifier)) == []
    before = datestamps(db)
    clock.advance(60)

    done = rerender(db, site=Site.of(config))
    assert (done.read, done.changed) == (2, 2)  # both: each now names its page too
    marc = stored_marc(db, identifier)
    assert [dict(s)["p"] for _i, s in locations(marc)] == [
        "39000000123",
        "39000000124",
        "39000000126",
    ]
    assert marc.find("marc:datafield[@tag='952']", MARC_NS) is None
    after = datestamps(db)
    assert all(after[i] == clock.now and after[i] > before[i] for i in after)

    clock.advance(60)
    assert rerender(db, site=Site.of(config)).changed == 0  # once only


def test_the_record_page_lists_the_copies(
    app: Flask,
    client,  # type: ignore[no-untyped-def]
    config: Config,
    db: Database,
    koha_file: Path,
) -> None:
    import_files(db, REPOSITORY_ID, [koha_file], site=Site.of(config))
    response = client.get(f"/records/oai:{REPOSITORY_ID}:koha-1")
    assert response.status_code == 200
    page = html.fromstring(response.get_data(as_text=True))
    rows = [
        [" ".join(cell.text_content().split()) for cell in row.xpath("./td")]
        for row in page.xpath("//table[@aria-labelledby='copies']/tbody/tr")
    ]
    assert rows == [
        [f"{ISIL}, MAIN, STACKS", "891.79 V98", "1"],
        [f"{ISIL}, BRANCH, REF", "891.79 V98", "2"],
        [f"{ISIL}, MAIN, STACKS", "891.79 V98", "4"],
    ]
    assert page.xpath("//h2[@id='copies']")[0].text == "Copies and call numbers"
    bare = client.get(f"/records/oai:{REPOSITORY_ID}:koha-2").get_data(as_text=True)
    assert 'id="copies"' not in bare


def test_a_book_accessioned_from_a_partners_record_does_not_take_their_copies(
    api: ApiCaller,
    client,  # type: ignore[no-untyped-def]
    db: Database,
    harvested_partner: int,
    oai_schema: etree.XMLSchema,
) -> None:
    theirs = koha_record(
        "tk-9",
        Field(tag="852", indicators=["8", " "], subfields=[Subfield("a", "UZ-TaNL")]),
        item(a="CENTRAL", o="84(5Uz)", p="55501"),
    )
    harvested = put(db, "tk-9", source="tashkent", marc=record_to_marcxml(theirs), title="Vaqif")
    shipment = api.create(
        "/shipments/from-records",
        {"partner_id": harvested_partner, "direction": "incoming", "identifiers": [harvested]},
    )
    assert api.move(shipment["id"], "received").status_code == 200
    done = api.post(f"/shipments/{shipment['id']}/accession")
    assert done.status_code == 200, done.get_json()
    (made,) = done.get_json()["records"]

    marc = get_record(client, made["identifier"], "marc21", oai_schema)
    assert marc.find("marc:datafield[@tag='245']", MARC_NS) is not None  # their description
    # but not their copies: the partner's 852 and Koha items describe the partner's shelves.
    assert locations(marc) == []
    assert marc.find("marc:datafield[@tag='952']", MARC_NS) is None
    dc = get_record(client, made["identifier"], "oai_dc", oai_schema)
    first = dc.findtext("{http://purl.org/dc/elements/1.1/}identifier")
    assert first == SITE.landing_url(made["identifier"])


# Subfield values as a hostile or careless export may hold them (no characters XML
# cannot carry: `checked` has removed those before holdings are read).
VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cn")), max_size=12)
SUBFIELDS = st.lists(st.tuples(st.sampled_from("abchjkmoptxyz012"), VALUE), min_size=1, max_size=8)


@settings(max_examples=60)
@given(
    items=st.lists(SUBFIELDS, max_size=4),
    given_852=st.lists(st.tuples(st.sampled_from(" 0178"), SUBFIELDS), max_size=3),
)
def test_any_copies_render_valid_in_every_format(
    items: list[list[tuple[str, str]]], given_852: list[tuple[str, list[tuple[str, str]]]]
) -> None:
    record = koha_record("any")
    for subfields in items:
        record.add_field(item(**dict(subfields)))
    for scheme, subfields in given_852:
        record.add_field(
            Field(
                tag="852",
                indicators=[scheme, " "],
                subfields=[Subfield(code, value) for code, value in subfields],
            )
        )
    entry = render(checked(record, str(record.leader)), REPOSITORY_ID, (), Site.of(SETTINGS))
    for prefix, xml in entry.formats.items():
        assert schema_problem(FORMATS[prefix], etree.fromstring(xml)) is None, xml
    marc = etree.fromstring(entry.formats[MARC21.prefix])
    assert marc.find("marc:datafield[@tag='952']", MARC_NS) is None
    assert {dict(s).get("a") for _i, s in locations(marc)} <= {ISIL}
