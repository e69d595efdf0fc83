"""Nobody missing a failure: a run's alerts (harvest.alerts) on its page, and the digest
(harvest.digest) that mails them, once, to a local SMTP sink as the operators' mailbox.

Sources fail for real, over loopback (a provider answering 500, a port nobody listens
on); the history a run is compared with (lengths, quarantine) is written as runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Clock, config_dict, load, write_config
from faulty_provider import Reply, faulty_provider
from sqlalchemy import select

from libfed.harvest import digest
from libfed.harvest import scheduler as schedule_module
from libfed.harvest.alerts import alerts_of, note_alerts
from libfed.harvest.models import Run, Source
from libfed.harvest.run import harvest
from libfed.harvest.scheduler import sync_jobs
from libfed.kernel.clock import utc_now
from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from libfed.kernel.mail import MailError
from libfed.records.models import Record
from libfed.records.repository import tombstone
from libfed.root.cli import main
from tests.smtp_sink import Sink, body, free_port, smtp_sink

SITE = "https://library.example.az/libfed"
OPERATORS = ["harvest@library.example.az", "night-shift@library.example.az"]


def mailing(database_url: str, port: int | None, **harvest: object) -> Config:
    """The settings of a server that mails its operators through 127.0.0.1:`port` (none:
    no mail server), harvesting with no retries (a failure fails at once)."""
    mail = {} if port is None else {"mail": {"host": "127.0.0.1", "port": port}}
    return parse_config(
        config_dict(database_url, base_url=f"{SITE}/oai")
        | {"harvest": {"max_retries": 0, "alert_recipients": OPERATORS, **harvest}}
        | mail
    )


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_sink() as running:
        yield running


def add_source(db: Database, name: str, url: str, contact: str | None = None) -> int:
    with db.write() as session:
        source = Source(name=name, base_url=url, sets=[], enabled=True, contact_email=contact)
        session.add(source)
        session.flush()
        return source.id


def runs(db: Database) -> list[Run]:
    with db.session() as session:
        return list(session.scalars(select(Run).order_by(Run.id)))


def plain(message: EmailMessage) -> str:
    """The text part, its lines ended as Python writes them (a mail ends them CRLF)."""
    return body(message, "plain").replace("\r\n", "\n")


def scheduled_digest(config: Config, db: Database) -> None:
    """The schedule's job, as the lease holder's scheduler runs it."""
    schedule_module._context.update(config=config, db=db)
    digest.scheduled_digest()


def test_three_failures_make_one_mail_naming_the_reason_and_linking_each_run(
    database_url: str, db: Database, sink: Sink, pages
) -> None:  # type: ignore[no-untyped-def]
    config = mailing(database_url, sink.port)
    with faulty_provider([Reply(500, b"database down")] * 3) as provider:
        add_source(db, "az-nl", provider.url)
        for _ in range(3):
            assert harvest(db, config, "az-nl").status == "failed"
    with faulty_provider([]) as gone:
        pass  # its port is closed now: the connection is refused
    add_source(db, "uz-nl", gone.url)
    assert harvest(db, config, "uz-nl").status == "failed"

    scheduled_digest(config, db)
    [message] = sink.received
    assert sorted(sink.envelopes[0][1]) == sorted(OPERATORS)
    assert message["Subject"] == "Harvest alerts: 2 sources"
    text, html = plain(message), body(message, "html")
    done = runs(db)
    assert len(done) == 4
    for run in done:
        link = f"{SITE}/harvesting/runs/{run.id}"
        assert f"{link}\n" in text and f'href="{link}"' in html
        assert run.reported_at is not None
    assert text.count("The harvest failed: ") == 4
    assert text.count("HTTP 500") == 3 and "connection failed" in text  # the reasons
    assert text.index("az-nl") < text.index("uz-nl")  # by source

    # The link is the run's page, which says the same in the reader's language.
    run_page = pages.text(f"/harvesting/runs/{done[0].id}")
    assert "The harvest failed: HTTP 500" in run_page
    assert "Mailed to the operators on" in run_page
    listing = pages.text("/harvesting")
    assert f'/harvesting/runs/{done[2].id}#alerts">1 alert</a>' in listing

    # Told once: the next digest finds nothing new, the one after a new failure tells it.
    scheduled_digest(config, db)
    assert len(sink.received) == 1
    assert harvest(db, config, "uz-nl").status == "failed"
    assert digest.send_digest(db, config).status == digest.SENT
    assert len(sink.received) == 2
    assert sink.received[1]["Subject"] == "Harvest alerts: 1 source"
    assert "az-nl" not in plain(sink.received[1])


def test_sixty_failed_runs_are_one_mail(database_url: str, db: Database, sink: Sink) -> None:
    """Sixty runs that failed in the last hour, ended by a process that then died (no one
    judged them), twelve of each of five sources."""
    config = mailing(database_url, sink.port)
    started = utc_now() - timedelta(hours=1)
    with db.write() as session:
        for number in range(5):
            source = Source(name=f"s{number}", base_url="http://127.0.0.1:9/oai", sets=[])
            session.add(source)
            session.flush()
            for minute in range(12):
                moment = started + timedelta(minutes=minute)
                session.add(
                    Run(
                        source_id=source.id,
                        started_at=moment,
                        finished_at=moment,
                        status="failed",
                        errors=[{"url": "", "message": "connection refused"}],
                    )
                )
    outcome = digest.send_digest(db, config)  # also judges the runs no one judged
    assert (outcome.status, outcome.runs, len(sink.received)) == (digest.SENT, 60, 1)
    [message] = sink.received
    assert message["Subject"] == "Harvest alerts: 5 sources"
    text = plain(message)
    assert text.count("The harvest failed: connection refused") == 5 * 10  # ten shown each
    assert text.count("… and 2 more runs on the source's page.") == 5
    assert all(run.reported_at is not None for run in runs(db))


def test_the_mail_server_down_marks_nothing_and_the_next_digest_sends(
    database_url: str, db: Database, sink: Sink
) -> None:
    with faulty_provider([Reply(503, b"maintenance")]) as provider:
        add_source(db, "az-nl", provider.url)
        down = mailing(database_url, free_port())  # nobody listens there
        assert harvest(db, down, "az-nl").status == "failed"
    with pytest.raises(MailError, match="not reached"):
        digest.send_digest(db, down)
    scheduled_digest(down, db)  # the job logs it and goes on
    assert [run.reported_at for run in runs(db)] == [None]

    sink.refuse = True  # reached, and it refuses the message
    with pytest.raises(MailError, match="550"):
        digest.send_digest(db, mailing(database_url, sink.port))
    assert [run.reported_at for run in runs(db)] == [None]

    sink.refuse = False
    assert digest.send_digest(db, mailing(database_url, sink.port)).status == digest.SENT
    [message] = sink.received
    assert "HTTP 503" in plain(message)
    assert runs(db)[0].reported_at is not None


def test_without_a_mail_server_or_anyone_to_tell_nothing_is_sent_nor_marked(
    database_url: str, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with faulty_provider([Reply(500)]) as provider:
        add_source(db, "az-nl", provider.url)
        assert harvest(db, mailing(database_url, None), "az-nl").status == "failed"
    unconfigured = mailing(database_url, None)
    digest._told_unconfigured = False
    with caplog.at_level(logging.INFO, logger="libfed.harvest.digest"):
        scheduled_digest(unconfigured, db)
        scheduled_digest(unconfigured, db)
        assert digest.send_digest(db, unconfigured).status == digest.NO_SERVER
    assert caplog.text.count("no mail server is configured") == 1  # said once
    nobody = mailing(database_url, free_port(), alert_recipients=[])
    assert digest.send_digest(db, nobody).status == digest.NO_RECIPIENTS
    [run] = runs(db)
    assert run.alerts and run.alerts[0]["kind"] == "failed" and run.reported_at is None


def test_a_source_contact_gets_its_own_sources_alerts_only(
    database_url: str, db: Database, sink: Sink
) -> None:
    config = mailing(database_url, sink.port, alert_source_contacts=True)
    with faulty_provider([Reply(500, b"ours is down")] * 2) as provider:
        add_source(db, "theirs", provider.url, contact="oai@partner.example.uz")
        add_source(db, "other", provider.url)
        assert harvest(db, config, "theirs").status == "failed"
        assert harvest(db, config, "other").status == "failed"
    assert digest.send_digest(db, config).status == digest.SENT
    operators, contact = sink.received
    assert operators["Subject"] == "Harvest alerts: 2 sources"
    assert contact["To"] == "oai@partner.example.uz"
    assert contact["Subject"] == "Harvest alerts: 1 source"
    text = plain(contact)
    assert "theirs" in text and "other" not in text and "as the contact" in text


def test_records_lost_beyond_the_threshold_raise_an_alert(
    live_server: str, db: Database, aggregator, clock: Clock, sink: Sink
) -> None:  # type: ignore[no-untyped-def]
    """The source deletes 10 of 99 records (10 %: below 20), then 25 more of the 89 left
    (28 % since the last complete run): only the second run is alerted."""
    config, agg = aggregator
    load(db, "marcxml/marc2bibframe2_gwu.xml")
    clock.advance(10)
    add_source(agg, "az-nl", live_server)
    assert harvest(agg, config, "az-nl").status == "succeeded"
    with db.session() as session:
        identifiers = sorted(session.scalars(select(Record.identifier)))
    for gone in (identifiers[:10], identifiers[10:35]):
        clock.advance(60)
        with db.write() as session:
            for identifier in gone:
                tombstone(session, identifier)
        clock.advance(60)
        run = harvest(agg, config, "az-nl")
        assert run.status == "succeeded" and run.deleted == len(gone)
    first, below, beyond = runs(agg)
    assert first.alerts == [] and below.alerts == []
    [alert] = beyond.alerts
    assert (alert["kind"], alert["before"], alert["now"]) == ("dropped", 89, 64)
    assert alert["message"] == (
        "The source's records fell from 89 to 64 (28% fewer) since its last complete run"
    )
    # Only the alerted run is mailed: the runs judged with nothing to tell are not news.
    outcome = digest.send_digest(agg, mailing(config.database.url, sink.port))
    assert (outcome.status, outcome.runs) == (digest.SENT, 1)
    assert "fell from 89 to 64 (28% fewer)" in plain(sink.received[0])


def _history(db: Database, lengths: list[float], quarantined: list[int]) -> list[int]:
    """Runs of one source that took `lengths` seconds and quarantined as many records."""
    start = datetime(2026, 5, 1)
    ids = []
    with db.write() as session:
        source = Source(name="history", base_url="http://127.0.0.1:9/oai", sets=[])
        session.add(source)
        session.flush()
        for number, (seconds, kept) in enumerate(zip(lengths, quarantined, strict=True)):
            moment = start + timedelta(days=number)
            run = Run(
                source_id=source.id,
                started_at=moment,
                finished_at=moment + timedelta(seconds=seconds),
                status="succeeded",
                errors=[],
                quarantined=kept,
            )
            session.add(run)
            session.flush()
            ids.append(run.id)
    return ids


def _kinds(db: Database, config: Config, run_id: int) -> list[str]:
    note_alerts(db, config, run_id)
    with db.session() as session:
        return [alert["kind"] for alert in session.get_one(Run, run_id).alerts or []]


def test_a_run_much_slower_than_usual_and_growing_quarantine(config: Config, db: Database) -> None:
    ids = _history(db, [100, 120, 110, 400, 20, 90, 1000], [0, 0, 0, 0, 2, 2, 1])
    assert _kinds(db, config, ids[2]) == []  # two runs of history: too few to judge
    assert _kinds(db, config, ids[3]) == ["slow"]  # 400 s against a median of 110 s
    assert _kinds(db, config, ids[4]) == ["quarantine"]  # 2 after 0
    assert _kinds(db, config, ids[5]) == []  # 2 after 2: not growing; 90 s is usual
    assert _kinds(db, config, ids[6]) == ["slow"]  # 1 after 2: shrinking
    with db.session() as session:
        [slow] = session.get_one(Run, ids[3]).alerts or []
        assert slow["message"] == "The run took 400 s, usually 110 s"
        # Three times a short usual is not news: a minute more at least.
        quick = session.get_one(Run, ids[1])
        quick.finished_at = quick.started_at + timedelta(seconds=5)
        assert alerts_of(session, config, quick) == []


def test_a_failed_reconciliation_is_told_as_one(
    database_url: str, db: Database, sink: Sink
) -> None:
    from libfed.harvest.reconcile import reconcile

    config = mailing(database_url, sink.port)
    with faulty_provider([Reply(502, b"bad gateway")]) as provider:
        add_source(db, "az-nl", provider.url)
        run = reconcile(db, config, "az-nl")
    assert (run.kind, run.status) == ("reconcile", "failed")
    assert [alert["kind"] for alert in run.alerts or []] == ["reconcile_failed"]
    assert digest.send_digest(db, config).status == digest.SENT
    told = plain(sink.received[0])
    assert "The reconciliation did not complete: " in told and "HTTP 502" in told


def test_the_digest_is_a_job_of_the_schedule_that_survives_its_syncs(
    database_url: str, db: Database
) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine)}, timezone="UTC"
    )
    scheduler.start(paused=True)
    try:
        digest.schedule_digest(scheduler, mailing(database_url, None, alert_digest_minutes=15))
        sync_jobs(scheduler, db)
        job = scheduler.get_job(digest.JOB)
        assert job is not None and str(job.trigger) == "interval[0:15:00]"
        first = job.next_run_time
        digest.schedule_digest(scheduler, mailing(database_url, None, alert_digest_minutes=15))
        assert scheduler.get_job(digest.JOB).next_run_time == first  # not pushed forward
    finally:
        scheduler.shutdown(wait=False)


def test_the_command_sends_now_or_shows_what_it_would(
    database_url: str, db: Database, sink: Sink, tmp_path: Path
) -> None:
    config = mailing(database_url, sink.port)
    with faulty_provider([Reply(500, b"try tomorrow")]) as provider:
        add_source(db, "az-nl", provider.url)
        assert harvest(db, config, "az-nl").status == "failed"
    settings = write_config(
        tmp_path / "config.toml",
        config,
        f'alert_recipients = ["{OPERATORS[0]}"]\n[mail]\nhost = "127.0.0.1"\nport = {sink.port}\n',
    )

    def command(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, ["--config", str(settings), "harvest-digest", *args])

    dry = command("--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Subject: Harvest alerts: 1 source" in dry.output and "HTTP 500" in dry.output
    assert sink.received == [] and runs(db)[0].reported_at is None
    sent = command()
    assert sent.exit_code == 0 and "sent 1 mail(s) telling of 1 run(s)" in sent.output
    assert len(sink.received) == 1
    again = command()
    assert "no run has alerts not yet told" in again.output and len(sink.received) == 1


@pytest.mark.parametrize(
    ("harvest_settings", "message"),
    [
        ({"alert_drop_percent": 0}, "alert_drop_percent"),
        ({"alert_slow_factor": 1}, "alert_slow_factor"),
        ({"alert_digest_minutes": 0}, "alert_digest_minutes"),
        ({"alert_recipients": ["not an address"]}, "is not an e-mail address"),
    ],
)
def test_alert_settings_are_checked(harvest_settings: dict, message: str) -> None:
    from libfed.kernel.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_config(config_dict("sqlite://") | {"harvest": harvest_settings})


def test_the_digest_is_in_the_configured_language(
    database_url: str, db: Database, sink: Sink
) -> None:
    config = mailing(database_url, sink.port)
    russian = config.model_copy(
        update={"web": config.web.model_copy(update={"default_language": "ru"})}
    )
    with faulty_provider([Reply(500)]) as provider:
        add_source(db, "az-nl", provider.url)
        assert harvest(db, russian, "az-nl").status == "failed"
    assert digest.send_digest(db, russian).status == digest.SENT
    [message] = sink.received
    text, html = plain(message), body(message, "html")
    assert "(ошибка)" in text  # the run's status in Russian
    assert '<html lang="ru">' in html


def test_a_parked_source_is_told_once(database_url: str, db: Database) -> None:
    """A provider that asked for a day's rest: the runs due meanwhile ask nothing, and
    are not news again."""
    config = mailing(database_url, None)
    with faulty_provider([Reply(503, headers={"Retry-After": "86400"})]) as provider:
        add_source(db, "az-nl", provider.url)
        first, again = harvest(db, config, "az-nl"), harvest(db, config, "az-nl")
    assert (first.status, again.status) == ("parked", "parked")
    assert [alert["kind"] for alert in first.alerts or []] == ["parked"]
    assert again.alerts == []
