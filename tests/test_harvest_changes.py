"""What a run changed, record by record: harvested from a scripted provider over loopback,
then the provider changes one record's title and deletes another; the second run lists
exactly that, on its page and in the API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from conftest import AGGREGATOR, FIXTURES, PASSWORD, ApiCaller, WebClient, signed_in_as
from faulty_provider import Reply, faulty_provider
from sqlalchemy import select
from test_harvest_listing import page

from libfed.accounts.users import add_user, find_user, set_password
from libfed.harvest import changes
from libfed.harvest.listing import Quarantined
from libfed.harvest.models import Change, Run, Source
from libfed.harvest.run import harvest
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.root.app import create_app

IDENTIFY = (FIXTURES / "oai-pmh" / "sickle_Identify.xml").read_bytes()
DC = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/">{}</oai_dc:dc>'
)
HOSTILE = '<script>alert("x")</script>'


def dc_record(
    identifier: str,
    title: str = "Xəmsə",
    *,
    language: str | None = "aze",
    date: str | None = "2001",
    kind: str | None = "text",
    deleted: bool = False,
) -> str:
    """A provider's record in oai_dc; `title` as XML text (escape it yourself)."""
    if deleted:
        return (
            f'<record><header status="deleted"><identifier>{identifier}</identifier>'
            "<datestamp>2026-11-21</datestamp></header></record>"
        )
    elements = [("title", title), ("language", language), ("date", date), ("type", kind)]
    dc = "".join(f"<dc:{name}>{value}</dc:{name}>" for name, value in elements if value)
    return (
        f"<record><header><identifier>{identifier}</identifier>"
        f"<datestamp>2026-11-20</datestamp></header><metadata>{DC.format(dc)}</metadata></record>"
    )


def run_with(config: Config, db: Database, *records: str, name: str = "p") -> Run:
    """One run of source `name` against a provider answering Identify and one page."""
    with faulty_provider([Reply(body=IDENTIFY), Reply(body=page(*records, token=""))]) as served:
        with db.write() as session:
            found = session.scalars(select(Source).where(Source.name == name)).one_or_none()
            if found is None:
                session.add(Source(name=name, base_url=served.url, prefix="oai_dc", sets=[]))
            else:
                found.base_url = served.url
        run = harvest(db, config, name)
    assert run.status == "succeeded", run.errors
    return run


def ours(identifier: str, source: str = "p") -> str:
    return f"oai:{AGGREGATOR}:{source}:{identifier}"


@dataclass(frozen=True)
class TwoRuns:
    config: Config
    db: Database
    first: Run
    second: Run


@pytest.fixture
def two_runs(aggregator) -> TwoRuns:  # type: ignore[no-untyped-def]
    """Three records harvested; then the second's title changed (to a hostile one), the
    third deleted, the first sent again unchanged."""
    config, db = aggregator
    first = run_with(
        config, db, dc_record("oai:x:1"), dc_record("oai:x:2", "Old"), dc_record("oai:x:3")
    )
    second = run_with(
        config,
        db,
        dc_record("oai:x:1"),
        dc_record("oai:x:2", HOSTILE.replace("<", "&lt;")),
        dc_record("oai:x:3", deleted=True),
    )
    return TwoRuns(config, db, first, second)


def recorded(db: Database, run_id: int) -> list[tuple[str, str, list | None]]:
    with db.session() as session:
        return [
            (c.identifier, c.change, c.fields)
            for c in session.scalars(
                select(Change).where(Change.run_id == run_id).order_by(Change.id)
            )
        ]


def test_a_second_run_lists_the_changed_title_and_the_deletion(two_runs: TwoRuns) -> None:
    assert (two_runs.first.added, two_runs.second.updated, two_runs.second.deleted) == (3, 1, 1)
    assert recorded(two_runs.db, two_runs.first.id) == [
        (ours("oai:x:1"), "added", None),
        (ours("oai:x:2"), "added", None),
        (ours("oai:x:3"), "added", None),
    ]
    # The unchanged record is not listed; the changed one with its title only.
    assert recorded(two_runs.db, two_runs.second.id) == [
        (ours("oai:x:2"), "changed", [{"field": "title", "before": ["Old"], "after": [HOSTILE]}]),
        (ours("oai:x:3"), "deleted", None),
    ]


def test_a_deletion_of_a_record_never_held_or_already_deleted_is_no_change(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    run_with(config, db, dc_record("oai:x:1"))
    again = run_with(
        config, db, dc_record("oai:x:1", deleted=True), dc_record("oai:x:9", deleted=True)
    )
    assert [c[1] for c in recorded(db, again.id)] == ["deleted"]
    third = run_with(config, db, dc_record("oai:x:1", deleted=True))
    assert recorded(db, third.id) == [] and third.deleted == 0
    # Back again after its deletion: added.
    fourth = run_with(config, db, dc_record("oai:x:1"))
    assert [c[1] for c in recorded(db, fourth.id)] == ["added"]


def test_each_kind_is_listed_up_to_its_bound_and_old_runs_changes_are_dropped(
    aggregator,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, db = aggregator
    monkeypatch.setattr(changes, "MAX_PER_KIND", 2)
    monkeypatch.setattr(changes, "KEEP_RUNS", 2)
    first = run_with(config, db, *(dc_record(f"oai:x:{n}") for n in range(5)))
    assert first.added == 5 and len(recorded(db, first.id)) == 2
    pages, _api = viewer(config, db)
    assert "3 changes are not listed" in pages.text(f"/harvesting/runs/{first.id}")
    second = run_with(config, db, dc_record("oai:x:0", "New"))
    assert len(recorded(db, first.id)) == 2  # two runs kept
    third = run_with(config, db, dc_record("oai:x:0", "Newer"))
    assert recorded(db, first.id) == []  # the oldest run's changes dropped
    assert [c[1] for c in recorded(db, second.id)] == ["changed"]
    assert [c[1] for c in recorded(db, third.id)] == ["changed"]


def test_a_changed_record_s_fields_are_bounded_whatever_the_provider_sends() -> None:
    long = "x" * 100_000
    many = "".join(f"<dc:subject>{n} {long}</dc:subject>" for n in range(40))
    elements = "".join(f"<dc:e{n}>{n}</dc:e{n}>" for n in range(80))
    before = DC.format("<dc:title>A</dc:title>").encode()
    after = DC.format(f"<dc:title>{long}</dc:title>{many}{elements}").encode()
    fields = changes.field_changes(before, after)
    assert len(fields) == changes.MAX_FIELDS
    assert fields[0]["field"] == "title" and fields[0]["before"] == ["A"]
    assert fields[0]["after"] == ["x" * 499 + "…"]
    values = [v for f in fields for v in (*f["before"], *f["after"])]
    assert sum(len(v) for v in values) <= changes.MAX_ROW_CHARACTERS + len(values)
    assert all(len(v) <= changes.MAX_VALUE for v in values)


def viewer(config: Config, db: Database) -> tuple[WebClient, ApiCaller]:
    """The aggregator's pages for a viewer, and its API with a viewer's token."""
    app = create_app(config, db)
    with db.write() as session:
        _user, token = add_user(session, "viewer-user", "viewer")
        set_password(session, find_user(session, "viewer-user"), PASSWORD)
    return signed_in_as(app, "viewer-user"), ApiCaller(app.test_client(), token)


@pytest.fixture
def aggregator_web(two_runs: TwoRuns) -> tuple[WebClient, ApiCaller]:
    return viewer(two_runs.config, two_runs.db)


def test_the_run_page_shows_the_changed_title_escaped_and_filters_by_kind(
    two_runs: TwoRuns, aggregator_web: tuple[WebClient, ApiCaller]
) -> None:
    pages, _api = aggregator_web
    html = pages.text(f"/harvesting/runs/{two_runs.second.id}")
    section = html[html.index('id="changes"') :]
    assert ours("oai:x:2") in section and ours("oai:x:3") in section
    assert ours("oai:x:1") not in section  # sent again unchanged
    assert "dc:title" in section and "<del>Old</del>" in section
    # The provider's hostile title is text on the page, never markup.
    assert "<ins>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</ins>" in section
    assert "<script>alert" not in html
    deleted_only = pages.text(f"/harvesting/runs/{two_runs.second.id}?change=deleted")
    listed = deleted_only[deleted_only.index('id="changes"') :]
    assert ours("oai:x:3") in listed and ours("oai:x:2") not in listed
    # The first run lists its three added records.
    first = pages.text(f"/harvesting/runs/{two_runs.first.id}?change=added")
    assert all(ours(f"oai:x:{n}") in first for n in (1, 2, 3))


def test_the_api_gives_the_run_its_counts_and_its_changes(
    two_runs: TwoRuns, aggregator_web: tuple[WebClient, ApiCaller]
) -> None:
    _pages, api = aggregator_web
    second = two_runs.second.id
    run = api.get(f"/harvest/runs/{second}").get_json()
    assert (run["status"], run["source"], run["changed"], run["deleted"]) == (
        "succeeded",
        "p",
        1,
        1,
    )
    assert run["listed"] == {"added": 0, "changed": 1, "deleted": 1, "quarantined": 0}
    changed = api.get(f"/harvest/runs/{second}/changes?change=changed").get_json()
    assert changed["total"] == 1
    assert changed["items"] == [
        {
            "identifier": ours("oai:x:2"),
            "change": "changed",
            "fields": [{"field": "title", "before": ["Old"], "after": [HOSTILE]}],
        }
    ]
    every = api.get(f"/harvest/runs/{second}/changes").get_json()
    assert [c["change"] for c in every["items"]] == ["changed", "deleted"]
    history = api.get("/harvest/sources/p/runs").get_json()
    assert [r["id"] for r in history["items"]] == [second, two_runs.first.id]
    assert history["items"][1]["added"] == 3 and history["total"] == 2
    # Refusals: an unknown kind, run or source; no token.
    assert api.get(f"/harvest/runs/{second}/changes?change=moved").status_code == 400
    assert api.get("/harvest/runs/999999/changes").status_code == 404
    assert api.get("/harvest/sources/nowhere/runs").status_code == 404
    assert ApiCaller(api.client, None).get(f"/harvest/runs/{second}").status_code == 401
    document = api.client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/harvest/sources/{name}/runs" in document["paths"]
    assert "/api/v1/harvest/runs/{run_id}/changes" in document["paths"]


def test_the_history_chart_has_one_point_per_run(
    two_runs: TwoRuns, aggregator_web: tuple[WebClient, ApiCaller]
) -> None:
    pages, _api = aggregator_web
    third = run_with(two_runs.config, two_runs.db, dc_record("oai:x:1", "Third"))
    html = pages.text("/harvesting/p/history")
    charts = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(charts) == 3
    for svg in charts:
        assert len(re.findall(r"<circle ", svg)) == 3  # one point per run
        assert "<title " in svg and "<desc " in svg and 'role="img"' in svg
    # The table under the charts holds every run, newest first, with its records.
    table = html[html.index('id="history-table"') :]
    rows = re.findall(r"/harvesting/runs/(\d+)", table)
    assert rows == [str(third.id), str(two_runs.second.id), str(two_runs.first.id)]
    assert pages.get("/harvesting/nowhere/history").status_code == 404
    source = pages.text("/harvesting/p")
    assert "/harvesting/p/history" in source and "/harvest-statistics/p" in source


def test_the_command_line_lists_a_run_s_changes(two_runs: TwoRuns, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner
    from conftest import write_config

    from libfed.root.cli import main

    settings = str(write_config(tmp_path / "config.toml", two_runs.config))
    run = CliRunner().invoke(
        main, ["--config", settings, "harvest-changes", str(two_runs.second.id), "--json"]
    )
    assert run.exit_code == 0, run.output
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(c["identifier"], c["change"]) for c in lines] == [
        (ours("oai:x:2"), "changed"),
        (ours("oai:x:3"), "deleted"),
    ]
    refused = CliRunner().invoke(
        main, ["--config", settings, "harvest-changes", "1", "--change", "moved"]
    )
    assert refused.exit_code == 2 and "--change" in refused.output
    stats = CliRunner().invoke(main, ["--config", settings, "harvest-stats", "p"])
    assert stats.exit_code == 0 and json.loads(stats.stdout)["records"] == 2


def test_a_record_quarantined_by_its_identifier_is_listed_one_without_is_not(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    first = run_with(config, db, dc_record("oai:x:1"))
    refused = [
        Quarantined(b"<html>500</html>", "oai:x:7: GetRecord fails", "oai:x:7", "2026-11-20"),
        Quarantined(b"<record/>", "header without an identifier"),
    ]
    with db.write() as session:
        changes.record_changes(
            session, first.id, [], [], refused, config.oai.repository_identifier, "p"
        )
    assert recorded(db, first.id)[-1] == (ours("oai:x:7"), "quarantined", None)
    assert len(recorded(db, first.id)) == 2  # the added record and the named one
