"""Dumps (libfed.oai.dumps, dumps_web): made by `libfed dumps make` and on the schedule,
one at a time whatever the number of workers, kept `keep` deep, never listed half made;
served over real HTTP at stable URLs with the size and SHA-256 they are listed with,
ranges and conditional requests answered, and nothing outside a dump reachable."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner
from conftest import ROOT, Clock, config_dict, load, write_config
from lxml import etree

from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from libfed.oai import dumps
from libfed.records.formats import FORMATS
from libfed.records.xml_schemas import schema_problem
from libfed.root.cli import main

DEMO = ROOT / "libfed" / "root" / "demo" / "data" / "libfed_demo.xml"


def _config(database_url: str, folder: Path, **dumps_settings: object) -> Config:
    settings = {"directory": str(folder), "schedule": "0 3 * * *"} | dumps_settings
    return parse_config(config_dict(database_url) | {"dumps": settings})


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return _config(database_url, tmp_path / "dumps")


@pytest.fixture
def catalogue(db: Database, clock: Clock) -> Database:
    load(db, str(DEMO), sets={"demo": "Demo"})
    clock.advance(60)
    return db


def _base(live_server: str) -> str:
    return live_server.removesuffix("/oai")


def _local(live_server: str, url: str) -> str:
    """A listed URL (this server's public address) as the test server serves it."""
    return _base(live_server) + urlsplit(url).path


def test_a_dump_made_by_hand_is_served_with_its_listed_size_and_checksum(
    catalogue: Database, config: Config, live_server: str, tmp_path: Path
) -> None:
    settings = write_config(tmp_path / "config.toml", config)
    with settings.open("a") as toml:
        toml.write(f'[dumps]\ndirectory = "{config.dumps.directory}"\n')
    made = CliRunner().invoke(main, ["--config", str(settings), "dumps", "make"])
    assert made.exit_code == 0, made.output
    assert "marcxml.xml.gz: 24 records" in made.output

    listing = requests.get(_base(live_server) + "/dumps.json", timeout=10).json()
    (dump,) = listing["dumps"]
    assert dump["stamp"] == "20240501T100100Z"
    assert {f["format"] for f in dump["files"]} == {"marcxml", "mods", "oai_dc", "jsonl"}
    for entry in dump["files"]:
        assert entry["url"] == f"http://127.0.0.1/dumps/20240501T100100Z/{entry['name']}"
        for url in (entry["url"], listing["latest"][entry["format"]]):
            response = requests.get(_local(live_server, url), timeout=10)
            assert response.status_code == 200
            assert response.headers["Content-Type"] == "application/gzip"
            assert int(response.headers["Content-Length"]) == entry["size"] == len(response.content)
            assert hashlib.sha256(response.content).hexdigest() == entry["sha256"]
    marc = requests.get(_base(live_server) + "/dumps/latest/marcxml.xml.gz", timeout=10)
    collection = etree.fromstring(gzip.decompress(marc.content))
    assert schema_problem(FORMATS["marc21"], collection) is None and len(collection) == 24

    page = requests.get(_base(live_server) + "/dumps/", timeout=10)
    assert page.status_code == 200
    assert all(entry["sha256"] in page.text for entry in dump["files"])
    assert 'href="/dumps/latest/records.jsonl.gz"' in page.text


def test_downloads_resume_by_range_and_revalidate_by_etag(
    catalogue: Database, config: Config, live_server: str
) -> None:
    dump = dumps.make_dump(config, catalogue)
    url = _base(live_server) + "/dumps/latest/oai_dc.xml.gz"
    whole = requests.get(url, timeout=10)
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{dump.file('oai_dc.xml.gz').size}"
    again = requests.get(url, headers={"If-None-Match": whole.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    assert dump.file("oai_dc.xml.gz").sha256 in whole.headers["ETag"]


@pytest.mark.parametrize(
    "path",
    [
        "/dumps/latest/dump.json",
        "/dumps/latest/.lock",
        "/dumps/latest/..%2F..%2Fconfig.toml",
        "/dumps/latest/%2e%2e",
        "/dumps/..%2Fdumps/marcxml.xml.gz",
        "/dumps/20240501T100100Z/../../../etc/passwd",
        "/dumps/20240501T100100Z/marcxml.xml.gz%00",
        "/dumps/20240501T100100Z/MARCXML.XML.GZ",
        "/dumps/20240501T100100/marcxml.xml.gz",
        "/dumps/.partial-20240501T100100Z/marcxml.xml.gz",
        "/dumps/20990101T000000Z/marcxml.xml.gz",
        "/dumps/latest/",
        "/dumps/latest",
    ],
)
def test_nothing_but_a_listed_file_is_served(
    catalogue: Database, config: Config, live_server: str, path: str
) -> None:
    dumps.make_dump(config, catalogue)
    (Path(config.dumps.directory) / ".partial-20240501T100100Z").mkdir()
    response = requests.get(_base(live_server) + path, timeout=10, allow_redirects=False)
    assert response.status_code == 404, response.text[:200]


def test_without_a_directory_there_are_no_dumps(db: Database, client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/dumps.json").get_json() == {"latest": None, "dumps": []}
    assert client.get("/dumps/latest/marcxml.xml.gz").status_code == 404
    assert "No dump has been made yet." in client.get("/dumps/").get_data(as_text=True)


def test_older_dumps_beyond_keep_are_removed(
    catalogue: Database, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    config = _config(database_url, tmp_path / "d", keep=2, formats=["jsonl"])
    stamps = []
    for _ in range(3):
        stamps.append(dumps.make_dump(config, catalogue).stamp)
        clock.advance(3600)
    assert [d.stamp for d in dumps.dumps(config)] == stamps[:0:-1]
    assert sorted(p.name for p in Path(config.dumps.directory).iterdir()) == [
        ".lock",
        *stamps[1:],
    ]


def test_an_interrupted_dump_is_never_listed_and_is_cleared_by_the_next(
    catalogue: Database, config: Config, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    real = dumps.export_file

    def failing(db, name, path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "oai_dc":
            raise OSError("No space left on device")
        return real(db, name, path, *args, **kwargs)

    monkeypatch.setattr(dumps, "export_file", failing)
    with pytest.raises(OSError):
        dumps.make_dump(config, catalogue)
    assert dumps.dumps(config) == []
    monkeypatch.setattr(dumps, "export_file", real)
    clock.advance(60)
    made = dumps.make_dump(config, catalogue)
    assert [p.name for p in Path(config.dumps.directory).iterdir() if p.is_dir()] == [made.stamp]


def test_one_dump_at_a_time(
    catalogue: Database, config: Config, tmp_path: Path, clock: Clock
) -> None:
    folder = Path(config.dumps.directory)
    folder.mkdir()
    with open(folder / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(dumps.DumpBusy):
            dumps.make_dump(config, catalogue)
        assert dumps.make_if_due(config, catalogue) is None
        assert dumps._busy(config)
        settings = write_config(tmp_path / "config.toml", config)
        with settings.open("a") as toml:
            toml.write(f'[dumps]\ndirectory = "{folder}"\n')
        busy = CliRunner().invoke(main, ["--config", str(settings), "dumps", "make"])
        assert busy.exit_code == 1 and "another process is making a dump now" in busy.output
    assert dumps.dumps(config) == [] and not dumps._busy(config)


def test_the_schedule_makes_each_dump_once_whatever_the_workers(
    catalogue: Database, config: Config, clock: Clock
) -> None:
    """Eight workers look at once: one dump. Not again until 03:00 (the schedule) has
    passed since it started; a dump missed while no server ran is made when one runs."""
    made: list[dumps.Dump | None] = []
    workers = [
        threading.Thread(target=lambda: made.append(dumps.make_if_due(config, catalogue)))
        for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len([dump for dump in made if dump is not None]) == 1
    assert len(dumps.dumps(config)) == 1
    clock.set(clock.now.replace(hour=23))
    assert dumps.make_if_due(config, catalogue) is None
    clock.set(clock.now.replace(day=2, hour=3, minute=0, second=5))
    assert dumps.is_due(config, clock.now)
    clock.set(clock.now.replace(day=9))  # a week without a server: one dump, not seven
    assert dumps.make_if_due(config, catalogue) is not None
    assert dumps.make_if_due(config, catalogue) is None
    assert len(dumps.dumps(config)) == 2


def test_a_relative_directory_is_the_configuration_files_folders(tmp_path: Path) -> None:
    from libfed.kernel.config import load_config

    settings = tmp_path / "etc" / "libfed.toml"
    settings.parent.mkdir()
    settings.write_text(
        '[oai]\nrepository_name = "x"\nrepository_identifier = "x.example.org"\n'
        'base_url = "http://x.example.org/oai"\nadmin_emails = ["a@x.example.org"]\n'
        '[exchange]\nhome_country = "AZ"\n[dumps]\ndirectory = "dumps"\nschedule = "0 3 * * 0"\n'
    )
    assert load_config(settings).dumps.directory == str(tmp_path / "etc" / "dumps")
    settings.write_text(settings.read_text().replace("0 3 * * 0", "every sunday"))
    with pytest.raises(Exception, match=r"dumps\.schedule"):
        load_config(settings)


def test_a_server_worker_makes_the_due_dump_by_itself(
    catalogue: Database, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `libfed serve` starts in each worker (libfed.root.server): it looks, finds
    the dump due (none made yet), has a process of its own make it, and stops when the
    worker exits."""
    monkeypatch.setattr(dumps, "CHECK_EVERY", 0.05)
    schedule = dumps.DumpSchedule(config)
    schedule.start()
    try:
        deadline = time.monotonic() + 30
        while not dumps.dumps(config) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        schedule.stop()
    assert len(dumps.dumps(config)) == 1


def test_a_directory_that_cannot_be_made_is_one_line(
    catalogue: Database, config: Config, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    settings = write_config(tmp_path / "config.toml", config)
    with settings.open("a") as toml:
        toml.write(f'[dumps]\ndirectory = "{blocked}"\n')
    result = CliRunner().invoke(main, ["--config", str(settings), "dumps", "make"])
    assert result.exit_code == 1
    assert f"Error: cannot write the dump in {blocked}: File exists" in result.output
