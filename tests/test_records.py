"""The write path's datestamp guarantee, which incremental harvesters rely on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from conftest import REPOSITORY_ID
from sqlalchemy import select

from libfed.kernel.db import Database
from libfed.records.models import Record, RecordSet
from libfed.records.repository import NewRecord, store

START = datetime(2030, 5, 1, 12, 0, 0)
DC = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{}</dc:title></oai_dc:dc>'
)


def ticking(*stamps: datetime) -> Iterator[datetime]:
    """A clock that returns each stamp in turn, then stays at the last."""
    yield from stamps
    while True:
        yield stamps[-1]


def datestamps_seen(db: Database) -> set[str]:
    """Every datestamp a harvester could read: column, header, membership."""
    with db.session() as session:
        seen = {str(d) for d in session.scalars(select(Record.datestamp))}
        seen |= {str(d) for d in session.scalars(select(RecordSet.datestamp))}
        for xml in session.scalars(select(Record.header_xml)):
            seen.add(xml.split(b"<datestamp>")[1].split(b"</datestamp>")[0].decode())
    return seen


def records(*titles: str) -> list[NewRecord]:
    return [
        NewRecord.of(f"oai:{REPOSITORY_ID}:{n}", {"oai_dc": DC.format(t)}, ("s:t",))
        for n, t in enumerate(titles)
    ]


@pytest.mark.parametrize("existing", [False, True], ids=["added", "updated"])
def test_a_write_that_crosses_into_a_new_second_is_stamped_with_the_later_second(
    db: Database, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    if existing:
        monkeypatch.setattr("libfed.kernel.clock.utc_now", lambda: START - timedelta(days=1))
        with db.write() as session:
            store(session, records("first", "second"))
    later = START + timedelta(seconds=1)
    clock = ticking(START, later)
    monkeypatch.setattr("libfed.kernel.clock.utc_now", lambda: next(clock))

    with db.write() as session:
        store(session, records("one", "two"))

    assert datestamps_seen(db) == {"2030-05-01 12:00:01", "2030-05-01T12:00:01Z"}


def test_a_write_within_one_second_keeps_its_stamp(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("libfed.kernel.clock.utc_now", lambda: START)
    with db.write() as session:
        store(session, records("one", "two"))
    assert datestamps_seen(db) == {"2030-05-01 12:00:00", "2030-05-01T12:00:00Z"}


def test_a_write_on_a_clock_it_cannot_keep_up_with_still_ends_stamped_at_its_last_move(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine so loaded that every move of the batch takes more than a second (as
    rewriting whole records once took on PostgreSQL): the write ends, after a few moves,
    with one datestamp everywhere, not chasing the clock forever."""
    seconds = iter(range(1_000))
    monkeypatch.setattr(
        "libfed.kernel.clock.utc_now", lambda: START + timedelta(seconds=next(seconds))
    )
    with db.write() as session:
        store(session, records("one", "two"))
    moves = next(seconds) - 1
    assert 1 <= moves <= 5
    last = START + timedelta(seconds=moves)
    assert datestamps_seen(db) == {str(last), last.strftime("%Y-%m-%dT%H:%M:%SZ")}
