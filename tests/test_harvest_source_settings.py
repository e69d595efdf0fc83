"""Per-source settings (issue 18): what a provider needs of us, set on the command line and
on the pages, checked before anything is stored, and honoured by every request of the
source's run over real HTTP (tests/faulty_provider.py)."""

from __future__ import annotations

import html
import re
from itertools import pairwise

import pytest
from conftest import FIXTURES, WebClient
from faulty_provider import Provider, Reply, faulty_provider
from sqlalchemy import select
from test_harvest_cli import cli  # noqa: F401  (the fixture: a configured `libfed`)
from test_harvest_listing import page, record

from libfed.harvest.models import Source
from libfed.harvest.run import harvest
from libfed.harvest.sources import add_source
from libfed.kernel.config import Config
from libfed.kernel.db import Database

IDENTIFY = (FIXTURES / "oai-pmh" / "sickle_Identify.xml").read_bytes()
KEY = "k-3f9a-secret"


def _with_retries(config: Config, retries: int) -> Config:
    return config.model_copy(
        update={"harvest": config.harvest.model_copy(update={"max_retries": retries})}
    )


def _add(db: Database, url: str, name: str = "az-nl", **settings: object) -> None:
    with db.write() as session:
        add_source(session, name, url, **settings)


def _header(provider: Provider, name: str) -> list[str | None]:
    """The value of `name` in each request the provider received, in order."""
    found = []
    for head in provider.requests:
        match = re.search(rf"^{name}: (.*)\r$", head.decode("latin-1"), re.M | re.I)
        found.append(match.group(1) if match else None)
    return found


def _stored(db: Database) -> dict[str, Source]:
    with db.session() as session:
        return {s.name: s for s in session.scalars(select(Source))}


# ------------------------------------------------------------------ the transport


def test_every_request_carries_the_sources_headers_retries_and_redirects_included(
    aggregator,  # type: ignore[no-untyped-def]
) -> None:
    config, db = aggregator
    script = [
        Reply(body=IDENTIFY),
        Reply(body=page(record("oai:x:1"), token="t1")),
        Reply(503, b"busy", {"Retry-After": "0"}),
        # On the same host: followed, and the key goes with it.
        Reply(302, headers={"Location": "/oai?verb=ListRecords&resumptionToken=t1&moved=1"}),
        Reply(body=page(record("oai:x:2"), token="")),
    ]
    with faulty_provider(script) as provider:
        _add(db, provider.url, headers=[f"X-Api-Key: {KEY}", "User-Agent: partner-registered/1"])
        run = harvest(db, _with_retries(config, 1), "az-nl")
    assert run.status == "succeeded", run.errors
    assert len(provider.requests) == len(script)
    assert _header(provider, "X-Api-Key") == [KEY] * len(script)
    assert _header(provider, "User-Agent") == ["partner-registered/1"] * len(script)
    assert b"moved=1" in provider.requests[-1]


def test_the_headers_never_go_to_another_host(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    with faulty_provider([Reply(body=IDENTIFY)]) as elsewhere:
        script = [Reply(body=IDENTIFY), Reply(302, headers={"Location": elsewhere.url})]
        with faulty_provider(script) as provider:
            _add(db, provider.url, headers=[f"X-Api-Key: {KEY}"])
            run = harvest(db, config, "az-nl")
    assert run.status == "failed"
    assert "redirects to another host" in run.errors[-1]["message"]
    assert _header(provider, "X-Api-Key") == [KEY, KEY]
    assert elsewhere.requests == []


def test_the_delay_separates_every_two_requests_of_a_run(aggregator) -> None:  # type: ignore[no-untyped-def]
    """Measured by when the provider received each request and began each answer: the
    next request comes at least the delay after the previous answer began (it ended later
    still), whatever the machine's load."""
    config, db = aggregator
    delay = 0.4
    script = [
        Reply(body=IDENTIFY),
        Reply(body=page(record("oai:x:1"), token="t1")),
        Reply(503, b"busy", {"Retry-After": "0"}),  # a retry's wait counts towards it
        Reply(body=page(record("oai:x:2"), token="t2")),
        Reply(body=page(record("oai:x:3"), token="")),
    ]
    with faulty_provider(script) as provider:
        _add(db, provider.url, request_delay_seconds=delay)
        run = harvest(db, _with_retries(config, 1), "az-nl")
    assert run.status == "succeeded", run.errors
    assert (run.added, len(provider.spans)) == (3, len(script))
    gaps = [after[0] - before[1] for before, after in pairwise(provider.spans)]
    assert all(gap >= delay for gap in gaps), gaps


def test_a_sources_own_timeout_fails_a_stall_the_servers_would_wait_out(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    assert config.harvest.timeout_seconds > 2
    stalled = [Reply(body=IDENTIFY, stall=1.6), Reply(body=page(record("oai:x:1"), token=""))]
    with faulty_provider(stalled) as provider:
        _add(db, provider.url, timeout_seconds=1)
        run = harvest(db, config, "az-nl")
    assert run.status == "failed"
    assert "no answer within 1 s" in run.errors[-1]["message"]

    with faulty_provider(stalled) as provider:
        _add(db, provider.url, name="patient")  # the server's timeout
        run = harvest(db, config, "patient")
    assert run.status == "succeeded", run.errors


# ------------------------------------------------------------------ the command line


def test_settings_are_added_shown_and_edited_on_the_command_line(cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    added = cli(
        "sources",
        "add",
        "az-nl",
        "http://127.0.0.1:9/oai",
        "--delay",
        "1.5",
        "--header",
        f"X-Api-Key: {KEY}",
        "--header",
        "Cookie: session=abc",
        "--mode",
        "identifiers",
        "--window-days",
        "30",
        "--timeout",
        "20",
        "--contact",
        "cataloguer@anl.example",
        "--reconcile-cron",
        "0 4 * * 0",
    )
    assert added.exit_code == 0, added.output
    shown = cli("sources", "show", "az-nl")
    assert shown.exit_code == 0, shown.output
    assert KEY not in shown.output  # a key is a secret, even on the operator's screen
    for line in (
        "delay:       1.5 s",
        "headers:     X-Api-Key: ********; Cookie: ********",
        "mode:        identifiers",
        "window:      30 days",
        "timeout:     20 s",
        "contact:     cataloguer@anl.example",
        "reconcile:   0 4 * * 0",
    ):
        assert line in shown.output.splitlines(), shown.output

    edited = cli(
        "sources",
        "edit",
        "az-nl",
        "--header",
        "x-api-key: new-key",  # replaces the one of that name, whatever its case
        "--remove-header",
        "cookie",
        "--delay",
        "none",
        "--timeout",
        "none",
        "--mode",
        "records",
    )
    assert edited.exit_code == 0, edited.output
    shown = cli("sources", "show", "az-nl").output.splitlines()
    assert "headers:     x-api-key: ********" in shown
    assert "delay:       none" in shown and "mode:        records" in shown
    assert "timeout:     5 s ([harvest] timeout_seconds)" in shown
    assert "window:      30 days" in shown  # not given: kept

    scheduled = cli("sources", "edit", "az-nl", "--every", "6h", "--disable")
    assert scheduled.exit_code == 0, scheduled.output
    shown = cli("sources", "show", "az-nl").output.splitlines()
    assert "schedule:    every 6h" in shown and "enabled:     no" in shown
    both = cli("sources", "edit", "az-nl", "--cron", "0 3 * * *")
    assert both.output == "Error: a source has an interval or a cron schedule, not both\n"
    assert cli("sources", "edit", "az-nl", "--every", "none", "--cron", "0 3 * * *").exit_code == 0
    assert "schedule:    0 3 * * *" in cli("sources", "show", "az-nl").output.splitlines()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--header", "X-Api-Key: a\r\nHost: evil"], "--header: the value of X-Api-Key must be"),
        (["--header", "Host: evil.example"], "--header: Host is set by the harvester itself"),
        ([a for n in range(11) for a in ("--header", f"X-{n}: v")], "--header: at most 10 headers"),
        (["--delay", "-1"], "--delay: must be at least 0"),
        (["--delay", "61"], "--delay: must be at most 60"),
        (["--timeout", "0"], "--timeout: must be at least 1"),
        (["--window-days", "3651"], "--window-days: must be at most 3650"),
        (["--contact", "ops@"], "--contact: is not a valid e-mail address"),
        (["--reconcile-cron", "weekly"], "--reconcile-cron: 'weekly' is not a cron expression"),
    ],
)
def test_hostile_settings_are_refused_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    cli,  # noqa: F811
    arguments: list[str],
    message: str,
) -> None:
    added = cli("sources", "add", "az-nl", "http://127.0.0.1:9/oai", *arguments)
    assert added.exit_code == 1, added.output
    assert added.output.startswith(f"Error: {message}"), added.output
    assert "no sources" in cli("sources", "list").output

    assert cli("sources", "add", "az-nl", "http://127.0.0.1:9/oai", "--delay", "2").exit_code == 0
    edited = cli("sources", "edit", "az-nl", *arguments)
    assert edited.exit_code == 1 and edited.output.startswith(f"Error: {message}"), edited.output
    shown = cli("sources", "show", "az-nl").output.splitlines()
    assert "delay:       2 s" in shown and "headers:     none" in shown


def test_removing_a_header_the_source_does_not_send_is_refused(cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert cli("sources", "add", "az-nl", "http://127.0.0.1:9/oai").exit_code == 0
    result = cli("sources", "edit", "az-nl", "--remove-header", "X-Api-Key")
    assert (result.exit_code, result.output) == (
        1,
        "Error: --remove-header: the source sends no header X-Api-Key\n",
    )
    assert cli("sources", "show", "nowhere").output == "Error: no source is named 'nowhere'\n"


# ------------------------------------------------------------------ the pages

GOOD = {
    "name": "az-nl",
    "base_url": "https://anl.example/oai",
    "prefix": "oai_dc",
    "sets": "",
    "every_seconds": "6h",
    "cron": "",
    "institution_id": "",
    "enabled": "on",
    "request_delay_seconds": "",
    "headers": "",
    "mode": "records",
    "window_days": "",
    "timeout_seconds": "",
    "contact_email": "",
    "reconcile_cron": "",
}
SETTINGS = {
    "request_delay_seconds": "1.5",
    "headers": f"X-Api-Key: {KEY}\r\nAuthorization: Bearer t0ken\r\n",
    "mode": "identifiers",
    "window_days": "30",
    "timeout_seconds": "20",
    "contact_email": "cataloguer@anl.example",
    "reconcile_cron": "0 4 * * 0",
}


def _field(page: str, name: str) -> str:
    """What the form shows in a field (an input's value, a textarea's text)."""
    match = re.search(rf'id="f-{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'id="f-{name}"[^>]*>([^<]*)</textarea>', page
    )
    assert match, name
    return html.unescape(match.group(1))


def test_an_admin_sets_them_in_russian_and_sees_header_names_only(  # type: ignore[no-untyped-def]
    admin_pages: WebClient, db
) -> None:
    admin_pages.in_language("ru")
    decimal_comma = {"request_delay_seconds": "1,5"}
    response = admin_pages.post("/harvesting", {**GOOD, **SETTINGS, **decimal_comma})
    assert response.status_code == 303, response.get_data(as_text=True)
    stored = _stored(db)["az-nl"]
    assert stored.request_delay_seconds == 1.5
    assert stored.headers == {"X-Api-Key": KEY, "Authorization": "Bearer t0ken"}
    assert (stored.mode, stored.window_days, stored.timeout_seconds) == ("identifiers", 30, 20)
    assert (stored.contact_email, stored.reconcile_cron) == ("cataloguer@anl.example", "0 4 * * 0")

    page = admin_pages.text("/harvesting/az-nl")
    assert KEY not in page and "t0ken" not in page
    assert '<code lang="zxx" translate="no">X-Api-Key</code>' in page
    assert "1,5 \u0441" in page  # seconds in the page's language
    assert _field(page, "request_delay_seconds") == "1,5"
    assert _field(page, "headers") == "X-Api-Key: ********\nAuthorization: ********"


def test_the_edit_form_saved_as_shown_keeps_the_headers_values(  # type: ignore[no-untyped-def]
    admin_pages: WebClient, db
) -> None:
    assert admin_pages.post("/harvesting", {**GOOD, **SETTINGS}).status_code == 303
    shown = admin_pages.text("/harvesting/az-nl")
    as_shown = {name: _field(shown, name) for name in SETTINGS if name != "mode"}
    response = admin_pages.post("/harvesting/az-nl/edit", {**GOOD, **as_shown, "mode": "records"})
    assert response.status_code == 303
    stored = _stored(db)["az-nl"]
    assert stored.headers == {"X-Api-Key": KEY, "Authorization": "Bearer t0ken"}
    assert (stored.request_delay_seconds, stored.mode) == (1.5, "records")

    # A new value replaces one, a deleted line is no longer sent; blanks clear the rest.
    changed = {"headers": "X-Api-Key: ********\nCookie: s=1", "request_delay_seconds": "0.25"}
    assert admin_pages.post("/harvesting/az-nl/edit", {**GOOD, **changed}).status_code == 303
    stored = _stored(db)["az-nl"]
    assert stored.headers == {"X-Api-Key": KEY, "Cookie": "s=1"}
    assert (stored.request_delay_seconds, stored.window_days, stored.contact_email) == (
        0.25,
        None,
        None,
    )

    assert (
        admin_pages.post("/harvesting/az-nl/edit", {**GOOD, "window_days": "3650"}).status_code
        == 303
    )
    assert "3,650 days" in admin_pages.text("/harvesting/az-nl")  # as the page writes numbers


def test_bad_settings_are_refused_beside_their_fields_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    admin_pages: WebClient, db
) -> None:
    admin_pages.in_language("ru")
    hostile = {
        "request_delay_seconds": "-1",
        "headers": "Host: evil.example",
        "window_days": "0",
        "timeout_seconds": "1,5",  # a decimal where whole seconds are asked for
        "contact_email": "ops@",
        "reconcile_cron": "weekly",
        "mode": "everything",
    }
    response = admin_pages.post("/harvesting", {**GOOD, **hostile})
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    for name in hostile:
        assert re.search(rf'id="e-{name}" class="error">[^<]+<', page), name
    assert re.search(r'id="e-request_delay_seconds" class="error">[^<]*не меньше 0', page)
    assert _field(page, "timeout_seconds") == "1,5"  # what was typed stays
    assert _stored(db) == {}

    for headers, field in (
        ("\n".join(f"X-{n}: v" for n in range(11)), "headers"),
        ("X-Api-Key: ********", "headers"),  # nothing stored to keep
        ("no colon here", "headers"),
        ("X-Api-Key: café", "headers"),
    ):
        response = admin_pages.post("/harvesting", {**GOOD, "headers": headers})
        assert response.status_code == 422, headers
        assert f'id="e-{field}"' in response.get_data(as_text=True), headers
    response = admin_pages.post("/harvesting", {**GOOD, "request_delay_seconds": "soon"})
    assert 'id="e-request_delay_seconds"' in response.get_data(as_text=True)
    assert _stored(db) == {}
