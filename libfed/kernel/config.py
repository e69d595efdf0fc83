"""Configuration: one TOML file, validated once at start-up.

A misspelt key or a wrong type must stop the server before it serves anything,
with a message that names the key: a silently ignored `page_sise` is how
providers end up serving 10-record pages for years.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .fields import country_code, http_url

CONFIG_ENV = "LIBFED_CONFIG"
DATABASE_URL_ENV = "LIBFED_DATABASE_URL"

# oai-identifier.xsd: repositoryIdentifier is a domain name.
_REPOSITORY_ID = re.compile(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+")
_EMAIL = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the offending key."""


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DatabaseConfig(_Section):
    url: str = "sqlite:///var/libfed.sqlite3"


class OAIConfig(_Section):
    repository_name: str = Field(min_length=1)
    repository_identifier: str
    base_url: Annotated[str, AfterValidator(http_url)]
    admin_emails: list[Annotated[str, AfterValidator(_email)]] = Field(min_length=1)
    page_size: int = Field(default=500, ge=1, le=10_000)
    token_ttl_seconds: int = Field(default=86_400, ge=60)

    @field_validator("repository_identifier")
    @classmethod
    def _domain_like(cls, value: str) -> str:
        if not _REPOSITORY_ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a domain-name-like repository identifier "
                "(oai-identifier scheme, e.g. 'library.example.az')"
            )
        return value


class HarvestConfig(_Section):
    scheduler: bool = True
    timeout_seconds: float = Field(default=60, gt=0, le=3600)
    max_retries: int = Field(default=5, ge=0, le=100)
    max_retry_after_seconds: int = Field(default=3600, ge=0)
    user_agent: str = Field(default="libfed-harvester/0.1 (+OAI-PMH)", min_length=1)
    concurrency: int = Field(default=4, ge=1, le=64)
    # One response may take this long in all, however slowly its bytes come.
    request_deadline_seconds: float = Field(default=300, gt=0, le=24 * 3600)
    # What one response may weigh as sent, and once decompressed (advertised or not).
    max_response_mib: int = Field(default=32, ge=1, le=4096)
    max_decompressed_mib: int = Field(default=64, ge=1, le=4096)
    max_redirects: int = Field(default=5, ge=0, le=20)
    # A reconciliation (harvest.reconcile) that would make tombstones of more than this
    # share of a source's records deletes none: a provider that lost its database, or
    # answers for the wrong set, is not believed without `--force`.
    reconcile_max_delete_percent: float = Field(default=50, ge=0, le=100)
    # Alerts (harvest.alerts): a run that loses more than this share of the source's
    # records since its last complete run, or takes this many times its usual time.
    alert_drop_percent: int = Field(default=20, ge=1, le=100)
    alert_slow_factor: float = Field(default=3, gt=1, le=100)
    # Operators mailed one digest of new alerts this often (none: no mail); the sources'
    # contact addresses get their own sources' alerts too when enabled.
    alert_digest_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    alert_recipients: list[Annotated[str, AfterValidator(_email)]] = Field(
        default=[], max_length=100
    )
    alert_source_contacts: bool = False
    # Harvests are taken from a queue in the database by `libfed harvest-worker` processes
    # (PostgreSQL only); the servers' schedule then runs none itself.
    queue: bool = False


_REFERENCE_FIELDS = re.compile(r"\{(year|n)(:0?\d{1,2}d)?\}")


def _reference_pattern(value: str) -> str:
    """A pattern gives each reference once: it must number ({n}) and may name the year."""
    if "{n" not in value or len(value) > 48:
        raise ValueError(f"{value!r} must contain {{n}} and be at most 48 characters")
    if "{" in _REFERENCE_FIELDS.sub("", value) or "}" in _REFERENCE_FIELDS.sub("", value):
        raise ValueError(f"{value!r} may use only {{year}} and {{n}} (e.g. {{n:04d}})")
    return value


class ExchangeConfig(_Section):
    # Partners in this country are domestic, all others international.
    home_country: Annotated[str, AfterValidator(country_code)]
    # References of outgoing shipments left blank are numbered per year by this pattern.
    reference_pattern: Annotated[str, AfterValidator(_reference_pattern)] = "EX/{year}/{n}"
    # Reminders: a dispatched shipment unacknowledged this long, an agreement's quota
    # used this far (percent).
    acknowledgement_days: int = Field(default=30, ge=1, le=3650)
    quota_warning_percent: int = Field(default=90, ge=1, le=100)
    # This library as its letters, labels and packing lists name it (default: the OAI
    # repository name), its postal address as on an envelope (lines, without the country:
    # letters add home_country's name in their language), and how partners reach it.
    library_name: str | None = Field(default=None, min_length=1, max_length=255)
    postal_address: str | None = Field(default=None, min_length=1, max_length=1000)
    phone: str | None = Field(default=None, min_length=1, max_length=64)
    email: Annotated[str, AfterValidator(_email)] | None = None


class MailConfig(_Section):
    # No host: nothing is mailed (digests are still shown on the pages).
    host: str | None = None
    port: int = Field(default=25, ge=1, le=65535)
    # "starttls" upgrades a plain connection, "ssl" connects over TLS (port 465).
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: str | None = None
    sender: Annotated[str, AfterValidator(_email)] = "libfed@localhost.localdomain"
    timeout_seconds: float = Field(default=30, gt=0, le=600)


class FederationConfig(_Section):
    # This server's public root address, as partners reach it (https://libfed.example.org):
    # its node document names it and the addresses of the exchange's endpoints under it.
    # Default: [oai] base_url without its final /oai.
    base_url: Annotated[str, AfterValidator(http_url)] | None = None
    # This library's ISIL (ISO 15511), where its country has an ISIL agency.
    isil: str | None = Field(
        default=None, min_length=3, max_length=16, pattern=r"^[A-Za-z]{1,4}-\S+$"
    )
    # A signed request is heard only this close to our clock (RFC 9421 `created`), and
    # the nonces seen are remembered this long, so a replay is refused either way.
    max_clock_skew_seconds: int = Field(default=300, ge=30, le=3600)
    # Delivery: every worker looks at the outbox this often, and at once after a change;
    # a message still undelivered after this many attempts is shown to coordinators.
    delivery_interval_seconds: float = Field(default=30, gt=0, le=3600)
    failing_after_attempts: int = Field(default=6, ge=1, le=1000)
    # A peer's messages leave over up to this many connections at once, each shipment's
    # in the order written (the claims' together in one of their own), so that a burst
    # of dispatches is not one long queue behind the slowest answer.
    delivery_connections: int = Field(default=4, ge=1, le=16)
    # One request to or from a peer may take this long and weigh this much.
    timeout_seconds: float = Field(default=30, gt=0, le=600)
    max_message_kib: int = Field(default=1024, ge=16, le=65536)
    # How long a receipt link on a letter stays valid for a partner without a server.
    receipt_link_days: int = Field(default=180, ge=1, le=3650)


def _crontab(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger  # only when a schedule is set

    try:
        CronTrigger.from_crontab(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a cron expression: {error}") from None
    return value


class DumpsConfig(_Section):
    # Whole-repository files served at /dumps/ and listed for ResourceSync (docs/dumps.md).
    # No directory: no dumps. A relative one is taken from this file's folder.
    directory: str | None = Field(default=None, min_length=1)
    formats: list[Literal["marcxml", "mods", "oai_dc", "jsonl"]] = Field(
        default=["marcxml", "mods", "oai_dc", "jsonl"], min_length=1
    )
    # When `libfed serve` makes one (cron, in [web] timezone); none: only `libfed dumps make`.
    schedule: Annotated[str, AfterValidator(_crontab)] | None = "0 3 * * 0"
    # Dumps kept; older ones are removed when a new one is complete.
    keep: int = Field(default=3, ge=1, le=100)


class ServerConfig(_Section):
    secret_key: str | None = Field(default=None, min_length=32)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Asia/Baku')") from None
    return value


class WebConfig(_Section):
    # Language of the pages for people who have not chosen one and whose browser asks
    # for none of the five (az, ru, uz_Latn, uz_Cyrl, en).
    default_language: Literal["az", "ru", "uz_Latn", "uz_Cyrl", "en"] = "en"
    # Times are stored in UTC and shown in this zone.
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    # Send the session cookie over HTTPS only: set true behind a TLS proxy.
    secure_cookies: bool = False
    session_hours: int = Field(default=12, ge=1, le=24 * 30)


class Config(_Section):
    database: DatabaseConfig = DatabaseConfig()
    oai: OAIConfig
    harvest: HarvestConfig = HarvestConfig()
    exchange: ExchangeConfig
    server: ServerConfig = ServerConfig()
    web: WebConfig = WebConfig()
    mail: MailConfig = MailConfig()
    federation: FederationConfig = FederationConfig()
    dumps: DumpsConfig = DumpsConfig()

    @model_validator(mode="after")
    def _queue_needs_a_shared_database(self) -> Config:
        """Workers on several machines share one database; SQLite is one file of one host,
        and its single scheduler already harvests."""
        if self.harvest.queue and self.database.url.startswith("sqlite"):
            raise ValueError(
                "harvest.queue needs a PostgreSQL database that the workers share; with "
                "SQLite the server's scheduler harvests (set harvest.queue = false)"
            )
        return self

    @property
    def public_base_url(self) -> str:
        """This server's root address as partners reach it, without a final slash."""
        if self.federation.base_url:
            return self.federation.base_url.rstrip("/")
        base = self.oai.base_url.rstrip("/")
        return base.removesuffix("/oai")


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key")
        elif item["type"] == "missing":
            lines.append(f"{key}: required value is missing")
        else:
            lines.append(f"{key}: {item['msg']}")
    return "; ".join(lines)


def parse_config(data: dict, origin: str = "configuration", folder: Path | None = None) -> Config:
    """Validate a decoded TOML document; environment overrides are applied here.

    A relative SQLite path of the document is taken from `folder` (the configuration
    file's), one from $LIBFED_DATABASE_URL from the working directory, as a shell
    user expects of a path typed in the environment.
    """
    data = {key: dict(value) if isinstance(value, dict) else value for key, value in data.items()}
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        database = data.get("database")
        data["database"] = {**(database if isinstance(database, dict) else {}), "url": url}
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{origin}: {_describe(error)}") from None
    if folder is not None and config.dumps.directory is not None:
        dumps = config.dumps.model_copy(update={"directory": str(folder / config.dumps.directory)})
        config = config.model_copy(update={"dumps": dumps})
    if folder is None or url:
        return config
    database = DatabaseConfig(url=_sqlite_beside(config.database.url, folder))
    return config.model_copy(update={"database": database})


def _sqlite_beside(url: str, folder: Path) -> str:
    """`url`, its SQLite file taken from `folder` when its path is relative: a cron job
    run from another directory once made itself a new, empty database there."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # the database itself says what is wrong with it, when opened
    path = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or path in (None, "", ":memory:")
        or Path(path).is_absolute()
        or parsed.query.get("uri")  # file: URIs are SQLite's to resolve
    ):
        return url
    return parsed.set(database=str(folder / path)).render_as_string(hide_password=False)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the file named by `path`, else by $LIBFED_CONFIG, else ./config.toml; a
    relative SQLite path in it is the file's folder's, wherever the command runs."""
    chosen = Path(path or os.environ.get(CONFIG_ENV) or "config.toml")
    try:
        raw = chosen.read_bytes()
    except OSError as error:
        raise ConfigError(
            f"cannot read configuration file {chosen}: {error.strerror}; "
            f"pass --config PATH or set {CONFIG_ENV} (see config.example.toml)"
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{chosen}: not valid TOML: {error}") from None
    return parse_config(data, origin=str(chosen), folder=chosen.absolute().parent)
