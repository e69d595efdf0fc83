"""Reconciliation: records a provider silently dropped become tombstones here.

The provider is a small OAI-PMH server on loopback whose records are a dictionary the
test edits: a record dropped from it is no longer listed, and never said deleted, as by
a provider with deletedRecord=no.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner
from conftest import AGGREGATOR, write_config
from sqlalchemy import select
from test_harvest_listing import DC
from werkzeug.serving import make_server

from libfed.harvest import scheduler as schedule_module
from libfed.harvest.leases import take_lease
from libfed.harvest.models import Change, Run, Source
from libfed.harvest.reconcile import reconcile, reconcile_one_per_host, reconcile_unattended
from libfed.harvest.run import SourceBusy, harvest, harvest_one_per_host
from libfed.harvest.scheduler import reconcile_source, sync_jobs
from libfed.kernel.clock import utc_now as clock_now
from libfed.kernel.db import Database
from libfed.records.models import Record, RecordSet
from libfed.root.app import create_app
from libfed.root.cli import main
from libfed.search.query import SearchQuery, search

OAI = "http://www.openarchives.org/OAI/2.0/"


@dataclass
class Shelf:
    """What the provider holds and how it answers."""

    records: dict[str, tuple[str, ...]]  # identifier -> its setSpecs
    deleted_record: str = "no"
    page_size: int = 4
    failing_page: int | None = None  # this page (1-based) answers HTTP 500
    slow: float = 0.0  # seconds each list page takes
    undated: set[str] = field(default_factory=set)  # headers sent without a datestamp
    requests: list[dict[str, str]] = field(default_factory=list)
    # (verb, received, answered) on time.monotonic() for each request
    spans: list[tuple[str, float, float]] = field(default_factory=list)

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        self.requests.append(query)
        received = time.monotonic()
        status, body = self.answer(query)
        self.spans.append((query.get("verb", ""), received, time.monotonic()))
        start_response(status, [("Content-Type", "text/xml; charset=utf-8")])
        return [body.encode()]

    def answer(self, query: dict[str, str]) -> tuple[str, str]:
        verb = query.get("verb", "")
        if verb == "Identify":
            return "200 OK", _envelope(
                verb,
                "<repositoryName>Shelf</repositoryName><baseURL>http://x/oai</baseURL>"
                "<protocolVersion>2.0</protocolVersion><adminEmail>a@example.org</adminEmail>"
                "<earliestDatestamp>2026-01-01T00:00:00Z</earliestDatestamp>"
                f"<deletedRecord>{self.deleted_record}</deletedRecord>"
                "<granularity>YYYY-MM-DD</granularity>",
            )
        token = query.get("resumptionToken", "")
        spec, offset = token.split("|") if token else (query.get("set", ""), "0")
        start = int(offset)
        if self.failing_page is not None and start // self.page_size + 1 == self.failing_page:
            return "500 Internal Server Error", "broken"
        time.sleep(self.slow)
        listed = sorted(
            i
            for i, specs in self.records.items()
            if not spec or any(s == spec or s.startswith(spec + ":") for s in specs)
        )
        if not listed:
            return "200 OK", _envelope(verb, '<error code="noRecordsMatch"/>', wrap=False)
        items = []
        for identifier in listed[start : start + self.page_size]:
            specs = "".join(f"<setSpec>{s}</setSpec>" for s in self.records[identifier])
            header = (
                f"<header><identifier>{identifier}</identifier>"
                f"{'' if identifier in self.undated else '<datestamp>2026-11-20</datestamp>'}"
                f"{specs}</header>"
            )
            title = escape(identifier.rsplit(":", 1)[-1])
            metadata = f"<metadata>{DC.format(title)}</metadata>"
            items.append(
                header if verb == "ListIdentifiers" else f"<record>{header}{metadata}</record>"
            )
        following = start + self.page_size
        more = following < len(listed)
        items.append(f"<resumptionToken>{spec}|{following}</resumptionToken>" if more else "")
        return "200 OK", _envelope(verb, "".join(items))


def _envelope(verb: str, inner: str, wrap: bool = True) -> str:
    body = f"<{verb}>{inner}</{verb}>" if wrap else inner
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{OAI}">'
        f"<responseDate>2026-11-23T12:00:00Z</responseDate>"
        f'<request verb="{verb}">http://x/oai</request>{body}</OAI-PMH>'
    )


@contextmanager
def serving(shelf: Shelf) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, shelf, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/oai"
    finally:
        server.shutdown()
        thread.join()


def ours(identifier: str) -> str:
    return f"oai:{AGGREGATOR}:shelf:{identifier}"


def add(db: Database, url: str, sets: list[str] | None = None, **settings: object) -> None:
    with db.write() as session:
        session.add(
            Source(name="shelf", base_url=url, prefix="oai_dc", sets=sets or [], **settings)
        )


def deleted(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(Record.identifier).where(Record.deleted.is_(True))))


def ten() -> dict[str, tuple[str, ...]]:
    return {f"oai:shelf:rec{n:02d}": ("books",) for n in range(10)}


def test_records_the_provider_dropped_become_tombstones(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    shelf = Shelf(ten())
    with serving(shelf) as url:
        add(db, url)
        first = harvest(db, config, "shelf")
        assert first.added == 10, first.errors
        for n in (2, 5, 7):
            del shelf.records[f"oai:shelf:rec{n:02d}"]
        run = reconcile(db, config, "shelf")
    assert run.status == "succeeded", run.errors
    assert (run.kind, run.deleted) == ("reconcile", 3)
    assert "7 identifiers listed by the source, 3 of its 10 records" in run.errors[0]["message"]
    gone = {ours(f"oai:shelf:rec{n:02d}") for n in (2, 5, 7)}
    assert deleted(db) == gone
    with db.session() as session:  # the run's page lists them (harvest.changes)
        listed = session.execute(
            select(Change.identifier, Change.change).where(Change.run_id == run.id)
        ).all()
    assert sorted(listed) == sorted((i, "deleted") for i in gone)
    assert {r["verb"] for r in shelf.requests[-3:]} == {"Identify", "ListIdentifiers"}

    client = create_app(config, db).test_client()
    answer = client.get(
        f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={ours('oai:shelf:rec02')}"
    ).data
    assert b'status="deleted"' in answer
    with db.session() as session:
        assert search(session, SearchQuery("rec05")).total == 0
        assert search(session, SearchQuery("rec04")).total == 1
    with db.session() as session:
        source = session.scalars(select(Source)).one()
    assert source.reconciled_at is not None and source.deleted_record == "no"

    # Nothing more to do the second time.
    with serving(shelf) as url:
        with db.write() as session:
            session.scalars(select(Source)).one().base_url = url
        again = reconcile(db, config, "shelf")
    assert (again.status, again.deleted) == ("succeeded", 0)
    assert not again.alerts


def members(db: Database, spec: str) -> set[str]:
    with db.session() as session:
        return set(
            session.scalars(
                select(Record.identifier)
                .join(RecordSet, RecordSet.record_id == Record.id)
                .where(RecordSet.set_spec == spec, Record.deleted.is_(False))
            )
        )


def test_a_record_that_left_a_harvested_set_leaves_it_here(aggregator, clock) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    records = ten() | {"oai:shelf:poem": ("books", "poetry")}
    shelf = Shelf(records)
    with serving(shelf) as url:
        add(db, url, sets=["books", "poetry"])
        assert harvest(db, config, "shelf").status == "succeeded"
        assert members(db, "source:shelf:poetry") == {ours("oai:shelf:poem")}
        assert len(members(db, "source:shelf:books")) == 11
        with db.session() as session:
            before = session.scalars(
                select(Record.datestamp).where(Record.identifier == ours("oai:shelf:poem"))
            ).one()
        clock.advance(60)
        shelf.records["oai:shelf:poem"] = ("books",)  # out of poetry, never said
        del shelf.records["oai:shelf:rec03"]
        run = reconcile(db, config, "shelf")
    assert run.status == "succeeded", run.errors
    assert (run.deleted, run.left_sets) == (1, 1)
    assert "1 left one of its sets" in run.errors[0]["message"]
    assert members(db, "source:shelf:poetry") == set()
    assert ours("oai:shelf:poem") in members(db, "source:shelf:books")
    assert ours("oai:shelf:poem") in members(db, "source:shelf")
    with db.session() as session:
        after = session.scalars(
            select(Record.datestamp).where(Record.identifier == ours("oai:shelf:poem"))
        ).one()
    assert after > before  # incremental harvesters of poetry see it go

    client = create_app(config, db).test_client()
    listed = client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&set=source:shelf:poetry")
    assert b"noRecordsMatch" in listed.data


def test_an_incomplete_list_deletes_nothing(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    shelf = Shelf(ten())
    with serving(shelf) as url:
        add(db, url)
        assert harvest(db, config, "shelf").added == 10
        del shelf.records["oai:shelf:rec09"]
        shelf.failing_page = 2
        run = reconcile(db, config, "shelf")
    assert (run.status, run.deleted) == ("failed", 0)
    assert "the list was not read to its end, nothing was deleted" in run.errors[-1]["message"]
    assert "HTTP 500" in run.errors[-1]["message"]
    assert [alert["kind"] for alert in run.alerts or []] == ["reconcile_failed"]
    assert deleted(db) == set()
    with db.session() as session:
        assert session.scalars(select(Source)).one().reconciled_at is None


def test_a_header_that_cannot_be_read_deletes_nothing(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    shelf = Shelf(ten())
    with serving(shelf) as url:
        add(db, url)
        assert harvest(db, config, "shelf").added == 10
        del shelf.records["oai:shelf:rec09"]
        shelf.undated = {"oai:shelf:rec05"}  # it may be a record we hold: not a ghost
        run = reconcile(db, config, "shelf")
    assert (run.status, run.deleted) == ("failed", 0)
    assert "1 header(s) of page 2 could not be read" in run.errors[-1]["message"]
    assert deleted(db) == set()


def test_the_brake_refuses_to_delete_most_records_unless_forced(aggregator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    toml = str(write_config(tmp_path / "config.toml", config, "max_retries = 0\n"))
    shelf = Shelf(ten())
    with serving(shelf) as url:
        add(db, url)
        assert harvest(db, config, "shelf").added == 10
        for n in range(8):
            del shelf.records[f"oai:shelf:rec{n:02d}"]
        refused = reconcile(db, config, "shelf")
        assert (refused.status, refused.deleted) == ("failed", 0)
        assert (
            "8 of the source's 10 records here would become tombstones, more than 50 %"
            in (refused.errors[-1]["message"])
        )
        assert deleted(db) == set()

        result = CliRunner().invoke(main, ["--config", toml, "harvest-reconcile", "shelf"])
        assert result.exit_code == 1 and "more than 50 %" in result.output
        forced = CliRunner().invoke(
            main, ["--config", toml, "harvest-reconcile", "shelf", "--force"]
        )
    assert forced.exit_code == 0, forced.output
    assert "shelf: succeeded" in forced.output
    assert "2 identifiers listed by the source, 8 of its 10 records here tombstoned" in (
        forced.output
    )
    assert len(deleted(db)) == 8


def test_an_empty_list_deletes_nothing(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    shelf = Shelf(ten())
    with serving(shelf) as url:
        add(db, url)
        assert harvest(db, config, "shelf").added == 10
        shelf.records.clear()
        run = reconcile(db, config, "shelf")
    assert (run.status, run.deleted) == ("failed", 0)
    assert "lists no identifiers while 10 of its records are here" in run.errors[-1]["message"]


def test_a_reconciliation_and_a_harvest_of_one_source_never_overlap(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    shelf = Shelf(ten(), page_size=2, slow=0.2)
    with serving(shelf) as url:
        add(db, url)
        threads = [
            threading.Thread(target=harvest_one_per_host, args=(db, config, "shelf")),
            threading.Thread(target=reconcile_one_per_host, args=(db, config, "shelf")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        # Another process holding the source: neither a harvest nor a reconciliation starts.
        assert take_lease(db, "source:shelf", "elsewhere:1:x", clock_now())
        asked = len(shelf.requests)
        with pytest.raises(SourceBusy):
            reconcile_one_per_host(db, config, "shelf")
        assert reconcile_unattended(db, config, "shelf") is None
        assert len(shelf.requests) == asked
    harvesting = [(a, b) for verb, a, b in shelf.spans if verb == "ListRecords"]
    listing = [(a, b) for verb, a, b in shelf.spans if verb == "ListIdentifiers"]
    assert len(harvesting) == 5 and len(listing) == 5
    one_then_other = max(b for _, b in harvesting) < min(a for a, _ in listing) or max(
        b for _, b in listing
    ) < min(a for a, _ in harvesting)
    assert one_then_other, shelf.spans
    with db.session() as session:
        kinds = sorted(session.scalars(select(Run.kind)))
    assert kinds == ["harvest", "reconcile"]


def test_forgetful_providers_are_reconciled_weekly_by_default(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine)}, timezone="UTC"
    )
    scheduler.start(paused=True)
    try:
        for deleted_record in ("no", "persistent"):
            shelf = Shelf(ten(), deleted_record=deleted_record)
            with serving(shelf) as url:
                with db.write() as session:
                    session.add(Source(name=deleted_record, base_url=url, prefix="oai_dc", sets=[]))
                assert harvest(db, config, deleted_record).status == "succeeded"
        with db.write() as session:
            session.add(
                Source(name="cron", base_url="http://x/oai", sets=[], reconcile_cron="0 4 * * 1")
            )
        sync_jobs(scheduler, db)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"reconcile:no", "reconcile:cron"}
        assert str(jobs["reconcile:no"].trigger) == "interval[7 days, 0:00:00]"
        assert "day_of_week='1', hour='4'" in str(jobs["reconcile:cron"].trigger)
        assert jobs["reconcile:no"].max_instances == 1 and jobs["reconcile:no"].coalesce

        # A provider that starts keeping its deletions is no longer reconciled by default.
        with db.write() as session:
            session.scalars(
                select(Source).where(Source.name == "no")
            ).one().deleted_record = "persistent"
        sync_jobs(scheduler, db)
        assert [job.id for job in scheduler.get_jobs()] == ["reconcile:cron"]
    finally:
        scheduler.shutdown(wait=False)


def test_the_scheduled_job_reconciles_in_a_process_of_its_own(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    shelf = Shelf(ten())
    with serving(shelf) as url:
        add(db, url)
        assert harvest(db, config, "shelf").added == 10
        del shelf.records["oai:shelf:rec04"]
        schedule_module._context.update(config=config, db=db)
        reconcile_source("shelf")
        reconcile_source("never-existed")  # removed since scheduled: nothing happens
    assert deleted(db) == {ours("oai:shelf:rec04")}
    with db.session() as session:
        run = session.scalars(select(Run).where(Run.kind == "reconcile")).one()
    assert (run.status, run.deleted) == ("succeeded", 1)
