"""Walking a provider's list page by page: complete lists, quarantine, and the loop guards."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest
from faulty_provider import Reply, faulty_provider
from test_harvest_transport import Sleeper, transport

from libfed.harvest.client import HarvestClient
from libfed.harvest.listing import HarvestStopped, Limits, walk

DC = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{}</dc:title></oai_dc:dc>'
)


def record(identifier: str, title: str = "Xəmsə", deleted: bool = False, sets: str = "") -> str:
    status = ' status="deleted"' if deleted else ""
    specs = "".join(f"<setSpec>{s}</setSpec>" for s in sets.split() if s)
    metadata = "" if deleted else f"<metadata>{DC.format(title)}</metadata>"
    return (
        f"<record><header{status}><identifier>{identifier}</identifier>"
        f"<datestamp>2026-11-20</datestamp>{specs}</header>{metadata}</record>"
    )


def page(*records: str, token: str | None = None, size: int | None = None) -> bytes:
    if token is None:
        tail = ""
    else:
        attributes = f' completeListSize="{size}"' if size is not None else ""
        tail = f"<resumptionToken{attributes}>{escape(token)}</resumptionToken>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2026-11-23T12:00:00Z</responseDate>"
        '<request verb="ListRecords">http://x/oai</request>'
        f"<ListRecords>{''.join(records)}{tail}</ListRecords></OAI-PMH>"
    ).encode()


NO_RECORDS = (
    b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-23T12:00:00Z'
    b'</responseDate><request verb="ListRecords">http://x/oai</request>'
    b'<error code="noRecordsMatch"/></OAI-PMH>'
)


DEFAULT_LIMITS = Limits()


def harvest(script: list[Reply], limits: Limits = DEFAULT_LIMITS, **arguments: str):  # type: ignore[no-untyped-def]
    with faulty_provider(script) as provider:
        client = HarvestClient(provider.url, transport(Sleeper()))
        pages = []
        try:
            for p in walk(client, {"metadataPrefix": "oai_dc", **arguments}, limits):
                pages.append(p)
        except HarvestStopped as stopped:
            return pages, provider, stopped
    return pages, provider, None


def queries(provider) -> list[dict[str, list[str]]]:  # type: ignore[no-untyped-def]
    return [parse_qs(urlsplit(r.split(b" ")[1].decode()).query) for r in provider.requests]


def test_every_page_until_the_empty_token_with_tokens_passed_back_as_received() -> None:
    token = "a b&c=d/é"  # a token that needs URL-encoding, exactly once
    script = [
        Reply(body=page(record("oai:x:1"), record("oai:x:2"), token=token, size=5)),
        Reply(body=page(record("oai:x:3"), record("oai:x:4", deleted=True), token="t2", size=5)),
        Reply(body=page(record("oai:x:5", sets="az az:rare"), token="")),
    ]
    pages, provider, stopped = harvest(script, set="az", **{"from": "2026-11-01"})
    assert stopped is None
    got = [r for p in pages for r in p.records]
    assert [r.identifier for r in got] == [f"oai:x:{n}" for n in range(1, 6)]
    assert got[3].deleted and got[3].metadata is None
    assert got[4].sets == ("az", "az:rare") and got[4].namespace.endswith("/oai_dc/")
    assert "Xəmsə".encode() in got[0].metadata
    assert [p.token for p in pages] == [token, "t2", None] and pages[0].complete_list_size == 5
    sent = queries(provider)
    assert sent[0] == {
        "verb": ["ListRecords"],
        "metadataPrefix": ["oai_dc"],
        "set": ["az"],
        "from": ["2026-11-01"],
    }
    assert sent[1] == {"verb": ["ListRecords"], "resumptionToken": [token]}


def test_no_records_match_is_an_empty_list_not_an_error() -> None:
    pages, _provider, stopped = harvest([Reply(body=NO_RECORDS)])
    assert pages == [] and stopped is None


def test_a_broken_record_is_quarantined_and_the_rest_of_its_page_kept() -> None:
    broken = "<record><header><datestamp>2026-11-20</datestamp></header></record>"
    no_metadata = "<record><header><identifier>oai:x:9</identifier><datestamp>2026-11-20</datestamp></header></record>"
    pages, _provider, stopped = harvest(
        [Reply(body=page(record("oai:x:1"), broken, no_metadata, record("oai:x:2")))]
    )
    assert stopped is None
    (only,) = pages
    assert [r.identifier for r in only.records] == ["oai:x:1", "oai:x:2"]
    assert [q.reason for q in only.quarantined] == [
        "header without an identifier",
        "oai:x:9: a record that is not deleted has no metadata",
    ]
    assert b"<datestamp>2026-11-20</datestamp>" in only.quarantined[0].raw


def test_a_repeated_token_is_a_loop() -> None:
    script = [
        Reply(body=page(record("oai:x:1"), token="same")),
        Reply(body=page(record("oai:x:2"), token="same")),
    ]
    pages, _provider, stopped = harvest(script)
    assert len(pages) == 2 and "same resumptionToken" in str(stopped)


def test_pages_that_repeat_records_under_new_tokens_are_a_loop() -> None:
    script = [
        Reply(body=page(record("oai:x:1"), record("oai:x:2"), token="t1")),
        Reply(body=page(record("oai:x:3"), token="t2")),
        Reply(body=page(record("oai:x:2"), record("oai:x:1"), token="t3")),
    ]
    pages, _provider, stopped = harvest(script)
    assert len(pages) == 2 and "repeats the 2 records of an earlier page" in str(stopped)


def test_empty_pages_and_requests_are_capped() -> None:
    empties = [Reply(body=page(token=f"e{n}")) for n in range(10)]
    pages, _provider, stopped = harvest(empties, Limits(max_empty_pages=3))
    assert len(pages) == 4 and "4 empty pages in a row" in str(stopped)

    endless = [Reply(body=page(record(f"oai:x:{n}"), token=f"t{n}")) for n in range(10)]
    pages, provider, stopped = harvest(endless, Limits(max_requests=5))
    assert len(pages) == 5 and len(provider.requests) == 5
    assert "more than 5 requests" in str(stopped)


def test_a_run_stops_at_its_deadline() -> None:
    ticks = iter([0.0, 1.0, 2.0, 50.0, 99.0, 101.0, 200.0])
    script = [Reply(body=page(record(f"oai:x:{n}"), token=f"t{n}")) for n in range(10)]
    with faulty_provider(script) as provider:
        client = HarvestClient(provider.url, transport(Sleeper()))
        walked = walk(
            client,
            {"metadataPrefix": "oai_dc"},
            Limits(deadline_seconds=100),
            clock=lambda: next(ticks),
        )
        got = []
        with pytest.raises(HarvestStopped, match="deadline of 100 s"):
            got.extend(walked)
    assert len(got) == 4


def test_resuming_from_a_token_starts_there() -> None:
    script = [Reply(body=page(record("oai:x:7"), token=""))]
    with faulty_provider(script) as provider:
        client = HarvestClient(provider.url, transport(Sleeper()))
        pages = list(walk(client, {"metadataPrefix": "oai_dc"}, token="checkpoint-42"))
    assert [r.identifier for p in pages for r in p.records] == ["oai:x:7"]
    assert queries(provider)[0] == {"verb": ["ListRecords"], "resumptionToken": ["checkpoint-42"]}
