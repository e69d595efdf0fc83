"""The alert digest: one mail to the operators listing every run with alerts not yet told
(`Run.reported_at` empty), by source, with links to the runs' pages; and, when
`[harvest] alert_source_contacts` is on, one to each source's contact address with its
own sources' alerts only.

One digest, never a storm: fifty failed runs are one mail, sent every
`[harvest] alert_digest_minutes` by the schedule's lease holder (`harvest.scheduler`) or
at once by `libfed harvest-digest`. A lease (`harvest-alert-digest`) lets one digest go at
a time, so that two never mail the same runs; the runs are marked told in one transaction
once the mail server has accepted every message, and not before: a refused or unreachable
server leaves them all for the next digest (better twice than never). The mail server is
not talked to inside a transaction, which on SQLite would hold every harvest's writes.

The mails are in `[web] default_language`, words from the pages' catalogue, numbers and
dates as that language writes them; rendered here, without the application, since the
schedule runs outside any request (a command, a server's worker).
"""

from __future__ import annotations

import logging
import typing
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from babel import dates, numbers
from babel.support import NullTranslations, Translations
from flask import Flask
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import Text, cast, select, update
from werkzeug.routing import Map, MapAdapter

from libfed.kernel import clock, mail
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.web.i18n import TRANSLATIONS, html_lang

from .alerts import Words, describe, note_unjudged
from .leases import holding
from .models import Run, Source
from .states import LABELS

log = logging.getLogger(__name__)

LEASE = JOB = "harvest-alert-digest"
# A mail lists this many runs of a source; the source's page, linked, has the rest.
RUNS_SHOWN = 10
# The runs one digest takes, oldest first; more wait for the next.
MAX_RUNS = 1000

# What became of a digest.
SENT = "sent"
NOTHING_TO_TELL = "nothing to tell"
NO_RECIPIENTS = "no recipients"  # no alert_recipients and no contacts to mail
NO_SERVER = "no mail server"  # [mail] host is not set
BUSY = "busy"  # another digest is being sent
DRY_RUN = "dry run"


@dataclass(frozen=True)
class Outcome:
    """What a digest did: what became of it, the mails sent (or, on a dry run, that
    would have been), and how many runs they told of."""

    status: str
    composed: list[EmailMessage] = field(default_factory=list)
    runs: int = 0


@dataclass(frozen=True)
class _RunLine:
    link: str
    started: str
    status: str
    alerts: list[str]


@dataclass
class _SourceAlerts:
    name: str
    link: str
    contact: str | None
    runs: list[_RunLine] = field(default_factory=list)
    more: int = 0


_told_unconfigured = False


def _unconfigured_once() -> None:
    """Said once per process: the schedule asks every period."""
    global _told_unconfigured
    if not _told_unconfigured:
        _told_unconfigured = True
        log.info("harvest alerts are not mailed: no mail server is configured ([mail] host)")


def send_digest(db: Database, config: Config, *, dry_run: bool = False) -> Outcome:
    """Mail the runs' alerts not yet told; `dry_run` composes the mails and sends and
    marks nothing. Raises mail.MailError when the server refuses: nothing is marked."""
    settings = config.harvest
    if not dry_run and not mail.is_configured(config.mail):
        _unconfigured_once()
        return Outcome(NO_SERVER)
    if not settings.alert_recipients and not settings.alert_source_contacts:
        return Outcome(NO_RECIPIENTS)
    note_unjudged(db, config)
    with holding(db, LEASE) as mine:
        if not mine:
            return Outcome(BUSY)
        composed, told = _compose_all(db, config)
        if not composed:
            return Outcome(NOTHING_TO_TELL)
        if dry_run:
            return Outcome(DRY_RUN, composed, len(told))
        mail.send(config.mail, composed)
        with db.write() as session:
            session.execute(
                update(Run)
                .where(Run.id.in_(told), Run.reported_at.is_(None))
                .values(reported_at=clock.utc_now())
                .execution_options(synchronize_session=False)
            )
    log.info("harvest alert digest: %d mails, %d runs", len(composed), len(told))
    return Outcome(SENT, composed, len(told))


def schedule_digest(scheduler: BackgroundScheduler, config: Config) -> None:
    """The digest's job on the schedule of the lease holder (harvest.scheduler), every
    `[harvest] alert_digest_minutes`; left alone while that does not change, so that its
    next time is not pushed forward by every sync."""
    trigger = IntervalTrigger(minutes=config.harvest.alert_digest_minutes, timezone="UTC")
    job = scheduler.get_job(JOB)
    if job is not None and str(job.trigger) == str(trigger):
        return
    scheduler.add_job(
        scheduled_digest,
        trigger,
        id=JOB,
        name="harvest alert digest",
        replace_existing=True,
        coalesce=True,  # digests missed while down become one
        max_instances=1,
        misfire_grace_time=None,
    )


def scheduled_digest() -> None:
    """The job: the digest, its failure logged (the runs wait for the next one)."""
    from .scheduler import _context  # where the schedule's process hands its db and config

    try:
        send_digest(typing.cast(Database, _context["db"]), typing.cast(Config, _context["config"]))
    except mail.MailError as error:
        log.error("harvest alert digest not sent (the next one tells the same runs): %s", error)


def _compose_all(db: Database, config: Config) -> tuple[list[EmailMessage], list[int]]:
    """The operators' mail and the contacts' mails, and the runs they tell of."""
    settings = config.harvest
    language = config.web.default_language
    catalogue, words, environment = _language(language)
    links = _links(config)
    zone = ZoneInfo(config.web.timezone)
    query = (
        select(Run, Source.name, Source.contact_email)
        .join(Source, Source.id == Run.source_id)
        .where(
            Run.reported_at.is_(None),
            Run.alerts.is_not(None),
            cast(Run.alerts, Text) != "[]",
        )
        .order_by(Run.id)
        .limit(MAX_RUNS)
    )
    if not settings.alert_recipients:  # only the contacts are told
        query = query.where(Source.contact_email.is_not(None))
    by_source: dict[str, _SourceAlerts] = {}
    told: list[int] = []
    with db.session() as session:
        for run, name, contact in session.execute(query):
            told.append(run.id)
            group = by_source.setdefault(
                name,
                _SourceAlerts(name, _link(links, "harvest_pages.source", name=name), contact),
            )
            if len(group.runs) >= RUNS_SHOWN:
                group.more += 1
                continue
            group.runs.append(
                _RunLine(
                    _link(links, "harvest_pages.run", run_id=run.id),
                    dates.format_datetime(
                        run.started_at.replace(tzinfo=UTC), "medium", tzinfo=zone, locale=language
                    ),
                    words.gettext(LABELS[run.status]) if run.status in LABELS else run.status,
                    [describe(alert, words) for alert in run.alerts or []],
                )
            )
    groups = sorted(by_source.values(), key=lambda g: g.name)
    messages: list[EmailMessage] = []
    if groups and settings.alert_recipients:
        recipients = [mail.Recipient(a) for a in settings.alert_recipients]
        messages.append(_message(config, catalogue, environment, recipients, groups, False))
    if settings.alert_source_contacts:
        by_contact: defaultdict[str, list[_SourceAlerts]] = defaultdict(list)
        for group in groups:
            if group.contact:
                by_contact[group.contact].append(group)
        for address, own in sorted(by_contact.items()):
            try:
                messages.append(
                    _message(config, catalogue, environment, [mail.Recipient(address)], own, True)
                )
            except mail.MailError as error:  # one bad address keeps no one else uninformed
                log.warning("alert digest for %s not composed: %s", address, error)
    return messages, told if messages else []


def _message(
    config: Config,
    catalogue: NullTranslations,
    environment: Environment,
    recipients: list[mail.Recipient],
    groups: list[_SourceAlerts],
    contact: bool,
) -> EmailMessage:
    """One mail: text and HTML from the same values, its subject the number of sources."""
    language = config.web.default_language
    values = {
        "groups": groups,
        "library": config.oai.repository_name,
        "contact": contact,
        "html_lang": html_lang(language),
    }
    subject = catalogue.ngettext(
        "Harvest alerts: %(num)s source", "Harvest alerts: %(num)s sources", len(groups)
    ) % {"num": numbers.format_decimal(len(groups), locale=language)}
    text = environment.get_template("harvest/digest_text.html").render(values)
    html = environment.get_template("harvest/digest_mail.html").render(values)
    return mail.compose(config.mail, recipients, subject, text, html)


def _language(language: str) -> tuple[NullTranslations, Words, Environment]:
    """The catalogue of `language`, how it writes an alert, and the mail templates'
    environment in it."""
    catalogue: NullTranslations = Translations.load(str(TRANSLATIONS), [language])
    words = Words(
        gettext=catalogue.gettext,
        number=lambda value: numbers.format_decimal(value, locale=language),
        percent=lambda share: numbers.format_percent(share, locale=language),
        duration=lambda span: dates.format_timedelta(span, locale=language),
    )
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        extensions=["jinja2.ext.i18n"],
        autoescape=True,
    )
    environment.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    environment.filters["number"] = words.number
    return catalogue, words, environment


def _links(config: Config) -> MapAdapter:
    """The pages' addresses under the public base URL: a mail's links are absolute, and
    no request is there to take the host from."""
    parts = urlsplit(config.public_base_url)
    return _url_map().bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)


def _link(links: MapAdapter, endpoint: str, **values: object) -> str:
    return links.build(endpoint, values, force_external=True)


@cache
def _url_map() -> Map:
    """The harvesting pages' routes, as the application serves them."""
    from .web import blueprint

    routes = Flask(__name__)
    routes.register_blueprint(blueprint)
    return routes.url_map
