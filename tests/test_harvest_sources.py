"""Harvest sources as a service: refusals in the shared terms, run statuses in one place."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from libfed.harvest.models import Source
from libfed.harvest.schemas import SourceIn
from libfed.harvest.sources import add_source, move_source, remove_source
from libfed.harvest.states import LABELS, RunStatus
from libfed.kernel.db import Database
from libfed.kernel.errors import Conflict, Invalid, Message, NotFound


def test_a_source_is_checked_field_by_field_with_messages_the_pages_translate(
    db: Database,
) -> None:
    with db.write() as session, pytest.raises(Invalid) as refused:
        add_source(session, "bad name", "ftp://x/oai", every_seconds="6 hours", cron="nightly")
    fields = refused.value.fields
    assert list(fields) == ["name", "base_url", "every_seconds", "cron"]
    assert all(isinstance(message, Message) for message in fields.values())
    assert fields["name"].template == (
        "{value!r} is not a source name (letters, digits, '_', '.', '-')"
    )
    assert fields["name"].values == {"value": "bad name"}
    # The scheduler's own reason follows in English, for the command line only.
    assert fields["cron"].template == "{value!r} is not a cron expression"
    assert str(fields["cron"]).startswith("'nightly' is not a cron expression: ")


def test_an_interval_is_read_as_typed_or_as_seconds() -> None:
    assert SourceIn(name="a", base_url="http://x/oai", every_seconds=" 90m ").every_seconds == 5400
    assert SourceIn(name="a", base_url="http://x/oai", every_seconds=3600).every_seconds == 3600


def test_one_schedule_at_most(db: Database) -> None:
    with db.write() as session, pytest.raises(Invalid) as refused:
        add_source(session, "a", "http://x/oai", every_seconds="1h", cron="0 3 * * *")
    assert refused.value.fields == {"cron": "a source has an interval or a cron schedule, not both"}


def test_a_taken_name_and_an_unknown_institution(db: Database) -> None:
    with db.write() as session:
        add_source(session, "a", "http://x/oai", sets=["s"], every_seconds="6h")
    with db.session() as session:
        (source,) = session.scalars(select(Source)).all()
        assert (source.sets, source.every_seconds, source.enabled) == (["s"], 21600, True)
    with db.write() as session, pytest.raises(Conflict) as taken:
        add_source(session, "a", "http://y/oai")
    assert taken.value.args[0].template == "a source named {name!r} exists already"
    with db.write() as session, pytest.raises(Invalid) as unknown:
        add_source(session, "b", "http://y/oai", institution_id=42)
    assert unknown.value.fields == {"institution_id": "no institution has the id 42"}


def test_a_source_no_one_has(db: Database) -> None:
    with db.write() as session:
        with pytest.raises(NotFound, match="no source is named 'x'"):
            remove_source(session, "x")
        with pytest.raises(NotFound, match="no source is named 'x'"):
            move_source(session, "x", "http://y/oai")
        with pytest.raises(Invalid) as refused:  # the address is checked first, as before
            move_source(session, "x", "file:///etc/passwd")
    assert list(refused.value.fields) == ["base_url"]


def test_every_run_status_has_its_label_and_is_the_stored_word() -> None:
    assert set(LABELS) == set(RunStatus)
    assert [str(status) for status in RunStatus] == [
        "running",
        "succeeded",
        "partial",
        "failed",
        "parked",
    ]
    assert all(LABELS[status] == status for status in RunStatus)  # English: as stored
