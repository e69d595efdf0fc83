"""Harvest runs against this project's own /oai, served by a first instance over loopback.

The second instance (the aggregator) has its own database and repository identifier;
both share the fake clock, so that datestamps and responseDates move when told to.
"""

from __future__ import annotations

import gzip
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import AGGREGATOR, FIXTURES, Clock, load, parse_valid
from faulty_provider import Reply, faulty_provider
from lxml import etree
from sqlalchemy import select
from test_harvest_listing import page, record
from werkzeug.serving import make_server

from libfed.harvest.listing import Limits
from libfed.harvest.models import QuarantinedRecord, Source, SourceState
from libfed.harvest.run import harvest, harvest_concurrently
from libfed.harvest.transport import HTTPTransport
from libfed.kernel.db import Database
from libfed.records.models import Record
from libfed.records.repository import stored_metadata, tombstone
from libfed.root.app import create_app


def add_source(
    db: Database, url: str, prefix: str = "oai_dc", sets: list[str] | None = None
) -> None:
    with db.write() as session:
        session.add(
            Source(name="az-nl", base_url=url, prefix=prefix, sets=sets or [], enabled=True)
        )


def harvested(db: Database) -> dict[str, bool]:
    with db.session() as session:
        return dict(session.execute(select(Record.identifier, Record.deleted)).all())


def origin(identifier: str) -> str:
    return identifier.removeprefix(f"oai:{AGGREGATOR}:az-nl:")


@pytest.fixture
def source_records(db: Database, clock: Clock) -> set[str]:
    load(db, "marcxml/marc2bibframe2_gwu.xml", sets={"lc": "LC"})
    clock.advance(10)
    with db.session() as session:
        return set(session.scalars(select(Record.identifier)))


def test_a_second_instance_harvests_this_server_completely_with_provenance(
    live_server: str,
    source_records: set[str],
    aggregator,
    oai_schema,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    config, db = aggregator
    add_source(db, live_server, prefix="marc21")
    run = harvest(db, config, "az-nl")
    assert run.status == "succeeded", run.errors
    assert (run.added, run.updated, run.deleted, run.quarantined) == (99, 0, 0, 0)
    assert run.pages == 10 and run.requests == 11  # Identify + ten pages of ten
    got = harvested(db)
    assert {origin(i) for i in got} == source_records and not any(got.values())

    # Served again: marc21 as received, oai_dc derived, each with its provenance.
    any_id = next(iter(got))
    client = create_app(config, db).test_client()
    for prefix, altered in (("marc21", "false"), ("oai_dc", "true")):
        body = client.get(f"/oai?verb=GetRecord&metadataPrefix={prefix}&identifier={any_id}").data
        root = parse_valid(oai_schema, body)
        description = root.find(".//{*}provenance/{*}originDescription")
        assert description.get("altered") == altered
        assert description.findtext("{*}identifier") == origin(any_id)
        assert description.findtext("{*}baseURL") == live_server
    sets = client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&set=source:az-nl").data
    assert len(etree.fromstring(sets).findall(".//{*}header")) == 10  # one page of ten

    with db.session() as session:
        state = session.scalars(select(SourceState)).one()
    assert state.watermark and state.checkpoint_token is None and state.granularity

    # The aggregator names the repositories it harvests in Identify (friends).
    identify = parse_valid(oai_schema, client.get("/oai?verb=Identify").data)
    assert [u.text for u in identify.findall(".//{*}friends/{*}baseURL")] == [live_server]


def test_incremental_run_brings_changes_and_deletions_only(
    live_server: str,
    db: Database,
    source_records: set[str],
    aggregator,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    config, agg = aggregator
    add_source(agg, live_server)
    assert harvest(agg, config, "az-nl").status == "succeeded"
    clock.advance(60)
    gone = sorted(source_records)[:3]
    with db.write() as session:
        for identifier in gone:
            tombstone(session, identifier)
    load(db, "marcxml/pymarc_batch.xml")  # two new records
    clock.advance(60)

    run = harvest(agg, config, "az-nl")
    assert run.status == "succeeded", run.errors
    assert (run.added, run.updated, run.deleted) == (2, 0, 3)
    assert run.pages == 1  # only what changed since the watermark
    got = harvested(agg)
    assert {origin(i) for i, deleted in got.items() if deleted} == set(gone)
    assert len(got) == 99 + 2
    with agg.session() as session:
        assert stored_metadata(session, f"oai:{AGGREGATOR}:az-nl:{gone[0]}") == {"oai_dc": None}


def test_an_interrupted_run_resumes_from_its_checkpoint(
    live_server: str,
    source_records: set[str],
    aggregator,  # type: ignore[no-untyped-def]
) -> None:
    config, db = aggregator
    add_source(db, live_server)
    first = harvest(db, config, "az-nl", limits=Limits(max_requests=4))
    assert first.status == "partial" and first.pages == 4
    assert "more than 4 requests" in first.errors[0]["message"]
    with db.session() as session:
        state = session.scalars(select(SourceState)).one()
    assert state.checkpoint_token and state.watermark is None
    assert len(harvested(db)) == 40

    second = harvest(db, config, "az-nl")
    assert second.status == "succeeded", second.errors
    assert (second.pages, second.added) == (6, 59)  # from the checkpoint, not from zero
    assert {origin(i) for i in harvested(db)} == source_records


def test_a_refused_token_restarts_from_the_latest_datestamp_stored(
    live_server: str,
    source_records: set[str],
    aggregator,  # type: ignore[no-untyped-def]
) -> None:
    config, db = aggregator
    add_source(db, live_server)
    assert harvest(db, config, "az-nl", limits=Limits(max_requests=3)).status == "partial"
    with db.write() as session:
        session.scalars(select(SourceState)).one().checkpoint_token = "expired-or-forged"
    run = harvest(db, config, "az-nl")
    assert run.status == "succeeded", run.errors
    assert {origin(i) for i in harvested(db)} == source_records


def test_a_parked_source_is_not_harvested_before_its_time(
    live_server: str,
    source_records: set[str],
    aggregator,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    config, db = aggregator
    add_source(db, live_server)
    with db.write() as session:
        session.scalars(select(Source)).one().parked_until = clock.now + timedelta(hours=2)
    run = harvest(db, config, "az-nl")
    assert run.status == "parked" and run.requests == 0 and harvested(db) == {}
    clock.advance(3 * 3600)
    assert harvest(db, config, "az-nl").status == "succeeded"


def test_records_that_cannot_be_served_again_are_quarantined_the_rest_kept(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    identify = (FIXTURES / "oai-pmh" / "sickle_Identify.xml").read_bytes()
    foreign = (
        "<record><header><identifier>oai:x:2</identifier><datestamp>2026-11-20</datestamp>"
        '</header><metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>1</id></arXiv>'
        "</metadata></record>"
    )
    nameless = "<record><header><datestamp>2026-11-20</datestamp></header></record>"
    body = page(record("oai:x:1"), foreign, nameless, token="")
    with faulty_provider([Reply(body=identify), Reply(body=body)]) as provider:
        add_source(db, provider.url)
        run = harvest(db, config, "az-nl")
    assert run.status == "succeeded", run.errors
    assert (run.added, run.quarantined) == (1, 2)
    assert [origin(i) for i in harvested(db)] == ["oai:x:1"]
    with db.session() as session:
        kept = session.scalars(select(QuarantinedRecord).order_by(QuarantinedRecord.id)).all()
    assert [q.reason for q in kept] == [
        "header without an identifier",
        "oai:x:2: no oai_dc can be derived from http://arxiv.org/OAI/arXiv/",
    ]
    assert b"<id>1</id>" in kept[1].raw and all(q.url.startswith(provider.url) for q in kept)


def test_a_harvest_survives_a_provider_that_does_everything_wrong(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    config = config.model_copy(
        update={
            "harvest": config.harvest.model_copy(update={"max_retries": 4, "timeout_seconds": 1})
        }
    )
    identify = (FIXTURES / "oai-pmh" / "sickle_Identify.xml").read_bytes()
    first = page(record("oai:x:1"), record("oai:x:2", title="Koroğlu"), token="t1")
    # An invalid UTF-8 byte and a control character in the title.
    first = first.replace("Koroğlu".encode(), b"Koro\xff\xc4\x9flu\x0b")
    stripped = (
        b"<OAI-PMH><responseDate>2026-11-23T12:00:01Z</responseDate><request>x</request>"
        b"<ListRecords><record><header><identifier>oai:x:3</identifier><datestamp>2026-11-21"
        b"</datestamp></header><metadata><dc><title>Stripped</title></dc></metadata></record>"
        b'<record><header status="deleted"><identifier>oai:x:1</identifier><datestamp>2026-11-21'
        b"</datestamp></header></record>"
        b"<record><header><datestamp>2026-11-21</datestamp></header></record>"
        b"<resumptionToken>t2</resumptionToken></ListRecords></OAI-PMH>"
    )
    last = page(record("oai:x:4", title="Son"), token="")
    html = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>"
    script = [
        Reply(body=identify),
        Reply(503, b"busy", {"Retry-After": "1"}),
        Reply(body=gzip.compress(first)),  # compressed without saying so
        Reply(body=html),  # status 200
        Reply(body=stripped, cut_to=50),  # body cut short
        Reply(body=stripped, headers={"Content-Type": "text/xml; charset=ISO-8859-1"}),
        Reply(500),
        Reply(429, b"", {"Retry-After": "2"}),
        Reply(body=last, stall=2),  # no answer within the 1 s timeout
        Reply(body=last),
    ]
    waits: list[float] = []
    with faulty_provider(script) as provider:
        add_source(db, provider.url)
        transport = HTTPTransport(config.harvest, sleep=waits.append)
        run = harvest(db, config, "az-nl", transport=transport)
    assert run.status == "succeeded", run.errors
    got = harvested(db)
    assert {origin(i): deleted for i, deleted in got.items()} == {
        "oai:x:1": True,
        "oai:x:2": False,
        "oai:x:3": False,
        "oai:x:4": False,
    }
    assert (run.pages, run.added, run.deleted, run.quarantined) == (3, 4, 1, 1)
    assert run.requests == len(script)
    with db.session() as session:
        titles = {
            origin(i): stored_metadata(session, i)["oai_dc"]
            for i, deleted in got.items()
            if not deleted
        }
    assert "<dc:title>Koro\ufffdğlu</dc:title>" in titles["oai:x:2"]
    assert 'xmlns:dc="http://purl.org/dc/elements/1.1/"' in titles["oai:x:3"]
    log = " | ".join(e["message"] for e in run.errors)
    for happened in (
        "HTTP 503",
        "HTML page",
        "body cut short",
        "HTTP 500",
        "HTTP 429",
        "no answer within",
    ):
        assert happened in log, log
    assert 1.0 in waits and 2.0 in waits  # Retry-After honoured


def test_sources_are_harvested_at_once_but_one_at_a_time_per_host(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    identify = (FIXTURES / "oai-pmh" / "sickle_Identify.xml").read_bytes()

    def slow(n: int) -> list[Reply]:  # one page that takes a second to come
        return [Reply(body=identify), Reply(body=page(record(f"oai:x:{n}"), token=""), stall=1)]

    with faulty_provider(slow(1)) as one, faulty_provider(slow(2)) as two:
        with db.write() as session:
            session.add(
                Source(name="one", base_url=one.url, prefix="oai_dc", sets=[], enabled=True)
            )
            session.add(
                Source(name="two", base_url=two.url, prefix="oai_dc", sets=[], enabled=True)
            )
        runs = harvest_concurrently(db, config, ["one", "two"])
    assert {name: run.status for name, run in runs.items()} == {
        "one": "succeeded",
        "two": "succeeded",
    }
    # The two slow pages were asked for at the same time, not one after the other: each
    # request came before the other's answer began.
    (one_asked, one_answered), (two_asked, two_answered) = one.spans[-1], two.spans[-1]
    assert one_asked < two_answered and two_asked < one_answered

    with faulty_provider(slow(3) + slow(4), concurrent=True) as shared:  # two sources, one host
        with db.write() as session:
            for name in ("three", "four"):
                session.add(
                    Source(name=name, base_url=shared.url, prefix="oai_dc", sets=[], enabled=True)
                )
        runs = harvest_concurrently(db, config, ["three", "four"])
    assert all(run.status == "succeeded" for run in runs.values())
    # One connection per host: the provider would answer two at once, but no request came
    # before the answer to the one before it began.
    spans = sorted(shared.spans)
    assert len(spans) == 4
    assert all(asked >= answered for (_, answered), (asked, _) in pairwise(spans))


@pytest.fixture
def slow_provider() -> Iterator[tuple[str, list[str]]]:
    """A provider of ten one-record pages, 0.3 s each, that answers by resumptionToken
    (so that a run resumed with any token it issued gets the right page); day
    granularity. Yields its URL and the query strings it received."""
    identify = (FIXTURES / "oai-pmh" / "sickle_Identify.xml").read_bytes()
    received: list[str] = []

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        query = environ.get("QUERY_STRING", "")
        received.append(query)
        if "verb=Identify" in query:
            body = identify
        else:
            time.sleep(0.3)
            n = int(query.split("resumptionToken=t", 1)[1]) + 1 if "resumptionToken" in query else 0
            body = page(record(f"oai:x:{n}"), token=f"t{n}" if n < 9 else "")
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [body]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/oai", received
    server.shutdown()
    thread.join()


def test_a_killed_harvest_resumes_where_it_was_killed(
    aggregator, slow_provider, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL in the middle of a run, then a new run: every record once, none lost."""
    config, db = aggregator
    url, received = slow_provider
    add_source(db, url)
    config_file = tmp_path / "aggregator.toml"
    config_file.write_text(
        f'[database]\nurl = "{config.database.url}"\n'
        '[oai]\nrepository_name = "agg"\nrepository_identifier = "aggregator.libfed.org"\n'
        'base_url = "http://127.0.0.1/oai"\nadmin_emails = ["a@libfed.org"]\n'
        '[exchange]\nhome_country = "AZ"\n'
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("libfed")), "--config", str(config_file), "harvest"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while len(harvested(db)) < 4 and time.monotonic() < deadline:  # a few pages written...
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # ...then no chance to clean up
    process.wait()
    killed_at = len(harvested(db))
    with db.session() as session:
        token = session.scalars(select(SourceState)).one().checkpoint_token
    assert 4 <= killed_at < 10 and token == f"t{killed_at - 1}"

    received.clear()
    run = harvest(db, config, "az-nl")
    assert run.status == "succeeded", run.errors
    assert sorted(origin(i) for i in harvested(db)) == sorted(f"oai:x:{n}" for n in range(10))
    assert f"resumptionToken=t{killed_at - 1}" in received[1]  # from the checkpoint, not zero
    assert run.added == 10 - killed_at

    # The next run is incremental, with `from` in the provider's day granularity.
    received.clear()
    assert harvest(db, config, "az-nl").status == "succeeded"
    assert re.search(r"from=\d{4}-\d{2}-\d{2}(&|$)", received[1]), received
