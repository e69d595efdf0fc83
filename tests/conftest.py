"""Shared fixtures: a fresh migrated database, the app, a live HTTP server, the schemas."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# libxml2 reads the catalog variable once, at first use: set it before anything parses.
os.environ["XML_CATALOG_FILES"] = str(ROOT / "schemas" / "catalog.xml")

import pytest  # noqa: E402

# The browser tests' shared fixtures: one Chromium per module, an English desktop page.
from browser import browser, page, playwright, site_url  # noqa: E402, F401
from flask import Flask  # noqa: E402
from hypothesis import settings  # noqa: E402
from lxml import etree  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from libfed.harvest.sources import add_source  # noqa: E402
from libfed.kernel.config import Config, parse_config  # noqa: E402
from libfed.kernel.db import Database  # noqa: E402
from libfed.records.importer import ImportSummary, import_files  # noqa: E402
from libfed.records.site import Site  # noqa: E402
from libfed.root.app import create_app  # noqa: E402
from tests.backends import Databases  # noqa: E402

# No per-example deadline: CI machines are shared, and a pause there is not a bug here.
settings.register_profile("libfed", deadline=None)
settings.load_profile("libfed")

FIXTURES = ROOT / "tests" / "fixtures"
CLOCK_START = datetime(2024, 5, 1, 10, 0, 0)
REPOSITORY_ID = "test.libfed.org"
OAI_NS = {"oai": "http://www.openarchives.org/OAI/2.0/"}


def config_dict(database_url: str, **oai: object) -> dict:
    return {
        "database": {"url": database_url},
        "oai": {
            "repository_name": "libfed test repository",
            "repository_identifier": REPOSITORY_ID,
            "base_url": "http://127.0.0.1/oai",
            "admin_emails": ["admin@test.libfed.org"],
            "page_size": 10,
            **oai,
        },
        "exchange": {"home_country": "AZ"},
    }


# What `libfed import` and `libfed db rerender` give records under the tests' settings.
SITE = Site.of(parse_config(config_dict("sqlite://")))


class Clock:
    """A stand-in for the clocks of writers and provider that moves only when told to."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def set(self, value: datetime) -> datetime:
        self.now = value
        return value


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Frozen time for every writer (libfed.kernel.clock) and responseDate (libfed.oai.endpoint) alike."""
    frozen = Clock(CLOCK_START)
    monkeypatch.setattr("libfed.kernel.clock.utc_now", frozen)
    monkeypatch.setattr("libfed.oai.endpoint.now_utc", frozen)
    return frozen


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Databases]:
    """This test process's databases, on the backend under test (tests/databases.py)."""
    made = Databases(tmp_path_factory.mktemp("databases"), worker_id)
    yield made
    made.close()


@pytest.fixture(scope="session")
def migrated_template(databases: Databases) -> str:
    """One database migrated to head per test process; each test gets a copy of it
    (a copy takes milliseconds, running the migrations ~80 ms)."""
    return databases.migrated()


@pytest.fixture
def database_url(databases: Databases, migrated_template: str) -> Iterator[str]:
    url = databases.copy(migrated_template)
    yield url
    databases.drop(url)


@pytest.fixture
def config(database_url: str) -> Config:
    return parse_config(config_dict(database_url))


@pytest.fixture
def db(config: Config) -> Iterator[Database]:
    database = Database(config.database.url)
    yield database
    database.dispose()


@pytest.fixture
def app(config: Config, db: Database) -> Flask:
    return create_app(config, db)


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app behind a real HTTP server on loopback; yields the /oai URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/oai"
    server.shutdown()
    thread.join()


AGGREGATOR = "aggregator.libfed.org"


@pytest.fixture
def aggregator(databases: Databases, migrated_template: str) -> Iterator[tuple[Config, Database]]:
    """A second instance, with its own database, that harvests the first one."""
    config = parse_config(
        {
            **config_dict(databases.copy(migrated_template, "aggregator")),
            "harvest": {"max_retries": 0},
        }
        | {"oai": {**config_dict("x")["oai"], "repository_identifier": AGGREGATOR}}
    )
    database = Database(config.database.url)
    yield config, database
    database.dispose()


def write_config(path: Path, config: Config, harvest: str = "") -> Path:
    """`config` as a TOML file for the command line (other processes), with `harvest`
    as the [harvest] section's lines."""
    path.write_text(
        f'[database]\nurl = "{config.database.url}"\n[oai]\n'
        + "".join(
            f"{key} = {json.dumps(value)}\n" for key, value in config.oai.model_dump().items()
        )
        + f'[exchange]\nhome_country = "{config.exchange.home_country}"\n'
        + f"[harvest]\n{harvest}"
    )
    return path


@pytest.fixture
def db_command(config: Config, db: Database, tmp_path: Path, clock: Clock):  # type: ignore[no-untyped-def]
    """`libfed db ...` run on the command line against a database holding the pymarc
    MARCXML batch, imported a minute before: what the rerender tests call."""
    from click.testing import CliRunner

    from libfed.root.cli import main

    load(db, "marcxml/pymarc_batch.xml")
    clock.advance(60)
    settings = write_config(tmp_path / "config.toml", config)
    return lambda *args: CliRunner().invoke(main, ["--config", str(settings), "db", *args])


def downgrade(db: Database, revision: str) -> None:
    """The schema taken back to `revision` by the migrations' own downgrades: a database
    as an older version left it, for the tests of what `libfed db upgrade` does to it."""
    from alembic import command

    from libfed.root.migrate import _alembic_config

    config = _alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def load(
    db: Database, *names: str, sets: dict | None = None, encoding: str | None = None
) -> ImportSummary:
    """Import fixture files by their path under tests/fixtures, as `libfed import` does
    with the tests' settings (this library's holdings, its pages' address)."""
    return import_files(
        db,
        REPOSITORY_ID,
        [FIXTURES / n for n in names],
        sets=sets,
        encoding=encoding,
        site=SITE,
    )


@pytest.fixture(scope="session")
def oai_schema() -> etree.XMLSchema:
    """OAI-PMH with every format and description schema this server emits (offline)."""
    return etree.XMLSchema(etree.parse(str(ROOT / "schemas" / "local" / "oai-pmh-all.xsd")))


def parse_valid(schema: etree.XMLSchema, body: bytes) -> etree._Element:
    """Parse a response and assert that it validates; returns the root element."""
    document = etree.fromstring(body)
    if not schema.validate(document):
        raise AssertionError(f"invalid OAI-PMH response: {schema.error_log}\n{body[:2000]!r}")
    return document


# ------------------------------------------------------------------ the exchange API


class ApiCaller:
    """A client of /api/v1 holding one user's token; paths are relative to /api/v1."""

    def __init__(self, client, token: str | None) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        json: object = None,
        *,
        etag: str | None = None,
        headers: dict | None = None,
    ):  # type: ignore[no-untyped-def]
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        if etag is not None:
            sent["If-Match"] = etag
        return self.client.open("/api/v1" + path, method=method, json=json, headers=sent)

    def get(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: object = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.call("POST", path, json, **kwargs)

    def patch(self, path: str, json: object = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.call("PATCH", path, json, **kwargs)

    def delete(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.call("DELETE", path, **kwargs)

    def create(self, path: str, json: dict) -> dict:
        response = self.post(path, json)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def etag(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, response.get_json()
        return response.headers["ETag"]

    def move(self, shipment_id: int, to: str, **extra: object):  # type: ignore[no-untyped-def]
        path = f"/shipments/{shipment_id}"
        return self.post(f"{path}/transitions", {"to": to, **extra}, etag=self.etag(path))


@pytest.fixture
def tokens(db: Database) -> dict[str, str]:
    """A user per role: role -> bearer token."""
    from libfed.accounts.users import add_user
    from libfed.kernel.callers import ROLES

    issued = {}
    with db.write() as session:
        for role in ROLES:
            _user, issued[role] = add_user(session, f"{role}-user", role)
    return issued


@pytest.fixture
def api(client, tokens: dict[str, str]) -> ApiCaller:  # type: ignore[no-untyped-def]
    """A coordinator."""
    return ApiCaller(client, tokens["coordinator"])


@pytest.fixture
def viewer(client, tokens: dict[str, str]) -> ApiCaller:  # type: ignore[no-untyped-def]
    return ApiCaller(client, tokens["viewer"])


@pytest.fixture
def admin(client, tokens: dict[str, str]) -> ApiCaller:  # type: ignore[no-untyped-def]
    return ApiCaller(client, tokens["admin"])


def add_partner(
    api: ApiCaller, name: str = "Milli Kütüphane", country: str = "TR", **fields: object
) -> dict:
    return api.create("/institutions", {"name": name, "country": country, **fields})


def add_agreement(
    api: ApiCaller,
    partner_id: int,
    basis: str = "copy_for_copy",
    start_date: str = "2020-01-01",
    **fields: object,
) -> dict:
    """An exchange agreement with the partner (`fields`: annual_quota, end_date, ...)."""
    return api.create(
        "/agreements",
        {"partner_id": partner_id, "basis": basis, "start_date": start_date, **fields},
    )


def archive_partner(api: ApiCaller, partner: dict) -> dict:
    """The partner archived, from its current version; as the API answers it."""
    path = f"/institutions/{partner['id']}"
    response = api.post(f"{path}/archive", etag=api.etag(path))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def harvested_partner(api: ApiCaller, db: Database) -> int:
    """Tashkent's national library, its catalogue harvested as source `tashkent`."""
    institution = add_partner(api, "Alisher Navoiy nomidagi kutubxona", "UZ")
    with db.write() as session:
        add_source(
            session, "tashkent", "http://tashkent.example/oai", institution_id=institution["id"]
        )
    return institution["id"]


# An outgoing shipment's way in 2025: packed in February, dispatched on 1 March.
SENT_2025 = [("packed", "2025-02-27T10:00:00Z"), ("dispatched", "2025-03-01T10:00:00Z")]
RECEIVED_2025 = [("received", "2025-04-10T00:00:00Z")]


def dispatched_at(moment: datetime) -> list[tuple[str, str]]:
    """add_shipment's moves of a parcel packed the day before `moment` (UTC), dispatched at it."""
    return [
        (status, (moment - timedelta(days=days_before)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        for status, days_before in (("packed", 1), ("dispatched", 0))
    ]


def add_shipment(
    api: ApiCaller,
    partner_id: int,
    direction: str = "outgoing",
    items: list[dict] | None = None,
    moves: Iterable[tuple[str, str]] = (),
    **fields: object,
) -> dict:
    """A shipment with its items (default: one item of 2 copies at 10.00 EUR), then moved
    through `moves` ((status, ISO time) pairs), each of which must be allowed."""
    shipment = api.create(
        "/shipments", {"direction": direction, "partner_id": partner_id, **fields}
    )
    for item in (
        items
        if items is not None
        else [{"title": "Azərbaycan tarixi", "copies": 2, "unit_value": "10.00", "currency": "EUR"}]
    ):
        api.create(f"/shipments/{shipment['id']}/items", item)
    for to, at in moves:
        response = api.move(shipment["id"], to, at=at)
        assert response.status_code == 200, (to, response.get_json())
    return api.get(f"/shipments/{shipment['id']}").get_json()


# ---------------------------------------------------------------- web pages

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class WebClient:
    """A browser-like test client: keeps the session cookie and sends the CSRF token
    that the pages embed, as a real form would."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        self.client = client

    def csrf(self) -> str:
        match = _CSRF.search(self.client.get("/sign-in").get_data(as_text=True))
        assert match, "the sign-in page has no CSRF token"
        return match.group(1)

    def get(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.client.get(path, **kwargs)

    def text(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)

    def post(self, path: str, data: dict | None = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.client.post(path, data={**(data or {}), "csrf_token": self.csrf()}, **kwargs)

    def sign_in(self, name: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        return self.post("/sign-in", {"name": name, "password": password})

    def in_language(self, language: str) -> WebClient:
        """The pages from now on in `language`, chosen from the language menu as a person does."""
        response = self.post("/language", {"language": language, "next": "/"})
        assert response.status_code in (302, 303), response.status_code
        return self


@pytest.fixture
def web_users(db: Database, tokens: dict[str, str]) -> dict[str, str]:
    """The users of `tokens`, with the password PASSWORD: role -> user name."""
    from libfed.accounts.users import find_user, set_password

    names = {role: f"{role}-user" for role in tokens}
    with db.write() as session:
        for name in names.values():
            set_password(session, find_user(session, name), PASSWORD)
    return names


def signed_in_as(app: Flask, name: str) -> WebClient:
    web = WebClient(app.test_client())
    assert web.sign_in(name).status_code == 302
    return web


@pytest.fixture
def pages(app: Flask, web_users: dict[str, str]) -> WebClient:
    """A coordinator's browser session."""
    return signed_in_as(app, web_users["coordinator"])


@pytest.fixture
def viewer_pages(app: Flask, web_users: dict[str, str]) -> WebClient:
    return signed_in_as(app, web_users["viewer"])


@pytest.fixture
def admin_pages(app: Flask, web_users: dict[str, str]) -> WebClient:
    return signed_in_as(app, web_users["admin"])


# Two live servers that are each other's peers, and a message type that only counts what
# it was given (the federated exchange's tests); imported last, as it builds on the helpers
# above.
from federation_nodes import pings, two_nodes  # noqa: E402, F401
