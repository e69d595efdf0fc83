"""The `libfed` command as an operator uses it, and one real `libfed serve`."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import FIXTURES, OAI_NS, parse_valid
from lxml import etree
from sqlalchemy import func, inspect, select, text

from libfed.exchange.models import Shipment
from libfed.kernel.config import CONFIG_ENV, DATABASE_URL_ENV
from libfed.kernel.db import Database
from libfed.records.models import OAISet, Record, RecordSet
from libfed.records.repository import stored_metadata
from libfed.root.cli import main
from libfed.search.query import LOCAL
from tests.backends import Databases

REPOSITORY = "cli.libfed.org"
PREFIX = f"oai:{REPOSITORY}:"
BAD_RECORDS = FIXTURES / "marc" / "pymarc_bad_records.mrc"
BATCH = FIXTURES / "marcxml" / "pymarc_batch.xml"

Invoke = Callable[..., Result]


def config_text(database_url: str, extra_oai: str = "") -> str:
    return f"""\
[database]
url = "{database_url}"

[oai]
repository_name = "CLI test repository"
repository_identifier = "{REPOSITORY}"
base_url = "http://127.0.0.1:8080/oai"
admin_emails = ["admin@cli.libfed.org"]
page_size = 50
{extra_oai}
[exchange]
home_country = "AZ"
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # `make test` exports LIBFED_CONFIG; LIBFED_DATABASE_URL would redirect the database.
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


@pytest.fixture
def cli_database(databases: Databases) -> Iterator[str]:
    """An empty database for the command line to create and fill."""
    url = databases.empty("cli")
    yield url
    databases.drop(url)


@pytest.fixture
def config_file(tmp_path: Path, cli_database: str) -> Path:
    path = tmp_path / "libfed.toml"
    path.write_text(config_text(cli_database), encoding="utf-8")
    return path


@pytest.fixture
def run(config_file: Path) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, ["--config", str(config_file), *args])

    return invoke


@pytest.fixture
def upgraded(run: Invoke) -> None:
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output


@pytest.fixture
def database(cli_database: str, upgraded: None) -> Iterator[Database]:
    db = Database(cli_database)
    yield db
    db.dispose()


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def record(db: Database, identifier: str) -> Record | None:
    with db.session() as session:
        return session.scalar(select(Record).where(Record.identifier == identifier))


# --- db upgrade ------------------------------------------------------------------------


def _tables(url: str) -> list[str]:
    db = Database(url)
    try:
        return inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def test_db_upgrade_creates_the_schema_and_is_idempotent(run: Invoke, cli_database: str) -> None:
    first = run("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert "current schema" in first.output
    assert "shipments" in _tables(cli_database)

    second = run("db", "upgrade")
    assert second.exit_code == 0, second.output
    assert "current schema" in second.output


def test_db_upgrade_creates_the_folder_of_a_sqlite_file(tmp_path: Path) -> None:
    database = tmp_path / "data" / "libfed.sqlite3"
    config = tmp_path / "sqlite.toml"
    config.write_text(config_text(f"sqlite:///{database}"), encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert database.exists()


def test_import_before_db_upgrade_says_what_to_run(run: Invoke) -> None:
    result = run("import", str(BATCH))
    assert result.exit_code != 0
    assert "libfed db upgrade" in result.output


@pytest.mark.parametrize(
    "args",
    [("records", "delete", "oai:x:1"), ("sets", "add", "a", "A"), ("demo",)],
)
def test_other_commands_before_db_upgrade_say_what_to_run(
    run: Invoke, args: tuple[str, ...]
) -> None:
    result = run(*args)
    assert result.exit_code != 0
    assert "libfed db upgrade" in result.output


# --- import ----------------------------------------------------------------------------


def test_import_prints_the_summary_and_exits_0_when_nothing_is_rejected(
    run: Invoke, database: Database
) -> None:
    result = run("import", str(BATCH))
    assert result.exit_code == 0, result.output
    assert "added 2, updated 0, unchanged 0, rejected 0" in result.stdout
    assert "rejected:" not in result.output
    assert count(database, Record) == 2
    assert record(database, PREFIX + "5637241") is not None

    again = run("import", str(BATCH))
    assert again.exit_code == 0, again.output
    assert "added 0, updated 0, unchanged 2, rejected 0" in again.stdout


def test_import_reports_each_rejection_and_exits_1(run: Invoke, database: Database) -> None:
    result = run("import", str(BAD_RECORDS))
    assert result.exit_code == 1, result.output
    assert "added 1, updated 0, unchanged 1, rejected 6" in result.stdout
    lines = [line.strip() for line in result.stdout.splitlines() if "rejected:" in line]
    assert len(lines) == 6
    for line, number in zip(lines, range(2, 8), strict=True):
        assert line.startswith(f"rejected: {BAD_RECORDS}: record {number} (byte ")
    assert "Base address exceeds size of record" in lines[0]
    assert "Invalid directory" in lines[2]
    # The sound records were still imported.
    assert count(database, Record) == 1


def test_import_of_several_files_with_a_set_and_an_encoding(
    run: Invoke, database: Database
) -> None:
    cp1251 = FIXTURES / "marc" / "pymarc_1251_russian_cp1251.mrc"
    result = run("import", "--encoding", "cp1251", "--set", "ru:tech=Technical books", str(cp1251))
    assert result.exit_code == 0, result.output
    assert "added 6, updated 0, unchanged 0, rejected 0" in result.stdout
    with database.session() as session:
        sets = {s.spec: s.name for s in session.scalars(select(OAISet))}
        marc21 = stored_metadata(session, PREFIX + "ru03-000001RKP")["marc21"]
    assert sets == {"ru": "ru", "ru:tech": "Technical books"}
    assert count(database, RecordSet) == 12
    assert "Основы гидравлического расчета инженерных сетей" in (marc21 or "")


def test_import_with_an_unknown_encoding_is_refused(run: Invoke, database: Database) -> None:
    result = run("import", "--encoding", "nonsense", str(BATCH))
    assert result.exit_code == 2
    assert "--encoding" in result.output
    assert "unknown encoding 'nonsense'" in result.output
    assert count(database, Record) == 0


@pytest.mark.parametrize(
    ("encoding", "summary", "exit_code"),
    [
        ("marc-8", "added 1, updated 0, unchanged 0, rejected 0", 0),
        ("MARC8", "added 1, updated 0, unchanged 0, rejected 0", 0),
        # The file really is MARC-8: read as UTF-8 its accented letters are invalid.
        ("utf-8", "added 0, updated 0, unchanged 0, rejected 1", 1),
    ],
)
def test_import_accepts_known_encodings(
    run: Invoke, database: Database, encoding: str, summary: str, exit_code: int
) -> None:
    result = run("import", "--encoding", encoding, str(FIXTURES / "marc" / "pymarc_marc8.mrc"))
    assert result.exit_code == exit_code, result.output
    assert summary in result.stdout
    if exit_code:
        assert "not valid utf-8" in result.stdout


def test_import_marc8_override_with_an_xml_file_rejects_that_file_only(
    run: Invoke, database: Database
) -> None:
    marc8 = FIXTURES / "marc" / "pymarc_marc8.mrc"
    result = run("import", "--encoding", "marc-8", str(BATCH), str(marc8))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1, result.output
    assert "added 1, updated 0, unchanged 0, rejected 1" in result.stdout
    assert f"rejected: {BATCH}: record 1 (line 1): an XML file cannot be read as 'marc-8'" in (
        result.stdout
    )
    assert record(database, PREFIX + "2") is not None


@pytest.mark.parametrize("spec", ["bad spec", "a::b", ":a", "a:", "é", ""])
def test_import_with_an_invalid_set_spec_is_refused(
    run: Invoke, database: Database, spec: str
) -> None:
    result = run("import", "--set", spec, str(BATCH))
    assert result.exit_code == 2
    assert "--set" in result.output
    assert "not a setSpec" in result.output
    assert count(database, Record) == 0
    assert count(database, OAISet) == 0


def test_import_of_a_missing_file_is_refused(
    run: Invoke, database: Database, tmp_path: Path
) -> None:
    result = run("import", str(tmp_path / "missing.mrc"))
    assert result.exit_code == 2
    assert "missing.mrc" in result.output


# --- records delete --------------------------------------------------------------------


def test_records_delete_tombstones_a_known_record(run: Invoke, database: Database) -> None:
    assert run("import", "--set", "x", str(BATCH)).exit_code == 0
    identifier = PREFIX + "12149120"
    result = run("records", "delete", identifier)
    assert result.exit_code == 0, result.output
    assert f"deleted {identifier}" in result.stdout
    row = record(database, identifier)
    assert row is not None and row.deleted
    with database.session() as session:
        xml = stored_metadata(session, identifier)
        sets = session.scalars(select(RecordSet.set_spec).where(RecordSet.record_id == row.id))
        assert list(sets) == ["x"]
    assert xml == {"marc21": None, "mods": None, "oai_dc": None}
    other = record(database, PREFIX + "5637241")
    assert other is not None and not other.deleted

    # Deleting it again is an error: there is no live record with that identifier.
    twice = run("records", "delete", identifier)
    assert twice.exit_code != 0
    assert identifier in twice.output


def test_records_delete_of_an_unknown_identifier_fails_clearly(
    run: Invoke, database: Database
) -> None:
    result = run("records", "delete", PREFIX + "no-such-record")
    assert result.exit_code != 0
    assert "no live record" in result.output
    assert PREFIX + "no-such-record" in result.output


# --- sets add --------------------------------------------------------------------------


def test_sets_add_creates_the_set_and_its_parent(run: Invoke, database: Database) -> None:
    result = run("sets", "add", "a:b", "Branch B", "--description", "Books of branch B")
    assert result.exit_code == 0, result.output
    assert "a:b" in result.stdout
    with database.session() as session:
        sets = {s.spec: (s.name, s.description) for s in session.scalars(select(OAISet))}
    assert sets == {"a": ("a", None), "a:b": ("Branch B", "Books of branch B")}

    rename = run("sets", "add", "a", "Library A")
    assert rename.exit_code == 0, rename.output
    with database.session() as session:
        sets = {s.spec: (s.name, s.description) for s in session.scalars(select(OAISet))}
    assert sets == {"a": ("Library A", None), "a:b": ("Branch B", "Books of branch B")}


@pytest.mark.parametrize("spec", ["bad spec", "a=b", "a:b=c", "a::b"])
def test_sets_add_refuses_an_invalid_spec(run: Invoke, database: Database, spec: str) -> None:
    result = run("sets", "add", spec, "Name")
    assert result.exit_code != 0
    assert "not a setSpec" in result.output
    assert count(database, OAISet) == 0


# --- demo ------------------------------------------------------------------------------


def test_demo_if_empty_loads_once(run: Invoke, database: Database) -> None:
    first = run("demo", "--if-empty")
    assert first.exit_code == 0, first.output
    summaries = {}
    for line in first.stdout.splitlines():
        match = re.fullmatch(
            r"(\S+): added (\d+), updated (\d+), unchanged (\d+), rejected (\d+)", line
        )
        if match:
            summaries[match.group(1)] = [int(n) for n in match.groups()[1:]]
    assert set(summaries) >= {"libfed_demo.xml"}
    assert all(rejected == 0 for *_, rejected in summaries.values()), first.stdout
    loaded = count(database, Record)
    assert loaded == sum(added for added, *_ in summaries.values()) > 0
    with database.session() as session:
        described = dict(session.execute(select(OAISet.spec, OAISet.description)).all())
        in_local = session.scalar(
            select(func.count()).select_from(RecordSet).where(RecordSet.set_spec == "demo:local")
        )
    assert {"demo", "demo:local", "demo:gwu", "demo:princeton"} <= set(described)
    assert all(described.values()), "every demo set is described for ListSets"
    assert in_local == summaries["libfed_demo.xml"][0] == 24

    assert re.search(
        r"exchange programme: \d+ partners, \d+ agreements, \d+ shipments", first.stdout
    )
    shipments = count(database, Shipment)
    assert shipments > 0

    second = run("demo", "--if-empty")
    assert second.exit_code == 0, second.output
    assert "demo catalogue not loaded" in second.stdout
    assert "demo programme not loaded" in second.stdout
    assert "added" not in second.stdout
    assert count(database, Record) == loaded
    assert count(database, Shipment) == shipments


def test_demo_if_empty_does_nothing_to_a_repository_with_records(
    run: Invoke, database: Database
) -> None:
    assert run("import", str(BATCH)).exit_code == 0
    result = run("demo", "--if-empty")
    assert result.exit_code == 0, result.output
    assert "demo catalogue not loaded" in result.stdout
    assert count(database, Record) == 2


# --- configuration errors --------------------------------------------------------------


def test_configuration_error_stops_the_command_and_names_the_key(
    tmp_path: Path, cli_database: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(config_text(cli_database, "page_sise = 10\n"), encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(bad), "db", "upgrade"])
    assert result.exit_code != 0
    assert "configuration error" in result.output
    assert "oai.page_sise" in result.output
    assert "unknown key" in result.output
    assert _tables(cli_database) == []


def test_missing_configuration_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "none.toml"), "db", "upgrade"])
    assert result.exit_code != 0
    assert "cannot read configuration file" in result.output
    assert "none.toml" in result.output


def test_libfed_config_environment_variable_selects_the_file(
    config_file: Path, cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(config_file))
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "shipments" in _tables(cli_database)


def test_help_works_without_a_configuration(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "none.toml"), "--help"])
    assert result.exit_code == 0
    assert "import" in result.output


def test_help_imports_no_database_and_no_domain() -> None:
    """`libfed --help` costs Python and click: commands import what they use when they run."""
    code = (
        "import sys; from click.testing import CliRunner; from libfed.root.cli import main; "
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0; print(*sorted(sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    heavy = {"sqlalchemy", "pydantic", "alembic", "flask", "lxml", "pymarc", "apscheduler"}
    assert [m for m in loaded if m.split(".")[0] in heavy] == []
    domains = ("libfed.oai", "libfed.exchange", "libfed.records", "libfed.search")
    assert [m for m in loaded if m.startswith(domains)] == []


def test_search_help_names_the_local_records_as_the_search_does() -> None:
    result = CliRunner().invoke(main, ["search", "--help"])
    assert f"'{LOCAL}': this library's" in " ".join(result.output.split())


# --- an unusable database ---------------------------------------------------------------

UNUSABLE_DATABASES = [
    ("foo://x", "foo://x", "unknown database 'foo'"),
    ("::::", "::::", "not a database URL"),
    # Nothing listens on port 1: the database is down.
    (
        "postgresql://u:secret@127.0.0.1:1/x",
        "postgresql://u:***@127.0.0.1:1/x",
        "Connection refused",
    ),
]
OPENING_COMMANDS = [
    ("db", "upgrade"),
    ("db", "reindex"),
    ("import", str(BATCH)),
    ("records", "delete", "oai:x:1"),
    ("users", "list"),
    ("institutions", "list"),
    ("sources", "list"),
    ("harvest",),
    ("demo",),
    ("search", "kitob"),
]


@pytest.mark.parametrize(("url", "shown", "reason"), UNUSABLE_DATABASES)
def test_an_unusable_database_is_one_line_naming_it_and_exit_status_2(
    tmp_path: Path, url: str, shown: str, reason: str
) -> None:
    config = tmp_path / "libfed.toml"
    config.write_text(config_text(url), encoding="utf-8")
    for command in OPENING_COMMANDS:
        result = CliRunner().invoke(main, ["--config", str(config), *command])
        assert result.exit_code == 2, (command, result.output)
        (line,) = result.output.splitlines()
        assert line.startswith(f"Error: cannot use the database '{shown}': "), line
        assert reason in line and "secret" not in line
        assert isinstance(result.exception, SystemExit)  # no traceback


def test_serve_refuses_an_unusable_database_before_starting_workers(tmp_path: Path) -> None:
    config = tmp_path / "libfed.toml"
    config.write_text(config_text("postgresql://u:secret@127.0.0.1:1/x"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in (CONFIG_ENV, DATABASE_URL_ENV)}
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("libfed")),
            "--config",
            str(config),
            "serve",
            "--port",
            str(free_port()),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "Error: cannot use the database 'postgresql://u:***@127.0.0.1:1/x': connection failed: "
        'connection to server at "127.0.0.1", port 1 failed: Connection refused Is the server '
        "running on that host and accepting TCP/IP connections?"
    ]


def test_db_upgrade_does_not_print_the_password(tmp_path: Path, databases: Databases) -> None:
    if not databases.postgresql:
        pytest.skip("a SQLite URL has no password")
    url = databases.empty("cli")
    with_password = re.sub(r"^postgresql://([^:@/]+)@", r"postgresql://\1:not-checked@", url)
    config = tmp_path / "libfed.toml"
    config.write_text(config_text(with_password), encoding="utf-8")
    try:
        result = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
    finally:
        databases.drop(url)
    assert result.exit_code == 0, result.output
    assert ":***@" in result.output and "not-checked" not in result.output


# --- a relative SQLite path --------------------------------------------------------------


def test_a_relative_sqlite_path_is_the_config_files_folders_wherever_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "libfed"
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(config_text("sqlite:///var/libfed.sqlite3"), encoding="utf-8")
    cron = tmp_path / "cron"
    cron.mkdir()
    monkeypatch.chdir(cron)  # a cron job runs from its own directory
    assert CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    assert CliRunner().invoke(main, ["--config", str(config), "import", str(BATCH)]).exit_code == 0
    assert "shipments" in _tables(f"sqlite:///{folder / 'var' / 'libfed.sqlite3'}")
    assert not (cron / "var").exists()

    # `make serve`: config.toml named relative to the project's root, the working directory.
    monkeypatch.chdir(folder)
    monkeypatch.setenv(CONFIG_ENV, "config.toml")
    again = CliRunner().invoke(main, ["import", str(BATCH)])
    assert "added 0, updated 0, unchanged 2, rejected 0" in again.stdout
    assert not (folder / "var" / "var").exists()


def test_a_relative_sqlite_path_in_the_environment_is_the_working_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_file: Path
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv(DATABASE_URL_ENV, "sqlite:///from-env.sqlite3")
    result = CliRunner().invoke(main, ["--config", str(config_file), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (here / "from-env.sqlite3").exists()
    assert not (config_file.parent / "from-env.sqlite3").exists()


# --- import of a file that holds no MARC ---------------------------------------------------

LEADERLESS = "it does not begin with a MARC 21 record length"
NOT_MARC = {
    "empty.mrc": (b"", "it is empty"),
    "page.html": (
        b"<!DOCTYPE html>\n<html><body><p>Catalogue</p></body></html>\n",
        "it is an HTML page",
    ),
    "notes.txt": ("Kitablar siyahısı: 12 ədəd\n".encode(), LEADERLESS),
    "noise.bin": (bytes(range(1, 256)) * 8, LEADERLESS),
    "feed.xml": (
        b'<?xml version="1.0"?><rss><channel><item/></channel></rss>',
        "it is XML of another kind",
    ),
}


@pytest.mark.parametrize("name", sorted(NOT_MARC))
def test_import_of_a_file_without_marc_says_so_in_one_line_and_imports_nothing(
    run: Invoke, database: Database, tmp_path: Path, name: str
) -> None:
    content, reason = NOT_MARC[name]
    path = tmp_path / name
    path.write_bytes(content)
    result = run("import", "--set", "new", str(BATCH), str(path))
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        f"Error: {path} holds no MARC 21 or MARCXML record ({reason})"
    ]
    # Refused before anything was written, the good file in the list included.
    assert count(database, Record) == 0 and count(database, OAISet) == 0


def test_an_empty_marcxml_collection_is_marc_with_no_records(
    run: Invoke, database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "delta.xml"
    path.write_text('<collection xmlns="http://www.loc.gov/MARC21/slim"/>', encoding="utf-8")
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    assert "added 0, updated 0, unchanged 0, rejected 0" in result.stdout


# --- libfed serve, for real ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_gunicorn_and_answers_identify(
    run: Invoke, upgraded: None, config_file: Path, tmp_path: Path, oai_schema: etree.XMLSchema
) -> None:
    assert run("import", str(BATCH)).exit_code == 0
    libfed = Path(sys.executable).with_name("libfed")
    assert libfed.exists(), f"console script not installed at {libfed}"
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k not in (CONFIG_ENV, DATABASE_URL_ENV)}
    # gunicorn puts its control socket in $XDG_RUNTIME_DIR: keep it in the test's folder.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env["XDG_RUNTIME_DIR"] = str(runtime)
    url = f"http://127.0.0.1:{port}/oai?verb=Identify"
    command = [str(libfed), "--config", str(config_file), "serve", "--port", str(port)]
    command += ["--workers", "1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 30
        response = None
        while response is None:
            assert process.poll() is None, log_path.read_text(errors="replace")
            try:
                response = urllib.request.urlopen(url, timeout=5)
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "no answer within 30 s:\n" + log_path.read_text(
                    errors="replace"
                )
                time.sleep(0.2)
        with response:
            status = response.status
            server = response.headers.get("Server", "")
            content_type = response.headers.get("Content-Type", "")
            body = response.read()
    finally:
        process.terminate()
        try:
            returncode = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    log = log_path.read_text(errors="replace")

    assert status == 200
    assert content_type.startswith("text/xml")
    document = parse_valid(oai_schema, body)
    identify = document.find("oai:Identify", OAI_NS)
    assert identify is not None
    assert identify.findtext("oai:repositoryName", namespaces=OAI_NS) == "CLI test repository"
    assert identify.findtext("oai:baseURL", namespaces=OAI_NS) == "http://127.0.0.1:8080/oai"
    # The production server, not Flask's development one.
    assert "gunicorn" in server.lower()
    assert "Starting gunicorn" in log
    assert "Booting worker" in log
    assert "GET /oai?verb=Identify" in log  # access log on the output
    # Stopped cleanly on SIGTERM.
    assert returncode == 0, log
    assert "Shutting down" in log


# --- users and institutions --------------------------------------------------------------


def test_users_add_prints_a_working_token_once(
    run: Invoke, database: Database, config_file: Path
) -> None:
    from libfed.kernel.config import load_config
    from libfed.root.app import create_app

    result = run("users", "add", "leyla", "--role", "coordinator")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("lf_") and len(token) > 40
    client = create_app(load_config(config_file), database).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/shipments", headers=auth).status_code == 200
    assert client.get("/api/v1/users", headers=auth).status_code == 403  # not an admin
    with database.session() as session:
        stored = session.execute(text("SELECT digest FROM api_tokens")).scalars().all()
    assert token not in stored and len(stored) == 1  # only its digest is kept

    listed = run("users", "list")
    assert "leyla\tcoordinator\tactive" in listed.stdout
    another = run("users", "token", "leyla").stdout.strip()
    assert (
        client.get("/api/v1/shipments", headers={"Authorization": f"Bearer {another}"}).status_code
        == 200
    )
    assert run("users", "disable", "leyla").exit_code == 0
    assert client.get("/api/v1/shipments", headers=auth).status_code == 401
    assert "leyla\tcoordinator\tdisabled" in run("users", "list").stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("users", "add", "leyla", "--role", "root"), "Invalid value for '--role'"),
        (("users", "add", "bad name!", "--role", "viewer"), "name:"),
        (("users", "token", "nobody"), "no user"),
        (("users", "disable", "nobody"), "no user"),
    ],
)
def test_users_commands_refuse_bad_input(
    run: Invoke, database: Database, args: tuple[str, ...], says: str
) -> None:
    result = run(*args)
    assert result.exit_code != 0
    assert says in result.output


def test_users_add_refuses_a_taken_name(run: Invoke, database: Database) -> None:
    assert run("users", "add", "leyla", "--role", "viewer").exit_code == 0
    again = run("users", "add", "leyla", "--role", "admin")
    assert again.exit_code != 0 and "exists" in again.output


def test_institutions_add_checks_and_lists(run: Invoke, database: Database) -> None:
    added = run(
        "institutions",
        "add",
        "Staatsbibliothek zu Berlin",
        "--country",
        "de",
        "--kind",
        "national_library",
        "--isil",
        "DE-1",
    )
    assert added.exit_code == 0, added.output
    assert re.fullmatch(r"institution (\d+) added: Staatsbibliothek zu Berlin\n", added.stdout)
    bad = run("institutions", "add", "Nowhere", "--country", "XX", "--isil", "AZ-1")
    assert bad.exit_code != 0
    assert "country:" in bad.output and "isil:" in bad.output
    listed = run("institutions", "list")
    assert listed.stdout.splitlines() == ["1\tDE\tnational_library\tStaatsbibliothek zu Berlin"]


def test_users_add_with_password_asks_twice_and_stores_only_a_slow_hash(
    run: Invoke, database: Database, config_file: Path
) -> None:
    from libfed.accounts.users import caller_for_password

    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "--config",
            str(config_file),
            "users",
            "add",
            "leyla",
            "--role",
            "coordinator",
            "--password",
        ],
        input="Şuşa-kitabxana-2026\nŞuşa-kitabxana-2026\n",
    )
    assert result.exit_code == 0, result.output
    assert "Şuşa-kitabxana-2026" not in result.stdout  # not echoed
    with database.session() as session:
        stored = session.execute(text("SELECT password_hash FROM users")).scalar_one()
        assert stored.startswith("scrypt:") and "Şuşa" not in stored
        caller = caller_for_password(session, "leyla", "Şuşa-kitabxana-2026")
        assert caller is not None and caller.role == "coordinator"
        assert caller_for_password(session, "leyla", "wrong-password-1") is None
        assert caller_for_password(session, "nobody", "Şuşa-kitabxana-2026") is None

    changed = runner.invoke(
        main,
        ["--config", str(config_file), "users", "password", "leyla"],
        input="another-long-one\nanother-long-one\n",
    )
    assert changed.exit_code == 0, changed.output
    short = runner.invoke(
        main, ["--config", str(config_file), "users", "password", "leyla"], input="short\nshort\n"
    )
    assert short.exit_code != 0 and "at least 10" in short.output
    assert run("users", "disable", "leyla").exit_code == 0
    with database.session() as session:
        assert caller_for_password(session, "leyla", "another-long-one") is None  # switched off
        events = (
            session.execute(
                text("SELECT changes FROM audit_events WHERE entity = 'user' ORDER BY id")
            )
            .scalars()
            .all()
        )
    assert not any("another-long-one" in str(e) or "scrypt" in str(e) for e in events)


def test_a_mistyped_confirmation_is_asked_again(
    run: Invoke, database: Database, config_file: Path
) -> None:
    from libfed.accounts.users import caller_for_password

    result = CliRunner().invoke(
        main,
        ["--config", str(config_file), "users", "add", "leyla", "--role", "viewer", "--password"],
        input="first-long-password\nsecond-long-password\nfirst-long-password\nfirst-long-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower() or "don't match" in result.output.lower()
    with database.session() as session:
        assert caller_for_password(session, "leyla", "first-long-password") is not None
        assert caller_for_password(session, "leyla", "second-long-password") is None


# --- search ----------------------------------------------------------------------------


def test_search_finds_the_demo_catalogue_in_the_other_script(
    run: Invoke, database: Database
) -> None:
    assert run("demo").exit_code == 0
    latin = run("search", "Farhod", "Shirin")  # catalogued in Uzbek Cyrillic
    assert latin.exit_code == 0, latin.output
    assert latin.output.startswith("1 editions, 1-1 shown\n")
    assert "Фарҳод ва Ширин" in latin.output
    assert f"CLI test repository: oai:{REPOSITORY}:" in latin.output
    cyrillic = run("search", "--json", "Оқ", "кема")  # catalogued in Uzbek Latin
    found = json.loads(cyrillic.output)
    assert [e["title"] for e in found["editions"]] == ["Oq kema : qissa"]


def test_search_says_what_is_wrong_with_a_query(run: Invoke, database: Database) -> None:
    result = run("search", ";;;")
    assert result.exit_code == 1
    assert "Give at least one word" in result.output
    assert run("search", "--per-page", "0", "kitob").exit_code == 2


def test_db_upgrade_builds_the_search_index_of_records_stored_before_it(
    run: Invoke, database: Database
) -> None:
    assert run("demo").exit_code == 0
    with database.write() as session:
        session.execute(text("DELETE FROM search_entries"))
    assert json.loads(run("search", "--json", "Sarob").output)["total"] == 0
    result = run("db", "upgrade")
    assert "building the search index" in result.output
    assert json.loads(run("search", "--json", "Sarob").output)["total"] == 1
    assert "building the search index" not in run("db", "upgrade").output


def test_db_reindex_shows_its_progress(
    run: Invoke, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("demo").exit_code == 0
    monkeypatch.setattr("libfed.kernel.cli.REPORT_EVERY", 100)
    monkeypatch.setattr("libfed.records.search_index._REBUILD_BATCH", 100)
    result = run("db", "reindex")
    assert result.exit_code == 0, result.output
    live = count(database, Record)
    assert re.findall(r"^  ([\d,]+) of ([\d,]+) records$", result.output, re.M) == [
        (f"{n:,}", f"{live:,}") for n in range(100, live + 1, 100)
    ]
    assert result.output.endswith(f"search index: {live:,} records\n")
