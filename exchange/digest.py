"""The weekly reminder digest: the dashboard's reminders, mailed to each coordinator.

Each coordinator or administrator with an e-mail address gets one mail in their own
language (their account's, else the site's default), dates and numbers as that language
writes them, with links to the shipments and agreements on this site. Nothing to remind,
no mail.

Once per ISO week: a `MailDigest` row ('reminders', '2026-W49') claims the week before
anything is sent, so that of two processes (gunicorn workers each run the schedule) only
the first sends; the second finds the row, or fails on its primary key. The claim is
committed before the mail goes, so that no coordinator's save waits on the mail server
(SQLite's write lock covers the whole database); a refused send takes the claim back,
so that a retry sends. A process that dies while sending leaves the week claimed:
`libfed exchange digest --force` sends it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, g
from flask_babel import force_locale, format_percent, ngettext
from markupsafe import Markup
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.routing import MapAdapter

from libfed.accounts.models import User
from libfed.kernel import clock, mail
from libfed.kernel.config import Config
from libfed.kernel.models import MailDigest
from libfed.kernel.services import services
from libfed.web.i18n import LANGUAGES, html_lang

from .attention import Reminders, reminders
from .web.common import partner_names

log = logging.getLogger(__name__)

KIND = "reminders"
# A mail names this many of each kind; the dashboard, linked from it, lists the rest.
SHOWN = 50
# Who is mailed: those who act on the ledger.
ROLES = ("coordinator", "admin")

# What became of a digest.
SENT = "sent"
ALREADY_SENT = "already sent"  # this week's went before (and --force was not given)
NOTHING_TO_REMIND = "nothing to remind"
NO_RECIPIENTS = "no recipients"  # no active coordinator or admin has an e-mail address
NO_SERVER = "no mail server"  # [mail] host is not set
DRY_RUN = "dry run"


@dataclass(frozen=True)
class Outcome:
    """What a digest run did: its period ('2026-W49'), what became of it, how many mails
    went, and, on a dry run, the mails it would have sent."""

    period: str
    status: str
    sent: int = 0
    composed: list[EmailMessage] = field(default_factory=list)


def period_of(now: datetime, zone: str) -> str:
    """The ISO week `now` (UTC) falls in, in the library's zone: '2026-W49'."""
    year, week, _day = now.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).isocalendar()
    return f"{year}-W{week:02d}"


def site_base(config: Config) -> str:
    """The site's address, as the OAI-PMH base URL gives it (the same server serves the
    pages beside /oai): a mail's links must be absolute, and a worker or a command has
    no request to take its host from."""
    return config.oai.base_url.rstrip("/").removesuffix("/oai")


def _links(app: Flask, config: Config) -> MapAdapter:
    parts = urlsplit(site_base(config))
    return app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)


def recipients(session: Session) -> list[User]:
    """Active coordinators and administrators with an e-mail address (at most as many as
    one mail may be addressed to: a digest is for a library's few coordinators)."""
    return list(
        session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_(ROLES), User.email.is_not(None))
            .order_by(User.id)
            .limit(mail.MAX_RECIPIENTS)
        )
    )


def _language(user: User, config: Config) -> str:
    return user.language if user.language in LANGUAGES else config.web.default_language


def _compose(
    app: Flask, session: Session, user: User, groups: list[Reminders], links: MapAdapter
) -> EmailMessage:
    """One user's mail, in their language: the text and the HTML from the same data."""
    config = services(app).config
    language = _language(user, config)
    partner_ids = {item.partner_id for group in groups for item in group.items}
    # A fresh application context per mail: the language chosen for one must not stay
    # for the next (display names and dates read it from `g` and Flask-Babel).
    with app.app_context(), force_locale(language):
        g.language = language
        values = {
            "groups": groups,
            "names": partner_names(session, partner_ids),
            "link": lambda endpoint, **args: links.build(endpoint, args, force_external=True),
            "library": config.exchange.library_name or config.oai.repository_name,
            "acknowledgement_days": config.exchange.acknowledgement_days,
            "percent": format_percent,
            "plain": lambda html: Markup(html).unescape(),
            "html_lang": html_lang(language),
        }
        total = sum(group.count for group in groups)
        environment = app.jinja_env
        subject = ngettext(
            "%(num)s exchange reminder this week", "%(num)s exchange reminders this week", total
        )
        text = environment.get_template("exchange/digest_text.html").render(values)
        html = environment.get_template("exchange/digest_mail.html").render(values)
    return mail.compose(config.mail, [mail.Recipient(user.email or "")], subject, text, html)


def send_digest(
    app: Flask, now: datetime | None = None, *, force: bool = False, dry_run: bool = False
) -> Outcome:
    """Mail this week's reminders to every coordinator with an address, once per week
    unless `force`; `dry_run` composes the mails and sends and records nothing.

    Raises mail.MailError when the server refuses: nothing is recorded then."""
    config = services(app).config
    now = now or clock.utc_now()
    period = period_of(now, config.web.timezone)
    if not dry_run and not mail.is_configured(config.mail):
        return Outcome(period, NO_SERVER)
    database = services(app).db
    # Composed from a reading session: the write lock (SQLite takes it for the whole
    # database) is held only while the week is claimed and the mails go.
    with app.app_context(), database.session() as session:
        if not force and session.get(MailDigest, (KIND, period)) is not None:
            return Outcome(period, ALREADY_SENT)
        groups = reminders(session, now, config, SHOWN)
        if not any(group.count for group in groups):
            return Outcome(period, NOTHING_TO_REMIND)
        users = recipients(session)
        if not users:
            return Outcome(period, NO_RECIPIENTS)
        links = _links(app, config)
        messages = [_compose(app, session, user, groups, links) for user in users]
    if dry_run:
        return Outcome(period, DRY_RUN, composed=messages)
    try:
        with database.write() as session:
            # Asked again under the lock: another process may have sent it meanwhile.
            claimed = session.get(MailDigest, (KIND, period))
            if claimed is not None and not force:
                return Outcome(period, ALREADY_SENT)
            if claimed is None:
                # An INSERT, never an upsert: of two processes claiming the week at once,
                # the second fails on the key (a merge would find the first's row, just
                # committed, and update it: both would send, as seen on PostgreSQL).
                session.add(
                    MailDigest(kind=KIND, period=period, sent_at=now, recipients=len(messages))
                )
            else:
                claimed.sent_at, claimed.recipients = now, len(messages)
    except IntegrityError:  # another process claimed the week between our read and write
        return Outcome(period, ALREADY_SENT)
    try:
        sent = mail.send(config.mail, messages)
    except mail.MailError:
        if claimed is None:  # a week sent before stays sent when a forced resend fails
            with database.write() as session:
                session.execute(
                    delete(MailDigest).where(MailDigest.kind == KIND, MailDigest.period == period)
                )
        raise
    return Outcome(period, SENT, sent, messages)


def _weekly(app: Flask) -> None:
    try:
        outcome = send_digest(app)
    except mail.MailError as error:
        log.error("reminder digest not sent: %s", error)
        return
    log.info("reminder digest %s: %s (%d mails)", outcome.period, outcome.status, outcome.sent)


def start_weekly(app: Flask) -> BackgroundScheduler:
    """Mail the digest every Monday at 07:00 in the library's zone, from this process.

    Every server process may run one: the week's `MailDigest` row lets only the first
    send. A run held up (a busy process) still goes within six hours of its time; a
    Monday morning on which no server ran is not made up (news of Monday on a Thursday
    helps no one), and `libfed exchange digest` sends it by hand."""
    zone = ZoneInfo(services(app).config.web.timezone)
    scheduler = BackgroundScheduler(timezone=zone)
    scheduler.add_job(
        _weekly,
        CronTrigger(day_of_week="mon", hour=7, timezone=zone),
        args=[app],
        id="reminder-digest",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=6 * 3600,
    )
    scheduler.start()
    return scheduler
