"""The format registry: every format valid for every record, local and harvested; a format
added in one module and one registry line is served by import, harvest, the provider and
`libfed db rerender`; and rerender stores again exactly what it renders differently."""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from click.testing import Result
from conftest import OAI_NS, REPOSITORY_ID, ROOT, SITE, Clock, load, parse_valid
from lxml import etree
from pymarc import Record as MarcRecord
from sqlalchemy import select

from libfed.harvest.aggregate import aggregated
from libfed.harvest.listing import HarvestedRecord
from libfed.harvest.models import Source
from libfed.harvest.run import harvest
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.crosswalk import render_oai_dc
from libfed.records.formats import FORMATS, MARC21, OAI_DC, MetadataFormat, rendered_formats
from libfed.records.marc_checks import checked
from libfed.records.marc_reader import read_marc
from libfed.records.marcxml import record_to_marcxml
from libfed.records.models import Record, RecordFormat
from libfed.records.repository import NewRecord, store
from libfed.records.rerender import rerender
from libfed.records.rewriting import stored_batches, unchanged_since_read
from libfed.records.stored_xml import metadata_of
from libfed.records.xml_schemas import schema_problem
from libfed.root.app import create_app

FIXTURES = ROOT / "tests" / "fixtures"
LOCAL_FILES = (
    "marcxml/marc2bibframe2_gwu.xml",
    "marcxml/marc2bibframe2_princeton.xml",
    "marcxml/pymarc_batch.xml",
    "marc/pymarc_marc8.mrc",
)
PROVENANCE = "{http://www.openarchives.org/OAI/2.0/provenance}"
HARVESTED = datetime(2024, 4, 1, 8, 0, 0)
BASE_URL = "http://partner.example.org/oai"
DC_ONLY = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Only Dublin Core</dc:title>'
    "</oai_dc:dc>"
)


def example_format() -> MetadataFormat:
    """The format docs/formats.md adds, run from the page itself: the page stays true."""
    page = (ROOT / "docs" / "formats.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.DOTALL)
    assert code is not None, "docs/formats.md has lost its example module"
    module = types.ModuleType("mods_title")
    exec(compile(code.group(1), "docs/formats.md", "exec"), module.__dict__)
    return module.FORMAT


EXAMPLE = example_format()


@pytest.fixture
def with_example(monkeypatch: pytest.MonkeyPatch) -> MetadataFormat:
    """The example registered, as its one registry line would register it."""
    monkeypatch.setitem(FORMATS, EXAMPLE.prefix, EXAMPLE)
    return EXAMPLE


@pytest.fixture(params=["as shipped", "with the example"])
def registry(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The registry as shipped, and with docs/formats.md's example in it: the prefixes
    stored (an alias such as marcxml is served from its format's)."""
    if request.param == "with the example":
        monkeypatch.setitem(FORMATS, EXAMPLE.prefix, EXAMPLE)
    return {entry.prefix for entry in rendered_formats()}


def stored_formats(db: Database) -> dict[str, dict[str, bytes]]:
    """identifier -> prefix -> the whole stored body (metadata and about)."""
    found: dict[str, dict[str, bytes]] = {}
    with db.session() as session:
        for identifier, prefix, body in session.execute(
            select(Record.identifier, RecordFormat.prefix, RecordFormat.body_xml).join(
                RecordFormat, RecordFormat.record_id == Record.id
            )
        ):
            found.setdefault(identifier, {})[prefix] = body
    return found


def datestamps(db: Database) -> dict[str, datetime]:
    with db.session() as session:
        return dict(session.execute(select(Record.identifier, Record.datestamp)).all())


def problems(formats: dict[str, str]) -> list[str]:
    """Why each format's metadata is not valid against its registered schema."""
    return [
        f"{prefix}: {problem}"
        for prefix, xml in formats.items()
        if (problem := schema_problem(FORMATS[prefix], etree.fromstring(xml.encode())))
    ]


def marc_records(*names: str) -> Iterator[MarcRecord]:
    """The fixtures' records as import would store them."""
    for name in names:
        for entry in read_marc(FIXTURES / name):
            if entry.record is not None:
                yield checked(entry.record, entry.raw_leader)


def harvested_marc(record: MarcRecord, identifier: str) -> HarvestedRecord:
    return HarvestedRecord(
        identifier, "2024-03-01", False, (), record_to_marcxml(record).encode(), MARC21.namespace
    )


def harvested_dc(identifier: str) -> HarvestedRecord:
    return HarvestedRecord(identifier, "2024-03-01", False, (), DC_ONLY.encode(), OAI_DC.namespace)


def store_harvested(db: Database, *records: HarvestedRecord) -> list[NewRecord]:
    entries = [
        aggregated(record, REPOSITORY_ID, "p", BASE_URL, HARVESTED, SITE).entry
        for record in records
    ]
    with db.write() as session:
        store(session, entries)
    return entries


# --- every format valid for every record ------------------------------------------------


def test_every_registered_format_is_valid_for_every_local_record(
    db: Database, registry: set[str]
) -> None:
    for name in LOCAL_FILES:
        assert not load(db, name).rejected
    stored = stored_formats(db)
    assert len(stored) == 99 + 97 + 2 + 1
    invalid = []
    for identifier, bodies in stored.items():
        assert set(bodies) == registry, identifier
        metadata = {prefix: metadata_of(body) or "" for prefix, body in bodies.items()}
        invalid += [f"{identifier} {problem}" for problem in problems(metadata)]
    assert invalid == []


def test_every_registered_format_is_valid_for_every_harvested_record(registry: set[str]) -> None:
    """A record harvested as MARCXML is served in every format, each valid, its provenance
    saying that only the MARC is as received; one harvested as oai_dc in oai_dc alone."""
    invalid = []
    for n, record in enumerate(marc_records(*LOCAL_FILES)):
        entry = aggregated(harvested_marc(record, f"r{n}"), REPOSITORY_ID, "p", BASE_URL, HARVESTED)
        formats = {prefix: xml.decode() for prefix, xml in entry.entry.formats.items()}
        assert set(formats) == registry
        invalid += [f"r{n} {problem}" for problem in problems(formats)]
        for prefix, about in entry.entry.about.items():
            altered = etree.fromstring(about).find(f".//{PROVENANCE}originDescription")
            assert altered.get("altered") == ("false" if prefix == MARC21.prefix else "true")
    assert invalid == []
    dc = aggregated(harvested_dc("dc"), REPOSITORY_ID, "p", BASE_URL, HARVESTED)
    assert set(dc.entry.formats) == {OAI_DC.prefix}


# --- a format added in one module and one registry line ---------------------------------


def test_a_registered_format_is_imported_listed_served_and_harvested(
    db: Database,
    client,  # type: ignore[no-untyped-def]
    oai_schema: etree.XMLSchema,
    with_example: MetadataFormat,
    live_server: str,
    aggregator: tuple[Config, Database],
) -> None:
    load(db, "marcxml/pymarc_batch.xml")
    formats = parse_valid(oai_schema, client.get("/oai?verb=ListMetadataFormats").data)
    listed = {
        f.findtext("oai:metadataPrefix", namespaces=OAI_NS): (
            f.findtext("oai:schema", namespaces=OAI_NS),
            f.findtext("oai:metadataNamespace", namespaces=OAI_NS),
        )
        for f in formats.iterfind(".//oai:metadataFormat", OAI_NS)
    }
    assert listed["mods_title"] == (with_example.schema, with_example.namespace)
    assert list(listed) == list(FORMATS)
    records = parse_valid(
        oai_schema, client.get("/oai?verb=ListRecords&metadataPrefix=mods_title").data
    )
    titles = [t.text for t in records.iter(f"{{{with_example.namespace}}}title")]
    assert len(titles) == 2 and all(titles)

    config, aggregator_db = aggregator
    with aggregator_db.write() as session:
        session.add(
            Source(name="az-nl", base_url=live_server, prefix="marc21", sets=[], enabled=True)
        )
    assert harvest(aggregator_db, config, "az-nl").status == "succeeded"
    served = create_app(config, aggregator_db).test_client()
    again = parse_valid(
        oai_schema, served.get("/oai?verb=ListRecords&metadataPrefix=mods_title").data
    )
    assert sorted(t.text for t in again.iter(f"{{{with_example.namespace}}}title")) == sorted(
        titles
    )


def test_rerender_gives_the_records_already_stored_a_new_format(
    db: Database,
    client,  # type: ignore[no-untyped-def]
    oai_schema: etree.XMLSchema,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load(db, "marcxml/pymarc_batch.xml")
    harvested = store_harvested(
        db,
        *(harvested_marc(r, f"m{n}") for n, r in enumerate(marc_records("marc/pymarc_marc8.mrc"))),
    )
    dc_only = store_harvested(db, harvested_dc("dc"))[0].identifier
    before = datestamps(db)
    assert client.get("/oai?verb=ListMetadataFormats").data.count(b"mods_title") == 0
    clock.advance(60)

    monkeypatch.setitem(FORMATS, EXAMPLE.prefix, EXAMPLE)
    done = rerender(db, site=SITE)
    assert (done.read, done.changed, done.refused) == (3, 3, [])
    after = datestamps(db)
    assert {i for i in after if after[i] != before[i]} == set(before) - {dc_only}
    stored = stored_formats(db)
    assert EXAMPLE.prefix not in stored[dc_only]
    # The harvested record's new format says, as its other derived formats do, that it
    # is not the one received.
    new_about = stored[harvested[0].identifier][EXAMPLE.prefix]
    assert new_about.endswith(
        stored[harvested[0].identifier][OAI_DC.prefix].partition(b"</metadata>")[2]
    )
    assert b'altered="true"' in new_about

    # An incremental harvest from the moment of the change sees them, in the new format.
    since = f"{clock.now:%Y-%m-%dT%H:%M:%SZ}"
    page = parse_valid(
        oai_schema,
        client.get(f"/oai?verb=ListRecords&metadataPrefix=mods_title&from={since}").data,
    )
    listed = {h.text for h in page.iterfind(".//oai:header/oai:identifier", OAI_NS)}
    assert listed == set(before) - {dc_only}


# --- rerender: only what changed, and only once -----------------------------------------


def changed_crosswalk(changed: Callable[[str], bool]) -> MetadataFormat:
    """oai_dc with a description added to the records whose title `changed` picks."""

    def render(record: MarcRecord, landing_url: str | None) -> str:
        xml = render_oai_dc(record, landing_url)
        if not changed(record.title or ""):
            return xml
        return xml.replace("</oai_dc:dc>", "<dc:description>Revised</dc:description></oai_dc:dc>")

    return replace(OAI_DC, render=render)


@pytest.fixture
def imported(db: Database, clock: Clock) -> dict[str, datetime]:
    load(db, "marcxml/marc2bibframe2_gwu.xml")
    clock.advance(60)
    return datestamps(db)


def test_rerender_of_records_rendered_today_changes_nothing(
    db: Database, imported: dict[str, datetime]
) -> None:
    stored = stored_formats(db)
    done = rerender(db, site=SITE)
    assert (done.read, done.changed, done.refused) == (99, 0, [])
    assert datestamps(db) == imported and stored_formats(db) == stored


def test_rerender_after_a_renderer_change_stores_again_only_what_it_changes(
    db: Database,
    imported: dict[str, datetime],
    client,  # type: ignore[no-untyped-def]
    oai_schema: etree.XMLSchema,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    picked = lambda title: title.startswith("A")  # noqa: E731
    monkeypatch.setitem(FORMATS, OAI_DC.prefix, changed_crosswalk(picked))
    marc_before = {i: b[MARC21.prefix] for i, b in stored_formats(db).items()}
    read: list[int] = []
    done = rerender(db, progress=read.append, site=SITE)
    assert sum(read) == done.read == 99 and done.refused == []

    now = datestamps(db)
    rewritten = {i for i in now if now[i] != imported[i]}
    assert rewritten and len(rewritten) == done.changed < 99
    assert all(now[i] == clock.now for i in rewritten)
    stored = stored_formats(db)
    for identifier, bodies in stored.items():
        revised = b"<dc:description>Revised</dc:description>" in bodies[OAI_DC.prefix]
        assert revised == (identifier in rewritten)
        assert bodies[MARC21.prefix] == marc_before[identifier]
    # An incremental harvest from the moment of the change returns exactly them.
    listed = set()
    url = f"/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&from={clock.now:%Y-%m-%dT%H:%M:%SZ}"
    while url:
        page = parse_valid(oai_schema, client.get(url).data)
        listed |= {h.text for h in page.iterfind(".//oai:header/oai:identifier", OAI_NS)}
        token = page.findtext(".//oai:resumptionToken", namespaces=OAI_NS)
        url = f"/oai?verb=ListIdentifiers&resumptionToken={token}" if token else ""
    assert listed == rewritten

    # Idempotent: the same renderers again change nothing.
    clock.advance(60)
    again = rerender(db, site=SITE)
    assert (again.read, again.changed) == (99, 0)
    assert datestamps(db) == now and stored_formats(db) == stored


def test_rerender_of_one_format_leaves_the_others_as_stored(
    db: Database, imported: dict[str, datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(FORMATS, OAI_DC.prefix, changed_crosswalk(lambda _title: True))
    monkeypatch.setitem(FORMATS, EXAMPLE.prefix, EXAMPLE)
    before = stored_formats(db)

    done = rerender(db, [EXAMPLE], site=SITE)
    assert (done.read, done.changed) == (99, 99)
    stored = stored_formats(db)
    assert all(set(bodies) == {f.prefix for f in rendered_formats()} for bodies in stored.values())
    assert all(stored[i][OAI_DC.prefix] == before[i][OAI_DC.prefix] for i in stored)

    assert rerender(db, [FORMATS[OAI_DC.prefix]], site=SITE).changed == 99
    assert all(b"Revised" in bodies[OAI_DC.prefix] for bodies in stored_formats(db).values())


def test_a_record_written_after_rerender_read_it_is_left_to_that_write(
    db: Database, imported: dict[str, datetime], clock: Clock
) -> None:
    batch = next(stored_batches(db, 10))
    load(db, "marcxml/marc2bibframe2_gwu.xml", sets={"later": None})  # every record written
    with db.write() as session:
        assert unchanged_since_read(session, batch) == set()
    fresh = next(stored_batches(db, 10))
    with db.write() as session:
        assert unchanged_since_read(session, fresh) == {r.id for r in batch}


# --- the command ------------------------------------------------------------------------


def test_the_command_renders_every_format_or_the_one_named(
    db_command: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = db_command("rerender")
    assert result.exit_code == 0, result.output
    assert "2 records with MARC read, 0 stored again, 0 left as they are" in result.output

    monkeypatch.setitem(FORMATS, EXAMPLE.prefix, EXAMPLE)
    result = db_command("rerender", "--format", "mods_title")
    assert result.exit_code == 0, result.output
    assert "2 records with MARC read, 2 stored again" in result.output


def test_the_command_refuses_an_unknown_format(db_command: Callable[..., Result]) -> None:
    result = db_command("rerender", "--format", "dcterms")
    assert result.exit_code == 2
    assert (
        "no format 'dcterms' here; the registered ones: oai_dc, marc21, marcxml, mods"
        in result.output
    )


def test_the_command_names_the_records_whose_marc_is_refused_and_leaves_them(
    db_command: Callable[..., Result], db: Database
) -> None:
    broken = "<record xmlns='http://www.loc.gov/MARC21/slim'><leader>short</leader></record>"
    with db.write() as session:
        store(session, [NewRecord.of(f"oai:{REPOSITORY_ID}:broken", {MARC21.prefix: broken})])
    before = datestamps(db)
    result = db_command("rerender")
    assert result.exit_code == 0, result.output
    assert "3 records with MARC read, 0 stored again, 1 left as they are" in result.output
    assert f"left as it is oai:{REPOSITORY_ID}:broken: leader is 5 characters long" in result.output
    assert datestamps(db) == before
