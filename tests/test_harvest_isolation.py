"""A record that breaks its provider's pages is cornered and quarantined, not allowed to
block the source; ListIdentifiers+GetRecord mode; date windows; resuming in them.

The provider (faulty_provider.dated_provider) answers from/until honestly over real
HTTP on loopback; a page holding a broken record fails with HTTP 500.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import AGGREGATOR, write_config
from faulty_provider import DatedProvider, dated_provider
from sqlalchemy import select

from libfed.harvest import isolation
from libfed.harvest.listing import Limits
from libfed.harvest.models import QuarantinedRecord, Run, Source, SourceState
from libfed.harvest.run import harvest
from libfed.harvest.transport import HTTPTransport
from libfed.harvest.windows import Window, halves, windows
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.models import Record

BAD = "oai:x:13"


def add_source(db: Database, url: str, **settings: object) -> None:
    with db.write() as session:
        session.add(Source(name="dated", base_url=url, prefix="oai_dc", sets=[], **settings))


def run(db: Database, config: Config, limits: Limits | None = None) -> Run:
    """A harvest whose retries do not wait: the provider's faults are its script."""
    transport = HTTPTransport(config.harvest, sleep=lambda seconds: None)
    return harvest(db, config, "dated", transport=transport, limits=limits or Limits())


def stored(db: Database) -> dict[str, bool]:
    """The source's identifiers harvested here, and whether each is deleted."""
    prefix = f"oai:{AGGREGATOR}:dated:"
    with db.session() as session:
        rows = session.execute(select(Record.identifier, Record.deleted)).all()
    return {identifier.removeprefix(prefix): deleted for identifier, deleted in rows}


def state(db: Database) -> SourceState:
    with db.session() as session:
        return session.scalars(select(SourceState)).one()


def quarantine(db: Database) -> list[QuarantinedRecord]:
    with db.session() as session:
        return list(session.scalars(select(QuarantinedRecord).order_by(QuarantinedRecord.id)))


def windows_asked(provider: DatedProvider, verb: str = "ListRecords") -> list[tuple[str, str]]:
    return [
        (q.get("from", ""), q.get("until", ""))
        for q in provider.queries
        if q.get("verb") == verb and "resumptionToken" not in q
    ]


@pytest.fixture
def provider() -> Iterator[DatedProvider]:
    """40 records, one a day from 2026-01-01; responseDate 2026-02-10."""
    with dated_provider(records=40, days=40) as served:
        yield served


def test_a_bad_record_is_cornered_the_rest_harvested_and_it_comes_once_fixed(
    aggregator, provider: DatedProvider
) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    provider.broken.add(BAD)
    add_source(db, provider.url)

    first = run(db, config)
    assert first.status == "succeeded", first.errors
    assert set(stored(db)) == set(provider.stamps) - {BAD}
    assert (first.added, first.quarantined) == (39, 1)
    [kept] = quarantine(db)
    assert (kept.identifier, kept.datestamp, kept.resolved_at) == (BAD, "2026-01-14", None)
    assert kept.raw == b"the serialiser failed on oai:x:13"  # what the provider answered
    assert "GetRecord fails" in kept.reason and kept.run_id == first.id
    log = [e["message"] for e in first.errors]
    isolated = [m for m in log if m.startswith("isolated 1 record(s) by bisection in ")]
    assert isolated, log
    # The record was cornered by windows of one day, and only that day went record by record.
    assert ("2026-01-14", "2026-01-14") in windows_asked(provider, "ListIdentifiers")
    assert [q["identifier"] for q in provider.queries if q.get("verb") == "GetRecord"] == [BAD]
    # The watermark moved past the bad window: the provider is not blocked.
    assert state(db).watermark == "2026-02-10"

    # Still broken: one more attempt noted, nothing else asked again.
    provider.queries.clear()
    second = run(db, config)
    assert second.status == "succeeded", second.errors
    [kept] = quarantine(db)
    assert (kept.attempts, kept.resolved_at) == (2, None)
    assert windows_asked(provider) == [("2026-02-10", "")]

    provider.broken.clear()
    third = run(db, config)
    assert third.status == "succeeded", third.errors
    assert set(stored(db)) == set(provider.stamps) and third.added == 1
    [kept] = quarantine(db)
    assert kept.resolved_at is not None and kept.attempts == 2
    provider.queries.clear()
    assert run(db, config).status == "succeeded"
    assert not any(q.get("verb") == "GetRecord" for q in provider.queries)  # resolved: not asked


def test_only_the_bad_day_goes_record_by_record(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    with dated_provider(records=16, days=4) as provider:  # four a day, 01-01 to 01-04
        provider.broken.add("oai:x:5")  # on 01-02
        add_source(db, provider.url)
        result = run(db, config)
    assert result.status == "succeeded", result.errors
    assert set(stored(db)) == set(provider.stamps) - {"oai:x:5"}
    # 01-01, a day too, is listed whole: only the failing day is fetched one by one.
    assert ("2026-01-01", "2026-01-01") in windows_asked(provider)
    assert windows_asked(provider, "ListIdentifiers") == [("2026-01-02", "2026-01-02")]
    got = sorted(q["identifier"] for q in provider.queries if q.get("verb") == "GetRecord")
    assert got == [f"oai:x:{n}" for n in range(4, 8)]


def test_a_day_listed_neither_way_is_quarantined_and_passed(
    aggregator, provider: DatedProvider
) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    provider.broken.add(BAD)
    provider.broken_headers = True
    add_source(db, provider.url)
    result = run(db, config)
    assert result.status == "succeeded", result.errors
    assert set(stored(db)) == set(provider.stamps) - {BAD}
    [kept] = quarantine(db)
    assert kept.identifier is None and kept.source_id is not None  # nothing to ask again
    assert kept.reason.startswith("ListIdentifiers fails in the window 2026-01-14..2026-01-14")
    assert kept.raw.startswith(b"the serialiser failed")
    assert any("isolated 1 record(s) by bisection" in e["message"] for e in result.errors)
    assert state(db).watermark == "2026-02-10"  # past the day, not blocked on it


def test_a_provider_down_after_identify_is_not_quarantined_day_by_day(
    aggregator, provider: DatedProvider
) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    provider.down = True
    add_source(db, provider.url)
    result = run(db, config)
    assert result.status == "failed" and quarantine(db) == []
    assert any("HTTP 502" in e["message"] for e in result.errors), result.errors
    # One descent to a day and one more window, not every day of the range.
    assert provider.refusals < 30, provider.refusals
    assert state(db).watermark is None  # the next run asks again, from the start

    provider.down = False
    assert run(db, config).status == "succeeded"
    assert set(stored(db)) == set(provider.stamps)


def test_identifiers_mode_lists_headers_and_gets_each_record(
    aggregator, provider: DatedProvider
) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    provider.list_records_broken = True
    add_source(db, provider.url, mode="identifiers")
    result = run(db, config)
    assert result.status == "succeeded", result.errors
    assert stored(db) == dict.fromkeys(provider.stamps, False)
    assert not any(q.get("verb") == "ListRecords" for q in provider.queries)
    asked = [q["identifier"] for q in provider.queries if q.get("verb") == "GetRecord"]
    assert sorted(asked) == sorted(provider.stamps)
    assert result.pages == 8  # the ListIdentifiers pages, each stored as a page of records

    # Deleted at the source since: a tombstone from its header, no GetRecord for it.
    provider.queries.clear()
    provider.deleted.add("oai:x:7")
    provider.stamps["oai:x:7"] = "2026-02-10"
    provider.now = "2026-02-11T00:00:00Z"
    again = run(db, config)
    assert (again.status, again.deleted) == ("succeeded", 1)
    assert stored(db)["oai:x:7"] is True
    assert not any(q.get("verb") == "GetRecord" for q in provider.queries)


def test_windows_of_n_days_never_longer_cover_the_whole_span(
    aggregator, provider: DatedProvider
) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    add_source(db, provider.url, window_days=7)
    assert run(db, config).status == "succeeded"
    assert set(stored(db)) == set(provider.stamps)
    asked = windows_asked(provider)
    spans = [(date.fromisoformat(f), date.fromisoformat(u)) for f, u in asked]
    assert all((until - start).days + 1 <= 7 for start, until in spans)
    assert spans[0][0] == date(2026, 1, 1) and spans[-1][1] == date(2026, 2, 10)
    assert all((b[0] - a[1]).days == 1 for a, b in pairwise(spans))
    assert len(spans) == 6  # 41 days, from the earliestDatestamp to the responseDate

    provider.queries.clear()
    provider.now = "2026-02-20T00:00:00Z"
    assert run(db, config).status == "succeeded"
    assert windows_asked(provider) == [("2026-02-10", "2026-02-16"), ("2026-02-17", "2026-02-20")]


def test_an_interrupted_windowed_run_resumes_at_its_window(
    aggregator, provider: DatedProvider
) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    add_source(db, provider.url, window_days=10)
    # Windows of ten records, pages of five: the third request is the second window's first.
    first = run(db, config, Limits(max_requests=3))
    assert first.status == "partial"
    assert len(stored(db)) == 15
    interrupted = state(db)
    assert (interrupted.checkpoint_datestamp, interrupted.watermark) == ("2026-01-11", None)
    assert interrupted.checkpoint_token  # inside that window

    provider.queries.clear()
    second = run(db, config)
    assert second.status == "succeeded", second.errors
    assert set(stored(db)) == set(provider.stamps) and second.added == 25
    lists = [q for q in provider.queries if q.get("verb") == "ListRecords"]
    assert "resumptionToken" in lists[0]  # the window it was in, from its token
    assert windows_asked(provider)[0] == ("2026-01-21", "2026-01-30")  # then the next


def test_a_killed_windowed_harvest_resumes_in_the_window_it_was_in(
    aggregator, provider: DatedProvider, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL in the middle of a windowed run of `libfed harvest`, then a new run."""
    config, db = aggregator
    provider.stall = 0.2
    add_source(db, provider.url, window_days=10)
    command = [
        str(Path(sys.executable).with_name("libfed")),
        "--config",
        str(write_config(tmp_path / "aggregator.toml", config)),
        "harvest",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(stored(db)) < 15 and time.monotonic() < deadline:  # in the second window...
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # ...then no chance to clean up
    process.wait()
    killed, kept = state(db), len(stored(db))
    assert 15 <= kept < 40 and killed.watermark is None
    assert killed.checkpoint_datestamp in ("2026-01-11", "2026-01-21", "2026-01-31")

    provider.stall = 0
    provider.queries.clear()
    second = run(db, config)
    assert second.status == "succeeded", second.errors
    assert set(stored(db)) == set(provider.stamps)
    # No window before the one it was in is asked again.
    assert all(start >= killed.checkpoint_datestamp for start, _ in windows_asked(provider))
    assert second.added == 40 - kept  # each record once


def test_a_run_interrupted_while_cornering_resumes_at_the_half_it_was_in(
    aggregator, provider: DatedProvider
) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    provider.broken.add(BAD)
    add_source(db, provider.url)
    # Two pages, a failing third; the first half fails too and is cut: its first
    # quarter (three pages) is done when the limit of seven pages stops the run.
    first = run(db, config, Limits(max_requests=7))
    assert first.status == "partial", first.errors
    interrupted = state(db)
    assert (interrupted.checkpoint_datestamp, interrupted.checkpoint_token) == ("2026-01-12", None)
    assert set(stored(db)) == {f"oai:x:{n}" for n in range(11)}

    provider.queries.clear()
    second = run(db, config)
    assert second.status == "succeeded", second.errors
    assert set(stored(db)) == set(provider.stamps) - {BAD}
    assert windows_asked(provider)[0] == ("2026-01-12", "")  # not from the start again
    assert [q.identifier for q in quarantine(db)] == [BAD]
    assert state(db).watermark == "2026-02-10"


def test_bisection_stops_at_its_budget_and_the_next_run_goes_on(
    aggregator, provider: DatedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    provider.broken.add(BAD)
    add_source(db, provider.url)
    monkeypatch.setattr(isolation, "BISECTION_BUDGET", 2)
    first = run(db, config)
    assert first.status == "partial"
    assert first.errors[-2]["message"].endswith(
        "requests, the most one run may; the next run goes on from the window "
        "2026-01-01..2026-01-11"
    )
    assert state(db).watermark is None and state(db).checkpoint_datestamp == "2026-01-01"
    monkeypatch.undo()
    second = run(db, config)
    assert second.status == "succeeded", second.errors
    assert set(stored(db)) == set(provider.stamps) - {BAD}
    assert [q.identifier for q in quarantine(db)] == [BAD]


def test_windows_at_seconds_granularity_neither_overlap_nor_leave_a_gap() -> None:
    seconds = "YYYY-MM-DDThh:mm:ssZ"
    spans = list(windows("2026-01-01T10:00:00Z", "2026-01-03T09:00:00Z", 1, seconds))
    assert [(w.start, w.end) for w in spans] == [
        ("2026-01-01T10:00:00Z", "2026-01-02T09:59:59Z"),
        ("2026-01-02T10:00:00Z", "2026-01-03T09:00:00Z"),
    ]
    left, right = halves(Window("2026-01-01T00:00:00Z", "2026-01-01T00:00:03Z"), seconds) or ()
    assert (left.end, right.start) == ("2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z")
    assert halves(Window("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"), seconds) is None
    assert halves(Window("2026-01-01", "2026-01-01"), "YYYY-MM-DD") is None  # not below a day
