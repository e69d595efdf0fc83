"""Full harvests over real HTTP by two independent clients, Sickle and pyoai's `oaipmh`.

A harvester trusts the provider's paging: every record must come exactly once,
also when the catalogue changes while the harvest runs, and the changes must
reach the harvester in its next incremental run.
"""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import REPOSITORY_ID, Clock, load
from oaipmh.client import Client
from oaipmh.metadata import MetadataRegistry, oai_dc_reader
from pymarc import Field, Subfield
from pymarc import Record as MarcRecord
from sickle import Sickle
from sqlalchemy import select

from libfed.kernel.db import Database
from libfed.records.importer import render
from libfed.records.models import Record
from libfed.records.repository import store, tombstone


@pytest.fixture
def catalogue(db: Database, clock: Clock) -> set[str]:
    summary = load(
        db,
        "marcxml/marc2bibframe2_gwu.xml",
        "marcxml/marc2bibframe2_princeton.xml",
        sets={"lc": "Library of Congress test data"},
    )
    # 198 records, two of which repeat an earlier one exactly (001 4609321, 4609990).
    assert (summary.added, summary.unchanged, summary.rejected) == (196, 2, [])
    clock.advance(5)
    with db.session() as session:
        return set(session.scalars(select(Record.identifier)))


def test_sickle_harvests_every_record_exactly_once(live_server: str, catalogue: set[str]) -> None:
    sickle = Sickle(live_server, max_retries=0, timeout=10)
    seen = Counter(r.header.identifier for r in sickle.ListRecords(metadataPrefix="oai_dc"))
    assert set(seen) == catalogue
    assert max(seen.values()) == 1
    marc = Counter(h.identifier for h in sickle.ListIdentifiers(metadataPrefix="marc21", set="lc"))
    assert set(marc) == catalogue and max(marc.values()) == 1


def test_oaipmh_client_harvests_every_record_exactly_once(
    live_server: str, catalogue: set[str]
) -> None:
    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)
    client = Client(live_server, registry, force_http_get=True)
    assert client.identify().repositoryName() == "libfed test repository"
    records = list(client.listRecords(metadataPrefix="oai_dc"))
    identifiers = Counter(header.identifier() for header, _metadata, _about in records)
    assert set(identifiers) == catalogue and max(identifiers.values()) == 1
    titles = [m.getField("title") for _h, m, _a in records if m is not None]
    assert all(titles) and len(titles) == len(catalogue)


def _change(db: Database, identifiers: list[str]) -> None:
    """Replace records with new content under the same identifiers (001)."""
    changed = []
    for identifier in identifiers:
        record = MarcRecord(leader="00000nam a2200000 i 4500")
        record.add_field(Field(tag="001", data=identifier.rsplit(":", 1)[1]))
        record.add_field(
            Field(
                tag="245", indicators=["0", "0"], subfields=[Subfield("a", "Changed mid-harvest")]
            )
        )
        changed.append(render(record, REPOSITORY_ID, ()))
    with db.write() as session:
        store(session, changed)


def test_changes_during_a_harvest_neither_skip_nor_repeat_unchanged_records(
    db: Database, live_server: str, catalogue: set[str], clock: Clock
) -> None:
    ordered = sorted(catalogue)
    sickle = Sickle(live_server, max_retries=0, timeout=10)
    harvest = sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False)
    seen: Counter[str] = Counter()
    for _ in range(35):  # three and a half pages of ten
        seen[next(harvest).header.identifier] += 1
    first_response = clock.now

    clock.advance(10)
    already = sorted(seen)
    pending = [i for i in ordered if i not in seen]
    changed = [already[0], pending[0], pending[-1]]
    deleted = [already[1], pending[1]]
    _change(db, changed)
    with db.write() as session:
        for identifier in deleted:
            assert tombstone(session, identifier)

    for record in harvest:
        seen[record.header.identifier] += 1
    touched = set(changed) | set(deleted)
    assert max(seen.values()) == 1, "a record was sent twice in one harvest"
    assert catalogue - touched <= set(seen), "an unchanged record was skipped"

    # The next incremental harvest, from the first harvest's responseDate, brings every change.
    clock.advance(10)
    incremental = sickle.ListRecords(
        metadataPrefix="oai_dc",
        ignore_deleted=False,
        **{"from": first_response.strftime("%Y-%m-%dT%H:%M:%SZ")},
    )
    updates = {r.header.identifier: r for r in incremental}
    assert set(updates) == touched
    assert {i for i, r in updates.items() if r.header.deleted} == set(deleted)
    assert all("Changed mid-harvest" in updates[i].raw for i in changed)
