"""The harvesting pages as coordinators and viewers use them: sources, runs, "harvest now".

"Harvest now" harvests a second instance of this project served over loopback, in a
process of its own that a thread of the serving process waits for; the tests wait for it the way a person would, by
reloading the source's page (with a bound).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import WebClient, config_dict, load
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from libfed.accounts.models import Institution
from libfed.harvest.leases import lease_holder, take_lease
from libfed.harvest.models import QuarantinedRecord, Run, Source
from libfed.harvest.web import background_harvests, source_panel
from libfed.kernel import clock
from libfed.kernel.config import parse_config
from libfed.kernel.db import Database
from libfed.root.app import create_app
from tests.backends import Databases

STARTED = datetime(2024, 5, 1, 10, 0, 0)


@pytest.fixture(autouse=True)
def _no_harvest_outlives_its_test() -> Iterator[None]:
    yield
    for thread in background_harvests():
        thread.join(timeout=30)


@pytest.fixture
def partner_app(databases: Databases, migrated_template: str) -> Iterator[Flask]:
    """Another libfed instance with two records."""
    config = parse_config(
        config_dict(
            databases.copy(migrated_template, "partner"), repository_identifier="partner.libfed.org"
        )
    )
    database = Database(config.database.url)
    load(database, "marcxml/pymarc_batch.xml")
    yield create_app(config, database)
    database.dispose()


@pytest.fixture
def partner(partner_app: Flask) -> Iterator[str]:
    """The other instance on loopback; yields its /oai URL."""
    server = make_server("127.0.0.1", 0, partner_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/oai"
    server.shutdown()
    thread.join()


def add_source(
    db: Database, name: str = "az-nl", url: str = "http://127.0.0.1:9/oai", **fields: object
) -> int:
    with db.write() as session:
        values: dict = {"prefix": "oai_dc", "sets": [], "enabled": True} | fields
        source = Source(name=name, base_url=url, **values)
        session.add(source)
        session.flush()
        return source.id


def add_run(db: Database, source_id: int, **fields: object) -> int:
    values: dict = {"started_at": STARTED, "status": "succeeded", "errors": []} | fields
    with db.write() as session:
        run = Run(source_id=source_id, **values)
        session.add(run)
        session.flush()
        return run.id


def cells(html: str, name: str) -> list[str]:
    """The text of each cell of the table row that links to `name`."""
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        if f">{name}</a>" in row:
            found = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in found]
    raise AssertionError(f"no row for {name}")


def flashes(web: WebClient, path: str) -> list[str]:
    return re.findall(r'<p class="flash [a-z]+"[^>]*>([^<]*)</p>', web.text(path))


def wait_until_done(web: WebClient, name: str, seconds: float = 30) -> str:
    """The source's page once its newest run has ended."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        html = web.text(f"/harvesting/{name}")
        if ">running<" not in html and "has not been harvested yet" not in html:
            return html
        time.sleep(0.1)
    raise AssertionError(f"the harvest of {name} did not end within {seconds} s")


def test_no_sources_says_how_to_add_one(viewer_pages: WebClient) -> None:
    html = viewer_pages.text("/harvesting")
    assert "No partner catalogue is harvested yet." in html
    assert "<code>libfed sources add NAME BASE_URL</code>" in html


def test_the_list_shows_each_source_with_its_last_run(
    viewer_pages: WebClient, db: Database
) -> None:
    with db.write() as session:
        library = Institution(
            name="Milli Kitabxana", country="AZ", version=1, created_at=STARTED, updated_at=STARTED
        )
        session.add(library)
        session.flush()
        library_id = library.id
    az = add_source(db, "az-nl", every_seconds=6 * 3600, institution_id=library_id)
    add_run(db, az, status="succeeded", added=5)
    add_run(
        db,
        az,
        status="partial",
        added=1234,
        updated=3,
        deleted=1,
        quarantined=2,
        errors=[{"url": "http://x/oai?verb=ListRecords", "message": "timed out"}] * 2,
        finished_at=STARTED.replace(minute=5),
    )
    add_source(db, "uz-nl", cron="0 3 * * *", enabled=False)

    html = viewer_pages.text("/harvesting")
    az_row = cells(html, "az-nl")
    assert az_row[0] == "az-nl http://127.0.0.1:9/oai"
    assert az_row[1:4] == ["Milli Kitabxana", "every 6 hours", "yes"]
    assert az_row[4].startswith("May 1, 2024")
    assert az_row[5:12] == ["partial", "1,234", "3", "1", "2", "2", "0"]
    uz_row = cells(html, "uz-nl")
    assert uz_row[1:5] == ["", "cron 0 3 * * *", "no", "never harvested"]


def test_a_source_page_lists_its_runs_newest_first(viewer_pages: WebClient, db: Database) -> None:
    source_id = add_source(db)
    add_run(db, source_id, status="failed", started_at=STARTED, finished_at=STARTED)
    add_run(
        db,
        source_id,
        status="succeeded",
        added=7,
        started_at=STARTED.replace(hour=11),
        finished_at=STARTED.replace(hour=11, minute=2, second=5),
    )
    html = viewer_pages.text("/harvesting/az-nl")
    assert "http://127.0.0.1:9/oai" in html and "manual" in html
    assert html.index(">succeeded<") < html.index(">failed<")
    assert "2 min 5 s" in html


def test_a_run_page_shows_its_errors_and_quarantined_records(
    viewer_pages: WebClient, db: Database
) -> None:
    run_id = add_run(
        db,
        add_source(db),
        status="partial",
        requests=4,
        pages=3,
        added=20,
        quarantined=1,
        finished_at=STARTED.replace(second=42),
        errors=[
            {
                "url": "http://127.0.0.1:9/oai?verb=ListRecords&resumptionToken=x",
                "message": "the connection was reset",
            }
        ],
    )
    with db.write() as session:
        session.add(
            QuarantinedRecord(
                run_id=run_id,
                url="http://127.0.0.1:9/oai?verb=ListRecords",
                reason="oai:x:1: no oai_dc can be derived from urn:mods",
                raw=b"<mods>secret</mods>",
            )
        )

    html = viewer_pages.text(f"/harvesting/runs/{run_id}")
    assert "partial" in html and "42 s" in html
    assert "http://127.0.0.1:9/oai?verb=ListRecords&amp;resumptionToken=x" in html
    assert "the connection was reset" in html
    assert "no oai_dc can be derived from urn:mods" in html
    assert "1 record could not be stored" in html
    assert "secret" not in html  # the raw bytes stay in the database


def test_run_times_keep_their_microseconds(db: Database) -> None:
    run_id = add_run(
        db,
        add_source(db),
        started_at=STARTED.replace(microsecond=123_456),
        finished_at=STARTED.replace(second=1, microsecond=654_321),
    )
    with db.session() as session:
        stored = session.get_one(Run, run_id)
    assert (stored.started_at.microsecond, stored.finished_at.microsecond) == (123_456, 654_321)


def test_a_run_under_a_second_shows_no_zero_and_no_rate(
    viewer_pages: WebClient, pages: WebClient, db: Database
) -> None:
    source_id = add_source(db)
    quick = add_run(db, source_id, added=2, finished_at=STARTED + timedelta(seconds=0.3))
    same_second = add_run(db, source_id, added=2, finished_at=STARTED)
    measured = add_run(
        db,
        source_id,
        added=40,
        updated=9,
        deleted=1,
        started_at=STARTED.replace(hour=11),
        finished_at=STARTED.replace(hour=11, second=2, microsecond=500_000),
    )
    listing = viewer_pages.text("/harvesting/az-nl")
    assert listing.count("<td>&lt; 1 s</td>") == 2 and "<td>2.5 s</td>" in listing
    assert "<td>0 s</td>" not in listing
    for run_id in (quick, same_second):
        page = viewer_pages.text(f"/harvesting/runs/{run_id}")
        assert "<dd>&lt; 1 s</dd>" in page and "Records per second" not in page
    page = viewer_pages.text(f"/harvesting/runs/{measured}")
    assert "<dd>2.5 s</dd>" in page
    assert "<dt>Records per second</dt><dd>20</dd>" in page  # 50 changes in 2.5 s

    pages.in_language("ru")
    assert "<dd>2,5 \u0441</dd>" in pages.text(f"/harvesting/runs/{measured}")  # Cyrillic es


def test_harvest_now_harvests_in_the_background(
    pages: WebClient, db: Database, partner: str
) -> None:
    add_source(db, "partner", partner)
    assert cells(pages.text("/harvesting"), "partner")[4:6] == ["never harvested", "0"]

    response = pages.post("/harvesting/partner/harvest-now")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/harvesting/partner")
    assert "Harvest started" in flashes(pages, "/harvesting/partner")

    html = wait_until_done(pages, "partner")
    assert ">succeeded<" in html
    row = cells(pages.text("/harvesting"), "partner")
    assert row[5:7] == ["succeeded", "2"]  # status, added
    assert row[-2] == "2"  # records held


def _harvesting_children() -> list[int]:
    """The processes this test process started to harvest (`python -m harvest.detached`)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            command = (status.parent / "cmdline").read_bytes()
            if (
                fields.get("PPid", "").strip() == str(os.getpid())
                and b"libfed.harvest.detached" in command
            ):
                found.append(int(status.parent.name))
    return found


def test_a_harvest_runs_in_a_process_of_its_own_whose_death_harms_no_page(
    pages: WebClient,
    db: Database,
    partner_app: Flask,
    partner: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What a hostile partner provokes in a harvest (memory exhausted, a crash, the
    kernel's OOM killer) ends that process, not the one serving the pages."""
    partner_app.before_request(lambda: time.sleep(0.5))  # slow enough to be caught at work
    add_source(db, "partner", partner)
    assert pages.post("/harvesting/partner/harvest-now").status_code == 303
    deadline = time.monotonic() + 20
    while not (children := _harvesting_children()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(children) == 1, "no harvesting process of its own"
    while ">running<" not in pages.text("/harvesting/partner") and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(children[0], signal.SIGKILL)

    html = wait_until_done(pages, "partner")
    assert ">failed<" in html
    run_link = re.search(r'href="(/harvesting/runs/\d+)"', html)
    assert run_link
    assert "the harvesting process was stopped by signal SIGKILL" in pages.text(run_link.group(1))
    assert "the process harvesting partner (from the web) was stopped" in caplog.text
    # The pages go on, and the dead harvester's lease does not keep the source locked.
    assert lease_holder(db, "source:partner", clock.utc_now()) is None
    assert pages.post("/harvesting/partner/harvest-now").status_code == 303
    assert "Harvest started" in flashes(pages, "/harvesting/partner")
    for thread in background_harvests():  # while the partner still answers
        thread.join(timeout=30)
    with db.session() as session:
        assert session.scalars(select(Run.status).order_by(Run.id.desc())).first() == "succeeded"


def test_harvest_now_is_refused_while_another_process_harvests_the_source(
    pages: WebClient, db: Database
) -> None:
    add_source(db)
    assert take_lease(db, "source:az-nl", "scheduler-on-another-machine", clock.utc_now())
    response = pages.post("/harvesting/az-nl/harvest-now")
    assert response.status_code == 303
    assert flashes(pages, "/harvesting/az-nl") == ["A harvest of az-nl is already running."]
    assert background_harvests() == []


def test_viewers_see_no_button_and_may_not_harvest(viewer_pages: WebClient, db: Database) -> None:
    add_source(db)
    assert "Harvest now" not in viewer_pages.text("/harvesting/az-nl")
    assert viewer_pages.post("/harvesting/az-nl/harvest-now").status_code == 403


def test_coordinators_see_the_button(pages: WebClient, db: Database) -> None:
    add_source(db)
    html = pages.text("/harvesting/az-nl")
    assert re.search(r'<button type="submit"[^>]*>Harvest now</button>', html)


def test_harvest_now_needs_the_csrf_token(pages: WebClient, db: Database) -> None:
    add_source(db)
    assert pages.client.post("/harvesting/az-nl/harvest-now").status_code == 400
    assert background_harvests() == []


def test_unknown_sources_and_runs_are_not_found(pages: WebClient) -> None:
    response = pages.get("/harvesting/nowhere")
    assert response.status_code == 404
    assert "no harvest source named &#39;nowhere&#39;" in response.get_data(as_text=True)
    assert pages.get("/harvesting/runs/999").status_code == 404
    assert pages.post("/harvesting/nowhere/harvest-now").status_code == 404


def test_the_partner_panel_shows_the_partners_sources(app: Flask, db: Database) -> None:
    with db.write() as session:
        library = Institution(
            name="Milli Kitabxana", country="AZ", version=1, created_at=STARTED, updated_at=STARTED
        )
        other = Institution(
            name="Other", country="UZ", version=1, created_at=STARTED, updated_at=STARTED
        )
        session.add_all([library, other])
        session.flush()
        library_id, other_id = library.id, other.id
    add_run(db, add_source(db, "az-nl", institution_id=library_id), status="parked")

    with app.test_request_context("/partners"), db.session() as session:
        panel = source_panel(session, library_id)
        assert source_panel(session, other_id) is None
    assert panel is not None
    assert 'href="/harvesting/az-nl"' in panel and "az-nl" in panel
    assert "parked" in panel and "last run May 1, 2024" in panel


def test_a_provider_that_moved_host_is_followed_once_a_coordinator_confirms(
    pages: WebClient, viewer_pages: WebClient, db: Database, partner: str
) -> None:
    """A redirect to another host stops the run; the page names the new address, and
    only a coordinator's click makes it the source's base URL."""
    moved_to = partner.replace("127.0.0.1", "localhost")
    source_id = add_source(db, "partner", "http://127.0.0.1:9/oai")
    first_run = add_run(
        db,
        source_id,
        status="failed",
        errors=[
            {
                "url": "http://127.0.0.1:9/oai?verb=Identify",
                "message": "moved",
                "moved_to": moved_to,
            }
        ],
    )
    html = viewer_pages.text("/harvesting/partner")
    assert f"The provider redirects to another address: {moved_to}." in html
    assert "Use this address" not in html  # viewers see, coordinators decide
    assert viewer_pages.post("/harvesting/partner/move", {"base_url": moved_to}).status_code == 403

    # Only the address the provider named can be confirmed here.
    pages.post("/harvesting/partner/move", {"base_url": "http://127.0.0.1:6379/"})
    assert flashes(pages, "/harvesting/partner") == [
        "The provider no longer redirects there: harvest again to see where."
    ]
    assert "Use this address" in pages.text("/harvesting/partner")
    assert pages.post("/harvesting/partner/move", {"base_url": moved_to}).status_code == 303
    assert flashes(pages, "/harvesting/partner") == [
        f"From now on partner is harvested from {moved_to}."
    ]
    with db.session() as session:
        assert session.get_one(Source, source_id).base_url == moved_to
    assert pages.post("/harvesting/partner/harvest-now").status_code == 303
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with db.session() as session:
            last = session.scalars(select(Run).order_by(Run.id.desc())).first()
        if last.id != first_run and last.status != "running":
            break
        time.sleep(0.1)
    assert last.status == "succeeded", last.errors
    assert "The provider redirects" not in pages.text("/harvesting/partner")
