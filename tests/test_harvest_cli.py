"""`libfed sources ...` and `libfed harvest`, as an operator uses them."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import CLOCK_START, Clock, load

from libfed.harvest.leases import take_lease
from libfed.kernel import clock
from libfed.kernel.config import load_config
from libfed.kernel.db import Database
from libfed.root.cli import main
from tests.backends import Databases


@pytest.fixture
def cli(tmp_path: Path, databases: Databases):  # type: ignore[no-untyped-def]
    config = tmp_path / "aggregator.toml"
    config.write_text(
        f'[database]\nurl = "{databases.empty("aggregator")}"\n'
        '[oai]\nrepository_name = "Aggregator"\nrepository_identifier = "agg.libfed.org"\n'
        'base_url = "http://127.0.0.1/oai"\nadmin_emails = ["a@libfed.org"]\n'
        "[harvest]\nmax_retries = 0\ntimeout_seconds = 5\n"
        '[exchange]\nhome_country = "AZ"\n'
    )

    def run(*arguments: str) -> Result:
        return CliRunner().invoke(main, ["--config", str(config), *arguments])

    assert run("db", "upgrade").exit_code == 0
    return run


def test_add_harvest_list_remove(cli, live_server: str, db: Database) -> None:  # type: ignore[no-untyped-def]
    load(db, "marcxml/pymarc_batch.xml")
    added = cli("sources", "add", "az-nl", live_server, "--every", "6h")
    assert added.exit_code == 0, added.output
    assert "never harvested" in cli("sources", "list").stdout

    harvested = cli("harvest", "az-nl")
    assert harvested.exit_code == 0, harvested.output
    assert re.search(
        r"az-nl: succeeded, 1 pages, 2 requests, added 2, updated 0, deleted 0", harvested.stdout
    )
    assert "az-nl: 1 pages, 2 records" in harvested.stderr

    again = cli("harvest")  # every enabled source; nothing new since the watermark
    assert again.exit_code == 0 and "added 0" in again.stdout

    listed = cli("sources", "list").stdout
    assert "az-nl\t" + live_server + "\toai_dc\tevery 6h\tlast run" in listed
    assert listed.rstrip().endswith("succeeded")
    assert cli("sources", "remove", "az-nl").exit_code == 0
    assert "no sources" in cli("sources", "list").stdout


def test_a_failing_source_makes_the_exit_status_non_zero(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("sources", "add", "gone", "http://127.0.0.1:9/oai").exit_code == 0
    result = cli("harvest", "gone")
    assert result.exit_code == 1
    assert "gone: failed" in result.stdout and "http://127.0.0.1:9/oai" in result.stdout


def test_a_source_another_process_harvests_makes_the_exit_status_1(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("sources", "add", "az-nl", "http://127.0.0.1:9/oai").exit_code == 0
    database = Database(load_config(tmp_path / "aggregator.toml").database.url)
    try:
        assert take_lease(database, "source:az-nl", "elsewhere:42:cron", clock.utc_now())
    finally:
        database.dispose()
    for arguments in (["az-nl"], []):  # named, and among all enabled sources
        result = cli("harvest", *arguments)
        assert result.exit_code == 1, result.output
        assert result.stdout == (
            "az-nl: not harvested here: az-nl is being harvested by elsewhere:42:cron\n"
        )


def test_a_run_too_short_to_measure_shows_no_rate(  # type: ignore[no-untyped-def]
    cli, live_server: str, db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that lasted under a second shows no rate (a few milliseconds would read as
    millions per second). Its start and end are read from a clock that stands still here:
    on a busy machine the real run may well take a second."""
    load(db, "marcxml/pymarc_batch.xml")
    assert cli("sources", "add", "az-nl", live_server).exit_code == 0
    monkeypatch.setattr("libfed.harvest.run._moment", lambda: CLOCK_START)
    result = cli("harvest", "az-nl")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "az-nl: succeeded, 1 pages, 2 requests, added 2, updated 0, deleted 0, quarantined 0"
    )


def test_a_run_that_lasted_seconds_shows_its_rate(  # type: ignore[no-untyped-def]
    cli, live_server: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(db, "marcxml/pymarc_batch.xml")
    assert cli("sources", "add", "az-nl", live_server).exit_code == 0
    ticking = Clock(CLOCK_START)
    monkeypatch.setattr("libfed.harvest.run._moment", lambda: ticking.advance(1.5))
    result = cli("harvest", "az-nl")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"az-nl: succeeded, .*, quarantined 0, \d+ records/s", result.stdout.splitlines()[0]
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["bad name", "http://x/oai"],
            "'bad name' is not a source name (letters, digits, '_', '.', '-')",
        ),
        (["ok", "ftp://x/oai"], "'ftp://x/oai' is not an http(s) base URL without query"),
        (
            ["ok", "http://x/oai", "--every", "6 hours"],
            "'6 hours' is not an interval such as 30m, 6h or 1d",
        ),
        (["ok", "http://x/oai", "--every", "0h"], "'0h' is not an interval such as 30m, 6h or 1d"),
        (
            ["ok", "http://x/oai", "--cron", "every day"],
            "'every day' is not a cron expression: ...",  # ...: the scheduler's own reason
        ),
        (
            ["ok", "http://x/oai", "--every", "1h", "--cron", "0 3 * * *"],
            "a source has an interval or a cron schedule, not both",
        ),
        (["ok", "http://x/oai", "--institution", "42"], "no institution has the id 42"),
    ],
)
def test_bad_sources_are_refused_with_the_reason(cli, arguments: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("sources", "add", *arguments)
    assert result.exit_code == 1, result.output
    expected = re.escape(f"Error: {message}").replace(re.escape("..."), ".+")
    assert re.fullmatch(expected + "\n", result.output), result.output


def test_every_reason_a_source_is_refused_for_is_named(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("sources", "add", "bad name", "ftp://x/oai", "--every", "1x")
    assert result.exit_code == 1
    assert result.output == (
        "Error: 'bad name' is not a source name (letters, digits, '_', '.', '-'); "
        "'ftp://x/oai' is not an http(s) base URL without query; "
        "'1x' is not an interval such as 30m, 6h or 1d\n"
    )


def test_harvest_without_sources_says_what_to_do(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("harvest")
    assert result.exit_code == 0
    assert "no enabled sources to harvest: add one with `libfed sources add" in result.stdout


def test_duplicates_and_unknown_names(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("sources", "add", "a", "http://x/oai").exit_code == 0
    assert cli("sources", "add", "a", "http://y/oai").output == (
        "Error: a source named 'a' exists already\n"
    )
    assert "no source named 'b'" in cli("harvest", "b").output
    assert cli("sources", "remove", "b").output == "Error: no source is named 'b'\n"
    assert cli("sources", "move", "b", "http://y/oai").output == "Error: no source is named 'b'\n"


def test_the_scheduler_runs_in_the_foreground_and_stops_on_sigterm(
    cli,
    live_server: str,
    db: Database,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    load(db, "marcxml/pymarc_batch.xml")
    assert cli("sources", "add", "az-nl", live_server, "--every", "1s").exit_code == 0
    libfed = Path(sys.executable).with_name("libfed")
    process = subprocess.Popen(
        [str(libfed), "--config", str(tmp_path / "aggregator.toml"), "scheduler"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "az-nl\t" in (listed := cli("sources", "list").stdout) and "succeeded" in listed:
                break
            time.sleep(0.5)
        assert "succeeded" in listed, listed
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "harvest scheduler running" in output and "harvest scheduler stopped" in output


def test_a_source_redirected_to_another_host_is_moved_by_the_operator(  # type: ignore[no-untyped-def]
    cli, live_server: str, db: Database
) -> None:
    load(db, "marcxml/pymarc_batch.xml")
    elsewhere = live_server.replace("127.0.0.1", "localhost")
    assert cli("sources", "add", "az-nl", "http://127.0.0.1:9/oai").exit_code == 0
    refused = cli("sources", "move", "az-nl", "file:///etc/passwd")
    assert refused.exit_code == 1 and "not an http(s) base URL" in refused.output
    assert cli("sources", "move", "nowhere", elsewhere).exit_code == 1
    moved = cli("sources", "move", "az-nl", elsewhere)
    assert moved.exit_code == 0 and f"harvested from {elsewhere} from now on" in moved.output
    harvested = cli("harvest", "az-nl")
    assert harvested.exit_code == 0 and "az-nl: succeeded" in harvested.output
