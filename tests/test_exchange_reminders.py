"""The weekly reminder digest, mailed to a local SMTP sink as a coordinator's mailbox
would get it: one mail per coordinator with an address, in their language, once a week;
and what the operator reads when the server is down or none is configured.

The clock is frozen (conftest's `clock`, 1 May 2024, a Wednesday of ISO week 18), the
shipments' dates set back from it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from babel import dates
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import select, update

from libfed.accounts.models import Institution, User
from libfed.accounts.users import add_user
from libfed.exchange import digest
from libfed.exchange.attention import reminders
from libfed.exchange.models import Shipment
from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from libfed.kernel.mail import MailError
from libfed.kernel.models import MailDigest
from libfed.root.app import create_app
from libfed.root.cli import main
from tests.conftest import (
    ApiCaller,
    Clock,
    add_agreement,
    add_partner,
    add_shipment,
    config_dict,
    dispatched_at,
    write_config,
)
from tests.smtp_sink import Sink, body, free_port, smtp_sink

WEEK = "2024-W18"  # conftest's CLOCK_START, 2024-05-01


def _mail_config(database_url: str, port: int | None) -> Config:
    mail = {} if port is None else {"mail": {"host": "127.0.0.1", "port": port}}
    return parse_config(
        config_dict(database_url, base_url="https://library.example.az/libfed/oai") | mail
    )


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
def mail_app(database_url: str, db: Database, sink: Sink) -> Flask:
    """The application, configured to mail through the sink."""
    return create_app(_mail_config(database_url, sink.port), db)


@pytest.fixture
def people(db: Database) -> None:
    """Who is mailed (a Russian-speaking coordinator, an English-speaking admin) and who
    is not (a viewer, a coordinator without an address, one switched off)."""
    with db.write() as session:
        for name, role, email, language, active in (
            ("nigar", "coordinator", "nigar@library.example.az", "ru", True),
            ("boss", "admin", "boss@library.example.az", None, True),
            ("reader", "viewer", "reader@library.example.az", "ru", True),
            ("silent", "coordinator", None, "ru", True),
            ("gone", "coordinator", "gone@library.example.az", "ru", False),
        ):
            user, _token = add_user(session, name, role, email=email)
            user.language, user.active = language, active


def _sent(api: ApiCaller, partner_id: int, reference: str, days_ago: int, **kw: object) -> dict:
    now = datetime(2024, 5, 1, 10, 0)
    moves = dispatched_at(now - timedelta(days=days_ago))
    return add_shipment(api, partner_id, reference=reference, moves=moves, **kw)


@pytest.fixture
def due(api: ApiCaller, db: Database, clock: Clock) -> dict:
    """One reminder of each kind: a parcel sent 45 days ago and never acknowledged, one
    expected by ten days ago, an agreement at its quota and one over it."""
    partner = add_partner(api, "Milli Kütüphane", "TR")
    other = add_partner(api, "Национальная библиотека", "BY")
    near = add_agreement(api, other["id"], annual_quota=2)
    over = add_agreement(api, partner["id"], annual_quota=1)
    unacknowledged = _sent(api, partner["id"], "EX-45", 45, agreement_id=over["id"])
    _sent(api, other["id"], "EX-NEAR", 3, agreement_id=near["id"])
    late = add_shipment(api, partner["id"], direction="incoming", reference="IN-LATE")
    with db.write() as session:
        session.execute(
            update(Shipment).where(Shipment.id == late["id"]).values(expected_by=date(2024, 4, 21))
        )
    return {"unacknowledged": unacknowledged, "late": late, "partner": partner}


def test_the_reminders_are_the_dashboards_and_the_digests_one_list(
    config: Config, db: Database, due: dict
) -> None:
    with db.session() as session:
        found = {
            group.kind: group for group in reminders(session, datetime(2024, 5, 1, 10, 0), config)
        }
    [unacknowledged] = found["unacknowledged"].items
    assert (unacknowledged.shipment_id, unacknowledged.days) == (due["unacknowledged"]["id"], 45)
    [late] = found["late"].items
    assert (late.shipment_id, late.since, late.days) == (due["late"]["id"], date(2024, 4, 21), 10)
    [near] = found["quota-near"].items
    assert (near.used, near.quota, near.percent) == (2, 2, 100)
    [over] = found["quota-over"].items
    assert (over.used, over.quota, over.percent) == (2, 1, 200)


def test_one_mail_per_coordinator_with_an_address_in_their_language(
    mail_app: Flask, sink: Sink, people: None, due: dict
) -> None:
    outcome = digest.send_digest(mail_app)
    assert (outcome.status, outcome.sent, outcome.period) == (digest.SENT, 2, WEEK)
    mails = {message["To"]: message for message in sink.received}
    assert set(mails) == {"nigar@library.example.az", "boss@library.example.az"}
    english = mails["boss@library.example.az"]
    assert english.is_multipart()
    assert english["Subject"] == "4 exchange reminders this week"
    text, html = body(english, "plain"), body(english, "html")
    shipment = due["unacknowledged"]["id"]
    link = f"https://library.example.az/libfed/shipments/{shipment}"
    assert link in text and f'href="{link}"' in html
    assert "Sent more than 30 days ago, not acknowledged" in text
    assert "45 days without acknowledgement" in text
    assert "expected by Apr 21, 2024, 10 days late" in text
    assert "2 of 1 copy sent this year (200%)" in text
    russian = mails["nigar@library.example.az"]
    # Dates as Russian writes them, whatever the catalogue holds.
    assert dates.format_date(date(2024, 4, 21), "medium", locale="ru") in body(russian, "plain")
    assert 'lang="ru"' in body(russian, "html")


def test_a_partners_name_is_text_in_the_text_and_escaped_in_the_html(
    mail_app: Flask, sink: Sink, people: None, due: dict, db: Database
) -> None:
    name = 'Kitab & "Söz" <Bakı>'
    with db.write() as session:
        session.execute(
            update(Institution).where(Institution.id == due["partner"]["id"]).values(name=name)
        )
    digest.send_digest(mail_app)
    english = next(m for m in sink.received if m["To"] == "boss@library.example.az")
    assert f"{name}, dispatched" in body(english, "plain")
    html = body(english, "html")
    assert "Kitab &amp; &#34;Söz&#34; &lt;Bakı&gt;" in html and name not in html


def test_the_russian_mail_is_in_russian(
    mail_app: Flask, sink: Sink, people: None, due: dict
) -> None:
    """Waits for the translations of this round to be merged into the catalogue."""
    digest.send_digest(mail_app)
    russian = next(m for m in sink.received if m["To"] == "nigar@library.example.az")
    assert "напомина" in russian["Subject"].lower()
    assert "Отправка" in body(russian, "plain")


def test_a_week_gets_one_digest_unless_forced(
    mail_app: Flask, sink: Sink, people: None, due: dict, db: Database
) -> None:
    assert digest.send_digest(mail_app).sent == 2
    again = digest.send_digest(mail_app)
    assert (again.status, again.sent) == (digest.ALREADY_SENT, 0)
    assert len(sink.received) == 2
    assert digest.send_digest(mail_app, force=True).sent == 2
    assert len(sink.received) == 4
    with db.session() as session:
        row = session.get(MailDigest, ("reminders", WEEK))
        assert row is not None and row.recipients == 2


def test_two_processes_at_once_send_one_digest(
    mail_app: Flask, sink: Sink, people: None, due: dict
) -> None:
    """As two server workers whose schedules fire together: the week's row lets one send."""
    outcomes: list[digest.Outcome] = []
    workers = [
        threading.Thread(target=lambda: outcomes.append(digest.send_digest(mail_app)))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(outcome.status for outcome in outcomes) == [digest.ALREADY_SENT, digest.SENT]
    assert len(sink.received) == 2  # one mail to each of the two people, once


def test_nothing_to_remind_mails_nothing(
    mail_app: Flask, sink: Sink, people: None, clock: Clock
) -> None:
    outcome = digest.send_digest(mail_app)
    assert outcome.status == digest.NOTHING_TO_REMIND
    assert sink.received == []


def test_a_refusing_server_leaves_no_week_behind_so_a_retry_sends(
    mail_app: Flask, sink: Sink, people: None, due: dict, db: Database
) -> None:
    sink.refuse = True
    with pytest.raises(MailError, match="550"):
        digest.send_digest(mail_app)
    with db.session() as session:
        assert session.scalars(select(MailDigest)).all() == []
    sink.refuse = False
    assert digest.send_digest(mail_app).sent == 2


def test_a_forced_resend_that_fails_leaves_the_week_sent(
    mail_app: Flask, sink: Sink, people: None, due: dict, db: Database
) -> None:
    assert digest.send_digest(mail_app).sent == 2
    sink.refuse = True
    with pytest.raises(MailError):
        digest.send_digest(mail_app, force=True)
    sink.refuse = False
    assert digest.send_digest(mail_app).status == digest.ALREADY_SENT
    assert len(sink.received) == 2


def test_the_week_is_the_librarys(config: Config) -> None:
    # Sunday 21:30 UTC is already Monday in Baku (UTC+4): the next ISO week there.
    sunday_night = datetime(2026, 12, 6, 21, 30)
    assert digest.period_of(sunday_night, "UTC") == "2026-W49"
    assert digest.period_of(sunday_night, "Asia/Baku") == "2026-W50"


def test_the_server_mails_it_on_monday_at_seven_in_the_librarys_zone(
    database_url: str, db: Database
) -> None:
    settings = config_dict(database_url) | {"web": {"timezone": "Asia/Baku"}}
    app = create_app(parse_config(settings | {"mail": {"host": "127.0.0.1"}}), db)
    scheduler = digest.start_weekly(app)
    try:
        when = scheduler.get_job("reminder-digest").next_run_time
    finally:
        scheduler.shutdown(wait=False)
    assert (when.weekday(), when.hour, when.minute) == (0, 7, 0)
    assert when.utcoffset() == timedelta(hours=4)


# ------------------------------------------------------------------ the command


@pytest.fixture
def cli(tmp_path: Path, config: Config) -> Callable[..., Result]:
    """`libfed` on the test's database, mailing to `port` (None: no [mail] host)."""

    def invoke(port: int | None, *args: str) -> Result:
        path = write_config(tmp_path / "libfed.toml", config)
        if port is not None:
            with path.open("a", encoding="utf-8") as file:
                file.write(f'[mail]\nhost = "127.0.0.1"\nport = {port}\ntimeout_seconds = 5\n')
        return CliRunner().invoke(main, ["--config", str(path), *args])

    return invoke


@pytest.fixture
def run(cli: Callable[..., Result]) -> Callable[..., Result]:
    """`libfed exchange digest ARGS` mailing to `port`."""
    return lambda port, *args: cli(port, "exchange", "digest", *args)


def test_the_command_sends_once_a_week_and_again_when_forced(
    run: Callable[..., Result], sink: Sink, people: None, due: dict
) -> None:
    first = run(sink.port)
    assert first.exit_code == 0, first.output
    assert f"reminder digest {WEEK}: sent 2 mail(s)" in first.output
    second = run(sink.port)
    assert "already sent this week" in second.output and len(sink.received) == 2
    forced = run(sink.port, "--force")
    assert "sent 2 mail(s)" in forced.output and len(sink.received) == 4


def test_a_dry_run_names_the_mails_and_sends_nothing(
    run: Callable[..., Result], sink: Sink, people: None, due: dict, db: Database
) -> None:
    result = run(sink.port, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: 2 mail(s) would be sent" in result.output
    assert "to nigar@library.example.az" in result.output
    assert sink.received == []
    with db.session() as session:
        assert session.scalars(select(MailDigest)).all() == []


def test_the_server_down_is_an_error_naming_it_and_records_nothing(
    run: Callable[..., Result], people: None, due: dict, db: Database
) -> None:
    port = free_port()  # nothing listens there
    result = run(port)
    assert result.exit_code == 1
    assert f"reminder digest not sent: mail server 127.0.0.1:{port}" in result.output
    with db.session() as session:
        assert session.scalars(select(MailDigest)).all() == []


def test_without_a_mail_server_nothing_is_sent_and_it_says_so(
    run: Callable[..., Result], people: None, due: dict, db: Database
) -> None:
    result = run(None)
    assert result.exit_code == 0, result.output
    assert "no mail server is configured ([mail] host): no mail sent" in result.output
    with db.session() as session:
        assert session.scalars(select(MailDigest)).all() == []


# ------------------------------------------------------------------ users' addresses


def _email(db: Database, name: str) -> str | None:
    with db.session() as session:
        return session.scalar(select(User.email).where(User.name == name))


def test_users_get_and_change_an_address_from_the_command_line(
    cli: Callable[..., Result], db: Database
) -> None:
    added = cli(None, "users", "add", "leyla", "--role", "coordinator", "--email", "Leyla@Lib.AZ")
    assert added.exit_code == 0, added.output
    assert _email(db, "leyla") == "Leyla@lib.az"  # the domain as DNS writes it
    refused = cli(None, "users", "set", "leyla", "--email", "leyla at lib")
    assert refused.exit_code == 1
    assert "email: 'leyla at lib' is not an e-mail address" in refused.output
    assert _email(db, "leyla") == "Leyla@lib.az"
    assert (
        "e-mail of leyla: new@lib.az"
        in cli(None, "users", "set", "leyla", "--email", "new@lib.az").output
    )
    assert "leyla\tcoordinator\tactive\tnew@lib.az" in cli(None, "users", "list").output
    assert "removed" in cli(None, "users", "set", "leyla", "--email", "").output
    assert _email(db, "leyla") is None


def test_users_get_and_change_an_address_through_the_api(admin: ApiCaller) -> None:
    created = admin.create("/users", {"name": "leyla", "role": "coordinator", "email": "l@lib.az"})
    user = created["user"]
    assert user["email"] == "l@lib.az"
    path = f"/users/{user['id']}"
    refused = admin.patch(path, {"email": "not an address"}, etag=admin.etag(path))
    assert refused.status_code == 422
    assert (
        admin.patch(path, {"role": "viewer"}, etag=admin.etag(path)).get_json()["email"]
        == "l@lib.az"
    )
    cleared = admin.patch(path, {"email": None}, etag=admin.etag(path))
    assert cleared.status_code == 200 and cleared.get_json()["email"] is None
    too_long = admin.post("/users", {"name": "x", "role": "viewer", "email": "a" * 250 + "@lib.az"})
    assert too_long.status_code == 422
